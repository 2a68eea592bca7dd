package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// TestKnownDrops shows that where relay knows BBB would drop a post (the meeting's lock settings and a locked
// viewer chat user, chat disabled for the meeting, 3.0's per-user lock), ingress answers 409 with the reason and
// what to do, and publishes nothing; and that with BBB_CHAT_BLOCKED_VIA_API on 3.0 posts through BBB's chat API.
func TestKnownDrops(t *testing.T) {
	for _, version := range []string{"2.4", "2.7", "3.0", "4.0"} {
		t.Run(version, func(t *testing.T) { testKnownDrops(t, version) })
	}
}

func testKnownDrops(t *testing.T, version string) {
	e := newEnv(t, version)
	ctx := t.Context()
	m, bot, _ := e.joinBridge("ext-locks-"+version, bbbsim.MeetingOptions{}, bbbsim.RoleViewer)
	mod, err := e.sim.Join(ctx, m.IntID, "Teacher", bbbsim.RoleModerator)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, e.send(m.IntID, "Alice", "before the lock"), 200, "sent successfully")

	// A moderator locks public chat for viewers: relay learns it, ingress refuses.
	if err := e.sim.ChangeLockSettings(ctx, m.IntID, mod, true); err != nil {
		t.Fatal(err)
	}
	e.waitState("the meeting's public chat lock", func(s *state.Store) bool {
		mt, err := s.MeetingByInternal(context.Background(), m.IntID)
		return err == nil && mt.PublicChatLocked
	})
	before := len(e.sim.Chat(m.IntID))
	expect(t, e.send(m.IntID, "Alice", "locked out"), 409, "make the chat user a moderator")
	if !strings.HasPrefix(version, "2.") { // 3.0 and later
		// The same lock, with the operator's consent: BBB's chat API, which locks do not stop.
		_, c := e.startIngressWith(map[string]string{"BBB_CHAT_BLOCKED_VIA_API": "true"})
		a := c.send(m.IntID, "Alice", "around the lock")
		expect(t, a, 200, "through BBB's chat API")
		if a.Body["via"] != "api" || a.Body["confirmed"] != true {
			t.Fatalf("post around the lock answered %s", a.Raw)
		}
		before++
	}
	if got := len(e.sim.Chat(m.IntID)); got != before {
		t.Fatalf("BBB's chat has %d messages, want %d", got, before)
	}

	// Unlocking the chat user, then making it a moderator, lets it post again.
	if err := e.sim.LockUser(ctx, m.IntID, bot, mod, false); err != nil {
		t.Fatal(err)
	}
	e.waitUser(m.IntID, "Chat Bridge", func(p state.Presence) bool { return !p.Locked })
	a := e.send(m.IntID, "Alice", "unlocked")
	expect(t, a, 200, "sent successfully")
	if a.Body["confirmed"] != true {
		t.Fatalf("post of an unlocked chat user answered %s", a.Raw)
	}
	if err := e.sim.LockUser(ctx, m.IntID, bot, mod, true); err != nil {
		t.Fatal(err)
	}
	e.waitUser(m.IntID, "Chat Bridge", func(p state.Presence) bool { return p.Locked })
	expect(t, e.send(m.IntID, "Alice", "locked again"), 409, "lock settings")
	if err := e.sim.ChangeRole(ctx, m.IntID, bot, mod, bbbsim.RoleModerator); err != nil {
		t.Fatal(err)
	}
	e.waitUser(m.IntID, "Chat Bridge", func(p state.Presence) bool { return p.Role == bbbsim.RoleModerator })
	expect(t, e.send(m.IntID, "Alice", "as a moderator"), 200, "sent successfully")

	if !strings.HasPrefix(version, "2.") { // 3.0 and later
		// 3.0's per-user lock, on a viewer who is not locked otherwise.
		if err := e.sim.ChangeRole(ctx, m.IntID, bot, mod, bbbsim.RoleViewer); err != nil {
			t.Fatal(err)
		}
		if err := e.sim.ChangeLockSettings(ctx, m.IntID, mod, false); err != nil {
			t.Fatal(err)
		}
		if err := e.sim.SetUserChatLock(ctx, m.IntID, bot, mod, true); err != nil {
			t.Fatal(err)
		}
		e.waitUser(m.IntID, "Chat Bridge", func(p state.Presence) bool {
			return p.PublicChatLocked && p.Role == bbbsim.RoleViewer
		})
		expect(t, e.send(m.IntID, "Alice", "own lock"), 409, "own lock settings")
		msgs := e.sim.Chat(m.IntID)
		expect(t, e.call(callEditMsg, "meeting_id", m.IntID, "message_id", msgs[len(msgs)-1].ID, "message", "x"), 409, "own lock settings")
	}

	// Chat disabled for a whole meeting (2.5+: 2.4 has no disabled features).
	if version == "2.4" {
		if d := e.sim.Dropped(); len(d) != 0 {
			t.Fatalf("BBB dropped messages: %+v", d)
		}
		return
	}
	m2, err := e.sim.CreateMeetingWith(ctx, "ext-nochat-"+version, "No chat", bbbsim.MeetingOptions{DisabledFeatures: []string{"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	e.waitKnown(m2.IntID)
	expect(t, e.call(callStart, "meeting_id", m2.IntID, "chat_user", "Chat Bridge"), 200, "started")
	if _, err := e.sim.Join(ctx, m2.IntID, "Chat Bridge", bbbsim.RoleModerator); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m2.IntID, "Chat Bridge", true)
	expect(t, e.send(m2.IntID, "Alice", "no chat here"), 409, "disabled feature")

	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped messages: %+v", d)
	}
}

// waitState waits until cond holds on the state relay keeps.
func (e *env) waitState(what string, cond func(*state.Store) bool) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, what, func() bool { return cond(e.store) })
}

// waitUser waits until the present user named name satisfies cond.
func (e *env) waitUser(meetingID, name string, cond func(state.Presence) bool) {
	e.t.Helper()
	e.waitState("presence of "+name, func(s *state.Store) bool {
		p, err := s.FindUser(context.Background(), meetingID, name)
		return err == nil && cond(p)
	})
}
