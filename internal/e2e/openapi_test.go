package e2e

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bbb-chat/bbb-chat/internal/apispec"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// TestOpenAPIAnswers calls every operation of docs/openapi.yaml on the real ingress, with a chat that has a
// callback and a present chat user (so that every optional field shows), and checks each answer — and the
// callbacks relay sends — against the description: the documented status, the schema, and no undocumented field.
// One chat asks for its further callbacks by the first spellings, another for all kinds, so that every callback
// the description names is sent and checked.
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
	checkCall := func(call string, a answer) {
		t.Helper()
		check("/api/"+call, "/api/"+call, nil, a)
	}
	// signed posts a call whose parameters are not all strings.
	signed := func(call string, ms ...pyjson.Member) answer {
		t.Helper()
		ms = append(ms, pyjson.Member{Key: "nonce", Value: pyjson.String(time.Now().Format(time.RFC3339Nano))})
		return e.post("/api/"+call, sign(call, ms, e.secret, time.Now().Unix()))
	}
	meetingID := func(id string) pyjson.Member { return pyjson.Member{Key: "meeting_id", Value: pyjson.String(id)} }

	start := e.call(callStart, "meeting_id", m.ExtID, "chat_user", "Bridge", "callback_uri", recv.URL(),
		"callback_secret", "openapi secret", "callback_events", "chatCleared,meetingEnded")
	expect(t, start, 200, "started")
	checkCall(callStart, start)
	checkCall(callStart, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge"))
	checkCall(callStart, e.call(callStart, "meeting_id", m.IntID))

	sendPath := "/api/sendChatMessage/{meeting_id}"
	send := e.send(m.IntID, "Ann", "hi")
	expect(t, send, 200, "sent")
	check(sendPath, "/api/sendChatMessage/"+m.IntID, map[string]string{"meeting_id": m.IntID}, send)
	check(sendPath, "/api/sendChatMessage/nope", map[string]string{"meeting_id": "nope"}, e.send("nope", "Ann", "hi"))
	check(sendPath, "/api/sendChatMessage/"+m.IntID, map[string]string{"meeting_id": m.IntID},
		e.post("/api/sendChatMessage/"+m.IntID, []byte(`{"user_name": "x", "message": "y"}`)))

	// Editing and deleting: BBB 2.7 has neither (409); their 200, 403 and 404 are checked by TestModeration.
	sentID, _ := send.Body["message_id"].(string)
	check("/api/editChatMessage", "/api/editChatMessage", nil,
		e.call(callEditMsg, "meeting_id", m.IntID, "message_id", sentID, "message", "x"))
	check("/api/editChatMessage", "/api/editChatMessage", nil, e.call(callEditMsg, "meeting_id", m.IntID))
	check("/api/deleteChatMessage", "/api/deleteChatMessage", nil,
		e.call(callDeleteMsg, "meeting_id", m.IntID, "message_id", sentID))

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
	checkCall(callInfo, info)
	checkCall(callInfo, e.call(callInfo, "meeting_id", "nope"))
	checkCall(callRunning, e.call(callRunning))

	retry := signed(callRetry, meetingID(m.IntID), pyjson.Member{Key: "pending", Value: pyjson.Bool(true)})
	expect(t, retry, 200, "none was waiting for a retry")
	if retry.Body["released"] != false {
		t.Errorf("retryCallbacks with pending lacks released: %s", retry.Raw)
	}
	checkCall(callRetry, retry)
	checkCall(callRetry, e.call(callRetry, "meeting_id", m.IntID))
	checkCall(callRetry, e.call(callRetry))
	checkCall(callRetry, e.call(callRetry, "meeting_id", m.IntID, "pending", "yes"))

	ping := e.call(callPing, "meeting_id", m.IntID)
	expect(t, ping, 200, "The receiver answered HTTP 204")
	checkCall(callPing, ping)
	checkCall(callPing, e.call(callPing, "meeting_id", "nope"))
	noCallback := e.meeting("ext-openapi-plain", "OpenAPI plain")
	expect(t, e.call(callStart, "meeting_id", noCallback.IntID, "chat_user", "Bridge"), 200, "started")
	checkCall(callPing, e.call(callPing, "meeting_id", noCallback.IntID))

	link := e.viewerLink(m.ExtID, false, 3600)
	expect(t, link, 200, "Viewer link created")
	checkCall("createViewerLink", link)
	checkCall("createViewerLink", e.viewerLink("not-a-meeting-yet", true, 0))
	checkCall("createViewerLink", signed("createViewerLink", meetingID(m.IntID),
		pyjson.Member{Key: "expires_in", Value: pyjson.Int(0)}))
	checkCall("revokeViewerLinks", e.call("revokeViewerLinks", "meeting_id", m.ExtID))
	checkCall("revokeViewerLinks", e.call("revokeViewerLinks"))

	checkCall(callEnd, e.call(callEnd, "meeting_id", noCallback.IntID))
	checkCall(callEnd, e.call(callEnd, "meeting_id", noCallback.IntID))
	checkCall(callEnd, e.post("/api/endChatForMeeting", []byte(`[]`)))

	// The chat's history and transcript, then their deletion.
	check("/api/getChatHistory", "/api/getChatHistory", nil, e.call(callHistory, "meeting_id", m.IntID, "limit", "1"))
	check("/api/getChatHistory", "/api/getChatHistory", nil, e.call(callHistory, "meeting_id", "nope"))
	status, transcript := e.transcript(m.ExtID, "json", "")
	check("/api/getChatTranscript", "/api/getChatTranscript", nil, answer{Status: status, Raw: transcript})
	check("/api/deleteChatHistory", "/api/deleteChatHistory", nil, e.call(callDeleteHistory, "meeting_id", m.IntID))
	check("/api/deleteChatHistory", "/api/deleteChatHistory", nil, e.call(callDeleteHistory, "meeting_id", m.IntID))

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

	// A chat that asks for every kind gets each in its typed body: what BBB says through the simulator, what BBB
	// 3.0 and 4.0 say (edits, reactions, pins) and a gap put in the stream as relay publishes them.
	every := e.meeting("ext-openapi-all", "OpenAPI all")
	recvAll := newReceiver(t)
	expect(t, e.call(callStart, "meeting_id", every.IntID, "chat_user", "Bridge", "callback_uri", recvAll.URL(),
		"callback_secret", "openapi all", "callback_events", "all"), 200, "started")
	bob, err := e.sim.Join(ctx, every.IntID, "Bob", "MODERATOR")
	if err != nil {
		t.Fatal(err)
	}
	said, err := e.sim.Say(ctx, every.IntID, bob, "for every kind")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.ClearChat(ctx, every.IntID, bob); err != nil {
		t.Fatal(err)
	}
	e.waitKnownEvent(every.IntID, state.TypeCleared)
	now := time.Now().UnixMilli()
	for _, ev := range []state.Event{
		{Type: state.TypeMessageEdited, ID: "openapi-edit", MessageID: said.ID, Text: "for every kind, edited"},
		{Type: state.TypeReactionAdded, ID: "openapi-react", MessageID: said.ID, Emoji: "👍"},
		{Type: state.TypeReactionRemoved, ID: "openapi-unreact", MessageID: said.ID, Emoji: "👍"},
		{Type: state.TypeMessagePinned, ID: "openapi-pin", MessageID: said.ID},
		{Type: state.TypeMessageUnpinned, ID: "openapi-unpin", MessageID: said.ID},
		{Type: state.TypeMessageDeleted, ID: "openapi-delete", MessageID: said.ID},
	} {
		ev.MeetingID, ev.ChatID, ev.UserID, ev.UserName, ev.Timestamp = every.IntID, "MAIN-PUBLIC-GROUP-CHAT", bob, "Bob", now
		payload, _ := json.Marshal(ev)
		if _, err := e.store.PublishEvent(ctx, ev, payload); err != nil {
			t.Fatal(err)
		}
	}
	gap := state.Event{Type: state.TypeGap, ID: "openapi-gap", From: now - 3000, To: now, Server: "bbb.example.org"}
	payload, _ := json.Marshal(gap)
	if _, err := e.store.PublishEvent(ctx, gap, payload); err != nil {
		t.Fatal(err)
	}
	expect(t, e.call(callPing, "meeting_id", every.IntID), 200, "The receiver answered HTTP 204")
	if err := e.sim.Leave(ctx, every.IntID, bob); err != nil {
		t.Fatal(err)
	}
	e.waitKnownEvent(every.IntID, state.TypeUserLeft)
	if err := e.sim.EndMeeting(ctx, every.IntID); err != nil {
		t.Fatal(err)
	}

	// The first chat's further callbacks, asked for by the first spellings, keep their bodies without type.
	carol, err := e.sim.Join(ctx, m.IntID, "Carol", "MODERATOR")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.ClearChat(ctx, m.IntID, carol); err != nil {
		t.Fatal(err)
	}
	e.waitKnownEvent(m.IntID, state.TypeCleared)
	if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
		t.Fatal(err)
	}

	// Every callback described is sent, and each one sent carries its documented fields and no others.
	callbacks := doc.Paths.Find("/api/startChatForMeeting").Post.Callbacks
	want := slices.Sorted(maps.Keys(callbacks))
	got := func() []string {
		names := map[string]bool{}
		for _, d := range append(recv.deliveries(), recvAll.deliveries()...) {
			names[callbackName(d.Body)] = true
		}
		return slices.Sorted(maps.Keys(names))
	}
	testenv.Eventually(t, 30*time.Second, "every described callback sent", func() bool {
		return len(got()) >= len(want)
	})
	if g := got(); !slices.Equal(g, want) {
		t.Errorf("callbacks sent %v; docs/openapi.yaml describes %v", g, want)
	}
	for _, d := range append(recv.deliveries(), recvAll.deliveries()...) {
		name := callbackName(d.Body)
		cb := callbacks[name]
		if cb == nil || cb.Value == nil {
			t.Errorf("the %s callback is not described: %v", name, d.Body)
			continue
		}
		for _, item := range cb.Value.Map() {
			schema := item.Post.RequestBody.Value.Content.Get("application/json").Schema
			if err := schema.Value.VisitJSON(d.Body, openapi3.MultiErrors()); err != nil {
				t.Errorf("the %s callback %v does not match docs/openapi.yaml: %v", name, d.Body, err)
			}
			body, _ := json.Marshal(d.Body)
			fields, _ := apispec.Answered(body)
			documented := apispec.Fields(schema)
			if name == state.TypeTranscript {
				// The transcript inside is getChatTranscript's json (its schema, Transcript, is checked above).
				// This meeting's chat was cleared, so it has no message: its fields are some of those described.
				for _, f := range fields {
					if !slices.Contains(documented, f) {
						t.Errorf("the transcript callback has field %s; docs/openapi.yaml describes %v", f, documented)
					}
				}
				continue
			}
			if !slices.Equal(fields, documented) {
				t.Errorf("the %s callback has fields %v; docs/openapi.yaml describes %v", name, fields, documented)
			}
		}
	}
}

// callbackName is the name docs/openapi.yaml gives a callback body: its type, or for the first version's bodies
// (no type) message, chatCleared or meetingEnded.
func callbackName(body map[string]any) string {
	if t, ok := body["type"].(string); ok {
		return t
	}
	if _, ok := body["message"]; ok {
		return "message"
	}
	if _, ok := body["chat_id"]; ok {
		return state.CallbackChatCleared
	}
	return state.CallbackMeetingEnded
}
