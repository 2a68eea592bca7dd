package state

import (
	"context"
	"encoding/json"
	"errors"
)

// ChangeMeeting applies change to a meeting relay saw created (under its internal id, and under its external id
// while that still names it). A meeting never seen created is left alone: nil.
func (s *Store) ChangeMeeting(ctx context.Context, internalID string, change func(*Meeting)) error {
	m, err := s.MeetingByInternal(ctx, internalID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	change(&m)
	if _, err := putJSON(ctx, s.meetings, meetingIntKey(internalID), m); err != nil {
		return err
	}
	if m.ExternalID == "" {
		return nil
	}
	var cur Meeting
	rev, err := getJSON(ctx, s.meetings, meetingExtKey(m.ExternalID), &cur)
	if errors.Is(err, ErrNotFound) || err == nil && cur.InternalID != internalID {
		return nil
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return wrap("change meeting", err)
	}
	if _, err := s.meetings.Update(ctx, meetingExtKey(m.ExternalID), b, rev); err != nil && !isConflict(err) {
		return wrap("change meeting", err)
	}
	return nil
}

// ChangeUser applies change to a present user's record and to its entry in the name index (which FindUser and
// the cache read). A user not present is left alone: nil.
func (s *Store) ChangeUser(ctx context.Context, meetingID, userID string, change func(*Presence)) error {
	userKey, nameKey := s.userKey(meetingID, userID), s.nameKey
	var p Presence
	_, err := getJSON(ctx, s.presence, userKey, &p)
	if errors.Is(err, ErrNotFound) { // joined before presence was kept per server (presence.go)
		userKey, nameKey = presenceUserKey(meetingID, userID), presenceNameKey
		_, err = getJSON(ctx, s.presence, userKey, &p)
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	change(&p)
	if _, err := putJSON(ctx, s.presence, userKey, p); err != nil {
		return err
	}
	return s.changeNameKey(ctx, nameKey(meetingID, p.Name), p.Name, func(n *nameEntry) {
		for i := range n.Users {
			if n.Users[i].UserID == userID {
				change(&n.Users[i])
			}
		}
	})
}
