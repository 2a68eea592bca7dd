package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Reads of one meeting's stored events, for the chat history and transcripts (shared/history folds them). They
// read the stream as it is and change nothing but, for DeleteMeetingEvents, the meeting's own subjects.

// MeetingFilter is the subject filter of all of a meeting's events: bbbchat.<meeting>.>.
func MeetingFilter(meetingID string) string { return SubjectRoot + "." + Key(meetingID) + ".>" }

// Stored is one event as the stream stored it.
type Stored struct {
	Seq     uint64    // stream sequence
	Subject string    // its subject
	Data    []byte    // the event's JSON (Event)
	Time    time.Time // when the stream stored it
}

// FirstStored returns the first stored event on subject (which may hold wildcards) at sequence from or later;
// ErrNotFound when there is none. It is one direct get.
func (s *Store) FirstStored(ctx context.Context, subject string, from uint64) (Stored, error) {
	var m *jetstream.RawStreamMsg
	err := Retry(ctx, func(ctx context.Context) (err error) {
		m, err = s.events.GetMsg(ctx, max(from, 1), jetstream.WithGetMsgSubject(subject))
		return err
	})
	return stored(subject, m, err)
}

// LastStored returns the last stored event on subject (which may hold wildcards); ErrNotFound when there is none.
// It is one direct get.
func (s *Store) LastStored(ctx context.Context, subject string) (Stored, error) {
	var m *jetstream.RawStreamMsg
	err := Retry(ctx, func(ctx context.Context) (err error) {
		m, err = s.events.GetLastMsgForSubject(ctx, subject)
		return err
	})
	return stored(subject, m, err)
}

func stored(subject string, m *jetstream.RawStreamMsg, err error) (Stored, error) {
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Stored{}, ErrNotFound
	}
	if err != nil {
		return Stored{}, wrap("read "+subject, err)
	}
	return Stored{Seq: m.Sequence, Subject: m.Subject, Data: m.Data, Time: m.Time}, nil
}

// readBatch is how many events a read asks the server for at a time: the most it holds in memory.
const readBatch = 256

// ReadStored calls fn with the events on the filter subjects (none may overlap another) stored at sequence from or
// later, in stream order, until fn returns false or the events stored when the read started are done. It holds
// at most a batch of events in memory. It reads through an ephemeral consumer without acknowledgements, in
// nats-server's memory, which it deletes at the end (nats-server does after a minute if it could not).
func (s *Store) ReadStored(ctx context.Context, filters []string, from uint64, fn func(Stored) (bool, error)) error {
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       max(from, 1),
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: time.Minute,
		Replicas:          1,
	}
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
	var c jetstream.Consumer
	err := Retry(ctx, func(ctx context.Context) (err error) {
		c, err = s.events.CreateConsumer(ctx, cfg)
		return err
	})
	if err != nil {
		return wrap("read events", err)
	}
	info := c.CachedInfo()
	// The consumer is deleted without waiting for the answer (nats-server deletes it after InactiveThreshold if
	// this is lost).
	defer s.nc.Publish(deleteConsumerSubject(info.Name), nil)
	left := info.NumPending
	for left > 0 {
		batch, err := c.Fetch(int(min(left, readBatch)), jetstream.FetchContext(ctx))
		if err != nil {
			return wrap("read events", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("state: read events: %w", err)
			}
			left--
			more, err := fn(Stored{Seq: meta.Sequence.Stream, Subject: m.Subject(), Data: m.Data(), Time: meta.Timestamp})
			if err != nil || !more {
				return err
			}
			if meta.NumPending == 0 {
				left = 0
			}
		}
		if err := batch.Error(); err != nil {
			return wrap("read events", err)
		}
		if n == 0 { // purged or expired meanwhile
			return nil
		}
	}
	return nil
}

// DeleteMeetingEvents removes every event of a meeting from the stream, and the callbacks it had queued for
// retryCallbacks.
func (s *Store) DeleteMeetingEvents(ctx context.Context, meetingID string) error {
	for _, subj := range []string{MeetingFilter(meetingID), RetrySubject(meetingID)} {
		if err := s.events.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return wrap("purge "+subj, err)
		}
	}
	return nil
}

// deleteConsumerSubject is JetStream's API subject that deletes a consumer of the events stream.
func deleteConsumerSubject(name string) string {
	return "$JS.API.CONSUMER.DELETE." + StreamEvents + "." + name
}
