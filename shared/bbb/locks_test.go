package bbb

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestDecodeLocks(t *testing.T) {
	const env = `{"envelope":{"name":"%s","routing":{"msgType":"BROADCAST_TO_MEETING","meetingId":"` + m30 + `","userId":"w_mod"},"timestamp":1730000000500},"core":{"header":{"name":"%s","meetingId":"` + m30 + `","userId":"w_mod"},"body":%s}}`
	msg := func(name, body string) string {
		return sprintf(env, name, name, body)
	}
	cases := []struct {
		name, raw string
		kind      Kind
		want      Locks
	}{
		{"2.4 meeting locks", msg("LockSettingsInMeetingChangedEvtMsg", `{"disableCam":false,"disableMic":false,"disablePrivChat":false,"disablePubChat":true,"lockedLayout":false,"lockOnJoin":true,"lockOnJoinConfigurable":false,"setBy":"w_mod"}`),
			KindMeetingLocks, Locks{PublicChatLocked: true, By: "w_mod"}},
		{"3.0 meeting locks", msg("LockSettingsInMeetingChangedEvtMsg", `{"disableCam":false,"disableMic":false,"disablePrivChat":false,"disablePubChat":false,"disableNotes":false,"hideUserList":false,"lockOnJoin":true,"lockOnJoinConfigurable":false,"hideViewersCursor":false,"hideViewersAnnotation":false,"setBy":"w_mod"}`),
			KindMeetingLocks, Locks{By: "w_mod"}},
		{"user locked", msg("UserLockedInMeetingEvtMsg", `{"userId":"w_bot","locked":true,"lockedBy":"w_mod"}`),
			KindUserLocked, Locks{UserID: "w_bot", Locked: true, By: "w_mod"}},
		{"user unlocked, unknown field", msg("UserLockedInMeetingEvtMsg", `{"userId":"w_bot","locked":false,"lockedBy":7,"extra":[1]}`),
			KindUserLocked, Locks{UserID: "w_bot"}},
		{"3.0 own lock", msg("UserLockSettingsInMeetingChangedEvtMsg", `{"userId":"w_bot","disablePubChat":true,"setBy":"w_mod"}`),
			KindUserLocks, Locks{UserID: "w_bot", PublicChatLocked: true, By: "w_mod"}},
		{"role", msg("UserRoleChangedEvtMsg", `{"userId":"w_bot","role":"MODERATOR","changedBy":"w_mod"}`),
			KindUserRole, Locks{UserID: "w_bot", Role: "MODERATOR", By: "w_mod"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Decode([]byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != c.kind || e.MeetingID != m30 || e.Locks == nil || !reflect.DeepEqual(*e.Locks, c.want) {
				t.Fatalf("got %v %s %+v; want %v %+v", e.Kind, e.MeetingID, e.Locks, c.kind, c.want)
			}
			if _, skip := SkipName([]byte(c.raw)); skip {
				t.Fatal("SkipName skips a lock event")
			}
		})
	}
	for name, raw := range map[string]string{
		"no disablePubChat": msg("LockSettingsInMeetingChangedEvtMsg", `{"setBy":"w_mod"}`),
		"no userId":         msg("UserLockedInMeetingEvtMsg", `{"locked":true}`),
		"empty role":        msg("UserRoleChangedEvtMsg", `{"userId":"w","role":""}`),
		"null body":         msg("UserLockedInMeetingEvtMsg", `null`),
		"wrong type":        msg("UserLockedInMeetingEvtMsg", `{"userId":"w","locked":"yes"}`),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode([]byte(raw)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v; want ErrMalformed", err)
			}
		})
	}
	// A message that only mentions a lock event's name is not one.
	other := msg("PresenterAssignedEvtMsg", `{"note":"UserLockedInMeetingEvtMsg"}`)
	if e, err := Decode([]byte(other)); err != nil || e.Kind != KindOther {
		t.Fatalf("got %v, %v; want KindOther", e.Kind, err)
	}
}

func TestMeetingCreatedLocks(t *testing.T) {
	raw := `{"envelope":{"name":"MeetingCreatedEvtMsg","routing":{"sender":"bbb-apps-akka"},"timestamp":1},"core":{"header":{"name":"MeetingCreatedEvtMsg"},"body":{"props":{"meetingProp":{"name":"n","extId":"e","intId":"i","isBreakout":false,"disabledFeatures":["chat","polls"]},"lockSettingsProps":{"disablePublicChat":true},"durationProps":{"createdTime":5}}}}}`
	e, err := Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !e.Meeting.PublicChatLocked || !reflect.DeepEqual(e.Meeting.DisabledFeatures, []string{"chat", "polls"}) {
		t.Fatalf("got %+v", e.Meeting)
	}
	// Values of another type are ignored, not fatal.
	raw = `{"envelope":{"name":"MeetingCreatedEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"MeetingCreatedEvtMsg"},"body":{"props":{"meetingProp":{"extId":"e","intId":"i","disabledFeatures":"chat"},"lockSettingsProps":[]}}}}`
	if e, err = Decode([]byte(raw)); err != nil || e.Meeting.PublicChatLocked || e.Meeting.DisabledFeatures != nil {
		t.Fatalf("got %+v, %v", e.Meeting, err)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// FuzzDecodeLocks feeds lock events and their variants to Decode: it never panics, and a lock event it accepts
// has its meeting and what it says.
func FuzzDecodeLocks(f *testing.F) {
	const env = `{"envelope":{"name":"%s","routing":{},"timestamp":1},"core":{"header":{"name":"%s","meetingId":"m","userId":"u"},"body":%s}}`
	for name, body := range map[string]string{
		"LockSettingsInMeetingChangedEvtMsg":     `{"disablePubChat":true,"setBy":"u"}`,
		"UserLockedInMeetingEvtMsg":              `{"userId":"w","locked":true,"lockedBy":"u"}`,
		"UserLockSettingsInMeetingChangedEvtMsg": `{"userId":"w","disablePubChat":false,"setBy":"u"}`,
		"UserRoleChangedEvtMsg":                  `{"userId":"w","role":"MODERATOR","changedBy":"u"}`,
	} {
		f.Add([]byte(fmt.Sprintf(env, name, name, body)))
		f.Add([]byte(fmt.Sprintf(env, name, "", `{}`)))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Decode(raw)
		if err != nil {
			return
		}
		if _, isLock := lockKindName(e.Kind); isLock && (e.Locks == nil || e.MeetingID == "") {
			t.Fatalf("lock event without what it says: %+v", e)
		}
	})
}
