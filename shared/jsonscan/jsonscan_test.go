package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// flat is the shape the tests read: a string, an integer and a boolean, as encoding/json decodes them.
type flat struct {
	S string `json:"s"`
	N int64  `json:"n"`
	B bool   `json:"b"`
}

// read decodes data into a flat with the Scanner; ok false where it leaves data to encoding/json.
func read(data string) (f flat, ok bool) {
	s := New(data)
	ok = s.Object([]string{"s", "n", "b"}, func(key string) bool {
		switch key {
		case "s":
			return s.Str(&f.S)
		case "n":
			return s.Int(&f.N)
		}
		return s.Bool(&f.B)
	}) && s.End()
	return f, ok
}

func TestObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want flat
	}{
		{`{"s":"a","n":-12,"b":true}`, true, flat{"a", -12, true}},
		{` { "s" : "a\u00e9\n" , "x" : [1, {"y": null}, "z"] } `, true, flat{S: "aé\n"}},
		{`{}`, true, flat{}},
		{`{"S":"a"}`, false, flat{}},         // another case: encoding/json would take it
		{`{"s":"a","s":"b"}`, false, flat{}}, // twice
		{`{"s":null}`, false, flat{}},
		{`{"n":1.5}`, false, flat{}},
		{`{"n":1e3}`, false, flat{}},
		{`{"n":99999999999999999999}`, false, flat{}},
		{`{"b":1}`, false, flat{}},
		{`{"s":"a"} x`, false, flat{}},
		{`{"s":"a",}`, false, flat{}},
		{`{"x":` + strings.Repeat("[", MaxSkipDepth+1) + strings.Repeat("]", MaxSkipDepth+1) + `}`, false, flat{}},
		{`{"x":` + strings.Repeat("[", MaxSkipDepth) + strings.Repeat("]", MaxSkipDepth) + `}`, true, flat{}},
	} {
		got, ok := read(tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzObject: what the Scanner takes, encoding/json decodes to the same values.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{"s":"a","n":-12,"b":true}`, `{"s":"\ud83d\ude00","x":{"y":[1,2.5e3,null]}}`,
		`{"S":"a"}`, `{"s":"\xff"}`, `{"n":012}`, `[]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		got, ok := read(data)
		if !ok {
			return
		}
		var want flat
		if err := json.Unmarshal([]byte(data), &want); err != nil || got != want {
			t.Fatalf("%q: Scanner %+v; encoding/json %+v, %v", data, got, want, err)
		}
	})
}
