package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// TestFollowRoomParam: follow_room is a JSON boolean; absent and null are false, anything else is refused with
// the parameter's name.
func TestFollowRoomParam(t *testing.T) {
	for _, tc := range []struct {
		name, member string
		want         bool
		err          string
	}{
		{"absent", ``, false, ""},
		{"null", `, "follow_room": null`, false, ""},
		{"true", `, "follow_room": true`, true, ""},
		{"false", `, "follow_room": false`, false, ""},
		{"string", `, "follow_room": "true"`, false, "Parameter follow_room must be true or false, not string."},
		{"number", `, "follow_room": 1`, false, "Parameter follow_room must be true or false, not int."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pyjson.Parse([]byte(`{"meeting_id": "weekly", "chat_user": "Bot"` + tc.member + `}`))
			if err != nil {
				t.Fatal(err)
			}
			r, err := decodeRequest(callStart, p, "")
			if tc.err != "" {
				status, msg := statusOf(err)
				if status != http.StatusBadRequest || !strings.Contains(msg, tc.err) {
					t.Fatalf("got %d %q; want 400 with %q", status, msg, tc.err)
				}
				return
			}
			if err != nil || r.followRoom != tc.want {
				t.Fatalf("follow_room %v, %v; want %v", r.followRoom, err, tc.want)
			}
		})
	}
}

// TestNoChatAnswers: the answers for a chat that is not there say why, from the one error table.
func TestNoChatAnswers(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		msg    string
	}{
		{withDetail(errMeetingEnded, "the meeting ended at %s", "2026-12-06T10:00:00Z"), 404, "Chat was not found: the meeting ended at 2026-12-06T10:00:00Z"},
		{withDetail(errRoomWaiting, "room %q; the chat starts with its next meeting", "weekly"), 404, `The chat follows a room whose meeting is not running: room "weekly"; the chat starts with its next meeting`},
		{errChatNotFound, 404, "Chat was not found"},
	} {
		if status, msg := statusOf(tc.err); status != tc.status || msg != tc.msg {
			t.Errorf("%v: %d %q; want %d %q", tc.err, status, msg, tc.status, tc.msg)
		}
	}
}
