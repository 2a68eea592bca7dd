package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// TestChecksumReasons calls the real ingress with checksums that are wrong in the ways an integrator gets them
// wrong, and checks that the answer, the log line and the failure metric's reason say which way; a checksum made
// without the secret is told nothing more than before. The secret is rotated with SIGHUP, so that a client still
// on the old one is told so.
func TestChecksumReasons(t *testing.T) {
	e := newEnv(t, "2.7")
	m := e.meeting("ext-reasons", "Reasons")
	const oldSecret, newSecret = "reasons-old-secret", "reasons-new-secret"
	envFile := filepath.Join(t.TempDir(), "bbb-chat.env")
	os.WriteFile(envFile, []byte("BBB_CHAT_SHARED_SECRET="+oldSecret+"\n"), 0o600)
	p, c := e.startIngressWith(map[string]string{"BBB_CHAT_SHARED_SECRET": "", "BBB_CHAT_ENV_FILE": envFile})
	c.secret = oldSecret
	expect(t, c.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")
	os.WriteFile(envFile, []byte("BBB_CHAT_SHARED_SECRET="+newSecret+"\n"), 0o600)
	p.Signal(syscall.SIGHUP)
	testenv.Eventually(t, 10*time.Second, "reload", func() bool { return strings.Contains(p.Output(), "configuration reloaded") })

	params := strs("meeting_id", m.IntID, "nonce", "1")
	obj := pyjson.Object(params...)
	now := time.Now().Unix()
	signedOver := func(text, secret string, ts int64) []byte {
		sum := checksum.Sign(callInfo, []byte(text), secret, ts)
		return pyjson.Dumps(pyjson.Object(append(params, pyjson.Member{Key: "checksum", Value: pyjson.String(sum)})...))
	}
	compact := `{"meeting_id":"` + m.IntID + `","nonce":"1"}`
	cases := []struct {
		name, reason, msg string
		body              []byte
	}{
		{"clock ahead", "clock_skew", "It is right for a time 40 s ahead of the server's clock; the window is ±5 s",
			checksum.SignedBody(callInfo, obj, newSecret, now+40)},
		{"clock behind", "clock_skew", "s behind the server's clock",
			checksum.SignedBody(callInfo, obj, newSecret, now-100)},
		{"another call", "other_call", `It is right for the call name "runningChats", not "getChatInfo"`,
			checksum.SignedBody(callRunning, obj, newSecret, now)},
		{"compact text signed, spaced text sent", "serialisation", "compact JSON",
			signedOver(compact, newSecret, now)},
		{"uppercase hex", "hex_case", "lowercase",
			[]byte(strings.ToUpper(string(checksum.SignedBody(callInfo, obj, newSecret, now))))},
		{"retired secret", "retired_secret", "no longer accepts",
			checksum.SignedBody(callInfo, obj, oldSecret, now)},
		{"unknown secret", "incorrect", "",
			checksum.SignedBody(callInfo, obj, "a guess", now)},
		{"unknown secret, clock off", "incorrect", "",
			checksum.SignedBody(callInfo, obj, "a guess", now+40)},
	}
	metric := func(reason string) float64 {
		return metricsAt(c.metricsURL)[`bbbchat_ingress_checksum_failures_total{reason="`+reason+`"}`]
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "uppercase hex" {
				// Uppercasing the whole body changes the parameters too: rebuild it with only the checksum upper.
				b := checksum.SignedBody(callInfo, obj, newSecret, now)
				v, _ := pyjson.Parse(b)
				cv, _ := v.Lookup("checksum")
				sum, _ := cv.Str()
				tc.body = []byte(strings.Replace(string(b), sum, strings.ToUpper(sum), 1))
			}
			before := metric(tc.reason)
			a := c.post("/api/"+callInfo, tc.body)
			want := "Checksum was incorrect."
			if tc.msg != "" {
				want += " "
			}
			if a.Status != 401 || !strings.HasPrefix(a.Body["message"].(string), want) || !strings.Contains(a.Body["message"].(string), tc.msg) {
				t.Fatalf("answer %d %s; want 401 starting %q with %q", a.Status, a.Raw, want, tc.msg)
			}
			if tc.msg == "" && a.Body["message"] != "Checksum was incorrect." {
				t.Fatalf("a checksum made without the secret was told more: %s", a.Raw)
			}
			if got := metric(tc.reason); got != before+1 {
				t.Fatalf("reason %q counted %v → %v", tc.reason, before, got)
			}
			if tc.msg != "" && !strings.Contains(p.Output(), strings.ReplaceAll(tc.msg, `"`, `\"`)) {
				t.Fatalf("the log does not say why:\n%s", p.Output())
			}
		})
	}
	// The right checksum still works, and ingress is still up; each call's outcome is one line at info.
	c.secret = newSecret
	expect(t, c.call(callInfo, "meeting_id", m.IntID), 200, "Chat info")
	testenv.Eventually(t, 5*time.Second, "the answered call is logged", func() bool {
		for line := range strings.Lines(p.Output()) {
			if strings.Contains(line, `level=INFO msg="request answered" service=ingress call=getChatInfo status=200 duration=`) &&
				strings.Contains(line, "meeting_id="+m.IntID) {
				return true
			}
		}
		return false
	})

	// A reload that changes a restart-only key says so, and the running window stays.
	os.WriteFile(envFile, []byte("BBB_CHAT_SHARED_SECRET="+newSecret+"\nBBB_CHAT_SHARED_SECRET_TIME_DELTA=30\n"), 0o600)
	p.Signal(syscall.SIGHUP)
	testenv.Eventually(t, 10*time.Second, "the partial reload is logged", func() bool {
		return strings.Contains(p.Output(), "configuration reloaded in part") &&
			strings.Contains(p.Output(), "keys=BBB_CHAT_SHARED_SECRET_TIME_DELTA")
	})
	a := c.post("/api/"+callInfo, checksum.SignedBody(callInfo, pyjson.Object(strs("meeting_id", m.IntID, "nonce", "2")...), newSecret, time.Now().Unix()+20))
	if a.Status != 401 || !strings.Contains(a.Raw, "the window is ±5 s") {
		t.Fatalf("after the partial reload: %d %s", a.Status, a.Raw)
	}
}
