package callback

import (
	"path/filepath"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// TestRoomMeetingBodies: a bridge that follows its room hears of each meeting's start and end, with the kind in
// type and the room and meeting ids; a bridge of one meeting gets no start and its end as before.
func TestRoomMeetingBodies(t *testing.T) {
	followed := state.Bridge{MeetingID: "int-2", ExternalID: "weekly", RequestedID: "weekly", ChatUser: "Bridge",
		CallbackURI: "https://example.org/hook", CallbackSecret: "s3cret", FollowRoom: true,
		CallbackEvents: []string{state.TypeMeetingEnded}}
	const unix = 1764072000
	for _, tc := range []struct {
		name  string
		event state.Event
		call  string
	}{
		{"room meeting started", state.Event{Type: state.TypeMeetingCreated, ID: "meeting.created-1", MeetingID: "int-2",
			ExternalMeetingID: "weekly", Timestamp: 1730000000000}, state.TypeMeetingCreated},
		{"room meeting ended", state.Event{Type: state.TypeMeetingEnded, ID: "ended-int-2", MeetingID: "int-2",
			Timestamp: 1730000009000}, state.TypeMeetingEnded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call, body, err := Body(tc.event, followed, unix)
			if err != nil || call != tc.call {
				t.Fatalf("Body = %q, %v; want call %q", call, err, tc.call)
			}
			v := checkBodyChecksum(t, call, body, followed.CallbackSecret, unix)
			for key, want := range map[string]string{"type": tc.call, "meeting_id": "weekly", "external_meeting_id": "weekly", "internal_meeting_id": "int-2"} {
				got, _ := v.Lookup(key)
				if s, _ := got.Str(); s != want {
					t.Errorf("%s = %q, want %q", key, s, want)
				}
			}
			testenv.Golden(t, filepath.Join("testdata", "golden", tc.name+".json"), append(body, '\n'), *update)
		})
	}
	if !followed.Wants(state.TypeMeetingCreated) {
		t.Error("a followed room's bridge does not want its meetings' starts")
	}
	one := followed
	one.FollowRoom = false
	if one.Wants(state.TypeMeetingCreated) {
		t.Error("a one-meeting bridge wants its meeting's start")
	}
	_, body, err := Body(state.Event{Type: state.TypeMeetingEnded, ID: "e", MeetingID: "int-2", Timestamp: 1}, one, unix)
	if err != nil {
		t.Fatal(err)
	}
	if v := checkBodyChecksum(t, state.TypeMeetingEnded, body, one.CallbackSecret, unix); len(v.Members()) != 4 {
		t.Errorf("a one-meeting bridge's end changed: %s", body)
	}
}
