package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestDocClients runs the API clients of docs/examples (JavaScript and PHP; Python's is TestPythonClient's) against
// the real ingress, as their comments say to run them: each starts a chat, posts a message that BBB shows, and a
// failing call prints the JSON answer and exits non-zero. Skipped, with a log line, where the interpreter is
// missing (CI installs nodejs and php-cli).
func TestDocClients(t *testing.T) {
	root := testenv.RepoRoot(t)
	clients := map[string][]string{}
	if node, err := exec.LookPath("node"); err == nil {
		clients["node"] = []string{node, root + "/docs/examples/client.js"}
	} else {
		t.Log("node not found (apt-get install nodejs): the JavaScript client is not run")
	}
	if php, err := exec.LookPath("php"); err == nil {
		clients["php"] = []string{php, root + "/docs/examples/client.php"}
	} else {
		t.Log("php not found (apt-get install php-cli): the PHP client is not run")
	}
	if len(clients) == 0 {
		t.Skip("neither node nor php is installed")
	}
	e := newEnv(t, "2.7")
	ctx := t.Context()
	for name, cmd := range clients {
		t.Run(name, func(t *testing.T) {
			run := func(args ...string) (string, error) {
				t.Helper()
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				c := exec.CommandContext(cctx, cmd[0], append(cmd[1:], args...)...)
				c.Env = append(os.Environ(), "API="+e.apiURL+"/api", "SECRET="+e.secret)
				out, err := c.CombinedOutput()
				return string(out), err
			}
			m := e.meeting("client-"+name, "Client "+name)
			e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER")
			e.waitPresent(m.IntID, "Bridge", true)
			out, err := run("startChatForMeeting", "meeting_id="+m.ExtID, "chat_user=Bridge", `callback_events:=null`)
			if err != nil || !strings.Contains(out, `"success":true`) {
				t.Fatalf("start: %v\n%s", err, out)
			}
			// Non-ASCII and a slash: JSON.stringify and json_encode write them differently, both are signed as sent.
			out, err = run("sendChatMessage/"+m.IntID, "user_name=Jürgen", "message=see https://example.com/ä")
			if err != nil || !strings.Contains(out, `"success":true`) {
				t.Fatalf("send: %v\n%s", err, out)
			}
			if msgs := e.waitChat(m.IntID, 1); msgs[0].Message != "Jürgen: see https://example.com/ä" {
				t.Fatalf("chat got %q", msgs[0].Message)
			}
			out, err = run("getChatInfo", "meeting_id="+m.IntID)
			if err != nil || !strings.Contains(out, `"chat_user_present":true`) {
				t.Fatalf("getChatInfo: %v\n%s", err, out)
			}
			out, err = run("endChatForMeeting", "meeting_id=nope")
			if err == nil || !strings.Contains(out, `"Chat was not found"`) {
				t.Fatalf("a 404 call: %v\n%s", err, out)
			}
		})
	}
}
