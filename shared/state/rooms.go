package state

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Room is a chat that follows a room: every meeting BBB creates with ExternalID gets a bridge made from Bridge
// (its chat user, callback and events), until endChatForMeeting removes the room (docs/api.md, "Following a
// room"). Bridge.MeetingID is the meeting the room's bridge was last made for ("" before its first meeting).
type Room struct {
	ExternalID string    `json:"external_id"`
	Bridge     Bridge    `json:"bridge"`
	Previous   string    `json:"previous,omitempty"` // the meeting before Bridge.MeetingID
	CreatedAt  time.Time `json:"created_at"`
	Revision   uint64    `json:"-"`
}

func roomKey(ext string) string { return "r." + hashKey(ext) }

// CreateRoom stores a followed room; ErrExists when the external id is followed already.
func (s *Store) CreateRoom(ctx context.Context, r Room) (Room, error) {
	rev, err := createJSON(ctx, s.meetings, roomKey(r.ExternalID), r)
	r.Revision = rev
	return r, err
}

// GetRoom returns the followed room of an external id; ErrNotFound when it is not followed.
func (s *Store) GetRoom(ctx context.Context, ext string) (Room, error) {
	var r Room
	rev, err := getJSON(ctx, s.meetings, roomKey(ext), &r)
	if err == nil && r.ExternalID != ext {
		return Room{}, ErrNotFound
	}
	r.Revision = rev
	return r, err
}

// MoveRoom records that the room's bridge was made for meeting (and the meeting before as Previous), with
// compare-and-set: moved is false when the room already names meeting (another relay was first) or is gone.
func (s *Store) MoveRoom(ctx context.Context, ext, meetingID string) (r Room, moved bool, err error) {
	for i := 0; ; i++ {
		r, err = s.GetRoom(ctx, ext)
		if errors.Is(err, ErrNotFound) {
			return r, false, nil
		}
		if err != nil || r.Bridge.MeetingID == meetingID {
			return r, false, err
		}
		r.Previous, r.Bridge.MeetingID = r.Bridge.MeetingID, meetingID
		rev, err := updateJSON(ctx, s.meetings, roomKey(ext), r, r.Revision)
		if err == nil {
			r.Revision = rev
			return r, true, nil
		}
		if !isConflict(err) || i > 20 {
			return r, false, err
		}
	}
}

// DeleteRoom stops following a room; ErrNotFound when it was not followed.
func (s *Store) DeleteRoom(ctx context.Context, ext string) error {
	if _, err := s.GetRoom(ctx, ext); err != nil {
		return err
	}
	if err := s.meetings.Purge(ctx, roomKey(ext)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return wrap("delete room", err)
	}
	return nil
}

// Rooms lists every followed room.
func (s *Store) Rooms(ctx context.Context) ([]Room, error) {
	ks, err := keys(ctx, s.meetings, "r.*")
	if err != nil {
		return nil, err
	}
	out := make([]Room, 0, len(ks))
	for _, k := range ks {
		var r Room
		rev, err := getJSON(ctx, s.meetings, k, &r)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r.Revision = rev
		out = append(out, r)
	}
	return out, nil
}
