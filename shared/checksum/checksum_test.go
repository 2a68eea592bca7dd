package checksum

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

var update = flag.Bool("update", false, "rewrite golden files (runs python3)")

const (
	testSecret = "s3cr3t"
	testTS     = 1700000000
)

func fixedNow(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}

func TestKnownVector(t *testing.T) {
	got := Sign("sendChatMessage", []byte(`{"user_name": "Bob", "message": "hi"}`), testSecret, testTS)
	if !strings.HasPrefix(got, "56f801ac") || !strings.HasSuffix(got, "41c8fb") || len(got) != 128 {
		t.Fatalf("Sign = %s, want 56f801ac…41c8fb", got)
	}
	params := pyjson.Object(
		pyjson.Member{Key: "user_name", Value: pyjson.String("Bob")},
		pyjson.Member{Key: "message", Value: pyjson.String("hi")},
	)
	if cb := SignCallback("sendChatMessage", params, testSecret, testTS); cb != got {
		t.Fatalf("SignCallback = %s, want %s", cb, got)
	}
}

// checksumVector is one line of testdata/vectors.jsonl, computed by CPython
// with the original formula (../pyjson/testdata/gen_vectors.py checksum).
type checksumVector struct {
	Name     string `json:"name"`
	Call     string `json:"call"`
	Secret   string `json:"secret"`
	TS       int64  `json:"ts"`
	Params   string `json:"params"` // base64
	Canon    string `json:"canon"`
	Checksum string `json:"checksum"`
	Body     string `json:"body"` // base64
}

func TestVectors(t *testing.T) {
	golden := filepath.Join("testdata", "vectors.jsonl")
	if *update {
		cmd := exec.Command("python3", filepath.Join("..", "pyjson", "testdata", "gen_vectors.py"), "checksum")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gen_vectors.py checksum: %v", err)
		}
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		var vec checksumVector
		if err := json.Unmarshal(sc.Bytes(), &vec); err != nil {
			t.Fatal(err)
		}
		n++
		t.Run(vec.Name, func(t *testing.T) {
			params, _ := base64.StdEncoding.DecodeString(vec.Params)
			body, _ := base64.StdEncoding.DecodeString(vec.Body)
			canon, err := pyjson.Canonical(params)
			if err != nil || string(canon) != vec.Canon {
				t.Fatalf("Canonical = %s, %v; want %s", canon, err, vec.Canon)
			}
			if got := Sign(vec.Call, canon, vec.Secret, vec.TS); got != vec.Checksum {
				t.Fatalf("Sign = %s, want %s", got, vec.Checksum)
			}
			for _, skew := range []int64{-5, 0, 5} {
				v := Verifier{Secrets: []string{vec.Secret}, Delta: 5, Now: fixedNow(vec.TS + skew)}
				p, sum, err := v.Verify(vec.Call, body)
				if err != nil {
					t.Fatalf("Verify at skew %d: %v", skew, err)
				}
				if sum != vec.Checksum || string(pyjson.Dumps(p)) != vec.Canon {
					t.Fatalf("Verify returned %s, %s", pyjson.Dumps(p), sum)
				}
			}
			v := Verifier{Secrets: []string{vec.Secret + "x"}, Delta: 5, Now: fixedNow(vec.TS)}
			if _, _, err := v.Verify(vec.Call, body); !errors.Is(err, ErrIncorrect) {
				t.Fatalf("Verify with another secret: %v", err)
			}
			v = Verifier{Secrets: []string{vec.Secret}, Delta: 5, Now: fixedNow(vec.TS)}
			if _, _, err := v.Verify(vec.Call+"x", body); !errors.Is(err, ErrIncorrect) {
				t.Fatalf("Verify for another call: %v", err)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d vectors", n)
	}
}

// TestReadmeClient follows the original README's Python client snippet:
// json.dumps(param_dict), sign call + that + secret + ts, add "checksum" as
// the last key, send json.dumps(param_dict).
func TestReadmeClient(t *testing.T) {
	const call, secret, ts = "endChatForMeeting", "change_me", 1614000000
	paramDict := pyjson.Object(pyjson.Member{Key: "meeting_id", Value: pyjson.String("12345678901234567890-123456789")})
	jsonEncoded := pyjson.Dumps(paramDict)
	sum := Sign(call, jsonEncoded, secret, ts)
	body := pyjson.Dumps(pyjson.Object(
		pyjson.Member{Key: "meeting_id", Value: pyjson.String("12345678901234567890-123456789")},
		pyjson.Member{Key: "checksum", Value: pyjson.String(sum)},
	))
	want := `{"meeting_id": "12345678901234567890-123456789", "checksum": "` + sum + `"}`
	if string(body) != want {
		t.Fatalf("body = %s", body)
	}
	if sb := SignedBody(call, paramDict, secret, ts); string(sb) != want {
		t.Fatalf("SignedBody = %s, want %s", sb, want)
	}
	v := Verifier{Secrets: []string{secret}, Delta: 5, Now: fixedNow(ts + 3)}
	params, got, err := v.Verify(call, body)
	if err != nil {
		t.Fatal(err)
	}
	if got != sum || string(pyjson.Dumps(params)) != string(jsonEncoded) {
		t.Fatalf("Verify returned %s, %s", pyjson.Dumps(params), got)
	}
}

// jsClientBody builds a body the way a JavaScript or Go client does: it
// signs its compact serialisation of the params, then splices the checksum
// member in at position pos (0 = first, -1 = last) with the same compact
// serialiser.
func jsClientBody(call string, members [][2]string, secret string, ts int64, pos int) []byte {
	var params []string
	for _, m := range members {
		params = append(params, quote(m[0])+":"+quote(m[1]))
	}
	text := "{" + strings.Join(params, ",") + "}"
	sum := Sign(call, []byte(text), secret, ts)
	ck := `"checksum":"` + sum + `"`
	if pos < 0 {
		pos = len(params)
	}
	withSum := append(append(append([]string{}, params[:pos]...), ck), params[pos:]...)
	return []byte("{" + strings.Join(withSum, ",") + "}")
}

func quote(s string) string {
	b, _ := json.Marshal(s) // a Go client: compact, HTML-escaped, UTF-8 raw
	return string(b)
}

func TestVerify(t *testing.T) {
	const call = "sendMessage"
	members := [][2]string{{"chat_id", "m1"}, {"user_name", "Jürgen <x>"}, {"message", "Grüße 😀 & \u2028"}}
	pyBody := func(secret string, ts int64) []byte {
		ms := make([]pyjson.Member, len(members))
		for i, m := range members {
			ms[i] = pyjson.Member{Key: m[0], Value: pyjson.String(m[1])}
		}
		return SignedBody(call, pyjson.Object(ms...), secret, ts)
	}
	const delta = 5
	tests := []struct {
		name    string
		secrets []string
		body    []byte
		wantErr error // nil: accepted
	}{
		{"python client", []string{testSecret}, pyBody(testSecret, testTS), nil},
		{"js client, checksum first", []string{testSecret}, jsClientBody(call, members, testSecret, testTS, 0), nil},
		{"js client, checksum middle", []string{testSecret}, jsClientBody(call, members, testSecret, testTS, 1), nil},
		{"js client, checksum last", []string{testSecret}, jsClientBody(call, members, testSecret, testTS, -1), nil},
		{"js client, only member", []string{testSecret}, jsClientBody(call, nil, testSecret, testTS, 0), nil},
		{"window start now-delta", []string{testSecret}, pyBody(testSecret, testTS-delta), nil},
		{"window end now+delta", []string{testSecret}, pyBody(testSecret, testTS+delta), nil},
		{"js client at window end", []string{testSecret}, jsClientBody(call, members, testSecret, testTS+delta, 1), nil},
		{"too old now-delta-1", []string{testSecret}, pyBody(testSecret, testTS-delta-1), ErrIncorrect},
		{"too new now+delta+1", []string{testSecret}, pyBody(testSecret, testTS+delta+1), ErrIncorrect},
		{"js client too old", []string{testSecret}, jsClientBody(call, members, testSecret, testTS-delta-1, 0), ErrIncorrect},
		{"wrong secret", []string{"other"}, pyBody(testSecret, testTS), ErrIncorrect},
		{"rotation, old secret", []string{"new-secret", testSecret}, pyBody(testSecret, testTS), nil},
		{"rotation, new secret", []string{"new-secret", testSecret}, pyBody("new-secret", testTS), nil},
		{"rotation, js client, new secret", []string{testSecret, "new-secret"}, jsClientBody(call, members, "new-secret", testTS, 0), nil},
		{"no secrets", nil, pyBody(testSecret, testTS), ErrIncorrect},
		{"empty secret is ignored", []string{""}, pyBody("", testTS), ErrIncorrect},
		{"missing", []string{testSecret}, []byte(`{"chat_id": "m1"}`), ErrMissing},
		{"missing, empty object", []string{testSecret}, []byte(`{}`), ErrMissing},
		{"nested checksum does not count", []string{testSecret}, []byte(`{"a": {"checksum": "x"}}`), ErrMissing},
		{"checksum is a number", []string{testSecret}, []byte(`{"chat_id": "m1", "checksum": 12}`), ErrIncorrect},
		{"checksum is null", []string{testSecret}, []byte(`{"chat_id": "m1", "checksum": null}`), ErrIncorrect},
		{"checksum is an object", []string{testSecret}, []byte(`{"checksum": {}}`), ErrIncorrect},
		{"checksum is empty", []string{testSecret}, []byte(`{"checksum": ""}`), ErrIncorrect},
		{"checksum in uppercase", []string{testSecret}, upperSum(pyBody(testSecret, testTS)), ErrIncorrect},
		{"tampered body", []string{testSecret}, bytes.Replace(pyBody(testSecret, testTS), []byte("m1"), []byte("m2"), 1), ErrIncorrect},
		{"not json", []string{testSecret}, []byte(`chat_id=m1&checksum=x`), pyjson.ErrSyntax},
		{"truncated json", []string{testSecret}, []byte(`{"checksum": "x"`), pyjson.ErrSyntax},
		{"array body", []string{testSecret}, []byte(`[{"checksum": "x"}]`), pyjson.ErrNotObject},
		{"string body", []string{testSecret}, []byte(`"checksum"`), pyjson.ErrNotObject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Verifier{Secrets: tc.secrets, Delta: delta, Now: fixedNow(testTS)}
			params, sum, err := v.Verify(call, tc.body)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if _, ok := params.Lookup("checksum"); ok || params.Kind() != pyjson.KindObject {
				t.Fatalf("params still hold the checksum: %s", pyjson.Dumps(params))
			}
			if len(sum) != 128 || !bytes.Contains(tc.body, []byte(sum)) {
				t.Fatalf("sum = %q", sum)
			}
			if params.Len() != len(members) && params.Len() != 0 {
				t.Fatalf("params = %s", pyjson.Dumps(params))
			}
		})
	}
}

// upperSum upper-cases the hex digits of the checksum in body.
func upperSum(body []byte) []byte {
	v, _ := pyjson.Parse(body)
	c, _ := v.Lookup("checksum")
	sum, _ := c.Str()
	return bytes.Replace(body, []byte(sum), []byte(strings.ToUpper(sum)), 1)
}

func TestVerifyErrorTexts(t *testing.T) {
	if ErrMissing.Error() != "No checksum was given." || ErrIncorrect.Error() != "Checksum was incorrect." {
		t.Fatal("the error texts are part of the API")
	}
}

func TestVerifyDefaults(t *testing.T) {
	// Nil Now uses the clock; negative Delta means exactly now.
	now := time.Now().Unix()
	body := SignedBody("c", pyjson.Object(), testSecret, now)
	v := Verifier{Secrets: []string{testSecret}, Delta: -3}
	if _, _, err := v.Verify("c", body); err != nil && time.Now().Unix() == now {
		t.Fatalf("Verify with the real clock: %v", err)
	}
}

// TestVerifyCutFormIsNeeded shows that a compact client body only verifies
// through the cut text (form 2): the Python re-serialisation differs.
func TestVerifyCutFormIsNeeded(t *testing.T) {
	members := [][2]string{{"chat_id", "m1"}, {"message", "<b>é</b>"}}
	for _, pos := range []int{0, 1, -1} {
		body := jsClientBody("sendMessage", members, testSecret, testTS, pos)
		canon, err := pyjson.Canonical(body, "checksum")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := pyjson.Parse(body)
		c, _ := v.Lookup("checksum")
		sum, _ := c.Str()
		if Sign("sendMessage", canon, testSecret, testTS) == sum {
			t.Fatalf("pos %d: the canonical form matches too; the test proves nothing", pos)
		}
		ver := Verifier{Secrets: []string{testSecret}, Delta: 0, Now: fixedNow(testTS)}
		if _, _, err := ver.Verify("sendMessage", body); err != nil {
			t.Fatalf("pos %d: %v", pos, err)
		}
	}
}
