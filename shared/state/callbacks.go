package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CallbackStats sums up a bridge's deliveries and keeps its position in the events stream. Relay writes it now
// and then, so it lags by up to a second.
type CallbackStats struct {
	Delivered     uint64    `json:"delivered"`
	Failed        uint64    `json:"failed"`
	Retries       uint64    `json:"retries"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	LastSuccessAt time.Time `json:"last_success_at,omitzero"`
	Position
}

// Position is the last event of the events stream a bridge is done with (delivered, skipped or given up). The
// bridge's consumer keeps its state in nats-server's memory (a file rewritten per acknowledgement would cost
// nats-server more than everything else bbb-chat asks of it); when nats-server restarts, the consumer is created
// again right after this position.
type Position struct {
	Seq uint64    `json:"acked_seq,omitempty"` // stream sequence
	At  time.Time `json:"acked_at,omitzero"`   // when the event was stored
}

// Advance moves the position forward to p; it never moves back.
func (q *Position) Advance(p Position) {
	if p.Seq > q.Seq {
		*q = p
	}
}

// GetCallbackStats returns a bridge's statistics (zero when none were written yet).
func (s *Store) GetCallbackStats(ctx context.Context, meetingID string) (CallbackStats, error) {
	var c CallbackStats
	_, err := getJSON(ctx, s.callbacks, Key(meetingID), &c)
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	return c, err
}

// StoredStats is a bridge's statistics as a writer last read or wrote them, with their revision.
type StoredStats struct {
	Stats    CallbackStats
	Revision uint64
}

// AddCallbackStats adds d's counters to a bridge's statistics, takes its last error and success times and moves
// its position forward. known, when not nil, is what the caller last wrote: the write is tried on top of it
// without reading the statistics first (relay writes every active bridge's every second), reading them only when
// another writer came in between; it is updated to what was written.
func (s *Store) AddCallbackStats(ctx context.Context, meetingID string, d CallbackStats, known *StoredStats) error {
	key := Key(meetingID)
	for i := 0; ; i++ {
		var c CallbackStats
		var rev uint64
		var err error
		if i == 0 && known != nil && known.Revision != 0 {
			c, rev = known.Stats, known.Revision
		} else if rev, err = getJSON(ctx, s.callbacks, key, &c); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		c.Delivered += d.Delivered
		c.Failed += d.Failed
		c.Retries += d.Retries
		if d.LastError != "" {
			c.LastError, c.LastErrorAt = d.LastError, d.LastErrorAt
		}
		if d.LastSuccessAt.After(c.LastSuccessAt) {
			c.LastSuccessAt = d.LastSuccessAt
		}
		c.Position.Advance(d.Position)
		if rev == 0 {
			rev, err = createJSON(ctx, s.callbacks, key, c)
			if errors.Is(err, ErrExists) {
				err = jetstream.ErrKeyExists
			}
		} else {
			rev, err = updateJSON(ctx, s.callbacks, key, c, rev)
		}
		if err == nil {
			if known != nil {
				*known = StoredStats{Stats: c, Revision: rev}
			}
			return nil
		}
		if !isConflict(err) || i > 50 {
			return wrap("callback stats", err)
		}
	}
}

// FailedDelivery is a callback given up after its retry schedule, kept until retryCallbacks sends it again.
type FailedDelivery struct {
	MeetingID string          `json:"meeting_id"`
	Seq       uint64          `json:"seq"`     // stream sequence of the event
	Subject   string          `json:"subject"` // subject of the event
	Event     json.RawMessage `json:"event"`   // the event as stored in the stream
	Attempts  int             `json:"attempts"`
	LastError string          `json:"last_error"`
	FailedAt  time.Time       `json:"failed_at"`
}

func failedKey(meetingID string, seq uint64) string {
	return Key(meetingID) + "." + strconv.FormatUint(seq, 10)
}

// PutFailed keeps a failed delivery.
func (s *Store) PutFailed(ctx context.Context, f FailedDelivery) error {
	_, err := putJSON(ctx, s.failed, failedKey(f.MeetingID, f.Seq), f)
	return err
}

// Failed lists a meeting's failed deliveries in stream order.
func (s *Store) Failed(ctx context.Context, meetingID string) ([]FailedDelivery, error) {
	ks, err := keys(ctx, s.failed, Key(meetingID)+".*")
	if err != nil {
		return nil, err
	}
	var out []FailedDelivery
	for _, k := range ks {
		var f FailedDelivery
		if _, err := getJSON(ctx, s.failed, k, &f); err == nil {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// DeleteFailed forgets one failed delivery.
func (s *Store) DeleteFailed(ctx context.Context, meetingID string, seq uint64) error {
	if err := s.failed.Purge(ctx, failedKey(meetingID, seq)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return wrap("delete failed delivery", err)
	}
	return nil
}

// RetryFailed puts a meeting's failed deliveries back on the meeting's retry subject, in order, and forgets them.
// It returns how many it put back. Each keeps its event id, so receivers see the same webhook-id again.
func (s *Store) RetryFailed(ctx context.Context, meetingID string) (int, error) {
	fs, err := s.Failed(ctx, meetingID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range fs {
		id := "retry-" + strconv.FormatUint(f.Seq, 10) + "-" + strconv.FormatInt(f.FailedAt.UnixNano(), 10)
		if _, err := s.publish(ctx, RetrySubject(meetingID), f.Event, id); err != nil {
			return n, wrap(fmt.Sprintf("retry delivery %d", f.Seq), err)
		}
		if err := s.DeleteFailed(ctx, meetingID, f.Seq); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
