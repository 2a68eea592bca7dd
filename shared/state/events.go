package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Event is the JSON payload of every message in the events stream (documented in docs/nats.md). Fields that do
// not apply to a type are left out.
type Event struct {
	Type              string `json:"type"` // one of the Type constants
	ID                string `json:"id"`   // stable: BBB's message id for messages; derived from the BBB event otherwise
	MeetingID         string `json:"meeting_id"`
	ExternalMeetingID string `json:"external_meeting_id,omitempty"`
	Timestamp         int64  `json:"timestamp"` // ms, BBB's clock
	BBBVersion        string `json:"bbb_version,omitempty"`

	ChatID        string `json:"chat_id,omitempty"`
	MessageID     string `json:"message_id,omitempty"`
	SenderID      string `json:"sender_id,omitempty"`
	SenderName    string `json:"sender_name,omitempty"`
	SenderRole    string `json:"sender_role,omitempty"`
	Text          string `json:"text,omitempty"` // plain text: 2.x's HTML escaping and link wrapping undone
	CorrelationID string `json:"correlation_id,omitempty"`
	ReplyTo       string `json:"reply_to_message_id,omitempty"`

	UserID         string `json:"user_id,omitempty"`
	ExternalUserID string `json:"external_user_id,omitempty"`
	UserName       string `json:"user_name,omitempty"`
	UserRole       string `json:"user_role,omitempty"`

	MeetingName string `json:"meeting_name,omitempty"`
	IsBreakout  bool   `json:"is_breakout,omitempty"`
	ParentID    string `json:"parent_meeting_id,omitempty"`

	Emoji string `json:"emoji,omitempty"` // reaction.added, reaction.removed

	Locked           bool   `json:"locked,omitempty"`             // user.joined, user.locked: under the meeting's lock settings
	PublicChatLocked bool   `json:"public_chat_locked,omitempty"` // meeting.created, meeting.locks, user.locks
	DisabledFeatures string `json:"disabled_features,omitempty"`  // meeting.created: BBB's disabledFeatures, comma-separated

	From   int64  `json:"from,omitempty"`   // gap: ms, the last moment a relay was known subscribed
	To     int64  `json:"to,omitempty"`     // gap: ms, when a relay was subscribed again
	Server string `json:"server,omitempty"` // the BBB server the event comes from, where it is said
}

// Subject is the event's subject.
func (e Event) Subject() string { return EventSubject(e.MeetingID, e.Type) }

// ErrDuplicate reports that the stream already had an event with that id (another relay published it, or an
// attempt of this publish whose answer an election lost).
var ErrDuplicate = errors.New("duplicate event")

// PublishEvent stores an event in the stream, deduplicated by its id, and waits for the stream's acknowledgement.
func (s *Store) PublishEvent(ctx context.Context, e Event, payload []byte) (uint64, error) {
	ack, err := s.publish(ctx, e.Subject(), payload, e.ID)
	if err != nil {
		return 0, wrap(fmt.Sprintf("publish %s", e.Subject()), err)
	}
	if ack.Duplicate {
		return ack.Sequence, ErrDuplicate
	}
	return ack.Sequence, nil
}

// publish stores data on subject in the events stream, deduplicated by id, and waits for the stream's
// acknowledgement, through an election (Retry: an attempt stored though its answer was lost comes back a
// duplicate).
func (s *Store) publish(ctx context.Context, subject string, data []byte, id string) (ack *jetstream.PubAck, err error) {
	err = Retry(ctx, func(ctx context.Context) error {
		ack, err = s.js.Publish(ctx, subject, data, jetstream.WithMsgID(id))
		return err
	})
	return ack, err
}

// UseNonce records a checksum as used; ErrReplay when it was used before within the nonce TTL, by any process.
// The record holds a token of this use alone, so that a write whose answer an election lost is recognised as this
// use, not taken for a replay (electionKV.Create).
func (s *Store) UseNonce(ctx context.Context, checksum string) error {
	if s.nonces == nil {
		return errors.New("state: the nonce bucket was not opened (Options.NonceTTL)")
	}
	key := checksum
	if len(key) > 128 || !isPlain(key) {
		key = hashKey(checksum)
	}
	// The token is a name unique to this use: nats.go's for a new inbox.
	_, err := s.nonces.Create(ctx, key, []byte(nats.NewInbox()))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrReplay
	}
	if err != nil {
		return wrap("nonce", err)
	}
	return nil
}

// apiPostTTL is how long a post through BBB's chat API is remembered: its echo comes back within milliseconds,
// so a minute is plenty even for a slow server.
const apiPostTTL = time.Minute

func apiPostKey(meetingID, userName, message string) string {
	return Key(meetingID) + "." + hashKey(userName+"\x00"+message)
}

// RecordAPIPost remembers that ingress posted message under userName through BBB 3.0's chat API, where BBB shows
// it as a system message that carries no trace of bbb-chat; relay recognises the echo with IsAPIPost.
func (s *Store) RecordAPIPost(ctx context.Context, meetingID, userName, message string) error {
	if _, err := s.apiPosts.Put(ctx, apiPostKey(meetingID, userName, message), nil); err != nil {
		return wrap("record api post", err)
	}
	return nil
}

// IsAPIPost reports whether ingress recently posted that message under that name through BBB's chat API, and
// forgets it, so each post is recognised once.
func (s *Store) IsAPIPost(ctx context.Context, meetingID, userName, message string) (bool, error) {
	key := apiPostKey(meetingID, userName, message)
	e, err := s.apiPosts.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, wrap("api post", err)
	}
	if err := s.apiPosts.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !isConflict(err) {
		return true, wrap("api post", err)
	}
	return true, nil
}
