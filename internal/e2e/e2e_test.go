package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

func TestEndToEnd(t *testing.T) {
	for _, version := range []string{"2.4", "2.7", "3.0", "4.0"} {
		t.Run(version, func(t *testing.T) { testVersion(t, version) })
	}
}

func testVersion(t *testing.T, version string) {
	e := newEnv(t, version)
	ctx := t.Context()
	m, err := e.sim.CreateMeeting(ctx, "ext-"+version, "Meeting "+version)
	if err != nil {
		t.Fatal(err)
	}
	e.waitKnown(m.IntID)
	v3 := version == "3.0" || version == "4.0" // both have the chat API

	// Start by external id; a second start is refused.
	a := e.call("startChatForMeeting", "meeting_id", m.ExtID, "chat_user", "Chat Bridge")
	expect(t, a, 200, "started")
	if a.Body["meeting_id"] != m.IntID {
		t.Fatalf("start resolved %v, want %s", a.Body["meeting_id"], m.IntID)
	}
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 409, "Chat is already registered")

	// The chat user is not there yet: 2.x cannot post; 3.0 posts through its chat API under the viewer's name.
	a = e.send(m.IntID, "Early Viewer", "first!")
	if v3 {
		expect(t, a, 200, "sent successfully")
		msgs := e.waitChat(m.IntID, 1)
		if msgs[0].SenderID != "SYSTEM" || msgs[0].SenderName != "Early Viewer" || msgs[0].Message != "first!" {
			t.Fatalf("API post arrived as %+v", msgs[0])
		}
	} else {
		expect(t, a, 409, "not in the meeting")
	}

	// The chat user joins; relay records it; ingress posts as that user, escaped for 2.x.
	uid, err := e.sim.Join(ctx, m.IntID, "Chat Bridge", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	before := len(e.sim.Chat(m.IntID))
	expect(t, e.send(m.IntID, "Alice <b>", "hi <script>alert(1)</script> & 'bye'"), 200, "Message sent successfully")
	msgs := e.waitChat(m.IntID, before+1)
	got := msgs[len(msgs)-1]
	want := "Alice &lt;b&gt;: hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;bye&#39;"
	if v3 {
		want = `Alice \<b\>: hi <script>alert(1)</script> & 'bye'`
	}
	if got.SenderID != uid || got.Message != want {
		t.Fatalf("chat got %q from %s; want %q from %s", got.Message, got.SenderID, want, uid)
	}
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped messages: %+v", d)
	}

	// Both binaries die and come back: the bridge and the presence are still there.
	e.ingress.Kill()
	e.relay.Kill()
	e.startRelay()
	e.startIngress()
	expect(t, e.send(m.IntID, "Bob", "after restart"), 200, "sent")
	e.waitChat(m.IntID, before+2)

	// getChatInfo and runningChats.
	a = e.call("getChatInfo", "meeting_id", m.IntID)
	expect(t, a, 200, "")
	if a.Body["chat_user_present"] != true || a.Body["chat_user"] != "Chat Bridge" {
		t.Fatalf("getChatInfo: %s", a.Raw)
	}
	a = e.call("runningChats")
	if a.Body["count"] != float64(1) {
		t.Fatalf("runningChats: %s", a.Raw)
	}

	// The chat user leaves.
	if err := e.sim.Leave(ctx, m.IntID, uid); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", false)
	if !v3 {
		expect(t, e.send(m.IntID, "Bob", "gone"), 409, "not in the meeting")
	}

	// End, end again, send after end.
	expect(t, e.call("endChatForMeeting", "meeting_id", m.IntID), 200, "ended")
	expect(t, e.call("endChatForMeeting", "meeting_id", m.IntID), 404, "Chat was not found")
	expect(t, e.send(m.IntID, "Bob", "x"), 404, "Chat was not found")

	// A meeting's end ends its bridge by itself.
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "bridge ends with the meeting", func() bool {
		_, err := e.store.GetBridge(context.Background(), m.IntID)
		return err == state.ErrNotFound
	})
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped messages: %+v", d)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-err", "Errors")
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	now := time.Now().Unix()
	long := strings.Repeat("x", 5001)
	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		status int
		msg    string
	}{
		{"no checksum", "POST", "/api/endChatForMeeting", []byte(`{"meeting_id": "x"}`), 401, "No checksum was given."},
		{"wrong checksum", "POST", "/api/endChatForMeeting", []byte(`{"meeting_id": "x", "checksum": "00"}`), 401, "Checksum was incorrect."},
		{"wrong secret", "POST", "/api/endChatForMeeting", sign("endChatForMeeting", strs("meeting_id", "x"), "other", now), 401, "Checksum was incorrect."},
		{"stale", "POST", "/api/endChatForMeeting", sign("endChatForMeeting", strs("meeting_id", "x"), e.secret, now-60), 401, "Checksum was incorrect."},
		{"wrong call name", "POST", "/api/endChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "x"), e.secret, now), 401, "Checksum was incorrect."},
		{"not JSON", "POST", "/api/endChatForMeeting", []byte(`meeting_id=x`), 400, "JSON object"},
		{"array", "POST", "/api/endChatForMeeting", []byte(`[1, 2]`), 400, "JSON object"},
		{"empty body", "POST", "/api/endChatForMeeting", nil, 400, "JSON object"},
		{"missing param", "POST", "/api/sendChatMessage/" + m.IntID, sign("sendChatMessage", strs("message", "hi"), e.secret, now), 400, "user_name is missing"},
		{"mistyped param", "POST", "/api/sendChatMessage/" + m.IntID, sign("sendChatMessage", append(strs("user_name", "a"), pyjson.Member{Key: "message", Value: pyjson.Int(5)}), e.secret, now), 400, "message must be a string"},
		{"empty message", "POST", "/api/sendChatMessage/" + m.IntID, sign("sendChatMessage", strs("user_name", "a", "message", " "), e.secret, now), 400, "message must not be empty"},
		{"long message", "POST", "/api/sendChatMessage/" + m.IntID, sign("sendChatMessage", strs("user_name", "a", "message", long), e.secret, now), 400, "at most 5000"},
		{"unknown chat", "POST", "/api/sendChatMessage/nope", sign("sendChatMessage", strs("user_name", "a", "message", "b"), e.secret, now), 404, "Chat was not found"},
		{"half a callback", "POST", "/api/startChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "y", "chat_user", "u", "callback_uri", "http://example.com/cb"), e.secret, now), 400, "callback_secret"},
		{"bad callback uri", "POST", "/api/startChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "y", "chat_user", "u", "callback_uri", "ftp://x", "callback_secret", "s"), e.secret, now), 400, "http or https"},
		{"callback to a private address", "POST", "/api/startChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "y", "chat_user", "u", "callback_uri", "http://10.1.2.3/hook", "callback_secret", "s"), e.secret, now), 400, "private address"},
		{"callback to cloud metadata", "POST", "/api/startChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "y", "chat_user", "u", "callback_uri", "http://169.254.169.254/latest", "callback_secret", "s"), e.secret, now), 400, "link-local"},
		{"wrong method", "GET", "/api/endChatForMeeting", nil, 405, "Method not allowed"},
		{"unknown path", "POST", "/api/nothing", []byte(`{}`), 404, "No such API call"},
		{"too large", "POST", "/api/endChatForMeeting", bytes.Repeat([]byte(" "), 70000), 413, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.apiURL+tc.path, bytes.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("not JSON: %q", raw)
			}
			if resp.StatusCode != tc.status || body["success"] != false || !strings.Contains(fmt.Sprint(body["message"]), tc.msg) {
				t.Fatalf("got %d %s; want %d with %q", resp.StatusCode, raw, tc.status, tc.msg)
			}
		})
	}
	// A replayed checksum is refused, and the services stayed up with the bridge intact.
	body := sign("getChatInfo", strs("meeting_id", m.IntID), e.secret, time.Now().Unix())
	expect(t, e.post("/api/getChatInfo", body), 200, "")
	expect(t, e.post("/api/getChatInfo", body), 401, "Checksum was already used.")
	if e.ingress.Exited() || e.relay.Exited() {
		t.Fatal("a service died")
	}
	if _, err := e.store.GetBridge(ctx, m.IntID); err != nil {
		t.Fatalf("bridge lost: %v", err)
	}
	// Redis down: sends get 503, never a silent drop.
	uid, _ := e.sim.Join(ctx, m.IntID, "Chat Bridge", "VIEWER")
	_ = uid
	e.waitPresent(m.IntID, "Chat Bridge", true)
	e.redis.Stop()
	expect(t, e.send(m.IntID, "a", "during outage"), 503, "Redis")
	e.redis.Start()
}

// TestPythonClient runs a client written like the original README's example.
func TestPythonClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if exec.Command(py, "-c", "import requests").Run() != nil {
		t.Skip("python3 has no requests module")
	}
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-py", "Python")
	if _, err := e.sim.Join(ctx, m.IntID, "Chat Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	cmd := exec.Command(py, "testdata/readme_client.py", e.apiURL, e.secret, m.IntID)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	t.Logf("python client:\n%s", out)
	msgs := e.waitChat(m.IntID, 1)
	if want := "Jürgen 😀: Grüße &lt;b&gt;aus&lt;/b&gt; Python"; msgs[0].Message != want {
		t.Fatalf("chat got %q, want %q", msgs[0].Message, want)
	}
}

// TestVersionInferred: with no release file, the version comes from the shape of BBB's events, recorded by relay
// and read by ingress.
func TestVersionInferred(t *testing.T) {
	for _, version := range []string{"2.4", "3.0"} {
		t.Run(version, func(t *testing.T) {
			e := newEnvWith(t, version, false)
			ctx := t.Context()
			m, _ := e.sim.CreateMeeting(ctx, "inferred", "Inferred")
			e.waitKnown(m.IntID)
			expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")
			expect(t, e.send(m.IntID, "a", "too early"), 503, "BBB version is not known")
			if _, err := e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER"); err != nil {
				t.Fatal(err)
			}
			e.waitPresent(m.IntID, "Bridge", true)
			testenv.Eventually(t, 10*time.Second, "version recorded", func() bool {
				v, err := e.store.GetServerVersion(context.Background(), e2eServerID)
				return err == nil && strings.HasPrefix(v.Version, version[:1])
			})
			expect(t, e.send(m.IntID, "a", "now"), 200, "sent")
			e.waitChat(m.IntID, 1)
			if d := e.sim.Dropped(); len(d) != 0 {
				t.Fatalf("BBB dropped: %+v", d)
			}
		})
	}
}
