package state

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Meeting maps a meeting's internal id to its external one, as MeetingCreatedEvtMsg announced it.
type Meeting struct {
	InternalID string    `json:"internal_id"`
	ExternalID string    `json:"external_id"`
	Name       string    `json:"name,omitempty"`
	IsBreakout bool      `json:"is_breakout,omitempty"`
	ParentID   string    `json:"parent_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// Server is the BBB server the meeting runs on (its relay's BBB_CHAT_SERVER_ID, from the meeting's events;
	// "" in records of earlier releases): ingress carries calls for the meeting there (docs/fleet.md).
	Server string `json:"server,omitempty"`
	// PublicChatLocked: the meeting's lock settings keep locked viewers out of the public chat (locks.go).
	PublicChatLocked bool `json:"public_chat_locked,omitempty"`
	// DisabledFeatures are BBB's disabledFeatures of the meeting (2.5+), e.g. "chat".
	DisabledFeatures []string `json:"disabled_features,omitempty"`
}

// The keys of a meeting's record under its internal and its external id, in the meetings and the ended bucket.
func meetingIntKey(id string) string  { return "i." + Key(id) }
func meetingExtKey(ext string) string { return "e." + hashKey(ext) }

// putUnderIDs stores a meeting's record v in kv under its internal id and, when it has one, its external id.
func putUnderIDs(ctx context.Context, kv jetstream.KeyValue, internalID, externalID string, v any) error {
	if _, err := putJSON(ctx, kv, meetingIntKey(internalID), v); err != nil {
		return err
	}
	if externalID != "" {
		if _, err := putJSON(ctx, kv, meetingExtKey(externalID), v); err != nil {
			return err
		}
	}
	return nil
}

// PutMeeting records a created meeting under both ids. A later meeting with the same external id replaces the
// earlier mapping, as BBB re-creates meetings under the same external id.
func (s *Store) PutMeeting(ctx context.Context, m Meeting) error {
	return putUnderIDs(ctx, s.meetings, m.InternalID, m.ExternalID, m)
}

// MeetingByInternal returns the meeting with that internal id.
func (s *Store) MeetingByInternal(ctx context.Context, id string) (Meeting, error) {
	var m Meeting
	_, err := getJSON(ctx, s.meetings, meetingIntKey(id), &m)
	return m, err
}

// MeetingByExternal returns the newest meeting created with that external id.
func (s *Store) MeetingByExternal(ctx context.Context, ext string) (Meeting, error) {
	var m Meeting
	_, err := getJSON(ctx, s.meetings, meetingExtKey(ext), &m)
	if err == nil && m.ExternalID != ext {
		return Meeting{}, ErrNotFound
	}
	return m, err
}

// ResolveMeeting turns an id given by a client into an internal meeting id: an internal id seen created, else an
// external id seen created (its newest meeting), else the id itself taken as internal (the meeting may predate
// relay). known reports whether the meeting was seen created.
func (s *Store) ResolveMeeting(ctx context.Context, id string) (m Meeting, known bool, err error) {
	m, err = s.MeetingByInternal(ctx, id)
	if err == nil {
		return m, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return m, false, err
	}
	m, err = s.MeetingByExternal(ctx, id)
	if err == nil {
		return m, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return m, false, err
	}
	return Meeting{InternalID: id}, false, nil
}

// DeleteMeeting forgets a meeting that ended. The external mapping goes only if it still points at this meeting.
func (s *Store) DeleteMeeting(ctx context.Context, internalID string) error {
	m, err := s.MeetingByInternal(ctx, internalID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.ExternalID != "" {
		var cur Meeting
		rev, err := getJSON(ctx, s.meetings, meetingExtKey(m.ExternalID), &cur)
		if err == nil && cur.InternalID == internalID {
			if err := s.meetings.Delete(ctx, meetingExtKey(m.ExternalID), jetstream.LastRevision(rev)); err != nil && !isConflict(err) {
				return wrap("delete meeting", err)
			}
		}
	}
	if err := s.meetings.Purge(ctx, meetingIntKey(internalID)); err != nil {
		return wrap("delete meeting", err)
	}
	return nil
}

// ServerVersion is the BBB version relay inferred from the events it saw.
type ServerVersion struct {
	Version string    `json:"version"`
	Source  string    `json:"source"` // "release-file", "events" or "config"
	At      time.Time `json:"at"`
}

// versionKey is where relay records the BBB version of the server named server (BBB_CHAT_SERVER_ID): each server's
// own key, so another bbb-chat on the same NATS never changes it. The unkeyed "meta.bbb_version" of older
// releases is not read: it may be another server's (docs/operations.md).
func versionKey(server string) string { return "meta.bbb_version." + Key(server) }

// SetServerVersion records the BBB version of the server named server.
func (s *Store) SetServerVersion(ctx context.Context, server string, v ServerVersion) error {
	_, err := putJSON(ctx, s.meetings, versionKey(server), v)
	return err
}

// GetServerVersion returns what relay recorded for the server named server; ErrNotFound when it has recorded
// nothing yet.
func (s *Store) GetServerVersion(ctx context.Context, server string) (ServerVersion, error) {
	var v ServerVersion
	_, err := getJSON(ctx, s.meetings, versionKey(server), &v)
	return v, err
}
