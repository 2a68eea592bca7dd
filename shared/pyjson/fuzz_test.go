package pyjson

import (
	"encoding/base64"
	"math"
	"path/filepath"
	"testing"
)

// equal reports whether a and b hold the same Python objects: ints by value,
// floats by value (NaN equal to NaN, -0.0 unequal to 0.0), strings by code
// points, containers member by member in order.
func equal(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KindBool:
		return a.b == b.b
	case KindInt:
		return string(AppendDumps(nil, a)) == string(AppendDumps(nil, b))
	case KindFloat:
		x, y := parseFloat(a.s), parseFloat(b.s)
		return math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y))
	case KindString:
		return a.s == b.s
	case KindArray, KindObject:
		if len(a.members) != len(b.members) {
			return false
		}
		for i := range a.members {
			if a.members[i].Key != b.members[i].Key || !equal(a.members[i].Value, b.members[i].Value) {
				return false
			}
		}
	}
	return true
}

func addVectorSeeds(f *testing.F) {
	for _, vec := range readVectors(&testing.T{}, filepath.Join("testdata", "vectors.jsonl")) {
		if in, err := base64.StdEncoding.DecodeString(vec.In); err == nil {
			f.Add(in)
		}
	}
}

// FuzzCanonical checks, for any input: Canonical's output is pure ASCII,
// Canonical is idempotent, the output parses back to the same values, and a
// member cut out of the text (Document.Cut) leaves the same object as
// dropping it from the tree.
func FuzzCanonical(f *testing.F) {
	addVectorSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		v, perr := Parse(body)
		out, err := Canonical(body)
		if perr != nil || v.Kind() != KindObject {
			if err == nil {
				t.Fatalf("Canonical accepted what Parse did not: %v", perr)
			}
			if perr == nil {
				// A valid document that is not an object: Dumps must
				// still behave.
				checkASCII(t, Dumps(v))
			}
			return
		}
		if err != nil {
			t.Fatalf("Canonical: %v", err)
		}
		checkASCII(t, out)
		if hasSplitPair(v) {
			// A high and a low surrogate held as two code points (raw
			// surrogates in the body) are written as a pair, which
			// json.loads joins into one code point: CPython itself is
			// not idempotent here, and may even write a dict with two
			// equal-looking keys. One more round must be stable.
			if out, err = Canonical(out); err != nil {
				t.Fatalf("Canonical of its own output: %v", err)
			}
			if v, err = Parse(out); err != nil {
				t.Fatal(err)
			}
		}
		again, err := Canonical(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("not idempotent:\n%s\n%s (%v)", out, again, err)
		}
		w, err := Parse(out)
		if err != nil || !equal(v, w) {
			t.Fatalf("re-parse differs: %s (%v)", out, err)
		}
		v, _ = Parse(body)

		d, err := ParseDocument(body)
		if err != nil || !equal(d.Value, v) {
			t.Fatalf("ParseDocument differs from Parse: %v", err)
		}
		for _, m := range v.Members() {
			cut, ok := d.Cut(m.Key)
			if !ok {
				continue // written more than once
			}
			c, err := Parse(cut)
			if err != nil {
				t.Fatalf("Cut(%q) = %q does not parse: %v", m.Key, cut, err)
			}
			if !equal(c, v.Without(m.Key)) {
				t.Fatalf("Cut(%q) = %q, not the object without it", m.Key, cut)
			}
		}
	})
}

// hasSplitPair reports whether a string or key in v holds a high surrogate
// code point directly followed by a low one.
func hasSplitPair(v Value) bool {
	split := func(s string) bool {
		prevHigh := false
		for i := 0; i < len(s); {
			r, n := decodeGen(s, i)
			if n == 0 {
				n = 1
			}
			if prevHigh && r >= 0xdc00 && r <= 0xdfff {
				return true
			}
			prevHigh = r >= 0xd800 && r <= 0xdbff
			i += n
		}
		return false
	}
	switch v.kind {
	case KindString:
		return split(v.s)
	case KindArray, KindObject:
		for _, m := range v.members {
			if split(m.Key) || hasSplitPair(m.Value) {
				return true
			}
		}
	}
	return false
}

func checkASCII(t *testing.T, b []byte) {
	t.Helper()
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("byte %d of %q is %#x, not printable ASCII", i, b, c)
		}
	}
}
