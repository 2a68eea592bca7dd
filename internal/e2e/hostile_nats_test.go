package e2e

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestHostileNATS publishes garbage on the message subject of a bridged meeting and of a meeting nobody bridged:
// the callback worker skips and counts it, does not crash or loop, and the receiver gets the real messages only.
func TestHostileNATS(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-nats", "NATS")
	recv := newReceiver(t)
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge", "callback_uri", recv.URL(),
		"callback_secret", "cb-secret", "callback_events", "chatCleared"), 200, "started")
	alice, err := e.sim.Join(ctx, m.IntID, "Alice", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.sim.Say(ctx, m.IntID, alice, "before the garbage")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "first delivery", func() bool { return len(recv.deliveries()) == 1 })
	skippedBefore := metricsAt(e.relayURL + "/metrics")["bbbchat_relay_callbacks_skipped_total"]

	huge := `{"type":"message","id":"huge","meeting_id":"` + m.IntID + `","chat_id":"MAIN-PUBLIC-GROUP-CHAT","message_id":"huge","sender_id":"w_x","sender_name":"X","text":"` + strings.Repeat("A", 900<<10) + `"}`
	garbage := []string{
		"not json at all",
		"",
		"\xff\xfe\x00",
		"null",
		"[]",
		`"message"`,
		`{}`,
		`{"type": 5}`,
		`{"type": "message", "timestamp": "yesterday"}`,
		`{"type": "message"}`,
		`{"type": "message", "chat_id": "MAIN-PUBLIC-GROUP-CHAT"}`,
		`{"type": "message", "id": "fake-1", "meeting_id": "another-meeting", "chat_id": "MAIN-PUBLIC-GROUP-CHAT", "message_id": "fake-1", "sender_id": "w_y", "sender_name": "Forger", "text": "for another meeting"}`,
		`{"type": "no.such.type", "id": "x", "meeting_id": "` + m.IntID + `"}`,
		`{"type": "cleared", "id": 7}`,
		huge,
		strings.Repeat("[", 100000),
	}
	subject := "bbbchat." + m.IntID + ".message"
	for i, g := range garbage {
		if _, err := e.js.Publish(ctx, subject, []byte(g)); err != nil {
			t.Fatalf("publish garbage %d: %v", i, err)
		}
		// The same on a meeting nobody bridged, and on subjects relay never uses.
		e.js.Publish(ctx, "bbbchat.nobody.message", []byte(g))
		e.js.Publish(ctx, "bbbchat."+m.IntID+".bogus.type", []byte(g))
		e.js.Publish(ctx, "bbbchat-retry."+m.IntID, []byte(g))
	}
	second, err := e.sim.Say(ctx, m.IntID, alice, "after the garbage")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the real message after the garbage", func() bool {
		n, err := e.pending(ctx, m.IntID)
		return err == nil && n == 0 && len(recv.deliveries()) >= 2
	})
	checkDelivered(t, "receiver", recv.deliveries(), []string{first.ID, second.ID})
	if e.relay.Exited() || e.ingress.Exited() {
		t.Fatal("a service died")
	}
	mt := metricsAt(e.relayURL + "/metrics")
	if skipped := mt["bbbchat_relay_callbacks_skipped_total"] - skippedBefore; skipped < float64(2*len(garbage)) {
		t.Fatalf("skipped %v events; want at least %d (the garbage on the message and retry subjects)", skipped, 2*len(garbage))
	}
	if mt["bbbchat_relay_callbacks_malformed_total"] < float64(len(garbage)) {
		t.Fatalf("malformed %v; want at least %d", mt["bbbchat_relay_callbacks_malformed_total"], len(garbage))
	}
	// Nothing loops: the receiver saw only the real ones, and a moment later nothing more happens.
	testenv.Consistently(t, 500*time.Millisecond, "the receiver is called twice, no more", func() bool {
		return recv.attempts() == 2
	})
	for _, d := range recv.deliveries() {
		if b, _ := json.Marshal(d.Body); bytes.Contains(b, []byte("Forger")) || bytes.Contains(b, []byte("AAAA")) {
			t.Fatalf("garbage delivered: %s", truncate(string(b), 200))
		}
	}
	expect(t, e.send(m.IntID, "Alice", "ingress still works"), 409, "not in the meeting")
}
