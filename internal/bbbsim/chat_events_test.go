package bbbsim_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
)

// Participants edit, delete, react and pin as akka-apps lets them, in each version's shape (docs/protocol.md §3.7);
// versions without the feature refuse the action and publish nothing.
func TestChatActions(t *testing.T) {
	for _, v := range bbbsim.Versions() {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, v)
			ctx := t.Context()
			mt, err := h.sim.CreateMeeting(ctx, "actions", "Actions")
			if err != nil {
				t.Fatal(err)
			}
			mid := mt.IntID
			h.expectAlsoFrontend(h.expect(mainCh, "MeetingCreatedEvtMsg"))
			alice, _ := h.sim.Join(ctx, mid, "Alice", bbbsim.RoleModerator)
			h.expect(mainCh, "UserJoinedMeetingEvtMsg")
			bob, _ := h.sim.Join(ctx, mid, "Bob", bbbsim.RoleViewer)
			h.expect(mainCh, "UserJoinedMeetingEvtMsg")
			c, err := h.sim.Say(ctx, mid, bob, "hello")
			if err != nil {
				t.Fatal(err)
			}
			h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")

			if is2x(v) {
				for name, err := range map[string]error{
					"edit":   h.sim.EditMessage(ctx, mid, bob, c.ID, "x"),
					"delete": h.sim.DeleteMessage(ctx, mid, alice, c.ID),
					"react":  h.sim.React(ctx, mid, bob, c.ID, "👍"),
					"pin":    h.sim.Pin(ctx, mid, alice, c.ID),
				} {
					if !errors.Is(err, bbbsim.ErrNoFeature) {
						t.Errorf("%s on %s: %v, want ErrNoFeature", name, v, err)
					}
				}
				h.sim.ClearChat(ctx, mid, alice) // the next event must be this one: nothing was published
				h.expect(chatCh, "ClearPublicChatHistoryEvtMsg")
				return
			}

			check := func(p published, name, user string, body []string) M {
				t.Helper()
				assertEnvelope(t, p.m, routingMeeting, headerClient)
				assertKeys(t, p.m, body, "core", "body")
				if str(p.m, "core", "header", "userId") != user || str(p.m, "envelope", "routing", "userId") != user ||
					str(p.m, "core", "body", "messageId") != c.ID || str(p.m, "core", "body", "chatId") != publicChat {
					t.Errorf("%s: %s", name, p.raw)
				}
				return obj(p.m, "core", "body")
			}
			drops := len(h.sim.Dropped())
			wantDrop := func(err error, reason string) {
				t.Helper()
				drops++
				if !errors.Is(err, bbbsim.ErrDropped) || !strings.Contains(err.Error(), reason) {
					t.Errorf("error %v, want a drop naming %q", err, reason)
				}
			}

			// Only the author edits.
			wantDrop(h.sim.EditMessage(ctx, mid, alice, c.ID, "not mine"), "may not edit")
			if err := h.sim.EditMessage(ctx, mid, bob, c.ID, "hello **all**"); err != nil {
				t.Fatal(err)
			}
			editKeys := []string{"chatId", "messageId", "message"}
			if is40(v) {
				editKeys = append(editKeys, "messageAsHtml")
			}
			b := check(h.expect(mainCh, "GroupChatMessageEditedEvtMsg"), "edit", bob, editKeys)
			if b["message"] != "hello **all**" {
				t.Errorf("edit body %v", b)
			}
			if got := h.sim.Chat(mid); len(got) != 1 || got[0].Message != "hello **all**" {
				t.Errorf("chat after edit: %+v", got)
			}

			// Reactions: added, not twice, taken back by who made it.
			if err := h.sim.React(ctx, mid, alice, c.ID, "👍"); err != nil {
				t.Fatal(err)
			}
			b = check(h.expect(mainCh, "GroupChatMessageReactionSentEvtMsg"), "react", alice,
				[]string{"chatId", "messageId", "reactionEmoji"})
			if b["reactionEmoji"] != "👍" {
				t.Errorf("reaction body %v", b)
			}
			wantDrop(h.sim.React(ctx, mid, alice, c.ID, "👍"), "already reacted")
			wantDrop(h.sim.Unreact(ctx, mid, bob, c.ID, "👍"), "has no reaction")
			h.sim.SetLock(mid, true)
			wantDrop(h.sim.React(ctx, mid, bob, c.ID, "🎉"), "locked viewer")
			h.sim.SetLock(mid, false)
			if err := h.sim.Unreact(ctx, mid, alice, c.ID, "👍"); err != nil {
				t.Fatal(err)
			}
			check(h.expect(mainCh, "GroupChatMessageReactionDeletedEvtMsg"), "unreact", alice,
				[]string{"chatId", "messageId", "reactionEmoji"})

			// Pins: 4.0, moderators only, idempotent.
			if is40(v) {
				wantDrop(h.sim.Pin(ctx, mid, bob, c.ID), "may not pin")
				for range 2 {
					if err := h.sim.Pin(ctx, mid, alice, c.ID); err != nil {
						t.Fatal(err)
					}
				}
				check(h.expect(mainCh, "PinGroupChatMessageEvtMsg"), "pin", alice, []string{"chatId", "messageId"})
				if p := h.sim.Pinned(mid); len(p) != 1 || p[0] != c.ID {
					t.Errorf("pinned %v", p)
				}
				if err := h.sim.Unpin(ctx, mid, alice, c.ID); err != nil {
					t.Fatal(err)
				}
				check(h.expect(mainCh, "UnpinGroupChatMessageEvtMsg"), "unpin", alice, []string{"chatId", "messageId"})
			} else if err := h.sim.Pin(ctx, mid, alice, c.ID); !errors.Is(err, bbbsim.ErrNoFeature) {
				t.Errorf("pin on %s: %v", v, err)
			}

			// A viewer deletes only their own; a moderator anyone's.
			c2, err := h.sim.Say(ctx, mid, alice, "second")
			if err != nil {
				t.Fatal(err)
			}
			h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
			wantDrop(h.sim.DeleteMessage(ctx, mid, bob, c2.ID), "may not delete")
			if err := h.sim.DeleteMessage(ctx, mid, alice, c.ID); err != nil {
				t.Fatal(err)
			}
			check(h.expect(mainCh, "GroupChatMessageDeletedEvtMsg"), "delete", alice, []string{"chatId", "messageId"})
			if got := h.sim.Chat(mid); len(got) != 1 || got[0].ID != c2.ID {
				t.Errorf("chat after delete: %+v", got)
			}
			wantDrop(h.sim.EditMessage(ctx, mid, bob, c.ID, "gone"), "is not in chat")
			wantDrop(h.sim.React(ctx, mid, "w_nobody000000", c2.ID, "👍"), "is not in meeting")
			if n := len(h.sim.Dropped()); n != drops {
				t.Errorf("%d drops recorded, want %d", n, drops)
			}
		})
	}
}
