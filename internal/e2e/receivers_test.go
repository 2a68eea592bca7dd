package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestDocReceivers runs the callback receivers of docs/api.md (docs/examples) against real callbacks: each must
// accept them (signature and checksum) and print the message once.
func TestDocReceivers(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	receivers := map[string][]string{"go": {testenv.Build(t, "./docs/examples", "receiver")}}
	if py, err := exec.LookPath("python3"); err == nil {
		receivers["python"] = []string{py, testenv.RepoRoot(t) + "/docs/examples/receiver.py"}
	}
	for name, cmd := range receivers {
		t.Run(name, func(t *testing.T) {
			port := strconv.Itoa(testenv.FreePort(t))
			p := testenv.StartProc(t, cmd[0], map[string]string{"SECRET": "doc secret", "PORT": port}, cmd[1:]...)
			testenv.WaitTCP(t, "127.0.0.1:"+port, 20*time.Second) // before relay's retries run out
			m, _ := e.sim.CreateMeeting(ctx, "doc-"+name, "Docs")
			e.waitKnown(m.IntID)
			expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge",
				"callback_uri", "http://127.0.0.1:"+port+"/hook", "callback_secret", "doc secret",
				"callback_events", "meetingEnded"), 200, "started")
			alice, _ := e.sim.Join(ctx, m.IntID, "Alice", "VIEWER")
			if _, err := e.sim.Say(ctx, m.IntID, alice, "Grüße <from> the docs"); err != nil {
				t.Fatal(err)
			}
			if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 20*time.Second, name+" receiver printed the message and the end", func() bool {
				out := p.Output()
				return strings.Contains(out, "Alice: Grüße <from> the docs") && strings.Contains(out, "meetingEnded "+m.IntID)
			})
			if strings.Count(p.Output(), "Alice:") != 1 {
				t.Fatalf("printed more than once:\n%s", p.Output())
			}
		})
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
