package state

import (
	"context"
	"errors"
	"time"
)

// EndedTTL is how long an ended meeting is remembered (bucket bbbchat_ended), so a call for its chat answers
// when the meeting ended rather than only that there is no chat.
const EndedTTL = 7 * 24 * time.Hour

// EndedMeeting is a meeting that ended, as relay saw MeetingEndedEvtMsg.
type EndedMeeting struct {
	InternalID string    `json:"internal_id"`
	ExternalID string    `json:"external_id,omitempty"`
	EndedAt    time.Time `json:"ended_at"`
}

// PutEnded remembers an ended meeting under both its ids. Every relay of a pair writes the same record for the
// same event (EndedAt is BBB's time), so it does not matter which one is last.
func (s *Store) PutEnded(ctx context.Context, m EndedMeeting) error {
	return putUnderIDs(ctx, s.ended, m.InternalID, m.ExternalID, m)
}

// Ended returns the ended meeting with that internal id, else the one that ended last with that external id;
// ErrNotFound when none ended within EndedTTL.
func (s *Store) Ended(ctx context.Context, id string) (EndedMeeting, error) {
	var m EndedMeeting
	_, err := getJSON(ctx, s.ended, meetingIntKey(id), &m)
	if !errors.Is(err, ErrNotFound) {
		return m, err
	}
	_, err = getJSON(ctx, s.ended, meetingExtKey(id), &m)
	if err == nil && m.ExternalID != id {
		return EndedMeeting{}, ErrNotFound
	}
	return m, err
}

// ForgetEnded forgets that a meeting ended under this external id (BBB created a new meeting with it).
func (s *Store) ForgetEnded(ctx context.Context, ext string) error {
	if err := s.ended.Purge(ctx, meetingExtKey(ext)); err != nil {
		return wrap("forget ended meeting", err)
	}
	return nil
}
