package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestSendConfirmed shows that sendChatMessage answers "confirmed": true with BBB's message id once BBB's
// broadcast of the post is in the events stream, and "confirmed": false (never "sent") when BBB dropped it
// without relay knowing why beforehand.
func TestSendConfirmed(t *testing.T) {
	for _, version := range []string{"2.4", "2.7", "3.0", "4.0"} {
		t.Run(version, func(t *testing.T) { testSendConfirmed(t, version) })
	}
}

func testSendConfirmed(t *testing.T, version string) {
	e := newEnv(t, version)
	ctx := t.Context()
	m := e.meeting("ext-confirm-"+version, "Confirm "+version)
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")

	if !strings.HasPrefix(version, "2.") { // 3.0 and later
		// The chat user is not there: the post goes through BBB's chat API and is confirmed all the same.
		a := e.send(m.IntID, "Early Viewer", "through the API")
		expect(t, a, 200, "sent successfully")
		msgs := e.waitChat(m.IntID, 1)
		if a.Body["via"] != "api" || a.Body["confirmed"] != true || a.Body["message_id"] != msgs[0].ID {
			t.Fatalf("API post answered %s; BBB shows %+v", a.Raw, msgs[0])
		}
	}

	if _, err := e.sim.Join(ctx, m.IntID, "Chat Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	for i := range 3 {
		before := len(e.sim.Chat(m.IntID))
		a := e.send(m.IntID, "Alice", "confirmed "+string(rune('a'+i)))
		expect(t, a, 200, "sent successfully")
		msgs := e.waitChat(m.IntID, before+1)
		if a.Body["via"] != "user" || a.Body["confirmed"] != true || a.Body["message_id"] != msgs[len(msgs)-1].ID {
			t.Fatalf("post answered %s; BBB shows %+v", a.Raw, msgs[len(msgs)-1])
		}
	}

	// BBB drops the post (the chat user is a locked viewer and public chat is locked) and relay was not told:
	// the answer says BBB did not show it, after the confirmation timeout.
	e.sim.SetLock(m.IntID, true)
	start := time.Now()
	a := e.send(m.IntID, "Alice", "dropped")
	expect(t, a, 200, "BBB did not show it")
	if a.Body["confirmed"] != false || a.Body["message_id"] != nil {
		t.Fatalf("dropped post answered %s", a.Raw)
	}
	if took := time.Since(start); took < 2*time.Second || took > 8*time.Second {
		t.Fatalf("unconfirmed answer took %s; want about BBB_CHAT_SEND_CONFIRM_TIMEOUT (2s)", took)
	}
	if d := e.sim.Dropped(); len(d) != 1 {
		t.Fatalf("BBB dropped %+v; want the one post", d)
	}
}

// TestSendConfirmOff shows that BBB_CHAT_SEND_CONFIRM_TIMEOUT=0 answers at once, without confirmed.
func TestSendConfirmOff(t *testing.T) {
	e := newEnv(t, "2.7")
	m := e.meeting("ext-confirm-off", "Confirm off")
	_, c := e.startIngressWith(map[string]string{"BBB_CHAT_SEND_CONFIRM_TIMEOUT": "0"})
	expect(t, c.call(callStart, "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	if _, err := e.sim.Join(t.Context(), m.IntID, "Chat Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	a := c.send(m.IntID, "Alice", "unwatched")
	expect(t, a, 200, "")
	if _, has := a.Body["confirmed"]; has || a.Body["via"] != "user" {
		t.Fatalf("answer with confirmation off: %s", a.Raw)
	}
	e.waitChat(m.IntID, 1)
}
