package pyjson

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Parse accepts.
// CPython's json.loads fails with RecursionError a little below its
// recursion limit (1000 by default, less inside a web framework); 512 stays
// well inside both and bounds the Go stack used per request.
const MaxDepth = 512

// MaxIntDigits is the longest int literal Parse accepts, in digits. CPython
// ≥ 3.11 refuses longer ones in int() and so in json.loads
// (sys.int_info.default_max_str_digits).
const MaxIntDigits = 4300

var (
	// ErrSyntax is matched (errors.Is) by every error Parse returns.
	ErrSyntax = errors.New("pyjson: invalid JSON")
	// ErrTooDeep is matched, besides ErrSyntax, by the error for a document
	// nested deeper than MaxDepth.
	ErrTooDeep = errors.New("pyjson: nesting too deep")
	// ErrNotObject is returned by Canonical when the document is valid but
	// is not an object.
	ErrNotObject = errors.New("pyjson: not a JSON object")
)

// SyntaxError describes why and where a document was rejected. It matches
// ErrSyntax, and ErrTooDeep when the nesting limit was hit.
type SyntaxError struct {
	Msg    string // what was wrong, in the words of CPython's messages where there is one
	Offset int    // byte offset into the body
	deep   bool
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("pyjson: %s at byte %d", e.Msg, e.Offset)
}

// Is reports whether target is ErrSyntax, or ErrTooDeep for a nesting error.
func (e *SyntaxError) Is(target error) bool {
	return target == ErrSyntax || (e.deep && target == ErrTooDeep)
}

// Parse parses body as json.loads(body) does (see the package doc for the
// differences) and returns its value. Errors match ErrSyntax and are
// *SyntaxError values with the byte offset.
func Parse(body []byte) (Value, error) {
	p := parser{s: string(body), stack: make([]Member, 0, 8)}
	return p.document()
}

// rawMember records where a member of the top-level object was written.
type rawMember struct {
	key        string
	start, end int // from the key's opening quote to just after the value
	comma      int // offset of the comma before it, -1 for the first member
}

type parser struct {
	s     string // the document
	pos   int
	depth int
	stack []Member // scratch: members of the containers being parsed
	buf   []byte   // scratch: decoding of escaped strings
	// top, when recordTop, collects the members of a top-level object as
	// written, duplicates included.
	recordTop bool
	top       []rawMember
}

func (p *parser) errorf(off int, format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: off}
}

func (p *parser) document() (Value, error) {
	// json.loads(bytes) decodes with "utf-8-sig" when the body starts with a
	// BOM, which strips exactly one.
	if strings.HasPrefix(p.s, "\xef\xbb\xbf") {
		p.pos = 3
	}
	p.skipWS()
	v, err := p.value()
	if err != nil {
		return Value{}, err
	}
	p.skipWS()
	if p.pos != len(p.s) {
		return Value{}, p.errorf(p.pos, "Extra data")
	}
	return v, nil
}

func (p *parser) skipWS() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (Value, error) {
	if p.pos >= len(p.s) {
		return Value{}, p.errorf(p.pos, "Expecting value")
	}
	switch c := p.s[p.pos]; c {
	case '"':
		s, err := p.str()
		return Value{kind: KindString, s: s}, err
	case '{':
		return p.object()
	case '[':
		return p.array()
	case 'n':
		return p.literal("null", Value{})
	case 't':
		return p.literal("true", Value{kind: KindBool, b: true})
	case 'f':
		return p.literal("false", Value{kind: KindBool})
	case 'N':
		return p.literal("NaN", Value{kind: KindFloat, s: "NaN"})
	case 'I':
		return p.literal("Infinity", Value{kind: KindFloat, s: "Infinity"})
	case '-':
		if strings.HasPrefix(p.s[p.pos:], "-Infinity") {
			return p.literal("-Infinity", Value{kind: KindFloat, s: "-Infinity"})
		}
		return p.number()
	default:
		if c >= '0' && c <= '9' {
			return p.number()
		}
		return Value{}, p.errorf(p.pos, "Expecting value")
	}
}

func (p *parser) literal(lit string, v Value) (Value, error) {
	if !strings.HasPrefix(p.s[p.pos:], lit) {
		return Value{}, p.errorf(p.pos, "Expecting value")
	}
	p.pos += len(lit)
	return v, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? the way
// CPython's scanner does: a "." or exponent without digits after it is not
// part of the number (and then fails as extra data or a missing delimiter).
func (p *parser) number() (Value, error) {
	s := p.s
	start := p.pos
	i := start
	if s[i] == '-' {
		i++
	}
	if i >= len(s) || !isDigit(s[i]) {
		return Value{}, p.errorf(start, "Expecting value")
	}
	if s[i] == '0' {
		i++
	} else {
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	intEnd := i
	isFloat := false
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i += 2
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		isFloat = true
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
			isFloat = true
		}
	}
	p.pos = i
	if isFloat {
		return Value{kind: KindFloat, s: s[start:i]}, nil
	}
	digits := intEnd - start
	if s[start] == '-' {
		digits--
	}
	if digits > MaxIntDigits {
		return Value{}, p.errorf(start, "int literal has %d digits, more than the limit of %d", digits, MaxIntDigits)
	}
	return Value{kind: KindInt, s: s[start:i]}, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return &SyntaxError{Msg: fmt.Sprintf("nesting deeper than %d", MaxDepth), Offset: p.pos, deep: true}
	}
	return nil
}

func (p *parser) array() (Value, error) {
	if err := p.enter(); err != nil {
		return Value{}, err
	}
	p.pos++ // '['
	p.skipWS()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		p.depth--
		return Value{kind: KindArray}, nil
	}
	base := len(p.stack)
	for {
		v, err := p.value()
		if err != nil {
			return Value{}, err
		}
		p.stack = append(p.stack, Member{Value: v})
		p.skipWS()
		if p.pos < len(p.s) {
			switch p.s[p.pos] {
			case ',':
				p.pos++
				p.skipWS()
				continue
			case ']':
				p.pos++
				p.depth--
				return Value{kind: KindArray, members: p.pop(base)}, nil
			}
		}
		return Value{}, p.errorf(p.pos, "Expecting ',' delimiter")
	}
}

// pop moves p.stack[base:] into a new exactly-sized slice.
func (p *parser) pop(base int) []Member {
	ms := make([]Member, len(p.stack)-base)
	copy(ms, p.stack[base:])
	clear(p.stack[base:])
	p.stack = p.stack[:base]
	return ms
}

func (p *parser) object() (Value, error) {
	if err := p.enter(); err != nil {
		return Value{}, err
	}
	record := p.recordTop && p.depth == 1
	p.pos++ // '{'
	p.skipWS()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		p.depth--
		return Value{kind: KindObject}, nil
	}
	base := len(p.stack)
	var index map[string]int
	comma := -1
	for {
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return Value{}, p.errorf(p.pos, "Expecting property name enclosed in double quotes")
		}
		start := p.pos
		key, err := p.str()
		if err != nil {
			return Value{}, err
		}
		p.skipWS()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return Value{}, p.errorf(p.pos, "Expecting ':' delimiter")
		}
		p.pos++
		p.skipWS()
		v, err := p.value()
		if err != nil {
			return Value{}, err
		}
		if record {
			p.top = append(p.top, rawMember{key: key, start: start, end: p.pos, comma: comma})
		}
		p.stack, index = addMember(p.stack, base, index, key, v)
		p.skipWS()
		if p.pos < len(p.s) {
			switch p.s[p.pos] {
			case ',':
				comma = p.pos
				p.pos++
				p.skipWS()
				continue
			case '}':
				p.pos++
				p.depth--
				return Value{kind: KindObject, members: p.pop(base)}, nil
			}
		}
		return Value{}, p.errorf(p.pos, "Expecting ',' delimiter")
	}
}

// str scans the string starting at the opening quote at p.pos and returns
// its code points as generalised UTF-8. A string without escapes is a
// substring of the document and costs no allocation.
func (p *parser) str() (string, error) {
	s := p.s
	start := p.pos + 1
	for i := start; i < len(s); {
		c := s[i]
		// Plain printable ASCII is the common case.
		for c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			if i++; i == len(s) {
				return "", p.errorf(start-1, "Unterminated string")
			}
			c = s[i]
		}
		switch {
		case c == '"':
			p.pos = i + 1
			return s[start:i], nil
		case c == '\\':
			return p.strEscaped(start, i)
		case c < 0x20:
			return "", p.errorf(i, "Invalid control character")
		case c < utf8.RuneSelf:
			i++
		default:
			_, n := decodeGen(s, i)
			if n == 0 {
				return "", p.errorf(i, "invalid UTF-8")
			}
			i += n
		}
	}
	return "", p.errorf(start-1, "Unterminated string")
}

// strEscaped continues str from the first backslash at i, decoding into
// p.buf.
func (p *parser) strEscaped(start, i int) (string, error) {
	s := p.s
	if p.buf == nil {
		p.buf = make([]byte, 0, 256)
	}
	buf := append(p.buf[:0], s[start:i]...)
	defer func() { p.buf = buf }()
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(buf), nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", p.errorf(start-1, "Unterminated string")
			}
			e := s[i+1]
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(s, i+2)
				if !ok {
					return "", p.errorf(i+1, "Invalid \\uXXXX escape")
				}
				i += 6
				// CPython joins a high surrogate with an immediately
				// following escaped low surrogate, and nothing else.
				if r >= 0xd800 && r <= 0xdbff && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok := hex4(s, i+2)
					if !ok {
						return "", p.errorf(i+1, "Invalid \\uXXXX escape")
					}
					if r2 >= 0xdc00 && r2 <= 0xdfff {
						r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
						i += 6
					}
				}
				buf = appendGen(buf, r)
				continue
			default:
				return "", p.errorf(i, "Invalid \\escape")
			}
			i += 2
		case c < 0x20:
			return "", p.errorf(i, "Invalid control character")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			_, n := decodeGen(s, i)
			if n == 0 {
				return "", p.errorf(i, "invalid UTF-8")
			}
			buf = append(buf, s[i:i+n]...)
			i += n
		}
	}
	return "", p.errorf(start-1, "Unterminated string")
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func isSurrogate(r rune) bool { return r >= 0xd800 && r <= 0xdfff }

// decodeGen decodes the generalised-UTF-8 sequence at s[i] (UTF-8, plus
// surrogate code points in their 3-byte form, which json.loads(bytes)
// accepts because it decodes with "surrogatepass"). n is 0 if the bytes are
// invalid.
func decodeGen(s string, i int) (r rune, n int) {
	r, n = utf8.DecodeRuneInString(s[i:])
	if r != utf8.RuneError || n > 1 {
		return r, n
	}
	if s[i] == 0xed && i+2 < len(s) && s[i+1] >= 0xa0 && s[i+1] <= 0xbf && s[i+2] >= 0x80 && s[i+2] <= 0xbf {
		return 0xd000 | rune(s[i+1]&0x3f)<<6 | rune(s[i+2]&0x3f), 3
	}
	return utf8.RuneError, 0
}

// appendGen appends r as generalised UTF-8.
func appendGen(buf []byte, r rune) []byte {
	if isSurrogate(r) {
		return append(buf, 0xed, 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	}
	return utf8.AppendRune(buf, r)
}
