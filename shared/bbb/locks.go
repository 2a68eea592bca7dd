package bbb

import (
	"bytes"
	"encoding/json"
)

// What keeps a user out of the public chat, as akka-apps decides it (docs/protocol.md §3.3 items 3 and 4, §9):
// the meeting's lock settings, a user's locked flag and role, a user's own lock settings (3.0), and the meeting's
// disabled features. Relay forwards these events so that ingress can refuse a post BBB would drop.
const (
	// KindMeetingLocks is LockSettingsInMeetingChangedEvtMsg: Locks.PublicChatLocked is disablePubChat, which
	// applies to locked viewers.
	KindMeetingLocks Kind = 100 + iota
	// KindUserLocked is UserLockedInMeetingEvtMsg: Locks.UserID is locked (Locks.Locked) or unlocked.
	KindUserLocked
	// KindUserLocks is 3.0's UserLockSettingsInMeetingChangedEvtMsg: the user's own disablePubChat
	// (Locks.PublicChatLocked), which applies to a viewer whether locked or not.
	KindUserLocks
	// KindUserRole is UserRoleChangedEvtMsg: Locks.UserID now has Locks.Role (moderators are never locked).
	KindUserRole
)

// lockNames maps the names of the lock events to their kind.
var lockNames = map[string]Kind{
	"LockSettingsInMeetingChangedEvtMsg":     KindMeetingLocks,
	"UserLockedInMeetingEvtMsg":              KindUserLocked,
	"UserLockSettingsInMeetingChangedEvtMsg": KindUserLocks,
	"UserRoleChangedEvtMsg":                  KindUserRole,
}

// lockKindName is the log name of a lock kind.
func lockKindName(k Kind) (string, bool) {
	switch k {
	case KindMeetingLocks:
		return "meeting-locks", true
	case KindUserLocked:
		return "user-locked", true
	case KindUserLocks:
		return "user-locks", true
	case KindUserRole:
		return "user-role", true
	}
	return "", false
}

// Locks is what a lock event says (Event.Locks).
type Locks struct {
	UserID           string // the user concerned; "" for the meeting's settings
	Locked           bool   // KindUserLocked
	PublicChatLocked bool   // KindMeetingLocks, KindUserLocks
	Role             string // KindUserRole
	By               string // who changed it, when said
}

// wireLockBody has the body fields of every lock event; each is read leniently (a field of another type is
// ignored rather than failing the event), except the ones the kind needs.
type wireLockBody struct {
	UserID         *string         `json:"userId"`
	Locked         *bool           `json:"locked"`
	DisablePubChat *bool           `json:"disablePubChat"`
	Role           *string         `json:"role"`
	SetBy          json.RawMessage `json:"setBy"`
	LockedBy       json.RawMessage `json:"lockedBy"`
	ChangedBy      json.RawMessage `json:"changedBy"`
}

// mayBeLockEvent reports, without decoding, whether raw names a lock event anywhere.
func mayBeLockEvent(raw []byte) bool {
	if !bytes.Contains(raw, []byte("Lock")) && !bytes.Contains(raw, []byte("RoleChanged")) {
		return false
	}
	for n := range lockNames {
		if bytes.Contains(raw, []byte(n)) {
			return true
		}
	}
	return false
}

// decodeLocks decodes raw when it is a lock event (ok true, with the decoding's error); ok is false for any other
// message, which Decode then decodes as usual.
func decodeLocks(raw []byte) (e Event, ok bool, err error) {
	if len(raw) > MaxMessageSize || !mayBeLockEvent(raw) {
		return Event{}, false, nil
	}
	var w wireMsg[json.RawMessage]
	if json.Unmarshal(raw, &w) != nil {
		return Event{}, false, nil
	}
	e, err = decodeEnvelope(w.Envelope, w.Core)
	if err != nil {
		return Event{}, false, nil
	}
	kind, isLock := lockNames[e.Name]
	if !isLock {
		return Event{}, false, nil
	}
	e.Kind = kind
	if err := requireHeaderMeeting(&e, w.Core.Header); err != nil {
		return Event{}, true, err
	}
	body := w.Core.Body
	if len(body) == 0 || bytes.Equal(body, []byte("null")) {
		return Event{}, true, malformed(e.Name, "core.body", errMissing)
	}
	var b wireLockBody
	if err := json.Unmarshal(body, &b); err != nil {
		return Event{}, true, malformed(e.Name, "core.body", err)
	}
	l := &Locks{}
	need := func(field string, ok bool) error {
		if !ok {
			return malformed(e.Name, "core.body."+field, errMissing)
		}
		return nil
	}
	switch kind {
	case KindMeetingLocks:
		err = need("disablePubChat", b.DisablePubChat != nil)
		if err == nil {
			l.PublicChatLocked, l.By = *b.DisablePubChat, rawString(b.SetBy)
		}
	case KindUserLocked:
		err = need("locked", b.Locked != nil)
		if err == nil {
			l.Locked, l.By = *b.Locked, rawString(b.LockedBy)
		}
	case KindUserLocks:
		err = need("disablePubChat", b.DisablePubChat != nil)
		if err == nil {
			l.PublicChatLocked, l.By = *b.DisablePubChat, rawString(b.SetBy)
		}
	case KindUserRole:
		err = need("role", b.Role != nil && *b.Role != "")
		if err == nil {
			l.Role, l.By = *b.Role, rawString(b.ChangedBy)
		}
	}
	if err == nil && kind != KindMeetingLocks {
		l.UserID, err = requireID(e.Name, "core.body.userId", b.UserID)
	}
	if err != nil {
		return Event{}, true, err
	}
	e.Locks = l
	return e, true, nil
}

// rawString is a JSON string's value, "" for anything else.
func rawString(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) != nil {
		return ""
	}
	return s
}

// meetingLocks reads what MeetingCreatedEvtMsg says about chat locks: lockSettingsProps.disablePublicChat and
// meetingProp.disabledFeatures (2.5+), leniently (a value of another type counts as absent).
func meetingLocks(lockProps, disabled json.RawMessage) (publicChatLocked bool, features []string) {
	var lp struct {
		DisablePublicChat bool `json:"disablePublicChat"`
	}
	if json.Unmarshal(lockProps, &lp) == nil {
		publicChatLocked = lp.DisablePublicChat
	}
	var fs []any
	if json.Unmarshal(disabled, &fs) == nil {
		for _, f := range fs {
			if s, ok := f.(string); ok && s != "" {
				features = append(features, s)
			}
		}
	}
	return publicChatLocked, features
}
