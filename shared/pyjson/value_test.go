package pyjson

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestFloatRepr(t *testing.T) {
	// Expected values are CPython 3.11's repr().
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{-1.5, "-1.5"},
		{0.1, "0.1"},
		{0.30000000000000004, "0.30000000000000004"},
		{1e-4, "0.0001"},
		{1.5e-4, "0.00015"},
		{1e-5, "1e-05"},
		{1.25e-5, "1.25e-05"},
		{1e15, "1000000000000000.0"},
		{9999999999999998, "9999999999999998.0"},
		{1e16, "1e+16"},
		{1.5e16, "1.5e+16"},
		{123456789012345678, "1.2345678901234568e+17"},
		{1e22, "1e+22"},
		{1e100, "1e+100"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"},
		{123.456, "123.456"},
		{math.NaN(), "nan"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
	}
	for _, tc := range tests {
		if got := FloatRepr(tc.f); got != tc.want {
			t.Errorf("FloatRepr(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestBuilders(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want string
	}{
		{"zero value is null", Value{}, "null"},
		{"null", Null(), "null"},
		{"bools", Array(Bool(true), Bool(false)), "[true, false]"},
		{"ints", Array(Int(0), Int(-42), Int(math.MaxInt64), Int(math.MinInt64)), "[0, -42, 9223372036854775807, -9223372036854775808]"},
		{"floats", Array(Float(1), Float(1e16), Float(1e-5), Float(math.Copysign(0, -1)), Float(math.NaN()), Float(math.Inf(1)), Float(math.Inf(-1))),
			"[1.0, 1e+16, 1e-05, -0.0, NaN, Infinity, -Infinity]"},
		{"string escapes", String("Grüße <&> \u2028 \x7f 😀 \"\\/\n"), `"Gr\u00fc\u00dfe <&> \u2028 \u007f \ud83d\ude00 \"\\/\n"`},
		{"invalid utf-8 in Go string", String("a\xffb"), `"a\ufffdb"`},
		{"generalised utf-8 surrogate", String("\xed\xa0\x80"), `"\ud800"`},
		{"empty containers", Array(Object(), Array()), "[{}, []]"},
		{"ordered object", Object(Member{"user_name", String("Bob")}, Member{"message", String("hi")}),
			`{"user_name": "Bob", "message": "hi"}`},
		{"object with dict semantics", Object(Member{"a", Int(1)}, Member{"b", Int(2)}, Member{"a", Int(3)}),
			`{"a": 3, "b": 2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Dumps(tc.v)); got != tc.want {
				t.Errorf("Dumps = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestObjectManyDuplicates(t *testing.T) {
	// Past indexThreshold keys are found through a map; the result must
	// not change.
	var ms []Member
	for i := range 200 {
		ms = append(ms, Member{string(rune('a' + i%50)), Int(int64(i))})
	}
	o := Object(ms...)
	if o.Len() != 50 {
		t.Fatalf("Len = %d, want 50", o.Len())
	}
	if v, _ := o.Lookup("a"); v.Literal() != "150" {
		t.Fatalf(`"a" = %s, want 150`, Dumps(v))
	}
	if o.Members()[0].Key != "a" || o.Members()[49].Key != string(rune('a'+49)) {
		t.Fatal("order changed")
	}
}

func TestAccessors(t *testing.T) {
	v, err := Parse([]byte(`{"s": "x\ud800y\ud83d\ude00", "i": 12, "big": 123456789012345678901, "f": 1.5e3,
		"t": true, "n": null, "a": [1, "two"], "\u0063hecksum": "c"}`))
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind() != KindObject || v.Len() != 8 {
		t.Fatalf("kind %v len %d", v.Kind(), v.Len())
	}
	s, _ := v.Lookup("s")
	if got, ok := s.Str(); !ok || got != "x\uFFFDy😀" {
		t.Errorf("Str = %q, %v", got, ok)
	}
	if got, ok := s.RawStr(); !ok || got != "x\xed\xa0\x80y😀" {
		t.Errorf("RawStr = %q, %v", got, ok)
	}
	i, _ := v.Lookup("i")
	if n, ok := i.Int64(); !ok || n != 12 {
		t.Errorf("Int64 = %d, %v", n, ok)
	}
	if _, ok := i.Str(); ok {
		t.Error("Str on an int reported ok")
	}
	big, _ := v.Lookup("big")
	if _, ok := big.Int64(); ok || big.Kind() != KindInt || big.Literal() != "123456789012345678901" {
		t.Errorf("big int: kind %v literal %q", big.Kind(), big.Literal())
	}
	f, _ := v.Lookup("f")
	if x, ok := f.Float64(); !ok || x != 1500 || f.Kind() != KindFloat {
		t.Errorf("Float64 = %v, %v", x, ok)
	}
	tr, _ := v.Lookup("t")
	if b, ok := tr.Boolean(); !ok || !b {
		t.Errorf("Boolean = %v, %v", b, ok)
	}
	n, ok := v.Lookup("n")
	if !ok || n.Kind() != KindNull {
		t.Errorf("null: %v %v", n.Kind(), ok)
	}
	a, _ := v.Lookup("a")
	if e, ok := a.Index(1); a.Len() != 2 || !ok || e.Kind() != KindString || a.Members() != nil {
		t.Errorf("array accessors")
	}
	if _, ok := a.Index(2); ok {
		t.Errorf("Index out of range reported ok")
	}
	if _, ok := v.Index(0); ok {
		t.Errorf("Index on an object reported ok")
	}
	if _, ok := v.Lookup("missing"); ok {
		t.Error("Lookup of a missing key reported ok")
	}
	if _, ok := v.Lookup("checksum"); !ok {
		t.Error(`escaped key "\u0063hecksum" not found as "checksum"`)
	}
	if _, ok := a.Lookup("x"); ok {
		t.Error("Lookup on an array reported ok")
	}
}

func TestWithout(t *testing.T) {
	v, err := Parse([]byte(`{"a": 1, "checksum": "x", "b": 2, "c": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		drop []string
		want string
	}{
		{"nothing", nil, `{"a": 1, "checksum": "x", "b": 2, "c": 3}`},
		{"absent", []string{"zz"}, `{"a": 1, "checksum": "x", "b": 2, "c": 3}`},
		{"middle", []string{"checksum"}, `{"a": 1, "b": 2, "c": 3}`},
		{"last", []string{"c"}, `{"a": 1, "checksum": "x", "b": 2}`},
		{"first", []string{"a"}, `{"checksum": "x", "b": 2, "c": 3}`},
		{"several", []string{"a", "c"}, `{"checksum": "x", "b": 2}`},
		{"tail", []string{"b", "c"}, `{"a": 1, "checksum": "x"}`},
		{"all", []string{"a", "b", "c", "checksum"}, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := v.Without(tc.drop...)
			if got := string(Dumps(w)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	if got := string(Dumps(v)); got != `{"a": 1, "checksum": "x", "b": 2, "c": 3}` {
		t.Errorf("Without modified the original: %s", got)
	}
}

func TestCanonical(t *testing.T) {
	got, err := Canonical([]byte(`{"user_name":"Bob","message":"hi","checksum":"abc"}`), "checksum")
	if err != nil || string(got) != `{"user_name": "Bob", "message": "hi"}` {
		t.Fatalf("Canonical = %s, %v", got, err)
	}
	for _, body := range []string{`[1]`, `"x"`, `null`, `1`} {
		if _, err := Canonical([]byte(body)); !errors.Is(err, ErrNotObject) || errors.Is(err, ErrSyntax) {
			t.Errorf("Canonical(%s): %v, want ErrNotObject", body, err)
		}
	}
	if _, err := Canonical([]byte(`{`)); !errors.Is(err, ErrSyntax) {
		t.Errorf("Canonical({): %v, want ErrSyntax", err)
	}
}

func TestDepthLimit(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat(`[{"a":`, n/2) + strings.Repeat("[", n%2) + "1" + strings.Repeat("]", n%2) + strings.Repeat("}]", n/2))
	}
	if _, err := Parse(nest(MaxDepth)); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	for _, n := range []int{MaxDepth + 1, 100000} {
		_, err := Parse(nest(n))
		if !errors.Is(err, ErrTooDeep) || !errors.Is(err, ErrSyntax) {
			t.Fatalf("depth %d: %v, want ErrTooDeep and ErrSyntax", n, err)
		}
	}
}

func TestSyntaxErrorOffset(t *testing.T) {
	tests := []struct {
		body   string
		offset int
		msg    string
	}{
		{`{"a": 1,}`, 8, "Expecting property name"},
		{`{"a" 1}`, 5, "Expecting ':' delimiter"},
		{`[1 2]`, 3, "Expecting ',' delimiter"},
		{"{\"a\": \"b\x01\"}", 8, "Invalid control character"},
		{`{"a": "\q"}`, 7, "Invalid \\escape"},
		{`{"a": "\u12"}`, 8, "Invalid \\uXXXX escape"},
		{"{\"a\": \"\xff\"}", 7, "invalid UTF-8"},
		{`{"a": "b`, 6, "Unterminated string"},
		{`{} x`, 3, "Extra data"},
		{``, 0, "Expecting value"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.body))
		se, ok := errors.AsType[*SyntaxError](err)
		if !ok {
			t.Errorf("Parse(%q): %v, want *SyntaxError", tc.body, err)
			continue
		}
		if se.Offset != tc.offset || !strings.HasPrefix(se.Msg, tc.msg) {
			t.Errorf("Parse(%q): %q at %d, want %q at %d", tc.body, se.Msg, se.Offset, tc.msg, tc.offset)
		}
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		name, body, want string
		ok               bool
	}{
		{"last, python style", `{"a": "b", "checksum": "x"}`, `{"a": "b"}`, true},
		{"last, compact", `{"a":"b","checksum":"x"}`, `{"a":"b"}`, true},
		{"first, compact", `{"checksum":"x","a":"b"}`, `{"a":"b"}`, true},
		{"first, python style", `{"checksum": "x", "a": "b"}`, `{"a": "b"}`, true},
		{"middle, compact", `{"a":"b","checksum":"x","c":"d"}`, `{"a":"b","c":"d"}`, true},
		{"middle, python style", `{"a": "b", "checksum": "x", "c": "d"}`, `{"a": "b", "c": "d"}`, true},
		{"pretty, last", "{\n  \"a\": 1,\n  \"checksum\": \"x\"\n}", "{\n  \"a\": 1\n}", true},
		{"pretty, first", "{\n  \"checksum\": \"x\",\n  \"a\": 1\n}", "{\n  \"a\": 1\n}", true},
		{"only member", `{ "checksum" : "x" }`, `{  }`, true},
		{"odd spacing kept", ` {"a" : [1 ,2] ,"checksum":1 , "c":{}} `, ` {"a" : [1 ,2]  , "c":{}} `, true},
		{"escaped key", `{"a":1,"\u0063hecksum":"x"}`, `{"a":1}`, true},
		{"escapes elsewhere kept", `{"m":"\u00e9\/","checksum":"x"}`, `{"m":"\u00e9\/"}`, true},
		{"nested checksum untouched", `{"a":{"checksum":1}}`, "", false},
		{"absent", `{"a":1}`, "", false},
		{"duplicate", `{"checksum":"x","a":1,"checksum":"y"}`, "", false},
		{"not an object", `["checksum"]`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDocument([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := d.Cut("checksum")
			if ok != tc.ok || string(got) != tc.want {
				t.Fatalf("Cut = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseCopiesBody(t *testing.T) {
	body := []byte(`{"a": "bob"}`)
	v, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	copy(body, `{"a": "eve"}`)
	if s, _ := v.Members()[0].Value.Str(); s != "bob" {
		t.Fatalf("value changed with the body: %q", s)
	}
}
