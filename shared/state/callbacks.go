package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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
			return fmt.Errorf("state: callback stats: %w", err)
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
		return fmt.Errorf("state: delete failed delivery: %w", err)
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
		if _, err := s.JS.Publish(ctx, RetrySubject(meetingID), f.Event, jetstream.WithMsgID(id)); err != nil {
			return n, fmt.Errorf("state: retry delivery %d: %w", f.Seq, err)
		}
		if err := s.DeleteFailed(ctx, meetingID, f.Seq); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// ConsumerName is the durable consumer that delivers a bridge's callbacks.
func ConsumerName(meetingID string) string {
	k := Key(meetingID)
	if strings.ContainsAny(k, "=") || len(k) > 100 {
		k = "h" + hashKey(meetingID)
	}
	return "callbacks_" + k
}

// CallbackDeliverGroup is the queue group the relays subscribe in to the callback consumers' deliver subjects, so
// each event goes to one of them.
const CallbackDeliverGroup = "bbbchat-relay"

// CallbackDeliverSubject is where a bridge's callback consumer pushes its events. A push consumer waits, without
// a pull request, heartbeat or goroutine of nats.go's, until the next event: an idle bridge costs relay a
// subscription and nothing else. (nats-server counts only a subscription to this literal subject as interest.)
func CallbackDeliverSubject(meetingID string) string {
	return "_bbbchat.callbacks." + ConsumerName(meetingID)
}

// Pending reports a bridge's undelivered callbacks: waiting in the stream plus in flight. ErrNotFound when the
// bridge has no consumer.
func (s *Store) Pending(ctx context.Context, meetingID string) (uint64, error) {
	info, err := s.callbackConsumerInfo(ctx, meetingID)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// callbackConsumerInfo returns the bridge's consumer's info, whichever kind it is (earlier versions made pull
// consumers); ErrNotFound when there is none.
func (s *Store) callbackConsumerInfo(ctx context.Context, meetingID string) (*jetstream.ConsumerInfo, error) {
	var info *jetstream.ConsumerInfo
	c, err := s.JS.PushConsumer(ctx, StreamEvents, ConsumerName(meetingID))
	if err == nil {
		info = c.CachedInfo()
	} else if errors.Is(err, jetstream.ErrNotPushConsumer) {
		var pc jetstream.Consumer
		if pc, err = s.JS.Consumer(ctx, StreamEvents, ConsumerName(meetingID)); err == nil {
			info = pc.CachedInfo()
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("state: callback consumer: %w", err)
	}
	return info, nil
}

// CallbackConsumerConfig is the durable consumer that delivers a bridge's callbacks: the bridge's messages (and the
// other events it asked for), its meeting's end (so the bridge can end after its queue) and its retried
// deliveries, one at a time (MaxAckPending 1) so they go out in order, with retries scheduled by relay through
// negative acknowledgements with a delay. It pushes them to CallbackDeliverSubject. It starts at the bridge's creation, or right after from when from is
// a later position (a consumer created again after nats-server restarted). Its state is kept in memory: see
// Position.
func CallbackConsumerConfig(b Bridge, ackWait time.Duration, from Position) jetstream.ConsumerConfig {
	filters := []string{EventSubject(b.MeetingID, TypeMessage)}
	if b.Wants(CallbackChatCleared) {
		filters = append(filters, EventSubject(b.MeetingID, TypeCleared))
	}
	filters = append(filters, EventSubject(b.MeetingID, TypeMeetingEnded), RetrySubject(b.MeetingID))
	start := b.CreatedAt
	if start.IsZero() {
		start = time.Now()
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        ConsumerName(b.MeetingID),
		Description:    "bbb-chat callbacks of meeting " + b.MeetingID,
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        ackWait,
		MaxDeliver:     -1,
		MaxAckPending:  1,
		FilterSubjects: filters,
		DeliverSubject: CallbackDeliverSubject(b.MeetingID),
		DeliverGroup:   CallbackDeliverGroup,
		MemoryStorage:  true,
	}
	// An event stored before the bridge was (re)started, say while its receiver was gone, is not its to deliver.
	if from.Seq > 0 && !from.At.Before(start) {
		cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, from.Seq+1
	}
	return cfg
}

// EnsureCallbackConsumer returns the bridge's callback consumer, creating it when it does not exist. A new one
// starts at the bridge's creation time, so no event after startChatForMeeting is missed, whoever creates it
// first, or right after the bridge's last written position or from, whichever is later, when it is created again
// (nats-server restarted and lost it).
func (s *Store) EnsureCallbackConsumer(ctx context.Context, b Bridge, ackWait time.Duration, from Position) (*jetstream.ConsumerInfo, error) {
	info, err := s.callbackConsumerInfo(ctx, b.MeetingID)
	switch {
	case err == nil && info.Config.DeliverSubject == "":
		// A pull consumer with its state on disk, made by an earlier version: replace it, from where it was.
		if info.AckFloor.Stream > 0 {
			from.Advance(Position{Seq: info.AckFloor.Stream, At: b.CreatedAt})
		}
		if err := s.DeleteCallbackConsumer(ctx, b.MeetingID); err != nil {
			return nil, err
		}
	case err == nil:
		if info.Config.AckWait != ackWait {
			cfg := info.Config
			cfg.AckWait = ackWait
			if c, err := s.JS.UpdatePushConsumer(ctx, StreamEvents, cfg); err == nil {
				return c.CachedInfo(), nil
			}
		}
		return info, nil
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	stats, err := s.GetCallbackStats(ctx, b.MeetingID)
	if err != nil {
		return nil, fmt.Errorf("state: callback position: %w", err)
	}
	from.Advance(stats.Position)
	c, err := s.JS.CreatePushConsumer(ctx, StreamEvents, CallbackConsumerConfig(b, ackWait, from))
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return s.callbackConsumerInfo(ctx, b.MeetingID)
	}
	if err != nil {
		return nil, fmt.Errorf("state: create callback consumer: %w", err)
	}
	return c.CachedInfo(), nil
}

// DeleteCallbackConsumer removes a bridge's callback consumer (and with it its pending deliveries).
func (s *Store) DeleteCallbackConsumer(ctx context.Context, meetingID string) error {
	err := s.JS.DeleteConsumer(ctx, StreamEvents, ConsumerName(meetingID))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("state: delete callback consumer: %w", err)
	}
	return nil
}
