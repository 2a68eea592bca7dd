package viewer

import (
	"encoding/json"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    state.Event
		want string // "" when not shown
	}{
		{"public message", state.Event{Type: state.TypeMessage, ID: "m1", MessageID: "m1", ChatID: "MAIN-PUBLIC-GROUP-CHAT",
			SenderName: "Ann <b>", SenderRole: "VIEWER", SenderID: "w_1", Text: "<i>hi</i>", Timestamp: 5},
			"id: 7\nevent: message\ndata: {\"type\":\"message\",\"message_id\":\"m1\",\"name\":\"Ann \\u003cb\\u003e\",\"role\":\"VIEWER\",\"text\":\"\\u003ci\\u003ehi\\u003c/i\\u003e\",\"timestamp\":5}\n\n"},
		{"private message", state.Event{Type: state.TypeMessage, ChatID: "private-1", Text: "secret"}, ""},
		{"edit", state.Event{Type: state.TypeMessageEdited, MessageID: "m1", ChatID: "MAIN-PUBLIC-GROUP-CHAT", Text: "new"},
			"id: 7\nevent: message.edited\ndata: {\"type\":\"message.edited\",\"message_id\":\"m1\",\"text\":\"new\"}\n\n"},
		{"delete", state.Event{Type: state.TypeMessageDeleted, MessageID: "m1"},
			"id: 7\nevent: message.deleted\ndata: {\"type\":\"message.deleted\",\"message_id\":\"m1\"}\n\n"},
		{"reaction", state.Event{Type: state.TypeReactionAdded, MessageID: "m1", Emoji: "👍"},
			"id: 7\nevent: reaction.added\ndata: {\"type\":\"reaction.added\",\"message_id\":\"m1\",\"emoji\":\"👍\"}\n\n"},
		{"private reaction", state.Event{Type: state.TypeReactionRemoved, MessageID: "m1", ChatID: "p", Emoji: "👍"}, ""},
		{"cleared", state.Event{Type: state.TypeCleared, ChatID: "MAIN-PUBLIC-GROUP-CHAT"},
			"id: 7\nevent: cleared\ndata: {\"type\":\"cleared\"}\n\n"},
		{"ended", state.Event{Type: state.TypeMeetingEnded},
			"id: 7\nevent: meeting.ended\ndata: {\"type\":\"meeting.ended\"}\n\n"},
		{"presence", state.Event{Type: state.TypeUserJoined, UserName: "Bob"}, ""},
		{"pin", state.Event{Type: state.TypeMessagePinned, MessageID: "m1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload, err := json.Marshal(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := render(7, payload)
			if ok != (tc.want != "") || string(got) != tc.want {
				t.Fatalf("render = %q, %v\nwant %q", got, ok, tc.want)
			}
		})
	}
	if _, ok := render(1, []byte("not json")); ok {
		t.Fatal("rendered a payload that is not an event")
	}
}

func TestHubSince(t *testing.T) {
	h := &hub{wake: make(chan struct{})}
	for seq := uint64(1); seq <= 10; seq++ {
		h.append(frame{seq: seq * 2}, 6)
	}
	// Appending 10 frames with room for 6 drops the oldest in halves: 3 or more are left, never a gap.
	fs, _, _, behind := h.since(0)
	if behind == 0 || fs != nil {
		t.Fatalf("since(0) behind=%d, want the viewer sent to the stream", behind)
	}
	fs, wake, _, behind := h.since(behind)
	if behind != 0 || len(fs) == 0 || fs[0].seq != h.trimmed+2 || fs[len(fs)-1].seq != 20 {
		t.Fatalf("since(trimmed) = %v behind %d (trimmed %d)", fs, behind, h.trimmed)
	}
	if fs, _, _, _ := h.since(20); len(fs) != 0 {
		t.Fatalf("since(last) = %v", fs)
	}
	if fs, _, _, _ := h.since(15); len(fs) == 0 || fs[0].seq != 16 {
		t.Fatalf("since(15) = %v", fs)
	}
	h.append(frame{seq: 22}, 6)
	select {
	case <-wake:
	default:
		t.Fatal("an append did not wake the viewers")
	}
}
