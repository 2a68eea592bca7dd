// Package jsonscan reads JSON the way encoding/json decodes it into Go values, without reflection, for the hot
// paths that decode one known shape: relay's chat broadcasts (bbb) and its stream events (state). Its readers
// take only what they are sure encoding/json would decode the same way, and report false for anything else, so
// that the caller decodes that with encoding/json instead. It is a hand version kept for measured speed (relay
// misses its forward target through encoding/json alone: docs/performance.md, "Hand-written code kept"); the fuzz
// targets of this package, of bbb and of state hold it to encoding/json on every input.
package jsonscan

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSkipDepth bounds the nesting of the values of unknown keys; deeper ones are refused (left to encoding/json,
// whose own bound, 10000, is far above).
const MaxSkipDepth = 64

// Scanner is a cursor in a JSON text. Its readers check that what they read is valid JSON, and report false,
// rather than an error, for anything invalid or anything they do not take.
type Scanner struct {
	data string
	i    int
}

// New returns a Scanner at the start of data.
func New(data string) *Scanner { return &Scanner{data: data} }

// Object reads the object at the cursor. For a member whose key is one of keys, spelled exactly, it calls member
// with the cursor on the value, which member must read; it skips the value of any other key. It returns false if
// the value is not a valid object, a key has an escape or invalid UTF-8, a key matches one of keys only
// case-insensitively (encoding/json would decode it into that field), one of keys comes twice (encoding/json
// would overwrite or merge), or member returns false.
func (s *Scanner) Object(keys []string, member func(key string) bool) bool {
	var seen uint64
	return s.members(func(key string, plain bool) bool {
		if !plain {
			return false
		}
		switch i := slices.Index(keys, key); {
		case i >= 0:
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			return member(key)
		case foldsToAny(key, keys):
			return false
		}
		return s.skip(MaxSkipDepth)
	})
}

// members reads the object at the cursor, calling value with each member's key (without its quotes; plain as
// stringToken reports it) and the cursor on the member's value, which value must read. It returns false if the
// value is not an object, its syntax is invalid, or value returns false.
func (s *Scanner) members(value func(key string, plain bool) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		s.space()
		tok, plain, ok := s.stringToken()
		if !ok || !s.consume(':') || !value(tok[1:len(tok)-1], plain) {
			return false
		}
		if s.consume('}') {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// foldsToAny reports whether key equals one of names under Unicode case folding, as encoding/json matches keys
// to fields.
func foldsToAny(key string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// Str reads a string into *dst, exactly as encoding/json decodes it; false for any other value, null included.
func (s *Scanner) Str(dst *string) bool {
	s.space()
	tok, plain, ok := s.stringToken()
	if !ok {
		return false
	}
	if plain {
		*dst = tok[1 : len(tok)-1] // a part of the text scanned
		return true
	}
	var v string // decoded apart, so that dst does not escape: callers point it into values on their stack
	if json.Unmarshal([]byte(tok), &v) != nil {
		return false
	}
	*dst = v
	return true
}

// stringToken reads the string at the cursor and returns it with its quotes; false if there is none or it is not
// valid JSON (a control character, a bad escape, no closing quote). plain reports that it has no escape and is
// valid UTF-8, so that it stands for what it spells.
func (s *Scanner) stringToken() (tok string, plain, ok bool) {
	d, start := s.data, s.i
	if start >= len(d) || d[start] != '"' {
		return "", false, false
	}
	plain, ascii := true, true
	for j := start + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			s.i = j + 1
			tok = d[start:s.i]
			return tok, plain && (ascii || utf8.ValidString(tok)), true
		case c == '\\':
			n := escapeLen(d[j+1:])
			if n == 0 {
				return "", false, false
			}
			plain = false
			j += n
		case c < ' ':
			return "", false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false, false
}

// escapeLen is the length of the valid JSON escape that rest starts with, after its backslash; 0 if it is not one.
func escapeLen(rest string) int {
	if rest == "" {
		return 0
	}
	switch rest[0] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 1
	case 'u':
		if len(rest) < 5 {
			return 0
		}
		for _, c := range []byte(rest[1:5]) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return 0
			}
		}
		return 5
	}
	return 0
}

// Int reads a number into *dst as encoding/json decodes it into an int64: an integer that strconv.ParseInt
// takes (no fraction, no exponent, no overflow); false for any other value.
func (s *Scanner) Int(dst *int64) bool {
	s.space()
	tok, ok := s.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

// number reads a JSON number and returns its text; false if there is none at the cursor.
func (s *Scanner) number() (string, bool) {
	d, i := s.data, s.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		return "", false
	}
	if i < len(d) && d[i] == '.' {
		if i = digits(d, i+1); d[i-1] == '.' {
			return "", false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return "", false
		}
		i = j
	}
	tok := d[s.i:i]
	s.i = i
	return tok, true
}

// digits returns the index of the first byte at or after i in d that is not a decimal digit.
func digits(d string, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// Bool reads true or false into *dst; false for any other value.
func (s *Scanner) Bool(dst *bool) bool {
	s.space()
	switch {
	case s.literal("true"):
		*dst = true
	case s.literal("false"):
		*dst = false
	default:
		return false
	}
	return true
}

// literal moves the cursor past lit if it is next and reports whether it was. What follows is checked by the
// caller, as after any value.
func (s *Scanner) literal(lit string) bool {
	if !strings.HasPrefix(s.data[s.i:], lit) {
		return false
	}
	s.i += len(lit)
	return true
}

// skip moves the cursor past the value at it, whatever it is; false if it is not valid JSON or nests more than
// depth arrays and objects.
func (s *Scanner) skip(depth int) bool {
	s.space()
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '"':
		_, _, ok := s.stringToken()
		return ok
	case '{':
		return depth > 0 && s.members(func(string, bool) bool { return s.skip(depth - 1) })
	case '[':
		return depth > 0 && s.elements(depth-1)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, ok := s.number()
	return ok
}

// elements moves the cursor past the array at it; false if it is not valid JSON or its elements nest more than
// depth arrays and objects.
func (s *Scanner) elements(depth int) bool {
	if !s.consume('[') {
		return false
	}
	if s.consume(']') {
		return true
	}
	for {
		if !s.skip(depth) {
			return false
		}
		if s.consume(']') {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// consume moves the cursor past white space and c, if c is next; it reports whether it was.
func (s *Scanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// End reports whether only white space is left.
func (s *Scanner) End() bool {
	s.space()
	return s.i == len(s.data)
}

// space moves the cursor past white space.
func (s *Scanner) space() {
	for s.i < len(s.data) && isSpace(s.data[s.i]) {
		s.i++
	}
}

// isSpace reports whether c is JSON white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}
