package bbbsim

import (
	"context"
	"fmt"
	"sort"
)

// MeetingOptions are a created meeting's settings beyond its ids (CreateMeetingWith).
type MeetingOptions struct {
	// DisabledFeatures is bbb-web's disabledFeatures (2.5+; ignored before), e.g. "chat", "editChatMessage",
	// "deleteChatMessage". akka-apps drops every public chat post of a meeting whose disabled features include chat.
	DisabledFeatures []string
	// ParentID makes the meeting a breakout room of that meeting (isBreakout true), where even moderators may not
	// delete others' messages.
	ParentID string
}

func (o MeetingOptions) apply(v ver, m *meeting) {
	if v >= v25 && len(o.DisabledFeatures) > 0 {
		m.disabled = map[string]bool{}
		for _, f := range o.DisabledFeatures {
			m.disabled[f] = true
		}
	}
	if o.ParentID != "" {
		m.isBreakout, m.parent = true, o.ParentID
	}
}

// disabledList is disabledFeatures as MeetingCreatedEvtMsg carries it, sorted.
func (m *meeting) disabledList() []string {
	out := []string{}
	for f := range m.disabled {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// parentID is breakoutProps.parentId: the parent's id, or "bbb-none".
func (m *meeting) parentID() string {
	if m.parent == "" {
		return "bbb-none"
	}
	return m.parent
}

// chatLockedFor says why the locks keep user u out of the public chat ("" when they do not): a locked viewer
// under the meeting's "no public chat" lock, or (3.0+) a viewer whose own lock settings disable public chat
// (docs/protocol.md §3.3 item 4). Moderators are never locked.
func (m *meeting) chatLockedFor(u *user) string {
	if u.Role == RoleModerator {
		return ""
	}
	if u.Locked && m.lockPublicChat {
		return fmt.Sprintf("sender %s is a locked viewer and the meeting's lock settings disable public chat", u.ID)
	}
	if m.userNoPubChat[u.ID] {
		return fmt.Sprintf("sender %s is a viewer whose own lock settings disable public chat", u.ID)
	}
	return ""
}

// ChangeLockSettings changes the meeting's lock setting disablePublicChat as a moderator setBy would, and
// publishes LockSettingsInMeetingChangedEvtMsg in the version's shape. (SetLock changes it without an event.)
func (s *Sim) ChangeLockSettings(ctx context.Context, meetingID, setBy string, disablePublicChat bool) error {
	return s.act(ctx, meetingID, "", func(m *meeting) (outcome, error) {
		m.lockPublicChat = disablePublicChat
		return outcome{outs: lockSettingsChanged(s.v, m, setBy, s.nowMs()), events: []Event{{Kind: EventLockChanged,
			MeetingID: meetingID, UserID: setBy, Text: fmt.Sprintf("public chat locked for viewers: %v", disablePublicChat)}}}, nil
	})
}

// LockUser locks or unlocks a joined user as a moderator lockedBy would, and publishes UserLockedInMeetingEvtMsg.
func (s *Sim) LockUser(ctx context.Context, meetingID, userID, lockedBy string, locked bool) error {
	return s.actOnUser(ctx, meetingID, userID, func(_ *meeting, u *user) outcome {
		u.Locked = locked
		return lockChange("UserLockedInMeetingEvtMsg", meetingID, userID, userID,
			o("userId", userID, "locked", locked, "lockedBy", lockedBy), s.nowMs(), fmt.Sprintf("%s locked: %v", userID, locked))
	})
}

// actOnUser is act on a user joined to the running meeting (ErrNoUser when userID is not).
func (s *Sim) actOnUser(ctx context.Context, meetingID, userID string, change func(*meeting, *user) outcome) error {
	return s.act(ctx, meetingID, "", func(m *meeting) (outcome, error) {
		u := m.findUser(userID)
		if u == nil {
			return outcome{}, fmt.Errorf("%w: %s", ErrNoUser, userID)
		}
		return change(m, u), nil
	})
}

// SetUserChatLock sets a user's own lock setting disablePubChat (3.0+) as a moderator setBy would, and publishes
// UserLockSettingsInMeetingChangedEvtMsg. Before 3.0 there is no such setting: ErrVersion.
func (s *Sim) SetUserChatLock(ctx context.Context, meetingID, userID, setBy string, disablePublicChat bool) error {
	if s.v < v30 {
		return fmt.Errorf("%w: per-user lock settings need 3.0, not %s", ErrVersion, s.v)
	}
	return s.actOnUser(ctx, meetingID, userID, func(m *meeting, _ *user) outcome {
		if m.userNoPubChat == nil {
			m.userNoPubChat = map[string]bool{}
		}
		m.userNoPubChat[userID] = disablePublicChat
		return lockChange("UserLockSettingsInMeetingChangedEvtMsg", meetingID, setBy, userID,
			o("userId", userID, "disablePubChat", disablePublicChat, "setBy", setBy), s.nowMs(),
			fmt.Sprintf("%s's own public chat lock: %v", userID, disablePublicChat))
	})
}

// ChangeRole gives a joined user a new role as a moderator changedBy would, and publishes UserRoleChangedEvtMsg.
// Moderators are never locked out of the chat.
func (s *Sim) ChangeRole(ctx context.Context, meetingID, userID, changedBy, role string) error {
	if role != RoleModerator && role != RoleViewer {
		return fmt.Errorf("%w: %q", ErrBadRole, role)
	}
	return s.actOnUser(ctx, meetingID, userID, func(_ *meeting, u *user) outcome {
		u.Role = role
		return lockChange("UserRoleChangedEvtMsg", meetingID, userID, userID,
			o("userId", userID, "role", role, "changedBy", changedBy), s.nowMs(), fmt.Sprintf("%s is now %s", userID, role))
	})
}

// EventLockChanged reports a change of the meeting's or a user's locks.
const EventLockChanged EventKind = "lock-changed"

// lockChange is the outcome of a change of a user's locks or role: event name, sent as the user actor, reported
// as EventLockChanged of userID with text.
func lockChange(name, meetingID, actor, userID string, body ordered, ts int64, text string) outcome {
	return outcome{outs: clientEvent(name, meetingID, actor, body, ts),
		events: []Event{{Kind: EventLockChanged, MeetingID: meetingID, UserID: userID, Text: text}}}
}

// lockSettingsChanged builds LockSettingsInMeetingChangedEvtMsg (docs/protocol.md §9): the body carries the
// meeting's lock settings as that version names them (the fields the simulator's MeetingCreatedEvtMsg has in
// lockSettingsProps, with 2.x's disablePubChat/disablePrivChat spelling) and setBy.
func lockSettingsChanged(v ver, m *meeting, setBy string, ts int64) []outMsg {
	const name = "LockSettingsInMeetingChangedEvtMsg"
	var body ordered
	switch {
	case v <= v24:
		body = o("disableCam", false, "disableMic", false, "disablePrivChat", false, "disablePubChat", m.lockPublicChat,
			"lockedLayout", false, "lockOnJoin", true, "lockOnJoinConfigurable", false, "setBy", setBy)
	default:
		body = o("disableCam", false, "disableMic", false, "disablePrivChat", false, "disablePubChat", m.lockPublicChat,
			"disableNotes", false, "hideUserList", false,
			"lockedLayout", opt(v == v25, false),
			"lockOnJoin", true, "lockOnJoinConfigurable", false, "hideViewersCursor", false,
			"hideViewersAnnotation", opt(v >= v27, false), "setBy", setBy)
	}
	return clientEvent(name, m.IntID, setBy, body, ts)
}
