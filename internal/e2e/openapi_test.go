package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/apispec"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestOpenAPIAnswers calls every operation of docs/openapi.yaml on the real ingress, with a chat that has a
// callback and a present chat user (so that every optional field shows), and checks each answer — and the
// callbacks relay sends — against the description: the documented status, the schema, and no undocumented field.
func TestOpenAPIAnswers(t *testing.T) {
	doc, err := apispec.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-openapi", "OpenAPI")
	recv := newReceiver(t)
	e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER")
	e.waitPresent(m.IntID, "Bridge", true)

	seen := map[string]bool{}
	check := func(template, path string, params map[string]string, a answer) {
		t.Helper()
		seen[http.MethodPost+" "+template] = true
		if err := apispec.CheckAnswer(ctx, doc, http.MethodPost, template, path, params, a.Status,
			http.Header{"Content-Type": {"application/json"}}, []byte(a.Raw)); err != nil {
			t.Error(err)
		}
	}
	start := e.call(callStart, "meeting_id", m.ExtID, "chat_user", "Bridge", "callback_uri", recv.URL(),
		"callback_secret", "openapi secret", "callback_events", "chatCleared,meetingEnded")
	expect(t, start, 200, "started")
	check("/api/startChatForMeeting", "/api/startChatForMeeting", nil, start)
	check("/api/startChatForMeeting", "/api/startChatForMeeting", nil, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge"))
	check("/api/startChatForMeeting", "/api/startChatForMeeting", nil, e.call(callStart, "meeting_id", m.IntID))

	sendPath := "/api/sendChatMessage/{meeting_id}"
	send := e.send(m.IntID, "Ann", "hi")
	expect(t, send, 200, "sent")
	check(sendPath, "/api/sendChatMessage/"+m.IntID, map[string]string{"meeting_id": m.IntID}, send)
	check(sendPath, "/api/sendChatMessage/nope", map[string]string{"meeting_id": "nope"}, e.send("nope", "Ann", "hi"))
	check(sendPath, "/api/sendChatMessage/"+m.IntID, map[string]string{"meeting_id": m.IntID},
		e.post("/api/sendChatMessage/"+m.IntID, []byte(`{"user_name": "x", "message": "y"}`)))

	// A viewer's message goes out as a callback; then getChatInfo shows the callback's every field.
	alice, _ := e.sim.Join(ctx, m.IntID, "Alice", "VIEWER")
	e.sim.Say(ctx, m.IntID, alice, "for the receiver")
	testenv.Eventually(t, 20*time.Second, "the callback arrives", func() bool { return len(recv.deliveries()) > 0 })
	testenv.Eventually(t, 10*time.Second, "getChatInfo shows the delivery", func() bool {
		return strings.Contains(e.call(callInfo, "meeting_id", m.IntID).Raw, "last_success_at")
	})
	info := e.call(callInfo, "meeting_id", m.IntID)
	for _, f := range []string{"chat_user_id", "last_success_at", "max_pending"} {
		if !strings.Contains(info.Raw, `"`+f+`"`) {
			t.Errorf("getChatInfo lacks %s: %s", f, info.Raw)
		}
	}
	check("/api/getChatInfo", "/api/getChatInfo", nil, info)
	check("/api/getChatInfo", "/api/getChatInfo", nil, e.call(callInfo, "meeting_id", "nope"))
	check("/api/runningChats", "/api/runningChats", nil, e.call(callRunning))
	check("/api/retryCallbacks", "/api/retryCallbacks", nil, e.call(callRetry, "meeting_id", m.IntID))
	check("/api/retryCallbacks", "/api/retryCallbacks", nil, e.call(callRetry))
	check("/api/endChatForMeeting", "/api/endChatForMeeting", nil, e.call(callEnd, "meeting_id", m.IntID))
	check("/api/endChatForMeeting", "/api/endChatForMeeting", nil, e.call(callEnd, "meeting_id", m.IntID))
	check("/api/endChatForMeeting", "/api/endChatForMeeting", nil, e.post("/api/endChatForMeeting", []byte(`[]`)))

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(e.apiURL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[http.MethodGet+" "+path] = true
		if err := apispec.CheckAnswer(ctx, doc, http.MethodGet, path, path, nil, resp.StatusCode, resp.Header, body); err != nil {
			t.Error(err)
		}
	}
	for _, o := range apispec.Operations(doc) {
		if !seen[o.Method+" "+o.Path] {
			t.Errorf("%s %s is described but not called here", o.Method, o.Path)
		}
	}

	// The callback carries the documented fields and no others.
	cb := doc.Paths.Find("/api/startChatForMeeting").Post.Callbacks["message"].Value
	for _, item := range cb.Map() {
		want := apispec.Fields(item.Post.RequestBody.Value.Content.Get("application/json").Schema)
		body, _ := json.Marshal(recv.deliveries()[0].Body)
		got, _ := apispec.Answered(body)
		if !slices.Equal(got, want) {
			t.Errorf("the message callback has fields %v; docs/openapi.yaml describes %v", got, want)
		}
	}
}
