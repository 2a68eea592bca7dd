package callback

import (
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// TestEveryKindInOrder: a bridge that asked for "all" gets every kind of event, in the stream's order, each signed
// both ways under its kind (a new message under sendChatMessage); the server's gaps reach it from their own
// subject. Edits and reactions the chat user made, those of private chats, and events that are no callback kind
// are not sent.
func TestEveryKindInOrder(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, nil)
	e.bridge("m1", rcv.url(), state.KindAll)
	ctx := t.Context()
	if err := e.store.UserJoined(ctx, "m1", state.Presence{UserID: "w_bot", Name: "Bridge", JoinedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, stop := e.run(e.testOptions(), time.Second)

	const msgID = "1730000000001-abcdefgh"
	acted := func(typ, id, user, name string) state.Event {
		return state.Event{Type: typ, ID: id, MeetingID: "m1", Timestamp: 1730000000100, ChatID: PublicChatID,
			MessageID: msgID, UserID: user, UserName: name}
	}
	calls := map[string]string{}
	var want []string
	send := func(ev state.Event) {
		e.publish(ev)
		want = append(want, ev.ID)
		calls[ev.ID] = ev.Type
	}
	skip := func(ev state.Event) { e.publish(ev) }

	m := e.message("m1", 1)
	want, calls[m.ID] = append(want, m.ID), state.CallbackMessage
	send(state.Event{Type: state.TypeUserJoined, ID: "j-1", MeetingID: "m1", Timestamp: 1730000000050, UserID: "w_bob",
		UserName: "Bob", UserRole: "VIEWER"})
	ed := acted(state.TypeMessageEdited, "ed-1", "w_alice", "Alice")
	ed.Text = "hello, edited"
	send(ed)
	skip(acted(state.TypeMessageEdited, "ed-echo", "w_bot", "Bridge")) // the chat user's own edit
	priv := acted(state.TypeReactionAdded, "r-priv", "w_alice", "Alice")
	priv.ChatID = "1698771400005-ab12cd34"
	skip(priv) // a private chat's
	ra := acted(state.TypeReactionAdded, "r-1", "w_bob", "Bob")
	ra.Emoji = "👍"
	send(ra)
	rr := acted(state.TypeReactionRemoved, "r-2", "w_bob", "Bob")
	rr.Emoji = "👍"
	send(rr)
	send(acted(state.TypeMessagePinned, "p-1", "w_mod", "Mod"))
	send(acted(state.TypeMessageUnpinned, "p-2", "w_mod", "Mod"))
	send(acted(state.TypeMessageDeleted, "d-1", "w_mod", "Mod"))
	skip(state.Event{Type: state.TypeMeetingCreated, ID: "mc-1", MeetingID: "m1"}) // no callback kind
	send(state.Event{Type: state.TypeGap, ID: "g-1", Timestamp: 1730000000200, Server: "bbb.example.org",
		From: 1730000000150, To: 1730000000190})
	send(state.Event{Type: state.TypeCleared, ID: "c-1", MeetingID: "m1", ChatID: PublicChatID, Timestamp: 1730000000300})
	send(state.Event{Type: state.TypeUserLeft, ID: "l-1", MeetingID: "m1", Timestamp: 1730000000400, UserID: "w_bob",
		UserName: "Bob", UserRole: "VIEWER"})
	send(state.Event{Type: state.TypeMeetingEnded, ID: "e-1", MeetingID: "m1", Timestamp: 1730000000500})
	// As relay/transcript stores it once the meeting's end is handled: the bridge ends after its transcript.
	send(state.Event{Type: state.TypeTranscript, ID: state.TranscriptEventID("m1"), MeetingID: "m1", Timestamp: 1730000000500})

	waitDelivered(t, rcv, want, 15*time.Second)
	for _, h := range rcv.all() {
		verifyHit(t, h, secretOf("m1"), calls[h.ID])
		v, err := pyjson.Parse(h.Body)
		if err != nil {
			t.Fatal(err)
		}
		typ, hasType := v.Lookup("type")
		got, _ := typ.Str()
		if calls[h.ID] == state.CallbackMessage {
			if hasType {
				t.Errorf("%s: a new message's body carries type", h.ID)
			}
		} else if got != calls[h.ID] {
			t.Errorf("%s: type %q, want %q", h.ID, got, calls[h.ID])
		}
	}
	testenv.Eventually(t, 10*time.Second, "bridge removed after the meeting's end", func() bool {
		_, err := e.store.GetBridge(ctx, "m1")
		return err == state.ErrNotFound
	})
	stop()
}

// TestFirstSpellingsKeepTheirBodies: a bridge stored with the first spellings (chatCleared, meetingEnded) gets the
// first version's bodies, without type and under those call names, and nothing it did not ask for.
func TestFirstSpellingsKeepTheirBodies(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, nil)
	e.bridge("m1", rcv.url(), state.CallbackChatCleared, state.CallbackMeetingEnded)
	_, stop := e.run(e.testOptions(), time.Second)
	e.publish(state.Event{Type: state.TypeUserJoined, ID: "j-1", MeetingID: "m1", UserID: "w_bob", UserName: "Bob"})
	e.publish(state.Event{Type: state.TypeReactionAdded, ID: "r-1", MeetingID: "m1", ChatID: PublicChatID, UserID: "w_bob", Emoji: "x"})
	e.publish(state.Event{Type: state.TypeCleared, ID: "c-1", MeetingID: "m1", ChatID: PublicChatID, Timestamp: 1730000000300})
	e.publish(state.Event{Type: state.TypeMeetingEnded, ID: "e-1", MeetingID: "m1", Timestamp: 1730000000500})
	waitDelivered(t, rcv, []string{"c-1", "e-1"}, 15*time.Second)
	hits := rcv.all()
	verifyHit(t, hits[0], secretOf("m1"), state.CallbackChatCleared)
	verifyHit(t, hits[1], secretOf("m1"), state.CallbackMeetingEnded)
	for _, h := range hits {
		if v, _ := pyjson.Parse(h.Body); func() bool { _, ok := v.Lookup("type"); return ok }() {
			t.Errorf("%s: a first-version body carries type: %s", h.ID, h.Body)
		}
	}
	stop()
}
