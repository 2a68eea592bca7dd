package e2e

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// natsEvents subscribes, as any NATS client can, to every event of a meeting and returns a function that waits for
// the next one.
func natsEvents(t *testing.T, e *env, meetingID string) func(typ string) state.Event {
	t.Helper()
	nc, err := nats.Connect(testenv.NATSURL(e.nats))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ch := make(chan *nats.Msg, 100)
	sub, err := nc.ChanSubscribe(state.EventSubject(meetingID, ">"), ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func(typ string) state.Event {
		t.Helper()
		select {
		case m := <-ch:
			var ev state.Event
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatalf("event on %s: %v: %s", m.Subject, err, m.Data)
			}
			if ev.Type != typ || m.Subject != state.EventSubject(meetingID, typ) {
				t.Fatalf("next event is %s on %s, want %s: %s", ev.Type, m.Subject, typ, m.Data)
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event within 10s; dropped by BBB: %+v", typ, e.sim.Dropped())
		}
		return state.Event{}
	}
}

// Edits, deletes, reactions (3.0 and 4.0) and pins (4.0) made in BBB reach a NATS subscriber on their subjects,
// naming the message and who acted.
func TestChatEventsOnNATS(t *testing.T) {
	for _, version := range []string{"3.0", "4.0"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, version)
			ctx := t.Context()
			m := e.meeting("events-"+version, "Events")
			next := natsEvents(t, e, m.IntID)
			alice, err := e.sim.Join(ctx, m.IntID, "Alice", bbbsim.RoleModerator)
			if err != nil {
				t.Fatal(err)
			}
			next(state.TypeUserJoined)
			bob, err := e.sim.Join(ctx, m.IntID, "Bob", bbbsim.RoleViewer)
			if err != nil {
				t.Fatal(err)
			}
			next(state.TypeUserJoined)
			c, err := e.sim.Say(ctx, m.IntID, bob, "hello")
			if err != nil {
				t.Fatal(err)
			}
			if ev := next(state.TypeMessage); ev.MessageID != c.ID || ev.Text != "hello" || ev.BBBVersion != version {
				t.Fatalf("message %+v", ev)
			}

			about := func(ev state.Event, userID, userName string) {
				t.Helper()
				if ev.MessageID != c.ID || ev.ChatID != bbbsim.MainPublicChat || ev.UserID != userID ||
					ev.UserName != userName || ev.MeetingID != m.IntID || ev.ExternalMeetingID != m.ExtID ||
					ev.BBBVersion != version || ev.Timestamp == 0 || ev.ID == "" {
					t.Errorf("%s: %+v", ev.Type, ev)
				}
			}
			if err := e.sim.EditMessage(ctx, m.IntID, bob, c.ID, "hello **everyone**"); err != nil {
				t.Fatal(err)
			}
			ev := next(state.TypeMessageEdited)
			about(ev, bob, "Bob")
			if ev.Text != "hello **everyone**" {
				t.Errorf("edited text %q", ev.Text)
			}
			if err := e.sim.React(ctx, m.IntID, alice, c.ID, "👍"); err != nil {
				t.Fatal(err)
			}
			ev = next(state.TypeReactionAdded)
			about(ev, alice, "Alice")
			if ev.Emoji != "👍" {
				t.Errorf("emoji %q", ev.Emoji)
			}
			if err := e.sim.Unreact(ctx, m.IntID, alice, c.ID, "👍"); err != nil {
				t.Fatal(err)
			}
			ev = next(state.TypeReactionRemoved)
			about(ev, alice, "Alice")
			if ev.Emoji != "👍" {
				t.Errorf("emoji %q", ev.Emoji)
			}
			if version == "4.0" {
				if err := e.sim.Pin(ctx, m.IntID, alice, c.ID); err != nil {
					t.Fatal(err)
				}
				about(next(state.TypeMessagePinned), alice, "Alice")
				if err := e.sim.Unpin(ctx, m.IntID, alice, c.ID); err != nil {
					t.Fatal(err)
				}
				about(next(state.TypeMessageUnpinned), alice, "Alice")
			}
			if err := e.sim.DeleteMessage(ctx, m.IntID, alice, c.ID); err != nil {
				t.Fatal(err)
			}
			about(next(state.TypeMessageDeleted), alice, "Alice")
			if d := e.sim.Dropped(); len(d) != 0 {
				t.Fatalf("BBB dropped: %+v", d)
			}
		})
	}
}

// A 4.0 beta's release string is recognised: relay records 4.0, and ingress posts in the shape 4.0 accepts.
func TestBBB40ReleaseString(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "4.0")
	if err := os.WriteFile(e.releaseFile, []byte("BIGBLUEBUTTON_RELEASE=4.0.0-beta.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ingress.Kill()
	e.relay.Kill()
	e.startRelay()
	e.startIngress()
	testenv.Eventually(t, 10*time.Second, "version 4.0 recorded from the release file", func() bool {
		v, err := e.store.GetServerVersion(context.Background(), e2eServerID)
		return err == nil && v.Version == "4.0" && v.Source == "release-file"
	})
	ctx := t.Context()
	m := e.meeting("beta", "Beta")
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	if _, err := e.sim.Join(ctx, m.IntID, "Chat Bridge", bbbsim.RoleViewer); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	expect(t, e.send(m.IntID, "Alice", "hi from 4.0"), 200, "Message sent successfully")
	if got := e.waitChat(m.IntID, 1)[0].Message; got != "Alice: hi from 4.0" {
		t.Errorf("chat %q", got)
	}
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped: %+v", d)
	}
}

// Without a release file, relay learns 4.0 from the shape of its events (a user's join already tells it), and
// ingress posts as to 4.0.
func TestBBB40Inferred(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "4.0", false)
	ctx := t.Context()
	m := e.meeting("inferred-40", "Inferred")
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")
	if _, err := e.sim.Join(ctx, m.IntID, "Bridge", bbbsim.RoleViewer); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Bridge", true)
	testenv.Eventually(t, 10*time.Second, "4.0 recorded from the join", func() bool {
		v, err := e.store.GetServerVersion(context.Background(), e2eServerID)
		return err == nil && v.Version == "4.0" && v.Source == "events"
	})
	expect(t, e.send(m.IntID, "a", "now"), 200, "sent")
	e.waitChat(m.IntID, 1)
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped: %+v", d)
	}
}
