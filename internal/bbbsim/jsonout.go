package bbbsim

import (
	"strconv"
	"unicode/utf8"
)

// member is one key of an ordered JSON object.
type member struct {
	k string
	v any
}

// ordered is a JSON object written in case-class field order, as Jackson writes Scala case classes.
type ordered []member

// o builds an ordered object from alternating keys and values.
func o(kv ...any) ordered {
	out := make(ordered, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, member{k: kv[i].(string), v: kv[i+1]})
	}
	return out
}

// encode writes v as akka-apps' Jackson mapper does: fields in order, null fields left out
// (setSerializationInclusion(NON_NULL)), and strings escaped only where JSON requires it. Jackson does not escape
// '<', '>', '&' or non-ASCII, unlike encoding/json.
func encode(v any) []byte { return appendJSON(nil, v) }

func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case ordered:
		b = append(b, '{')
		first := true
		for _, m := range x {
			if m.v == nil {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, m.k)
			b = append(b, ':')
			b = appendJSON(b, m.v)
		}
		return append(b, '}')
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case map[string]string:
		b = append(b, '{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, x[k])
		}
		return append(b, '}')
	case map[string]any:
		o := make(ordered, 0, len(x))
		for _, k := range sortedKeys(x) {
			o = append(o, member{k, x[k]})
		}
		return appendJSON(b, o)
	default:
		// Only the types above are ever built; anything else is a bug in this package.
		return appendString(b, "!unsupported")
	}
}

const hexDigits = "0123456789ABCDEF"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\ufffd"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"':
			b = append(b, '\\', '"')
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
