package checksum

import (
	"crypto/sha512"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// signedAs builds a body sent as Python's json.dumps (with the checksum last) whose checksum was made over text
// instead of the body's own serialisation.
func signedAs(call string, params pyjson.Value, text, secret string, ts int64) []byte {
	sum := Sign(call, []byte(text), secret, ts)
	ms := append(params.Members(), pyjson.Member{Key: Key, Value: pyjson.String(sum)})
	return pyjson.Dumps(pyjson.Object(ms...))
}

func TestExplain(t *testing.T) {
	const call, delta = "sendChatMessage", 5
	calls := []string{"startChatForMeeting", "endChatForMeeting", "sendChatMessage", "getChatInfo", "sendChatMessage/m1"}
	params := pyjson.Object(
		pyjson.Member{Key: "user_name", Value: pyjson.String("Jürgen")},
		pyjson.Member{Key: "message", Value: pyjson.String("see https://x.example/a <b> & 😀")},
	)
	body := func(secret string, ts int64) []byte { return SignedBody(call, params, secret, ts) }
	gomap := func() string {
		b, _ := json.Marshal(map[string]string{"user_name": "Jürgen", "message": "see https://x.example/a <b> & 😀"})
		return string(b)
	}()
	tests := []struct {
		name     string
		body     []byte
		want     Reason // ReasonIncorrect: no *Mismatch
		skew     int64
		hintPart string
	}{
		{"clock 14 s ahead", body(testSecret, testTS+14), ReasonClock, 14, "14 s ahead of the server's clock; the window is ±5 s"},
		{"clock 60 s behind", body(testSecret, testTS-60), ReasonClock, -60, "60 s behind"},
		{"clock at the range's end", body(testSecret, testTS+ClockRange), ReasonClock, ClockRange, "ahead"},
		{"clock beyond the range", body(testSecret, testTS+ClockRange+1), ReasonIncorrect, 0, ""},
		{"retired secret", body("old secret", testTS), ReasonRetiredSecret, 0, "no longer accepts"},
		{"retired secret, clock off", body("old secret", testTS+30), ReasonIncorrect, 0, ""},
		{"wrong secret", body("guess", testTS), ReasonIncorrect, 0, ""},
		{"wrong secret, clock off", body("guess", testTS-14), ReasonIncorrect, 0, ""},
		{"another call's name", SignedBody("getChatInfo", params, testSecret, testTS), ReasonOtherCall, 0, `"getChatInfo", not "sendChatMessage"`},
		{"the path as call name", SignedBody("sendChatMessage/m1", params, testSecret, testTS), ReasonOtherCall, 0, `"sendChatMessage/m1"`},
		{"compact, escaped (Python separators)", signedAs(call, params, `{"user_name":"J\u00fcrgen","message":"see https://x.example/a <b> & \ud83d\ude00"}`, testSecret, testTS), ReasonSerialisation, 0, "compact JSON with non-ASCII as \\u escapes"},
		{"compact, raw (JavaScript)", signedAs(call, params, `{"user_name":"Jürgen","message":"see https://x.example/a <b> & 😀"}`, testSecret, testTS), ReasonSerialisation, 0, "JSON.stringify"},
		{"PHP json_encode", signedAs(call, params, `{"user_name":"J\u00fcrgen","message":"see https:\/\/x.example\/a <b> & \ud83d\ude00"}`, testSecret, testTS), ReasonSerialisation, 0, "json_encode"},
		{"sorted keys", signedAs(call, params, `{"message": "see https://x.example/a <b> & \ud83d\ude00", "user_name": "J\u00fcrgen"}`, testSecret, testTS), ReasonSerialisation, 0, "sort_keys"},
		{"Go map", signedAs(call, params, gomap, testSecret, testTS), ReasonSerialisation, 0, "encoding/json"},
		{"other parameters", signedAs(call, params, `{"user_name":"Jürgen"}`, testSecret, testTS), ReasonIncorrect, 0, ""},
		{"uppercase hex", upperSum(body(testSecret, testTS)), ReasonHexCase, 0, "lowercase"},
		{"uppercase hex, wrong secret", upperSum(body("guess", testTS)), ReasonIncorrect, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Verifier{Secrets: []string{testSecret}, Retired: []string{"old secret"}, Delta: delta, Now: fixedNow(testTS)}
			if _, _, err := v.Verify(call, tc.body); !errors.Is(err, ErrIncorrect) {
				t.Fatalf("Verify: %v; the case must be refused", err)
			}
			err := v.Explain(call, tc.body, calls)
			if !errors.Is(err, ErrIncorrect) {
				t.Fatalf("Explain = %v; it must match ErrIncorrect", err)
			}
			m, ok := errors.AsType[*Mismatch](err)
			if tc.want == ReasonIncorrect {
				if ok {
					t.Fatalf("Explain = %v; want no explanation", err)
				}
				return
			}
			if !ok || m.Reason != tc.want || m.Skew != tc.skew || !strings.Contains(m.Hint(), tc.hintPart) {
				t.Fatalf("Explain = %#v (%v); want %s, skew %d, hint with %q", m, err, tc.want, tc.skew, tc.hintPart)
			}
		})
	}
}

// TestExplainAcceptedIsNotExplained: Explain is for refused checksums, but on an accepted one it must not invent
// a reason either (the window's seconds are not searched again as a clock error).
func TestExplainAcceptedIsNotExplained(t *testing.T) {
	v := Verifier{Secrets: []string{testSecret}, Delta: 5, Now: fixedNow(testTS)}
	b := SignedBody("c", pyjson.Object(), testSecret, testTS+5)
	if _, ok := errors.AsType[*Mismatch](v.Explain("c", b, nil)); ok {
		t.Fatal("an accepted checksum was explained")
	}
}

// TestExplainBounded: the work of a refused request that nothing explains (the most expensive case) stays within
// ExplainCost, whatever the number of call names and retired secrets.
func TestExplainBounded(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = "call" + strings.Repeat("x", i)
	}
	for _, delta := range []int64{0, 5, 30} {
		v := Verifier{Secrets: []string{testSecret, "old"}, Retired: []string{"a", "b", "c", "d"}, Delta: delta, Now: fixedNow(testTS)}
		// A compact body: two forms to try.
		b := jsClientBody("c", [][2]string{{"a", "ü/<"}}, "guess", testTS, -1)
		sc := &scratch{h: sha512.New()}
		if err := v.explain(sc, "c", b, many); !errors.Is(err, ErrIncorrect) {
			t.Fatal(err)
		}
		if sc.n == 0 || sc.n > ExplainCost(delta) {
			t.Fatalf("delta %d: %d hashes, bound %d", delta, sc.n, ExplainCost(delta))
		}
		t.Logf("delta %d: %d hashes (bound %d)", delta, sc.n, ExplainCost(delta))
	}
}

func TestMismatchHints(t *testing.T) {
	for _, r := range Reasons() {
		m := &Mismatch{Reason: r, Delta: 5, Skew: 3, Call: "a", Want: "b", Form: "f"}
		if (m.Hint() == "") != (r == ReasonIncorrect) {
			t.Errorf("%s: hint %q", r, m.Hint())
		}
		if !errors.Is(m, ErrIncorrect) {
			t.Errorf("%s does not match ErrIncorrect", r)
		}
	}
}

func BenchmarkExplainUnexplained(b *testing.B) {
	v := Verifier{Secrets: []string{testSecret}, Delta: 5, Now: fixedNow(testTS)}
	body := jsClientBody("c", [][2]string{{"user_name", "Ann"}, {"message", "hello there"}}, "guess", testTS, -1)
	calls := []string{"a", "b", "c", "d", "e", "f"}
	for b.Loop() {
		_ = v.Explain("c", body, calls)
	}
}

// TestExplainCostInSecurityDoc keeps docs/security.md's figure for the default window true.
func TestExplainCostInSecurityDoc(t *testing.T) {
	md, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	n := strconv.Itoa(ExplainCost(5))
	want := n[:len(n)-3] + "," + n[len(n)-3:] + " with the default ±5 s"
	if !strings.Contains(string(md), want) {
		t.Errorf("docs/security.md does not say %q", want)
	}
}
