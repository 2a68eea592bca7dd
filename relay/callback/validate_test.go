package callback

import (
	"errors"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

func TestCheckEvent(t *testing.T) {
	const m = "meeting-1"
	msg := state.Event{Type: state.TypeMessage, ID: "1-a", MeetingID: m, ChatID: PublicChatID, MessageID: "1-a", SenderID: "w_1"}
	ended := state.Event{Type: state.TypeMeetingEnded, ID: "end-1", MeetingID: m}
	gap := state.Event{Type: state.TypeGap, ID: "gap-1", Server: "bbb.example.org", From: 1, To: 2}
	with := func(e state.Event, change func(*state.Event)) state.Event { change(&e); return e }
	cases := []struct {
		name    string
		e       state.Event
		subject string
		size    int
		bad     string // "" when the event is fine
	}{
		{"message", msg, state.EventSubject(m, state.TypeMessage), 300, ""},
		{"meeting ended", ended, state.EventSubject(m, state.TypeMeetingEnded), 100, ""},
		{"cleared", state.Event{Type: state.TypeCleared, ID: "c", MeetingID: m}, state.EventSubject(m, state.TypeCleared), 100, ""},
		{"retried message", msg, state.RetrySubject(m), 300, ""},
		{"gap", gap, state.SubjectGap, 100, ""},
		{"retried gap", gap, state.RetrySubject(m), 100, ""},
		{"message on the gap subject", msg, state.SubjectGap, 300, "not this bridge's"},
		{"gap without id", with(gap, func(e *state.Event) { e.ID = "" }), state.SubjectGap, 100, "without id or window"},
		{"gap without window", with(gap, func(e *state.Event) { e.To = 0 }), state.SubjectGap, 100, "without id or window"},
		{"a meeting's gap", with(gap, func(e *state.Event) { e.MeetingID = m }), state.SubjectGap, 100, "not this bridge's"},
		{"reaction", state.Event{Type: state.TypeReactionAdded, ID: "r", MeetingID: m}, state.EventSubject(m, state.TypeReactionAdded), 100, ""},
		{"too big", msg, state.EventSubject(m, state.TypeMessage), MaxEventBytes + 1, "bytes"},
		{"another meeting's payload", with(msg, func(e *state.Event) { e.MeetingID = "other" }), state.EventSubject(m, state.TypeMessage), 300, "for meeting"},
		{"another meeting's subject", msg, state.EventSubject("other", state.TypeMessage), 300, "not this bridge's"},
		{"not an event subject", msg, "elsewhere.x", 300, "not this bridge's"},
		{"end on the message subject", ended, state.EventSubject(m, state.TypeMessage), 100, "type"},
		{"no type", with(msg, func(e *state.Event) { e.Type = "" }), state.EventSubject(m, state.TypeMessage), 300, "type"},
		{"no id", with(msg, func(e *state.Event) { e.ID = "" }), state.EventSubject(m, state.TypeMessage), 300, "no id"},
		{"no chat id", with(msg, func(e *state.Event) { e.ChatID = "" }), state.EventSubject(m, state.TypeMessage), 300, "chat or sender"},
		{"no sender", with(msg, func(e *state.Event) { e.SenderID = "" }), state.EventSubject(m, state.TypeMessage), 300, "chat or sender"},
		{"long meeting id is cut", with(msg, func(e *state.Event) { e.MeetingID = strings.Repeat("x", 5000) }), state.EventSubject(m, state.TypeMessage), 300, "…"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkEvent(tc.e, tc.subject, tc.size, m)
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.bad != "" && (!errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tc.bad)):
				t.Fatalf("got %v; want a malformed error with %q", err, tc.bad)
			case err != nil && len(err.Error()) > 300:
				t.Fatalf("error too long: %d bytes", len(err.Error()))
			}
		})
	}
}
