package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestRequestIDInLogs: every log line about a request carries its id (the client's, or one of ours) and its
// meeting, and the answer says the id.
func TestRequestIDInLogs(t *testing.T) {
	e := newEnv(t, "2.7")
	body := sign("endChatForMeeting", strs("meeting_id", "no-such-meeting"), e.secret, time.Now().Unix())
	req, _ := http.NewRequest("POST", e.apiURL+"/api/endChatForMeeting", bytes.NewReader(body))
	req.Header.Set("X-Request-Id", "trace-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("X-Request-Id") != "trace-42" {
		t.Fatalf("status %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	testenv.Eventually(t, 5*time.Second, "log line with request and meeting id", func() bool {
		for line := range strings.Lines(e.ingress.Output()) {
			if strings.Contains(line, "request_id=trace-42") && strings.Contains(line, "meeting_id=no-such-meeting") {
				return true
			}
		}
		return false
	})
	// Without one, ingress makes one up.
	resp, err = http.Post(e.apiURL+"/api/endChatForMeeting", "", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatal("no request id answered")
	}
}
