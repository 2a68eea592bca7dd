package pyjson

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Dumps returns v serialised as Python's json.dumps(v) with default
// arguments would serialise it. The output is pure ASCII.
func Dumps(v Value) []byte {
	return AppendDumps(make([]byte, 0, sizeHint(v)), v)
}

// sizeHint estimates the length of Dumps(v) without looking at string
// contents (exact for ASCII without escapes).
func sizeHint(v Value) int {
	switch v.kind {
	case KindString:
		return len(v.s) + 2
	case KindInt, KindFloat:
		return len(v.s) + 2
	case KindArray, KindObject:
		n := 2
		for i := range v.members {
			n += len(v.members[i].Key) + 6 + sizeHint(v.members[i].Value)
		}
		return n
	default:
		return 5
	}
}

// AppendDumps appends Dumps(v) to dst and returns the extended slice.
func AppendDumps(dst []byte, v Value) []byte {
	switch v.kind {
	case KindBool:
		if v.b {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KindInt:
		if v.s == "-0" { // int("-0") == 0
			return append(dst, '0')
		}
		return append(dst, v.s...)
	case KindFloat:
		f := parseFloat(v.s)
		switch {
		case math.IsNaN(f):
			return append(dst, "NaN"...)
		case math.IsInf(f, 1):
			return append(dst, "Infinity"...)
		case math.IsInf(f, -1):
			return append(dst, "-Infinity"...)
		}
		return appendRepr(dst, f)
	case KindString:
		return appendString(dst, v.s)
	case KindArray:
		dst = append(dst, '[')
		for i := range v.members {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendDumps(dst, v.members[i].Value)
		}
		return append(dst, ']')
	case KindObject:
		dst = append(dst, '{')
		for i := range v.members {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendString(dst, v.members[i].Key)
			dst = append(dst, ": "...)
			dst = AppendDumps(dst, v.members[i].Value)
		}
		return append(dst, '}')
	default:
		return append(dst, "null"...)
	}
}

const hexDigits = "0123456789abcdef"

// appendString writes s (generalised UTF-8) as json.dumps writes a str with
// ensure_ascii=True.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default: // other controls and DEL
				dst = appendU(dst, rune(c))
			}
			i++
		} else {
			r, n := decodeGen(s, i)
			if n == 0 { // only possible in strings built in Go
				r, n = utf8.RuneError, 1
			}
			if r > 0xffff {
				r -= 0x10000
				dst = appendU(dst, 0xd800+(r>>10))
				dst = appendU(dst, 0xdc00+(r&0x3ff))
			} else {
				dst = appendU(dst, r)
			}
			i += n
		}
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// FloatRepr returns Python's repr(f): the shortest digits that round-trip,
// in fixed notation when the decimal point position decpt satisfies
// -4 < decpt <= 16 (with ".0" added to integral values), in scientific
// notation otherwise (with a signed exponent of at least two digits:
// 1e-05, 1e+16). NaN and ±Inf give "nan", "inf" and "-inf"; json.dumps
// writes those as NaN, Infinity and -Infinity instead.
func FloatRepr(f float64) string {
	var buf [32]byte
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return string(appendRepr(buf[:0], f))
}

// appendRepr appends repr(f) for finite f.
func appendRepr(dst []byte, f float64) []byte {
	var tmp [32]byte
	// Shortest round-trip digits as d.ddde±XX; Go and CPython both pick the
	// shortest digit string that round-trips, the closest one on ties.
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	if e[0] == '-' {
		dst = append(dst, '-')
		e = e[1:]
	}
	epos := 1
	for e[epos] != 'e' {
		epos++
	}
	var digBuf [20]byte
	digits := append(digBuf[:0], e[0])
	if epos > 1 {
		digits = append(digits, e[2:epos]...)
	}
	exp := 0
	for _, c := range e[epos+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[epos+1] == '-' {
		exp = -exp
	}
	decpt := exp + 1
	switch {
	case decpt <= -4 || decpt > 16:
		dst = append(dst, digits[0])
		if len(digits) > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst = append(dst, '-')
			exp = -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	case decpt <= 0:
		dst = append(dst, '0', '.')
		for range -decpt {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	case decpt >= len(digits):
		dst = append(dst, digits...)
		for range decpt - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	default:
		dst = append(dst, digits[:decpt]...)
		dst = append(dst, '.')
		return append(dst, digits[decpt:]...)
	}
}
