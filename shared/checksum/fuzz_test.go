package checksum

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// FuzzVerify feeds arbitrary bodies to Verify (it must not panic, and must
// classify every error), and checks that a client that signs its own
// serialisation of an object and splices the checksum member in as the
// first or last member (form 2) is always accepted.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"user_name": "Bob", "message": "hi"}`), "sendChatMessage", "s3cr3t", false)
	f.Add([]byte(`{"user_name":"Bob","message":"hi"}`), "sendMessage", "s3cr3t", true)
	f.Add([]byte(`{ }`), "endChat", "k", false)
	f.Add([]byte("\xef\xbb\xbf {\n\t\"a\" : [1 ,2.50] ,\"b\":\"\\u00e9\\/\" } \n"), "startChat", "s", true)
	f.Add([]byte(`{"a":1,"a":2}`), "c", "s", true)
	f.Add([]byte(`{"checksum": 1}`), "c", "s", false)
	f.Add([]byte(`[1]`), "c", "s", false)
	f.Fuzz(func(t *testing.T, body []byte, call, secret string, first bool) {
		const now = 1700000000
		v := Verifier{Secrets: []string{secret}, Delta: 2, Now: fixedNow(now)}

		// Any body: no panic, and a known error class.
		params, sum, err := v.Verify(call, body)
		switch {
		case err == nil:
			if _, ok := params.Lookup(Key); ok || sum == "" {
				t.Fatalf("accepted with params %s, sum %q", pyjson.Dumps(params), sum)
			}
		case errors.Is(err, pyjson.ErrSyntax), errors.Is(err, pyjson.ErrNotObject),
			errors.Is(err, ErrMissing), errors.Is(err, ErrIncorrect):
		default:
			t.Fatalf("unclassified error %v", err)
		}

		// Form 2: splice a checksum over the body's own text into it.
		obj, err := pyjson.Parse(body)
		if err != nil || obj.Kind() != pyjson.KindObject || secret == "" {
			return
		}
		if _, ok := obj.Lookup(Key); ok {
			return
		}
		sum = Sign(call, body, secret, now-1)
		signed, ok := splice(body, obj.Len() == 0, first, `"checksum": "`+sum+`"`)
		if !ok {
			t.Fatalf("cannot splice into %q", body)
		}
		params, got, err := v.Verify(call, signed)
		if err != nil {
			t.Fatalf("form 2 body %q: %v", signed, err)
		}
		if got != sum || !bytes.Equal(pyjson.Dumps(params), pyjson.Dumps(obj)) {
			t.Fatalf("form 2 body %q: params %s, sum %s", signed, pyjson.Dumps(params), got)
		}
	})
}

// splice inserts member into the object text body: as the first member
// (before the first key, followed by ", ") or as the last one (before the
// closing brace, preceded by ", ").
func splice(body []byte, empty, first bool, member string) ([]byte, bool) {
	var at int
	var ins string
	if first {
		i := 0
		if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
			i = 3
		}
		for i < len(body) && bytes.IndexByte([]byte(" \t\r\n"), body[i]) >= 0 {
			i++
		}
		if i >= len(body) || body[i] != '{' {
			return nil, false
		}
		i++
		for i < len(body) && bytes.IndexByte([]byte(" \t\r\n"), body[i]) >= 0 {
			i++
		}
		at, ins = i, member+", "
	} else {
		at = bytes.LastIndexByte(body, '}')
		if at < 0 {
			return nil, false
		}
		ins = ", " + member
	}
	if empty {
		ins = member
	}
	out := make([]byte, 0, len(body)+len(ins))
	out = append(out, body[:at]...)
	out = append(out, ins...)
	return append(out, body[at:]...), true
}

// FuzzExplain: Explain never panics and only ever says a checksum is incorrect (or missing), and every other
// serialisation it tries is JSON of the same parameters; a body signed over one of them is explained as such (or,
// when that text is the body's own, accepted).
func FuzzExplain(f *testing.F) {
	f.Add([]byte(`{"user_name": "Bob", "message": "hi"}`), uint8(0))
	f.Add([]byte(`{"b": "\u00e9/<>&\u2028", "a": [1, 2.50, {"z": null}]}`), uint8(2))
	f.Add([]byte(`{"s": "\ud800x", "n": -0}`), uint8(4))
	f.Add([]byte(`{"checksum": "ABC"}`), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, form uint8) {
		const now = 1700000000
		v := Verifier{Secrets: []string{"k"}, Retired: []string{"r"}, Delta: 1, Now: fixedNow(now)}
		if err := v.Explain("c", body, []string{"d"}); err != nil && !errors.Is(err, ErrIncorrect) && !errors.Is(err, ErrMissing) {
			t.Fatalf("Explain: %v", err)
		}
		obj, err := pyjson.Parse(body)
		if err != nil || obj.Kind() != pyjson.KindObject {
			return
		}
		params := obj.Without(Key)
		s := serialisations[int(form)%len(serialisations)]
		text := s.write(nil, params)
		back, err := pyjson.Parse(text)
		norm := serialisation{ascii: true, sorted: s.sorted} // Python's json.dumps, with the same key order
		if err != nil || !bytes.Equal(norm.write(nil, back), norm.write(nil, params)) {
			t.Fatalf("%s wrote %q: %v", s.name, text, err)
		}
		sum := Sign("c", text, "k", now)
		signed := pyjson.Dumps(pyjson.Object(append(params.Members(), pyjson.Member{Key: Key, Value: pyjson.String(sum)})...))
		if _, _, err := v.Verify("c", signed); err == nil {
			return
		}
		if m, ok := errors.AsType[*Mismatch](v.Explain("c", signed, nil)); !ok || m.Reason != ReasonSerialisation {
			t.Fatalf("body %q signed as %s (%q): not explained", signed, s.name, text)
		}
	})
}
