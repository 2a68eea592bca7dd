package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// TestCallbackEventsParam: callback_events takes the kinds (a list or a comma-separated string), "all" and the
// first spellings; an unknown kind is a 400 that names it.
func TestCallbackEventsParam(t *testing.T) {
	base := `{"meeting_id": "m", "chat_user": "Bot", "callback_uri": "https://example.org/cb", "callback_secret": "s"`
	for _, tc := range []struct {
		name, events string // events: the JSON value of callback_events
		want         []string
		errHas       string
	}{
		{"absent", "", nil, ""},
		{"list", `["cleared", "user.joined", "reaction.added"]`, []string{"cleared", "user.joined", "reaction.added"}, ""},
		{"string", `"message.edited, message.deleted"`, []string{"message.edited", "message.deleted"}, ""},
		{"first spellings", `"sendChatMessage,chatCleared,meetingEnded"`, []string{"chatCleared", "meetingEnded"}, ""},
		{"all", `["all"]`, []string{"all"}, ""},
		{"gap and transcript", `["gap", "transcript"]`, []string{"gap", "transcript"}, ""},
		{"unknown", `["cleared", "reactions"]`, nil, `has "reactions", which is not a callback kind; allowed are message, cleared, user.joined`},
		{"not strings", `[1]`, nil, "must be a list of strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := base
			if tc.events != "" {
				body += `, "callback_events": ` + tc.events
			}
			p, err := pyjson.Parse([]byte(body + "}"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := decodeRequest(callStart, p, "")
			if tc.errHas != "" {
				status, msg := statusOf(err)
				if status != 400 || !strings.Contains(msg, tc.errHas) {
					t.Fatalf("answer %d %q; want 400 with %q", status, msg, tc.errHas)
				}
				return
			}
			if err != nil || !slices.Equal(r.callbackEvents, tc.want) {
				t.Fatalf("callback_events %q, %v; want %q", r.callbackEvents, err, tc.want)
			}
		})
	}
}
