package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// viewerLink mints a viewer link for meetingID; canPost and expiresIn (seconds, 0: the default) as given.
func (e *env) viewerLink(meetingID string, canPost bool, expiresIn int64) answer {
	e.t.Helper()
	ms := []pyjson.Member{{Key: "meeting_id", Value: pyjson.String(meetingID)}, {Key: "can_post", Value: pyjson.Bool(canPost)},
		{Key: "nonce", Value: pyjson.String(strconv.FormatInt(time.Now().UnixNano(), 10))}}
	if expiresIn > 0 {
		ms = append(ms, pyjson.Member{Key: "expires_in", Value: pyjson.Int(expiresIn)})
	}
	return e.post("/api/createViewerLink", sign("createViewerLink", ms, e.secret, time.Now().Unix()))
}

// sseEvent is one Server-Sent Event as the page gets it.
type sseEvent struct {
	ID   uint64
	Type string
	Data map[string]any
}

// sseStream reads a viewer's event stream into a channel.
type sseStream struct {
	resp *http.Response
	ch   chan sseEvent
}

func openEvents(t *testing.T, url string, lastID uint64) (*sseStream, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(lastID, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	s := &sseStream{resp: resp, ch: make(chan sseEvent, 100)}
	go func() {
		defer close(s.ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Type != "" {
					s.ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseUint(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &ev.Data)
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s, resp.StatusCode
}

// next waits for the stream's next event.
func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.ch:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

func viewerPost(t *testing.T, url, name, message string) (int, map[string]any, http.Header) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "message": message})
	resp, err := http.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp.Header
}

func httpGet(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header
}

// viewerEnv is a BBB 2.7 server with a meeting, its chat started, the chat user and a participant (Bob) in it, and
// one message of Bob's before any viewer came.
type viewerEnv struct {
	*env
	meetingID, bob string
}

func newViewerEnv(t *testing.T) viewerEnv {
	e := newEnv(t, "2.7")
	m := e.meeting("stream-ext", "Streamed lecture")
	expect(t, e.call(callStart, "meeting_id", m.ExtID, "chat_user", "Chat Bridge"), 200, "started")
	ctx := t.Context()
	if _, err := e.sim.Join(ctx, m.IntID, "Chat Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	bob, err := e.sim.Join(ctx, m.IntID, "Bob", "MODERATOR")
	if err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	if _, err := e.sim.Say(ctx, m.IntID, bob, "Welcome, <everyone>!"); err != nil {
		t.Fatal(err)
	}
	return viewerEnv{env: e, meetingID: m.IntID, bob: bob}
}

// publish puts an event into the stream as relay would.
func (v viewerEnv) publish(e state.Event) {
	v.t.Helper()
	payload, _ := json.Marshal(e)
	if _, err := v.store.PublishEvent(v.t.Context(), e, payload); err != nil {
		v.t.Fatal(err)
	}
}

func TestViewerLinksAndEvents(t *testing.T) {
	v := newViewerEnv(t)
	ctx := t.Context()

	// Links: by external id, with the defaults; bad parameters are refused like any other call's.
	a := v.viewerLink("stream-ext", true, 0)
	expect(t, a, 200, "Viewer link created")
	token, _ := a.Body["token"].(string)
	if a.Body["url"] != "/chat/"+token || a.Body["meeting_id"] != v.meetingID || a.Body["can_post"] != true {
		t.Fatalf("createViewerLink answered %s", a.Raw)
	}
	exp, err := time.Parse(time.RFC3339, a.Body["expires_at"].(string))
	if err != nil || time.Until(exp) < 23*time.Hour || time.Until(exp) > 25*time.Hour {
		t.Fatalf("expires_at %v (%v), want in a day", a.Body["expires_at"], err)
	}
	expect(t, v.post("/api/createViewerLink", sign("createViewerLink", []pyjson.Member{
		{Key: "meeting_id", Value: pyjson.String(v.meetingID)}, {Key: "expires_in", Value: pyjson.Int(31 * 86400)}},
		v.secret, time.Now().Unix())), 400, "expires_in")
	expect(t, v.post("/api/createViewerLink", sign("createViewerLink", []pyjson.Member{
		{Key: "meeting_id", Value: pyjson.String(v.meetingID)}, {Key: "can_post", Value: pyjson.String("yes")}},
		v.secret, time.Now().Unix())), 400, "can_post")
	expect(t, v.call("createViewerLink", "meeting_id", v.meetingID, "checksum", "x"), 401, "")

	page := v.apiURL + "/chat/" + token
	status, body, h := httpGet(t, page)
	if status != 200 || !strings.Contains(body, `role="log"`) || !strings.Contains(body, `<label for="message">Message</label>`) {
		t.Fatalf("page: %d\n%s", status, body)
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'self'") ||
		strings.Contains(csp, "unsafe-inline") || h.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("page headers: %v", h)
	}
	if status, js, _ := httpGet(t, v.apiURL+"/chat/assets/app.js"); status != 200 || !strings.Contains(js, "textContent") {
		t.Fatalf("app.js: %d", status)
	}

	// History first: Bob's message from before the viewer came.
	s, status := openEvents(t, page+"/events", 0)
	if status != 200 {
		t.Fatalf("events: %d", status)
	}
	ev := s.next(t)
	if ev.Type != "message" || ev.Data["text"] != "Welcome, <everyone>!" || ev.Data["name"] != "Bob" {
		t.Fatalf("first event %+v", ev)
	}

	// A post goes through ingress's send path into BBB, and comes back from BBB on the stream.
	status, ans, _ := viewerPost(t, page+"/messages", "Ann <b>", "Hello from the stream & co")
	if status != 200 || ans["success"] != true {
		t.Fatalf("post: %d %v", status, ans)
	}
	msgs := v.waitChat(v.meetingID, 2)
	if got := msgs[1].Message; got != "Ann &lt;b&gt; (stream): Hello from the stream &amp; co" {
		t.Fatalf("BBB shows %q", got)
	}
	ev = s.next(t)
	if ev.Type != "message" || ev.Data["text"] != "Ann <b> (stream): Hello from the stream & co" {
		t.Fatalf("the post came back as %+v", ev)
	}
	last := ev.ID

	// Slow mode: a second post at once is refused, with Retry-After.
	status, ans, h = viewerPost(t, page+"/messages", "Ann", "again")
	if status != 429 || h.Get("Retry-After") == "" || !strings.Contains(ans["message"].(string), "Slow mode") {
		t.Fatalf("second post: %d %v %v", status, ans, h)
	}
	// Limits: the name and the message lengths.
	if status, ans, _ = viewerPost(t, page+"/messages", strings.Repeat("n", 41), "x"); status != 400 || !strings.Contains(ans["message"].(string), "name") {
		t.Fatalf("long name: %d %v", status, ans)
	}
	if status, ans, _ = viewerPost(t, page+"/messages", "Ann", strings.Repeat("m", 501)); status != 400 || !strings.Contains(ans["message"].(string), "message") {
		t.Fatalf("long message: %d %v", status, ans)
	}

	// Another participant's message appears live; a delete is passed on.
	if _, err := v.sim.Say(ctx, v.meetingID, v.bob, "Live now"); err != nil {
		t.Fatal(err)
	}
	ev = s.next(t)
	if ev.Type != "message" || ev.Data["text"] != "Live now" {
		t.Fatalf("live event %+v", ev)
	}
	live := ev
	v.publish(state.Event{Type: state.TypeMessageDeleted, ID: "del-1", MeetingID: v.meetingID,
		ChatID: "MAIN-PUBLIC-GROUP-CHAT", MessageID: live.Data["message_id"].(string), Timestamp: time.Now().UnixMilli()})
	ev = s.next(t)
	if ev.Type != "message.deleted" || ev.Data["message_id"] != live.Data["message_id"] {
		t.Fatalf("delete event %+v", ev)
	}

	// A viewer who comes back with Last-Event-ID gets what came after, once.
	s2, _ := openEvents(t, page+"/events", last)
	if ev := s2.next(t); ev.ID != live.ID || ev.Data["text"] != "Live now" {
		t.Fatalf("resumed with %+v, want the event after %d", ev, last)
	}
	if ev := s2.next(t); ev.Type != "message.deleted" {
		t.Fatalf("resumed second event %+v", ev)
	}

	// A read-only link: no form, and posts refused.
	a = v.viewerLink(v.meetingID, false, 0)
	expect(t, a, 200, "created")
	ro := v.apiURL + "/chat/" + a.Body["token"].(string)
	if status, body, _ := httpGet(t, ro); status != 200 || strings.Contains(body, "<form") {
		t.Fatalf("read-only page: %d\n%s", status, body)
	}
	if status, ans, _ := viewerPost(t, ro+"/messages", "Ann", "hi"); status != 403 {
		t.Fatalf("read-only post: %d %v", status, ans)
	}

	// Forged, expired and revoked links are refused, the page saying why.
	if status, body, _ := httpGet(t, page+"x"); status != 404 || !strings.Contains(body, "not valid") {
		t.Fatalf("forged link: %d\n%s", status, body)
	}
	a = v.viewerLink(v.meetingID, true, 1)
	short := v.apiURL + "/chat/" + a.Body["token"].(string)
	testenv.Eventually(t, 5*time.Second, "a one-second link expires", func() bool {
		status, body, _ := httpGet(t, short)
		return status == 410 && strings.Contains(body, "expired")
	})
	expect(t, v.call("revokeViewerLinks", "meeting_id", "stream-ext"), 200, "revoked")
	if status, body, _ := httpGet(t, page); status != 410 || !strings.Contains(body, "revoked") {
		t.Fatalf("revoked link: %d\n%s", status, body)
	}
	if _, status := openEvents(t, page+"/events", 0); status != 410 {
		t.Fatalf("revoked link's events: %d", status)
	}
	if status, _, _ := viewerPost(t, page+"/messages", "Ann", "late"); status != 410 {
		t.Fatalf("revoked link's post: %d", status)
	}
	// A link made after the revocation works.
	a = v.viewerLink(v.meetingID, true, 0)
	if status, _, _ := httpGet(t, v.apiURL+"/chat/"+a.Body["token"].(string)); status != 200 {
		t.Fatalf("new link after revocation: %d", status)
	}

	// The meeting ends: the page is told.
	if err := v.sim.EndMeeting(ctx, v.meetingID); err != nil {
		t.Fatal(err)
	}
	for ev := s2.next(t); ev.Type != "meeting.ended"; ev = s2.next(t) {
	}
}

// TestViewerRotationAndSettings: links signed with the previous secret work during a rotation and stop after it;
// the viewer settings (public URL, template, slow mode off, word list, streams per address) take effect.
func TestViewerRotationAndSettings(t *testing.T) {
	v := newViewerEnv(t)
	old := v.viewerLink(v.meetingID, true, 0)
	expect(t, old, 200, "created")
	oldToken := old.Body["token"].(string)

	words := filepath.Join(t.TempDir(), "words")
	if err := os.WriteFile(words, []byte("# no spoilers\nspoiler\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const newSecret = "the-new-shared-secret"
	_, during := v.startIngressWith(map[string]string{
		"BBB_CHAT_SHARED_SECRET": newSecret, "BBB_CHAT_SHARED_SECRET_OLD": v.secret,
		"BBB_CHAT_PUBLIC_URL": "https://bbb.example.org/bbb-chat", "BBB_CHAT_VIEWER_TEMPLATE": "[{name}] {message}",
		"BBB_CHAT_VIEWER_SLOW_MODE": "0", "BBB_CHAT_VIEWER_BLOCKLIST_FILE": words,
		"BBB_CHAT_VIEWER_MAX_STREAMS_PER_ADDRESS": "1", "BBB_CHAT_VIEWER_FRAME_ANCESTORS": "https://tv.example.org",
	})
	page := during.url + "/chat/" + oldToken
	status, _, h := httpGet(t, page)
	if status != 200 || !strings.HasSuffix(h.Get("Content-Security-Policy"), "frame-ancestors https://tv.example.org") {
		t.Fatalf("old secret's link during the rotation: %d %v", status, h)
	}
	if _, status := openEvents(t, page+"/events", 0); status != 200 {
		t.Fatalf("first stream: %d", status)
	}
	if _, status := openEvents(t, page+"/events", 0); status != 429 {
		t.Fatalf("second stream from the address: %d, want 429", status)
	}
	if status, ans, _ := viewerPost(t, page+"/messages", "Ann", "Big SPOILER ahead"); status != 422 || !strings.Contains(ans["message"].(string), "not allowed") {
		t.Fatalf("blocked word: %d %v", status, ans)
	}
	for i, text := range []string{"one", "two"} { // no slow mode
		if status, ans, _ := viewerPost(t, page+"/messages", "Ann", text); status != 200 {
			t.Fatalf("post %d: %d %v", i, status, ans)
		}
	}
	msgs := v.waitChat(v.meetingID, 3)
	if msgs[1].Message != "[Ann] one" || msgs[2].Message != "[Ann] two" {
		t.Fatalf("BBB shows %q, %q", msgs[1].Message, msgs[2].Message)
	}

	// Minted with the new secret: an absolute URL under the public one.
	ans := during.viewerLink(v.meetingID)
	newToken, _ := ans.Body["token"].(string)
	if ans.Status != 200 || ans.Body["url"] != "https://bbb.example.org/bbb-chat/chat/"+newToken {
		t.Fatalf("link during the rotation: %s", ans.Raw)
	}

	// After the rotation only the new secret's links work.
	afterProc, after := v.startIngressWith(map[string]string{"BBB_CHAT_SHARED_SECRET": newSecret})
	if status, body, _ := httpGet(t, after.url+"/chat/"+oldToken); status != 404 || !strings.Contains(body, "not valid") {
		t.Fatalf("old secret's link after the rotation: %d", status)
	}
	if status, _, _ := httpGet(t, after.url+"/chat/"+newToken); status != 200 {
		t.Fatalf("new secret's link after the rotation: %d", status)
	}

	// An open event stream does not hold up ingress's shutdown: SIGTERM ends it, and ingress exits at once.
	stream, status := openEvents(t, after.url+"/chat/"+newToken+"/events", 0)
	if status != 200 {
		t.Fatalf("events: %d", status)
	}
	stream.next(t) // the history's first message: the stream is up
	start := time.Now()
	afterProc.Signal(syscall.SIGTERM)
	if err, exited := afterProc.Wait(5 * time.Second); !exited || err != nil {
		t.Fatalf("ingress with an open viewer stream, after SIGTERM: exited=%v err=%v", exited, err)
	}
	t.Logf("ingress exited %s after SIGTERM with a viewer stream open", time.Since(start).Round(time.Millisecond))
}

// viewerLink mints a link through this client's ingress, with its secret.
func (c apiClient) viewerLink(meetingID string) answer {
	c.t.Helper()
	return c.call("createViewerLink", "meeting_id", meetingID)
}

// TestViewerOnBBB30: on BBB 3.0 a viewer posts through BBB's chat API while the chat user is away, and sees the
// post come back.
func TestViewerOnBBB30(t *testing.T) {
	e := newEnv(t, "3.0")
	m := e.meeting("stream-30", "Streamed on 3.0")
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	link := e.viewerLink(m.IntID, true, 0)
	expect(t, link, 200, "created")
	page := e.apiURL + "/chat/" + link.Body["token"].(string)
	s, status := openEvents(t, page+"/events", 0)
	if status != 200 {
		t.Fatalf("events: %d", status)
	}
	if status, ans, _ := viewerPost(t, page+"/messages", "Ann", "Hello **3.0**"); status != 200 {
		t.Fatalf("post: %d %v", status, ans)
	}
	msgs := e.waitChat(m.IntID, 1)
	if msgs[0].SenderName != "Ann" || msgs[0].Message != "Hello **3.0**" {
		t.Fatalf("BBB shows %+v", msgs[0])
	}
	ev := s.next(t)
	if ev.Type != "message" || ev.Data["name"] != "Ann" || ev.Data["text"] != "Hello **3.0**" {
		t.Fatalf("the post came back as %+v", ev)
	}
}

// A viewer may post into a running meeting whose chat was never started: on BBB 3.0 and later through BBB's chat
// API under the viewer's name; on 2.x, which has no such path, the post is refused with the reason.
func TestViewerPostWithoutChat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		status  int
	}{{"3.0", 200}, {"2.7", 404}} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.version)
			m := e.meeting("stream-nochat-"+tc.version, "Streamed without a chat")
			e.waitKnown(m.IntID)
			link := e.viewerLink(m.IntID, true, 0)
			expect(t, link, 200, "created")
			page := e.apiURL + "/chat/" + link.Body["token"].(string)
			status, ans, _ := viewerPost(t, page+"/messages", "Ann", "Hello without a chat")
			if status != tc.status {
				t.Fatalf("post: %d %v, want %d", status, ans, tc.status)
			}
			if tc.status != 200 {
				if msg, _ := ans["message"].(string); !strings.Contains(msg, "not found") && !strings.Contains(msg, "Chat") {
					t.Errorf("refusal says %q", msg)
				}
				return
			}
			msgs := e.waitChat(m.IntID, 1)
			if msgs[0].SenderName != "Ann" || msgs[0].Message != "Hello without a chat" {
				t.Fatalf("BBB shows %+v", msgs[0])
			}
		})
	}
}
