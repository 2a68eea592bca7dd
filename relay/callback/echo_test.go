package callback

import (
	"context"
	"errors"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

func TestClassify(t *testing.T) {
	bridge := state.Bridge{MeetingID: "m", ChatUser: "Bridge"}
	present := func(id string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			if id == "" {
				return "", state.ErrNotFound
			}
			return id, nil
		}
	}
	broken := func(context.Context) (string, error) { return "", errors.New("nats down") }
	msg := func(sender, name, corr string) state.Event {
		return state.Event{Type: state.TypeMessage, ChatID: PublicChatID, SenderID: sender, SenderName: name, CorrelationID: corr}
	}
	for _, tc := range []struct {
		name    string
		e       state.Event
		user    func(context.Context) (string, error)
		isEcho  func(state.Event, state.Bridge) bool
		want    skipReason
		wantErr bool
	}{
		{"viewer message goes", msg("w_a", "Alice", "w_a-1730000000000"), present("w_bot"), nil, skipNone, false},
		{"private chat never goes", state.Event{Type: state.TypeMessage, ChatID: "1698771400005-ab12cd34", SenderID: "w_a"},
			present(""), nil, skipPrivate, false},
		{"(a) the present chat user's post", msg("w_bot", "Bridge", "anything"), present("w_bot"), nil, skipEcho, false},
		{"(a) another user named like the chat user goes", msg("w_twin", "Bridge", "anything"), present("w_bot"), nil, skipNone, false},
		{"(b) chat user left, client correlation id and its name", msg("w_old", "Bridge", "w_old-1730000000000"),
			present(""), nil, skipEcho, false},
		{"(b) needs the name", msg("w_old", "Alice", "w_old-1730000000000"), present(""), nil, skipNone, false},
		{"(b) needs the sender's own id in the correlation", msg("w_old", "Bridge", "w_other-1730000000000"),
			present(""), nil, skipNone, false},
		{"(b) needs digits after the id", msg("w_old", "Bridge", "w_old-abc"), present(""), nil, skipNone, false},
		{"API post under the chat user's name still goes", msg("SYSTEM", "Bridge", "SYSTEM"), present("w_bot"), nil, skipNone, false},
		{"API post goes", msg("SYSTEM", "Carol", "SYSTEM"), present(""), nil, skipNone, false},
		{"(c) hook recognises an API post", msg("SYSTEM", "Carol", "SYSTEM"), present(""),
			func(e state.Event, b state.Bridge) bool { return e.SenderName == "Carol" && b.MeetingID == "m" }, skipEcho, false},
		{"lookup failure: sent, error reported", msg("w_a", "Bridge", "w_a-x"), broken, nil, skipNone, true},
		{"other senders need no lookup", msg("w_a", "Alice", "w_a-1"), broken, nil, skipNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := classify(t.Context(), tc.e, bridge, tc.user, tc.isEcho)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("classify = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
