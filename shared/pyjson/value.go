package pyjson

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Kind is the type of a Value, in Python's terms.
type Kind uint8

// The kinds of Value. The zero Value is Null.
const (
	KindNull   Kind = iota // None
	KindBool               // True, False
	KindInt                // int, of any size
	KindFloat              // float, including NaN, Infinity and -Infinity
	KindString             // str
	KindArray              // list
	KindObject             // dict
)

var kindNames = [...]string{"null", "bool", "int", "float", "string", "array", "object"}

// String returns the JSON name of the kind ("object", "string", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is an immutable JSON value as json.loads would return it. The zero
// Value is null. Values share memory with each other and with the text they
// were parsed from; slices returned by accessors must not be modified.
type Value struct {
	kind Kind
	b    bool
	// s is the text of a String (generalised UTF-8, see the package doc) or
	// the literal of an Int or Float ("-0", "1E400", "NaN", "-Infinity").
	s string
	// members holds the members of an Object, or the elements of an Array
	// (with empty keys).
	members []Member
}

// Member is one key/value pair of an Object. Key holds the decoded key as
// generalised UTF-8 (see the package doc): it is plain UTF-8 unless the key
// holds lone surrogates.
type Member struct {
	Key   string
	Value Value
}

// Null returns the JSON null (Python None).
func Null() Value { return Value{} }

// Bool returns true or false.
func Bool(b bool) Value { return Value{kind: KindBool, b: b} }

// Int returns an integer.
func Int(i int64) Value { return Value{kind: KindInt, s: strconv.FormatInt(i, 10)} }

// Float returns a float. NaN and ±Inf are allowed, as Python allows them;
// they serialise as NaN, Infinity and -Infinity.
func Float(f float64) Value {
	var s string
	switch {
	case math.IsNaN(f):
		s = "NaN"
	case math.IsInf(f, 1):
		s = "Infinity"
	case math.IsInf(f, -1):
		s = "-Infinity"
	default:
		s = strconv.FormatFloat(f, 'g', -1, 64)
	}
	return Value{kind: KindFloat, s: s}
}

// String returns a string value. s should be UTF-8; Dumps writes each byte
// that is not part of a valid UTF-8 sequence or of a generalised-UTF-8
// surrogate as U+FFFD.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Array returns an array of the given elements.
func Array(elems ...Value) Value {
	ms := make([]Member, len(elems))
	for i, e := range elems {
		ms[i].Value = e
	}
	return Value{kind: KindArray, members: ms}
}

// Object returns an object with the members in the given order, as a Python
// dict built by inserting them one by one: a repeated key keeps its first
// position and takes its last value. The slice is copied.
func Object(members ...Member) Value {
	ms := make([]Member, 0, len(members))
	var index map[string]int
	for _, m := range members {
		ms, index = addMember(ms, 0, index, m.Key, m.Value)
	}
	return Value{kind: KindObject, members: ms}
}

// indexThreshold is the member count above which duplicate keys are found
// through a map instead of a linear scan, so that a hostile object with many
// keys costs O(n) and not O(n²).
const indexThreshold = 32

// addMember appends key/value to ms[base:] with dict semantics and returns
// the updated slice and index (the index is built lazily past
// indexThreshold and maps key to position relative to base).
func addMember(ms []Member, base int, index map[string]int, key string, val Value) ([]Member, map[string]int) {
	if index != nil {
		if i, ok := index[key]; ok {
			ms[base+i].Value = val
			return ms, index
		}
	} else {
		for i := base; i < len(ms); i++ {
			if ms[i].Key == key {
				ms[i].Value = val
				return ms, index
			}
		}
	}
	ms = append(ms, Member{Key: key, Value: val})
	n := len(ms) - base
	switch {
	case index != nil:
		index[key] = n - 1
	case n > indexThreshold:
		index = make(map[string]int, 2*n)
		for i := base; i < len(ms); i++ {
			index[ms[i].Key] = i - base
		}
	}
	return ms, index
}

// Kind returns the kind of v.
func (v Value) Kind() Kind { return v.kind }

// Members returns the members of an object in order (nil for other kinds and
// for the empty object). The slice must not be modified.
func (v Value) Members() []Member {
	if v.kind != KindObject {
		return nil
	}
	return v.members
}

// Len returns the number of elements of an array or members of an object,
// and 0 for other kinds.
func (v Value) Len() int {
	if v.kind != KindArray && v.kind != KindObject {
		return 0
	}
	return len(v.members)
}

// Index returns element i of an array. ok is false if v is not an array or
// i is out of range.
func (v Value) Index(i int) (elem Value, ok bool) {
	if v.kind != KindArray || i < 0 || i >= len(v.members) {
		return Value{}, false
	}
	return v.members[i].Value, true
}

// Lookup returns the value of the member key of an object. Keys are compared
// as decoded code points, so "\u0061" matches "a".
func (v Value) Lookup(key string) (Value, bool) {
	if v.kind != KindObject {
		return Value{}, false
	}
	for i := range v.members {
		if v.members[i].Key == key {
			return v.members[i].Value, true
		}
	}
	return Value{}, false
}

// Without returns the object v without the members named by keys. If no key
// is present, it returns v; if only trailing members go, it shares v's
// memory. It returns v unchanged if v is not an object.
func (v Value) Without(keys ...string) Value {
	if v.kind != KindObject || len(keys) == 0 {
		return v
	}
	drop := func(k string) bool {
		for _, d := range keys {
			if d == k {
				return true
			}
		}
		return false
	}
	first := -1
	for i := range v.members {
		if drop(v.members[i].Key) {
			first = i
			break
		}
	}
	if first < 0 {
		return v
	}
	tailOnly := true
	for i := first + 1; i < len(v.members); i++ {
		if !drop(v.members[i].Key) {
			tailOnly = false
			break
		}
	}
	if tailOnly {
		return Value{kind: KindObject, members: v.members[:first:first]}
	}
	ms := make([]Member, first, len(v.members)-1)
	copy(ms, v.members[:first])
	for _, m := range v.members[first+1:] {
		if !drop(m.Key) {
			ms = append(ms, m)
		}
	}
	return Value{kind: KindObject, members: ms}
}

// Str returns the text of a string value as valid UTF-8, with each lone
// surrogate (and each invalid byte of a string built in Go) replaced by
// U+FFFD. ok is false if v is not a string.
func (v Value) Str() (s string, ok bool) {
	if v.kind != KindString {
		return "", false
	}
	if utf8.ValidString(v.s) {
		return v.s, true
	}
	buf := make([]byte, 0, len(v.s))
	for i := 0; i < len(v.s); {
		r, n := decodeGen(v.s, i)
		if n == 0 {
			r, n = utf8.RuneError, 1
		} else if isSurrogate(r) {
			r = utf8.RuneError
		}
		buf = utf8.AppendRune(buf, r)
		i += n
	}
	return string(buf), true
}

// RawStr returns the text of a string value as generalised UTF-8 (see the
// package doc), lone surrogates kept. ok is false if v is not a string.
func (v Value) RawStr() (s string, ok bool) {
	if v.kind != KindString {
		return "", false
	}
	return v.s, true
}

// Boolean returns the value of a bool. ok is false for other kinds.
func (v Value) Boolean() (b, ok bool) {
	return v.b, v.kind == KindBool
}

// Int64 returns the value of an int that fits in an int64. ok is false for
// other kinds, and for ints out of range.
func (v Value) Int64() (int64, bool) {
	if v.kind != KindInt {
		return 0, false
	}
	i, err := strconv.ParseInt(v.s, 10, 64)
	return i, err == nil
}

// Float64 returns the value of a float, or of an int as Python's float()
// would convert it (ints beyond the float range give ±Inf). ok is false for
// other kinds.
func (v Value) Float64() (float64, bool) {
	if v.kind != KindFloat && v.kind != KindInt {
		return 0, false
	}
	return parseFloat(v.s), true
}

// Literal returns the number as written in the document (or as built: Int's
// decimal digits, Float's shortest 'g' form), "" for other kinds.
func (v Value) Literal() string {
	if v.kind != KindInt && v.kind != KindFloat {
		return ""
	}
	return v.s
}

// parseFloat converts a validated literal the way Python's float() does:
// overflow gives ±Inf, underflow gives ±0.
func parseFloat(s string) float64 {
	// Only ErrRange is possible for a validated literal, and then f is
	// already ±Inf or ±0, which is what Python gives.
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
