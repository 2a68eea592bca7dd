package e2e

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// exampleReceiver is one of docs/examples' callback receivers, started on a port with a secret.
type exampleReceiver struct {
	name  string
	start func(t *testing.T, secret string, port int) *testenv.Proc
}

// exampleReceivers are the receivers of docs/examples that can run here. Python, Node and PHP are skipped, with a
// log line saying so, when their interpreter is missing (CI installs python3, nodejs and php-cli).
func exampleReceivers(t *testing.T) []exampleReceiver {
	root := testenv.RepoRoot(t)
	goBin := testenv.Build(t, "./docs/examples", "receiver")
	out := []exampleReceiver{{"go", func(t *testing.T, secret string, port int) *testenv.Proc {
		return testenv.StartProc(t, goBin, map[string]string{"SECRET": secret, "PORT": strconv.Itoa(port)})
	}}}
	if py, err := exec.LookPath("python3"); err == nil {
		out = append(out, exampleReceiver{"python", func(t *testing.T, secret string, port int) *testenv.Proc {
			return testenv.StartProc(t, py, map[string]string{"SECRET": secret, "PORT": strconv.Itoa(port)}, root+"/docs/examples/receiver.py")
		}})
	} else {
		t.Log("python3 not found: the Python receiver is not run")
	}
	if node, err := exec.LookPath("node"); err == nil {
		out = append(out, exampleReceiver{"node", func(t *testing.T, secret string, port int) *testenv.Proc {
			return testenv.StartProc(t, node, map[string]string{"SECRET": secret, "PORT": strconv.Itoa(port)}, root+"/docs/examples/receiver.js")
		}})
	} else {
		t.Log("node not found (apt-get install nodejs): the JavaScript receiver is not run")
	}
	if php, err := exec.LookPath("php"); err == nil {
		out = append(out, exampleReceiver{"php", func(t *testing.T, secret string, port int) *testenv.Proc {
			env := map[string]string{"SECRET": secret, "SEEN_FILE": filepath.Join(t.TempDir(), "seen")}
			return testenv.StartProc(t, php, env, "-S", "127.0.0.1:"+strconv.Itoa(port), root+"/docs/examples/receiver.php")
		}})
	} else {
		t.Log("php not found (apt-get install php-cli): the PHP receiver is not run")
	}
	return out
}

// whsecSecret is a Standard Webhooks secret: the receivers must key the signature with its decoded bytes.
var whsecSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("doc key bytes \x00\xff"))

// TestDocReceivers runs the callback receivers of docs/api.md (docs/examples) against real callbacks: each must
// accept them and print the message once. The secret is a whsec_ one, so both checks have their own key.
func TestDocReceivers(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	for _, r := range exampleReceivers(t) {
		t.Run(r.name, func(t *testing.T) {
			port := testenv.FreePort(t)
			p := r.start(t, whsecSecret, port)
			testenv.WaitTCP(t, "127.0.0.1:"+strconv.Itoa(port), 20*time.Second) // before relay's retries run out
			m, _ := e.sim.CreateMeeting(ctx, "doc-"+r.name, "Docs")
			e.waitKnown(m.IntID)
			expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge",
				"callback_uri", "http://127.0.0.1:"+strconv.Itoa(port)+"/hook", "callback_secret", whsecSecret,
				"callback_events", "meetingEnded"), 200, "started")
			alice, _ := e.sim.Join(ctx, m.IntID, "Alice", "VIEWER")
			if _, err := e.sim.Say(ctx, m.IntID, alice, "Grüße <from> the docs"); err != nil {
				t.Fatal(err)
			}
			if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 20*time.Second, r.name+" receiver printed the message and the end", func() bool {
				out := p.Output()
				return strings.Contains(out, "Alice: Grüße <from> the docs") && strings.Contains(out, "meetingEnded "+m.IntID)
			})
			if strings.Count(p.Output(), "Alice:") != 1 {
				t.Fatalf("printed more than once:\n%s", p.Output())
			}
		})
	}
}

// TestDocReceiversChecks sends each receiver of docs/examples deliveries signed as relay signs them (shared/checksum),
// with a plain and a whsec_ secret: one right check of the two is enough (docs/api.md), none is refused, and a
// repeated webhook-id is handled once.
func TestDocReceiversChecks(t *testing.T) {
	for _, r := range exampleReceivers(t) {
		for _, secret := range []string{"doc secret", whsecSecret} {
			t.Run(r.name+"/"+secret[:5], func(t *testing.T) {
				port := testenv.FreePort(t)
				p := r.start(t, secret, port)
				url := "http://127.0.0.1:" + strconv.Itoa(port) + "/hook"
				testenv.WaitTCP(t, "127.0.0.1:"+strconv.Itoa(port), 20*time.Second)
				now := time.Now().Unix()
				body := func(text, sumSecret string) []byte {
					params := pyjson.Object(strs("user_name", "Ann", "message", text, "meeting_id", "m1",
						"message_id", "id-"+text, "sender_id", "w_1", "sender_role", "VIEWER")...)
					return checksum.SignedBody(callSend, params, sumSecret, now)
				}
				post := func(id string, b []byte, sig string) int {
					t.Helper()
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("webhook-id", id)
					req.Header.Set("webhook-timestamp", strconv.FormatInt(now, 10))
					req.Header.Set("webhook-signature", sig)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					return resp.StatusCode
				}
				bad := "v1," + base64.StdEncoding.EncodeToString(make([]byte, 32))
				cases := []struct {
					name, id string
					body     []byte
					sig      func(id string, b []byte) string
					status   int
				}{
					{"both right", "a", body("both", secret), nil, 204},
					{"signature only", "b", body("signature", "wrong"), nil, 204},
					{"checksum only", "c", body("checksum", secret), func(string, []byte) string { return bad }, 204},
					{"neither", "d", body("neither", "wrong"), func(string, []byte) string { return bad }, 401},
					{"repeat", "a", body("both", secret), nil, 204},
				}
				for _, tc := range cases {
					sig := checksum.WebhookSignature(secret, tc.id, now, tc.body)
					if tc.sig != nil {
						sig = tc.sig(tc.id, tc.body)
					}
					if got := post(tc.id, tc.body, sig); got != tc.status {
						t.Errorf("%s: answered %d, want %d", tc.name, got, tc.status)
					}
				}
				testenv.Eventually(t, 10*time.Second, "the accepted messages are printed", func() bool {
					out := p.Output()
					return strings.Contains(out, "Ann: both") && strings.Contains(out, "Ann: signature") && strings.Contains(out, "Ann: checksum")
				})
				if out := p.Output(); strings.Contains(out, "Ann: neither") || strings.Count(out, "Ann: both") != 1 {
					t.Fatalf("printed:\n%s", out)
				}
			})
		}
	}
}

// TestDocReceiversInAPIDoc keeps docs/api.md showing exactly the receivers that TestDocReceivers runs.
func TestDocReceiversInAPIDoc(t *testing.T) {
	root := testenv.RepoRoot(t)
	doc, err := os.ReadFile(root + "/docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"receiver.go", "receiver.py"} {
		b, err := os.ReadFile(root + "/docs/examples/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), string(b)) {
			t.Errorf("docs/api.md does not show docs/examples/%s as it is", f)
		}
	}
}
