package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbmsg"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// chatAction is a BBB 4.0 event about message msgID of the public chat of meeting, by user (docs/protocol.md
// §3.7), with the body fields extra after chatId and messageId.
func chatAction(t *testing.T, name, meeting, user, msgID string, ts int64, extra ...any) []byte {
	t.Helper()
	body := []any{"chatId", bbb.PublicChatID, "messageId", msgID}
	return bbbmsg.JSON(t, obj{
		"envelope": obj{"name": name, "routing": obj{"msgType": "BROADCAST_TO_MEETING", "meetingId": meeting, "userId": user}, "timestamp": ts},
		"core":     obj{"header": obj{"name": name, "meetingId": meeting, "userId": user}, "body": pairs(append(body, extra...))},
	})
}

type obj = map[string]any

func pairs(kv []any) obj {
	o := obj{}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i].(string)] = kv[i+1]
	}
	return o
}

// Edits, deletes, reactions and pins reach the stream on their subjects, carrying who acted by id and name: a
// relay started after the user joined takes the name from the presence bucket. With two relays each is stored once.
func TestChatActions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	env := w.env(t)
	env["BBB_CHAT_BBB_VERSION"] = "4.0"
	r1 := startRelay(t, env)
	r1.waitReady(t)
	nc, s := connect(t, testenv.NATSURL(w.nats))
	ctx := t.Context()

	const meeting = "6c1e0a9d3b2f4e5a6b7c8d9e0f1a2b3c4d5e6f7a-1760000000000"
	const msgID = "1760000000120-k3j9x0ab"
	w.publish(t, bbb.ChannelFromAkka,
		bbbmsg.UserJoined(t, meeting, "w_alice0000001", "Alice", 1760000000000),
		bbbmsg.Chat(t, meeting, msgID, "w_alice0000001", "hello", 1760000000120))
	waitEvents(t, nc, 2)
	testenv.Eventually(t, 10*time.Second, "Alice present", func() bool {
		_, err := s.PresentUser(ctx, meeting, "w_alice0000001")
		return err == nil
	})

	// The relay that saw the join goes; a new one never saw it.
	r1.Kill()
	env2 := w.env(t)
	env2["BBB_CHAT_BBB_VERSION"] = "4.0"
	r2 := startRelay(t, env2)
	r2.waitReady(t)

	w.publish(t, bbb.ChannelFromAkka,
		chatAction(t, "GroupChatMessageEditedEvtMsg", meeting, "w_alice0000001", msgID, 1760000060000,
			"message", "hello **everyone**", "messageAsHtml", "<p>hello <strong>everyone</strong></p>"),
		chatAction(t, "GroupChatMessageReactionSentEvtMsg", meeting, "w_alice0000001", msgID, 1760000070000,
			"reactionEmoji", "👍", "reactionEmojiId", "+1"),
		chatAction(t, "GroupChatMessageReactionDeletedEvtMsg", meeting, "w_alice0000001", msgID, 1760000080000,
			"reactionEmoji", "👍", "reactionEmojiId", "+1"),
		chatAction(t, "PinGroupChatMessageEvtMsg", meeting, "w_alice0000001", msgID, 1760000090000),
		chatAction(t, "UnpinGroupChatMessageEvtMsg", meeting, "w_alice0000001", msgID, 1760000100000),
	)
	waitEvents(t, nc, 7)

	// Two relays: the delete, by a user neither saw (no name), is stored once.
	env3 := w.env(t)
	env3["BBB_CHAT_BBB_VERSION"] = "4.0"
	r3 := startRelay(t, env3)
	r3.waitReady(t)
	w.publish(t, bbb.ChannelFromAkka,
		chatAction(t, "GroupChatMessageDeletedEvtMsg", meeting, "w_moderator001", msgID, 1760000110000))
	for _, r := range []*relayProc{r2, r3} {
		r.waitMetric(t, `bbbchat_relay_redis_events_total{name="GroupChatMessageDeletedEvtMsg"}`,
			func(v float64) bool { return v == 1 })
	}
	got := waitEvents(t, nc, 8)
	wantTypes := []string{state.TypeUserJoined, state.TypeMessage, state.TypeMessageEdited, state.TypeReactionAdded,
		state.TypeReactionRemoved, state.TypeMessagePinned, state.TypeMessageUnpinned, state.TypeMessageDeleted}
	for i, g := range got {
		e := g.event(t)
		if e.Type != wantTypes[i] || g.Subject != state.EventSubject(meeting, e.Type) {
			t.Fatalf("event %d is %s on %s, want %s", i, e.Type, g.Subject, wantTypes[i])
		}
		if i >= 2 && i < 7 && (e.UserName != "Alice" || e.UserID != "w_alice0000001") {
			t.Errorf("event %d: who acted is %q %q, want Alice", i, e.UserID, e.UserName)
		}
	}
	golden(t, filepath.Join("testdata", "chat-actions-4.0.golden.json"), got[2:])
}
