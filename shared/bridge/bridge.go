package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// Errors of the lifecycle, besides state's (state.ErrExists, state.ErrNotFound, state.ErrUnavailable).
var (
	// ErrTooManyBridges: the number of bridges reached the configured maximum.
	ErrTooManyBridges = errors.New("bridge: too many bridges")
	// ErrTooManyConsumers: the events stream allows no more callback consumers.
	ErrTooManyConsumers = errors.New("bridge: the events stream allows no more callback consumers")
	// ErrNoCallback: the bridge has no callback to retry.
	ErrNoCallback = errors.New("bridge: no callback")
)

// DefaultCallbackTimeout is BBB_CHAT_CALLBACK_TIMEOUT's default, the timeout of a process that does not read it.
const DefaultCallbackTimeout = 10 * time.Second

// AckWaitMargin is what a consumer's AckWait adds to the callback timeout: the time to decode an event, read
// the bridge and acknowledge, on top of the HTTP attempt.
const AckWaitMargin = 5 * time.Second

// AckWait is the AckWait of a callback consumer for a callback timeout (DefaultCallbackTimeout when 0).
func AckWait(callbackTimeout time.Duration) time.Duration {
	if callbackTimeout <= 0 {
		callbackTimeout = DefaultCallbackTimeout
	}
	return callbackTimeout + AckWaitMargin
}

// Options configures a Lifecycle.
type Options struct {
	// CallbackTimeout is BBB_CHAT_CALLBACK_TIMEOUT, for the process that reads it (relay): consumers get its
	// AckWait and existing ones are brought to it. 0 (ingress): consumers it creates get the default's AckWait,
	// existing ones are left alone.
	CallbackTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Lifecycle starts, ends, retries and retires bridges and keeps their callback consumers. It holds nothing but
// its store and settings: make one wherever a store is at hand.
type Lifecycle struct {
	s       *state.Store
	ackWait time.Duration
	adjust  bool // bring existing consumers to ackWait
	now     func() time.Time
}

// New returns the lifecycle of the bridges kept in s.
func New(s *state.Store, o Options) *Lifecycle {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Lifecycle{s: s, ackWait: AckWait(o.CallbackTimeout), adjust: o.CallbackTimeout > 0, now: o.Now}
}

// AckWait is the AckWait this lifecycle gives callback consumers.
func (l *Lifecycle) AckWait() time.Duration { return l.ackWait }

// Start stores a new bridge and, when it has a callback, creates its consumer, so every event from b.CreatedAt
// on is delivered whichever relay serves it. state.ErrExists when the meeting has a bridge; ErrTooManyBridges
// when there are maxBridges already; ErrTooManyConsumers when the stream allows no more consumers (the bridge is
// then removed again).
func (l *Lifecycle) Start(ctx context.Context, b state.Bridge, maxBridges int) (state.Bridge, error) {
	n, err := l.s.CountBridges(ctx)
	if err != nil {
		return b, err
	}
	if n >= maxBridges {
		return b, fmt.Errorf("%w: %d of %d", ErrTooManyBridges, n, maxBridges)
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = l.now()
	}
	if b.HasCallback() && b.CallbackState == "" {
		b.CallbackState = state.CallbackActive
	}
	b, err = l.s.CreateBridge(ctx, b)
	if err != nil {
		return b, err
	}
	if b.HasCallback() {
		if _, err := l.EnsureConsumer(ctx, b, state.Position{}); err != nil {
			_ = l.s.DeleteBridge(context.WithoutCancel(ctx), b.MeetingID)
			if errors.Is(err, jetstream.ErrMaximumConsumersLimit) {
				return b, fmt.Errorf("%w: %w", ErrTooManyConsumers, err)
			}
			return b, err
		}
	}
	return b, nil
}

// End removes a bridge with its consumer (and the deliveries it still held), its failed deliveries and its
// statistics. state.ErrNotFound when there is no such bridge.
func (l *Lifecycle) End(ctx context.Context, meetingID string) error {
	b, _ := l.s.GetBridge(ctx, meetingID)
	if err := l.DeleteConsumer(ctx, meetingID); err != nil {
		return err
	}
	if fs, err := l.s.Failed(ctx, meetingID); err == nil {
		for _, f := range fs {
			_ = l.s.DeleteFailed(ctx, meetingID, f.Seq)
		}
	}
	if err := l.s.DeleteBridge(ctx, meetingID); err != nil {
		return err
	}
	return l.releaseAfter(ctx, b)
}

// Retry puts a bridge's failed deliveries back in its queue and returns how many. A callback marked gone (410) is
// turned back on first, from now: events stored while it was gone are not its to deliver; a held one (follow.go)
// is released.
func (l *Lifecycle) Retry(ctx context.Context, b state.Bridge) (int, error) {
	if !b.HasCallback() {
		return 0, ErrNoCallback
	}
	if b.CallbackState == state.CallbackHeld {
		// A followed room's bridge held behind its previous meeting's: go now (that meeting's end may be lost).
		if _, err := l.release(ctx, b.MeetingID, b.After); err != nil {
			return 0, err
		}
	}
	if b.CallbackState == state.CallbackGone {
		nb, err := l.s.UpdateBridge(ctx, b.MeetingID, func(b *state.Bridge) bool {
			b.CallbackState, b.CreatedAt = state.CallbackActive, l.now()
			return true
		})
		if err != nil {
			return 0, err
		}
		if _, err := l.EnsureConsumer(ctx, nb, state.Position{}); err != nil {
			return 0, err
		}
	}
	return l.s.RetryFailed(ctx, b.MeetingID)
}

// MarkGone records that a bridge's receiver answered 410 Gone: no more callbacks until retryCallbacks.
// state.ErrNotFound when the bridge is gone already. The caller removes the consumer (DeleteConsumer) once it is
// done with the event in hand.
func (l *Lifecycle) MarkGone(ctx context.Context, meetingID string) error {
	_, err := l.s.UpdateBridge(ctx, meetingID, func(b *state.Bridge) bool {
		if b.CallbackState == state.CallbackGone {
			return false
		}
		b.CallbackState = state.CallbackGone
		return true
	})
	return err
}

// Outcome is what MeetingEnded did to the meeting's bridge.
type Outcome int

// Outcomes of MeetingEnded.
const (
	NoBridge       Outcome = iota // the meeting had no bridge (or it is marked ending already)
	Ended                         // the bridge had no callback to deliver and was removed
	EndsAfterQueue                // the bridge was marked ending: it goes once its queue is delivered (Finish)
)

// MeetingEnded ends the bridge of a meeting that ended: at once when it has no active callback, else by marking it
// Ending, so relay's delivery removes it (Finish) once its queue, which ends with the meeting's end, is done.
// Idempotent: every relay of a pair calls it for the same event.
func (l *Lifecycle) MeetingEnded(ctx context.Context, meetingID string) (Outcome, error) {
	b, err := l.s.GetBridge(ctx, meetingID)
	if errors.Is(err, state.ErrNotFound) {
		return NoBridge, nil
	}
	if err != nil {
		return NoBridge, err
	}
	if !b.HasCallback() || b.CallbackState == state.CallbackGone {
		if err := l.s.DeleteBridge(ctx, meetingID); err != nil && !errors.Is(err, state.ErrNotFound) {
			return NoBridge, fmt.Errorf("end bridge: %w", err)
		}
		if err := l.releaseAfter(ctx, b); err != nil {
			return Ended, fmt.Errorf("release the room's next bridge: %w", err)
		}
		return Ended, nil
	}
	changed := false
	_, err = l.s.UpdateBridge(ctx, meetingID, func(b *state.Bridge) bool {
		changed = !b.Ending
		b.Ending = true
		return changed
	})
	if errors.Is(err, state.ErrNotFound) {
		return NoBridge, nil
	}
	if err != nil {
		return NoBridge, fmt.Errorf("mark bridge ending: %w", err)
	}
	if !changed {
		return NoBridge, nil
	}
	return EndsAfterQueue, nil
}

// Finish removes the bridge of an ended meeting once its queue is done (nil when it is gone already). Its
// consumer goes with the delivery worker (DeleteConsumer).
func (l *Lifecycle) Finish(ctx context.Context, meetingID string) error {
	b, err := l.s.GetBridge(ctx, meetingID)
	if errors.Is(err, state.ErrNotFound) {
		// Gone already: maybe by an earlier Finish that could not release the room's next bridge; look again.
		b = state.Bridge{MeetingID: meetingID, FollowRoom: true, CallbackURI: "-"}
	}
	if err := l.s.DeleteBridge(ctx, meetingID); err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	return l.releaseAfter(ctx, b) // a followed room's next meeting's callbacks go out now
}

// ConsumerName is the durable consumer that delivers a bridge's callbacks.
func ConsumerName(meetingID string) string {
	k := state.Key(meetingID)
	if strings.ContainsAny(k, "=") || len(k) > 100 {
		k = "h" + state.HashKey(meetingID)
	}
	return consumerPrefix + k
}

const consumerPrefix = "callbacks_"

// DeliverGroup is the queue group the relays subscribe in to the callback consumers' deliver subjects, so each
// event goes to one of them.
const DeliverGroup = "bbbchat-relay"

// DeliverSubject is where a bridge's callback consumer pushes its events. A push consumer waits, without a pull
// request, heartbeat or goroutine of nats.go's, until the next event: an idle bridge costs relay a subscription
// and nothing else. (nats-server counts only a subscription to this literal subject as interest.)
func DeliverSubject(meetingID string) string {
	return "_bbbchat.callbacks." + ConsumerName(meetingID)
}

// ConsumerConfig is the durable consumer that delivers a bridge's callbacks: the bridge's messages (and the other
// events it asked for), its meeting's end (so the bridge can end after its queue) and its retried deliveries, one
// at a time (MaxAckPending 1) so they go out in order, with retries scheduled by relay through negative
// acknowledgements with a delay. It pushes them to DeliverSubject. It starts at the bridge's creation, or right
// after from when from is a later position (a consumer created again after nats-server restarted). Its state is
// kept in memory: see state.Position.
func ConsumerConfig(b state.Bridge, ackWait time.Duration, from state.Position) jetstream.ConsumerConfig {
	filters := Filters(b)
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
		DeliverSubject: DeliverSubject(b.MeetingID),
		DeliverGroup:   DeliverGroup,
		MemoryStorage:  true,
	}
	// An event stored before the bridge was (re)started, say while its receiver was gone, is not its to deliver.
	if from.Seq > 0 && !from.At.Before(start) {
		cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, from.Seq+1
	}
	return cfg
}

// Filters are the subjects a bridge's callback consumer reads: its meeting's subject of every kind it asked for
// (messages always), its meeting's end (asked for or not: the bridge ends after its queue), the server-wide gap
// subject when it asked for gaps, and its retry subject. The meeting's subjects come first: consumerMeeting reads
// the meeting from them.
func Filters(b state.Bridge) []string {
	var filters []string
	for _, k := range state.CallbackKinds() {
		switch {
		case k == state.TypeGap || k == state.TypeMeetingEnded || !b.Wants(k) && k != state.TypeMessage:
		default:
			filters = append(filters, state.EventSubject(b.MeetingID, k))
		}
	}
	filters = append(filters, state.EventSubject(b.MeetingID, state.TypeMeetingEnded))
	if b.FollowRoom && b.HasCallback() {
		filters = append(filters, state.EventSubject(b.MeetingID, state.TypeMeetingCreated)) // follow.go
	}
	if b.Wants(state.TypeGap) {
		filters = append(filters, state.SubjectGap)
	}
	return append(filters, state.RetrySubject(b.MeetingID))
}

// EnsureConsumer returns the bridge's callback consumer, creating it when it does not exist. A new one starts at
// the bridge's creation time, so no event after startChatForMeeting is missed, whoever creates it first, or right
// after the bridge's last written position or from, whichever is later, when it is created again (nats-server
// restarted and lost it). An existing one is brought to this lifecycle's AckWait when it is relay's (see the
// package documentation).
func (l *Lifecycle) EnsureConsumer(ctx context.Context, b state.Bridge, from state.Position) (*jetstream.ConsumerInfo, error) {
	info, err := l.s.ConsumerInfo(ctx, ConsumerName(b.MeetingID))
	switch {
	case err == nil && info.Config.DeliverSubject == "":
		// A pull consumer with its state on disk, made by an earlier version: replace it, from where it was.
		if info.AckFloor.Stream > 0 {
			from.Advance(state.Position{Seq: info.AckFloor.Stream, At: b.CreatedAt})
		}
		if err := l.DeleteConsumer(ctx, b.MeetingID); err != nil {
			return nil, err
		}
	case err == nil:
		if l.adjust && info.Config.AckWait != l.ackWait {
			cfg := info.Config
			cfg.AckWait = l.ackWait
			if ni, err := l.s.UpdatePushConsumer(ctx, cfg); err == nil {
				return ni, nil
			}
		}
		return info, nil
	case !errors.Is(err, state.ErrNotFound):
		return nil, err
	}
	stats, err := l.s.GetCallbackStats(ctx, b.MeetingID)
	if err != nil {
		return nil, fmt.Errorf("bridge: callback position: %w", err)
	}
	from.Advance(stats.Position)
	info, err = l.s.CreatePushConsumer(ctx, ConsumerConfig(b, l.ackWait, from))
	if errors.Is(err, state.ErrExists) {
		return l.s.ConsumerInfo(ctx, ConsumerName(b.MeetingID))
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: create callback consumer: %w", err)
	}
	return info, nil
}

// DeleteConsumer removes a bridge's callback consumer (and with it its pending deliveries); nil when it has none.
func (l *Lifecycle) DeleteConsumer(ctx context.Context, meetingID string) error {
	return l.s.DeleteConsumer(ctx, ConsumerName(meetingID))
}

// Subscribe subscribes, in the relays' queue group, to what a bridge's consumer pushes, into ch.
func (l *Lifecycle) Subscribe(meetingID string, ch chan *nats.Msg) (*nats.Subscription, error) {
	return l.s.QueueSubscribe(DeliverSubject(meetingID), DeliverGroup, ch)
}

// Release sends a bridge's waiting callback now instead of after its retry delay: the consumer starts again at the
// first event not acknowledged (state.Store.ResetConsumer), and the schedule starts again with it. head, when not 0,
// is the stream sequence of the event the caller saw wait; nothing is done when the consumer is past it already.
// It reports whether the consumer was reset: not when nothing is out (nothing waits on a delay) or head is done.
// An event another relay is posting at that moment may then be posted twice (receivers deduplicate on webhook-id).
// state.ErrNotFound when the bridge has no consumer.
func (l *Lifecycle) Release(ctx context.Context, meetingID string, head uint64) (bool, error) {
	name := ConsumerName(meetingID)
	info, err := l.s.ConsumerInfo(ctx, name)
	if err != nil {
		return false, err
	}
	if info.NumAckPending == 0 || head != 0 && info.AckFloor.Stream >= head {
		return false, nil
	}
	if err := l.s.ResetConsumer(ctx, name); err != nil {
		return false, fmt.Errorf("bridge: release callbacks: %w", err)
	}
	return true, nil
}

// Pending reports a bridge's undelivered callbacks: waiting in the stream plus in flight. state.ErrNotFound when
// the bridge has no consumer.
func (l *Lifecycle) Pending(ctx context.Context, meetingID string) (uint64, error) {
	info, err := l.s.ConsumerInfo(ctx, ConsumerName(meetingID))
	if err != nil {
		return 0, err
	}
	return pending(info), nil
}

func pending(info *jetstream.ConsumerInfo) uint64 {
	return info.NumPending + uint64(max(info.NumAckPending, 0))
}

// Queue is one bridge's callback queue, as Queues lists it.
type Queue struct {
	MeetingID string
	Pending   uint64 // waiting in the stream plus in flight
}

// Queues calls f with the queue of every bridge's callback consumer, reading the stream's consumers a page at a
// time rather than bridge by bridge.
func (l *Lifecycle) Queues(ctx context.Context, f func(Queue)) error {
	return l.s.ListConsumers(ctx, func(info *jetstream.ConsumerInfo) {
		if !strings.HasPrefix(info.Name, consumerPrefix) {
			return
		}
		f(Queue{MeetingID: consumerMeeting(info), Pending: pending(info)})
	})
}

// consumerMeeting is the meeting of a callback consumer, from its first filter subject (its name may be a hash).
func consumerMeeting(info *jetstream.ConsumerInfo) string {
	subjects := info.Config.FilterSubjects
	if len(subjects) == 0 && info.Config.FilterSubject != "" {
		subjects = []string{info.Config.FilterSubject}
	}
	for _, s := range subjects {
		if id, _, err := state.ParseSubject(s); err == nil {
			return id
		}
	}
	return info.Name
}
