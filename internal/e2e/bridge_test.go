package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// TestBridgeTwoServers bridges a meeting on a BBB 2.7 server with one on a BBB 3.0 server, each side's callback
// pointing at the other side's sendChatMessage: chat flows both ways, each message once, and no echo loops back.
func TestBridgeTwoServers(t *testing.T) {
	a := newEnv(t, "2.7")
	b := newEnv(t, "3.0")
	ctx := t.Context()
	ma, err := a.sim.CreateMeeting(ctx, "left", "Left")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := b.sim.CreateMeeting(ctx, "right", "Right")
	if err != nil {
		t.Fatal(err)
	}
	a.waitKnown(ma.IntID)
	b.waitKnown(mb.IntID)
	if _, err := a.sim.Join(ctx, ma.IntID, "Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sim.Join(ctx, mb.IntID, "Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	a.waitPresent(ma.IntID, "Bridge", true)
	b.waitPresent(mb.IntID, "Bridge", true)
	expect(t, a.call("startChatForMeeting", "meeting_id", ma.IntID, "chat_user", "Bridge",
		"callback_uri", b.apiURL+"/api/sendChatMessage/"+mb.IntID, "callback_secret", b.secret), 200, "started")
	expect(t, b.call("startChatForMeeting", "meeting_id", mb.ExtID, "chat_user", "Bridge",
		"callback_uri", a.apiURL+"/api/sendChatMessage/"+ma.IntID, "callback_secret", a.secret), 200, "started")

	alice, _ := a.sim.Join(ctx, ma.IntID, "Alice", "VIEWER")
	bob, _ := b.sim.Join(ctx, mb.IntID, "Bob", "MODERATOR")
	if _, err := a.sim.Say(ctx, ma.IntID, alice, "Hello right <3"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sim.Say(ctx, mb.IntID, bob, "Hi **left**"); err != nil {
		t.Fatal(err)
	}
	// Each side: its own message, the other side's message posted by the bridge; the echo of that post is in the
	// stream (2 messages) and the callback consumer has nothing pending (the echo was seen and skipped).
	for _, e := range []struct {
		env *env
		id  string
	}{{a, ma.IntID}, {b, mb.IntID}} {
		testenv.Eventually(t, 15*time.Second, "both messages on "+e.env.version, func() bool {
			n, err := e.env.pending(context.Background(), e.id)
			return e.env.streamCount(e.id, state.TypeMessage) == 2 && err == nil && n == 0
		})
	}
	chatA, chatB := a.sim.Chat(ma.IntID), b.sim.Chat(mb.IntID)
	if len(chatA) != 2 || len(chatB) != 2 {
		t.Fatalf("chat A %+v\nchat B %+v\nwant two messages each (no loop)", chatA, chatB)
	}
	if got, want := chatB[1].Message, `Alice: Hello right <3`; got != want {
		t.Errorf("right side got %q, want %q", got, want)
	}
	if got, want := chatA[1].Message, `Bob: Hi **left**`; got != want {
		t.Errorf("left side got %q, want %q", got, want)
	}
	ia := a.call("getChatInfo", "meeting_id", ma.IntID)
	testenv.Eventually(t, 5*time.Second, "delivered count", func() bool {
		ia = a.call("getChatInfo", "meeting_id", ma.IntID)
		cb, _ := ia.Body["callback"].(map[string]any)
		return cb != nil && cb["delivered"] == float64(1)
	})
}

// TestCallbackReceiverDown: a receiver that is down while messages are sent gets every one of them, in order,
// once it comes up, with stable webhook ids.
func TestCallbackReceiverDown(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m, _ := e.sim.CreateMeeting(ctx, "cb", "Callbacks")
	e.waitKnown(m.IntID)
	var mu sync.Mutex
	var got []string
	up := false
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.Copy(io.Discard, r.Body)
		got = append(got, r.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge",
		"callback_uri", recv.URL+"/hook", "callback_secret", "cb-secret"), 200, "started")
	alice, _ := e.sim.Join(ctx, m.IntID, "Alice", "VIEWER")
	var ids []string
	for _, text := range []string{"one", "two", "three"} {
		msg, err := e.sim.Say(ctx, m.IntID, alice, text)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, msg.ID)
	}
	testenv.Eventually(t, 10*time.Second, "retries recorded", func() bool {
		i := e.call("getChatInfo", "meeting_id", m.IntID)
		cb, _ := i.Body["callback"].(map[string]any)
		return cb != nil && cb["last_error"] != ""
	})
	mu.Lock()
	up = true
	mu.Unlock()
	testenv.Eventually(t, 20*time.Second, "all three delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("delivered %v, want %v in order", got, ids)
	}
}

// TestBridgeThroughBBBChatAPI bridges two BBB 3.0 meetings whose chat users are absent: posts go through BBB's chat
// API under the viewer's name, come back as system messages, and are still recognised as the bridge's own, so
// nothing is sent back.
func TestBridgeThroughBBBChatAPI(t *testing.T) {
	a := newEnv(t, "3.0")
	b := newEnv(t, "3.0")
	ctx := t.Context()
	ma, _ := a.sim.CreateMeeting(ctx, "left-api", "Left")
	mb, _ := b.sim.CreateMeeting(ctx, "right-api", "Right")
	a.waitKnown(ma.IntID)
	b.waitKnown(mb.IntID)
	expect(t, a.call("startChatForMeeting", "meeting_id", ma.IntID, "chat_user", "Nobody Here",
		"callback_uri", b.apiURL+"/api/sendChatMessage/"+mb.IntID, "callback_secret", b.secret), 200, "started")
	expect(t, b.call("startChatForMeeting", "meeting_id", mb.IntID, "chat_user", "Nobody Here",
		"callback_uri", a.apiURL+"/api/sendChatMessage/"+ma.IntID, "callback_secret", a.secret), 200, "started")
	alice, _ := a.sim.Join(ctx, ma.IntID, "Alice", "VIEWER")
	if _, err := a.sim.Say(ctx, ma.IntID, alice, "through the API"); err != nil {
		t.Fatal(err)
	}
	// B posts Alice's message as a system message named Alice; its echo must not go back to A.
	for _, e := range []struct {
		env *env
		id  string
	}{{a, ma.IntID}, {b, mb.IntID}} {
		testenv.Eventually(t, 15*time.Second, "message and echo handled on "+e.id, func() bool {
			n, err := e.env.pending(context.Background(), e.id)
			return e.env.streamCount(e.id, state.TypeMessage) == 1 && err == nil && n == 0
		})
	}
	chatA, chatB := a.sim.Chat(ma.IntID), b.sim.Chat(mb.IntID)
	if len(chatA) != 1 || len(chatB) != 1 {
		t.Fatalf("chat A %+v\nchat B %+v\nwant one message each (the echo was sent back)", chatA, chatB)
	}
	if chatB[0].SenderID != "SYSTEM" || chatB[0].SenderName != "Alice" || chatB[0].Message != "through the API" {
		t.Fatalf("right side got %+v", chatB[0])
	}
}
