// Package redisfeed owns relay's reading of BigBlueButton's Redis: the subscription to akka-apps' two event
// channels, its health check (a PING on a quiet connection) and the detection and logging of the gaps in which
// events were missed, and the turning of each Redis message into a stream event: decoding, the event id, the
// meeting id cache, and the tracking of the BBB version the server speaks. It reports in the
// bbbchat_relay_redis_*, bbbchat_relay_chat_messages_total, bbbchat_relay_decode_errors_total and
// bbbchat_relay_unknown_meeting_events_total metrics.
//
// It must not publish anything to Redis, must not write to NATS (it hands each event to the publisher and only
// reads the meetings bucket for an external meeting id, never waiting for an outage), and must not stop on
// garbage: a malformed message is counted, logged at a limited rate and ignored.
package redisfeed

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/publish"
	"github.com/bbb-chat/bbb-chat/relay/ratelog"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Sizes and waits of the reader.
const (
	meetingCacheN = 10000                  // external meeting ids remembered
	userNamesN    = 50000                  // user names remembered, for the events about a message
	unknownTTL    = time.Minute            // how long a meeting not known stays not known
	lookupTimeout = 250 * time.Millisecond // for an external meeting id in the meetings bucket
)

// Options are what a Feed is built from; all are required.
type Options struct {
	Log       *slog.Logger
	Now       func() time.Time
	Versions  *Versions
	Store     func() *state.Store      // the state, nil until it is open
	Connected func() bool              // NATS connected
	Enqueue   func(*publish.Item) bool // hands an event to the publisher without waiting
	// Server is this BBB server's id (BBB_CHAT_SERVER_ID), put in every event, so a subscriber of a fleet's
	// stream knows where a meeting runs and ingress can forward a call for it there (docs/fleet.md).
	Server string
}

// Feed reads BBB's events from Redis and hands each to the publisher.
type Feed struct {
	m   *metrics
	sub *subscriber
	rd  *reader
}

// New returns a Feed; its metrics are registered in reg. Start it with Subscribe.
func New(o Options, reg prometheus.Registerer) *Feed {
	m := newMetrics(reg)
	return &Feed{
		m:   m,
		sub: newSubscriber(o.Log, m, o.Now),
		rd: &reader{log: o.Log, m: m, now: o.Now, versions: o.Versions,
			cache: newMeetingCache(meetingCacheN, unknownTTL, o.Now), names: newMeetingCache(userNamesN, 0, o.Now),
			store: o.Store, connected: o.Connected, server: o.Server,
			enqueue: o.Enqueue, limit: ratelog.New(10*time.Second, o.Now)},
	}
}

// Subscribe starts reading Redis with the client options o (see RedisOptions) until stop is called; stop returns
// once the last message read was handed on. Redis being down at start is fine: the client keeps dialling.
func (f *Feed) Subscribe(ctx context.Context, o *redis.Options) (stop func()) {
	return f.sub.subscribe(ctx, o, f.rd.handle)
}

// Subscribed reports whether both BBB channels are subscribed now.
func (f *Feed) Subscribed() bool { return f.m.redisSubscribed.Load() }

// SubscribedSince is when the current subscription to both BBB channels began (every event BBB published since
// then reaches this relay); zero while not subscribed. Relay's coverage heartbeat reads it to tell whether any
// relay heard the server throughout (package coverage).
func (f *Feed) SubscribedSince() time.Time { return f.sub.subscribedSince() }

// maxLabelValues bounds how many distinct label values one labeled counter keeps; further values are counted
// under "other", so garbage on Redis cannot grow /metrics without bound.
const maxLabelValues = 200

// metrics are the feed's figures. The counters are atomics the code also reads (readiness, tests), exported
// through the registry as they are scraped.
type metrics struct {
	redisEvents    *sharedmetrics.Capped // by envelope name
	chatMessages   *sharedmetrics.Capped // by BBB version
	decodeErrors   *sharedmetrics.Capped // by reason
	unknownMeeting atomic.Uint64

	redisSubscribed atomic.Bool
	redisReconnects atomic.Uint64
	redisGaps       atomic.Uint64
	redisDialErrors atomic.Uint64
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{}
	m.redisEvents = sharedmetrics.NewCapped(reg, "bbbchat_relay_redis_events_total", "BBB events received on Redis, by envelope name.", "name", maxLabelValues)
	m.chatMessages = sharedmetrics.NewCapped(reg, "bbbchat_relay_chat_messages_total", "Chat messages received from BBB, by BBB version.", "bbb_version", maxLabelValues)
	m.decodeErrors = sharedmetrics.NewCapped(reg, "bbbchat_relay_decode_errors_total", "Redis messages that could not be decoded, by reason.", "reason", maxLabelValues,
		"too_large", "not_json", "not_envelope", "incomplete")
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_unknown_meeting_events_total", "Events of meetings relay has not seen created.", m.unknownMeeting.Load)
	sharedmetrics.FlagGauge(reg, "bbbchat_relay_redis_subscribed", "1 when both BBB channels are subscribed.", &m.redisSubscribed)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_redis_reconnects_total", "Redis subscriptions re-established after a lost connection.", m.redisReconnects.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_redis_gaps_total", "Periods in which Redis events were published while relay was not subscribed.", m.redisGaps.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_redis_dial_errors_total", "Failed connection attempts to Redis.", m.redisDialErrors.Load)
	return m
}

// reader turns each Redis message into an event for the publisher. It runs on the subscription's goroutine only.
type reader struct {
	log       *slog.Logger
	m         *metrics
	now       func() time.Time
	versions  *Versions
	cache     *meetingCache
	names     *meetingCache // user names by meeting and user id, from the joins relay read
	store     func() *state.Store
	connected func() bool
	enqueue   func(*publish.Item) bool
	server    string // Options.Server
	limit     *ratelog.Limiter
	seq       uint64
}

// handle decodes one Redis message and queues its event for the stream. Malformed messages are counted and
// logged (rate-limited), never fatal, and change nothing. A chat broadcast, the event relay forwards most, is
// told from the rest by its first bytes (bbb.DecodeChat) before anything else is tried.
func (r *reader) handle(msg string) {
	if e, ok := bbb.DecodeChat(msg); ok {
		r.forward(e, nil)
		return
	}
	raw := []byte(msg)
	if name, ok := bbb.SkipName(raw); ok { // most of BBB's traffic: nothing to forward
		r.m.redisEvents.Inc(name)
		return
	}
	e, err := bbb.Decode(raw)
	if err != nil {
		reason := decodeReason(raw)
		r.m.decodeErrors.Inc(reason)
		r.log.Debug("malformed Redis message", "reason", reason, "err", err, "bytes", len(raw))
		if ok, n := r.limit.Allow("decode-" + reason); ok {
			r.log.Warn("malformed Redis message ignored", "reason", reason, "err", truncate(err.Error(), 300),
				"bytes", len(raw), "ignored_before", n)
		}
		return
	}
	r.forward(e, raw)
}

// forward queues a decoded event for the stream. raw is the message it was decoded from (the id of an event
// other than a chat message is a hash of it); nil for a chat message.
func (r *reader) forward(e bbb.Event, raw []byte) {
	r.m.redisEvents.Inc(e.Name)
	if eventType(e.Kind) == "" {
		return
	}
	v := r.versions.observe(e.Hint)
	if e.Kind == bbb.KindChatMessage {
		r.m.chatMessages.Inc(v.String())
	}
	actor := ""
	switch {
	case e.Kind == bbb.KindUserJoined && e.User != nil:
		r.names.put(nameKey(e.MeetingID, e.User.ID), e.User.Name)
	case e.Kind.IsMessageAction() && e.Action != nil:
		actor = r.userName(e.MeetingID, e.Action.UserID)
	}
	ev, ok := buildEvent(e, raw, v, r.externalID(e), actor)
	if !ok {
		r.m.decodeErrors.Inc("incomplete")
		return
	}
	ev.Server = r.server
	payload := state.AppendEvent(make([]byte, 0, 384), ev)
	r.seq++
	it := &publish.Item{Seq: r.seq, Event: ev, Payload: payload, ReadAt: r.now()}
	if e.Meeting != nil {
		it.CreatedAt = e.Meeting.CreatedTime
	}
	r.enqueue(it)
}

// externalID returns the meeting's external id when relay knows it: from MeetingCreatedEvtMsg itself, from the
// cache, else from the meetings bucket (only while NATS is up; the reader never waits for an outage).
func (r *reader) externalID(e bbb.Event) string {
	if e.Kind == bbb.KindMeetingCreated && e.Meeting != nil {
		r.cache.put(e.MeetingID, e.Meeting.ExternalID)
		return e.Meeting.ExternalID
	}
	ext, known, cached := r.cache.get(e.MeetingID)
	if cached {
		if !known {
			r.m.unknownMeeting.Add(1)
		}
		return ext
	}
	s := r.store()
	if s == nil || !r.connected() {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	mt, err := s.MeetingByInternal(ctx, e.MeetingID)
	switch {
	case err == nil:
		r.cache.put(e.MeetingID, mt.ExternalID)
		return mt.ExternalID
	case errors.Is(err, state.ErrNotFound):
		r.cache.putUnknown(e.MeetingID)
		r.m.unknownMeeting.Add(1)
	case !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded):
		if ok, _ := r.limit.Allow("lookup"); ok {
			r.log.Warn("cannot look up the meeting's external id", "meeting", e.MeetingID, "err", err)
		}
	}
	return ""
}

func nameKey(meetingID, userID string) string { return meetingID + "\x00" + userID }

// userName returns the name of a user of the meeting: from the joins this relay read, else from the presence
// bucket (only while NATS is up; the reader never waits for an outage), else "".
func (r *reader) userName(meetingID, userID string) string {
	if name, known, _ := r.names.get(nameKey(meetingID, userID)); known {
		return name
	}
	s := r.store()
	if s == nil || !r.connected() {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	p, err := s.PresentUser(ctx, meetingID, userID)
	switch {
	case err == nil:
		r.names.put(nameKey(meetingID, userID), p.Name)
		return p.Name
	case !errors.Is(err, state.ErrNotFound) && !errors.Is(err, nats.ErrTimeout) &&
		!errors.Is(err, context.DeadlineExceeded):
		if ok, _ := r.limit.Allow("lookup-user"); ok {
			r.log.Warn("cannot look up the name of a user", "meeting", meetingID, "user", userID, "err", err)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
