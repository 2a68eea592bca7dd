package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestTwoServersOneNATS: two BBB servers of different versions, each with its relay and ingress, share one NATS
// server. Each relay records the version it inferred under its own BBB_CHAT_SERVER_ID, so neither changes what the
// other's ingress speaks: posts on both reach their chat, and neither BBB drops one.
func TestTwoServersOneNATS(t *testing.T) {
	a := newEnvOn(t, "2.7", false, nil, map[string]string{"BBB_CHAT_SERVER_ID": "bbb-a"})
	b := newEnvOn(t, "3.0", false, a.nats, map[string]string{"BBB_CHAT_SERVER_ID": "bbb-b"})
	ctx := t.Context()
	for _, e := range []struct {
		env    *env
		server string
		want   string
	}{{a, "bbb-a", "2.7"}, {b, "bbb-b", "3.0"}} {
		m, _ := e.env.sim.CreateMeeting(ctx, "room-"+e.server, "Room")
		e.env.waitKnown(m.IntID)
		expect(t, e.env.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")
		if _, err := e.env.sim.Join(ctx, m.IntID, "Bridge", "VIEWER"); err != nil {
			t.Fatal(err)
		}
		e.env.waitPresent(m.IntID, "Bridge", true)
		testenv.Eventually(t, 10*time.Second, e.server+"'s version recorded", func() bool {
			v, err := a.store.GetServerVersion(context.Background(), e.server)
			return err == nil && strings.HasPrefix(v.Version, e.want)
		})
	}
	// Both recorded: each still has its own.
	for _, e := range []struct {
		env    *env
		server string
		want   string
	}{{a, "bbb-a", "2.7"}, {b, "bbb-b", "3.0"}} {
		v, err := a.store.GetServerVersion(ctx, e.server)
		if err != nil || !strings.HasPrefix(v.Version, e.want) {
			t.Fatalf("%s's version %+v, %v; want %s", e.server, v, err, e.want)
		}
		m, _ := e.env.sim.CreateMeeting(ctx, "second-"+e.server, "Second")
		e.env.waitKnown(m.IntID)
		expect(t, e.env.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")
		if _, err := e.env.sim.Join(ctx, m.IntID, "Bridge", "VIEWER"); err != nil {
			t.Fatal(err)
		}
		e.env.waitPresent(m.IntID, "Bridge", true)
		expect(t, e.env.send(m.IntID, "a", "hello from "+e.server), 200, "sent")
		msgs := e.env.waitChat(m.IntID, 1)
		if !strings.Contains(msgs[0].Message, "hello from "+e.server) {
			t.Fatalf("%s's chat got %q", e.server, msgs[0].Message)
		}
		if d := e.env.sim.Dropped(); len(d) != 0 {
			t.Fatalf("%s's BBB dropped: %+v", e.server, d)
		}
	}
}
