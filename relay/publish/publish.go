// Package publish owns relay's way into the events stream: the publisher that puts every event read from Redis
// into the stream, in the order it came, with the event id as the message id (so the stream deduplicates), riding
// out NATS outages in a bounded buffer. It reports in the bbbchat_relay_events_* and bbbchat_relay_publish_*
// metrics and the Redis→NATS hop histogram.
//
// The publisher is a hand version, kept for measured speed: it publishes with a reply subject of its own, reads
// the acknowledgements on its own goroutine and parses them itself (parseAck), where nats.go's asynchronous
// publish cost relay CPU and missed the forward target. FuzzParseAck is a differential test against the library:
// for any answer, parseAck's verdict must be the one nats.go's types give. See docs/performance.md, "Hand-written
// code kept".
//
// It must not decode Redis messages (package redisfeed makes the events), must not touch the KV buckets (package
// keep applies what a stored event means, through the Done hook) and must never make the reader wait: a full
// buffer drops the event and says so.
package publish

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/ratelog"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Item is one event on its way into the stream.
type Item struct {
	Seq       uint64 // order of arrival from Redis
	Event     state.Event
	Payload   []byte    // Event, encoded
	CreatedAt int64     // meeting.created: BBB's creation time (ms)
	ReadAt    time.Time // when the reader took it from Redis (for the Redis→NATS hop histogram)
	attempts  int       // failed attempts with a permanent error
}

// Result is how an event's publish ended.
type Result int

const (
	Stored    Result = iota // stored in the stream
	Duplicate               // the stream had it already (another relay stored it)
	Lost                    // given up after repeated errors
)

// flight is one publish awaiting the stream's acknowledgement.
type flight struct {
	it       *Item
	token    uint64    // the last token of the publish's reply subject
	deadline time.Time // when it counts as timed out
	settled  bool      // the acknowledgement (or an error) arrived
	// reconnects is the connection's count of reconnections when it was sent: after another one it will not be
	// answered.
	reconnects uint64
	res        Result
	err        error
}

// errPublishTimeout: the stream did not acknowledge a publish in time (NATS slow, or the reply lost in a
// reconnect). Sending it again is safe: the stream deduplicates by event id.
var errPublishTimeout = errors.New("no acknowledgement from the stream in time")

// Publisher puts events into the stream in the order they came from Redis, asynchronously: up to window
// publishes await their acknowledgement at once, each with the event id as its message id, so relay keeps up with
// thousands of events a second. It publishes with a reply subject of its own and reads the acknowledgements from a
// channel subscription on its own goroutine, so an acknowledgement wakes the publisher and nothing else.
//
// Redis pub/sub cannot be paused, so the reader never waits on the publisher: Enqueue takes an event or, when the
// buffer (NATS down or too slow) is full, drops it and says so loudly.
//
// Errors: a publish that fails because NATS is unreachable, the acknowledgement timed out or the stream did not
// answer is retried until it succeeds (or the shutdown deadline passes). Retrying is safe because the stream
// deduplicates by event id. Any other error (the stream refused the message) is retried maxAttempts times, then
// the event is counted as lost. After an error the publisher stops sending, lets every publish in flight finish,
// and sends the failed ones again in their original order, one at a time until the stream stores one (a stream
// that comes back, or gets its new leader, between two publishes of a window would store them out of order);
// later events stored meanwhile are handed on only after them, so an outage does not reorder events. (Only a
// publish given up after a permanent error lands out of order.)
type Publisher struct {
	log         *slog.Logger
	m           *metrics
	nc          *nats.Conn
	timeout     time.Duration // for an acknowledgement
	ready       func() bool   // NATS connected and the stream open
	reopen      func()        // the stream did not answer: make sure it exists
	wake        chan struct{}
	queue       chan *Item
	window      int
	maxAttempts int
	done        func(context.Context, *Item, Result)
	now         func() time.Time
	limit       *ratelog.Limiter
	retry       backoff.Exponential // the wait after an error, growing while errors go on
}

// Options are what a Publisher is built from; all are required unless said otherwise.
type Options struct {
	Log         *slog.Logger
	Conn        *nats.Conn
	Timeout     time.Duration // for an acknowledgement
	Ready       func() bool   // NATS connected and the stream open
	Reopen      func()        // called when the stream did not answer: make sure it exists
	Wake        chan struct{} // signalled when NATS or the state comes back (Notify); nil: the Publisher makes one
	Buffer      int           // events waiting to be published; beyond this they are dropped
	Window      int           // asynchronous publishes awaiting their acknowledgement at once
	MaxAttempts int           // attempts for an event the stream refuses
	// Done is called with every event once its publish settled, in the order the events came (optional).
	Done  func(context.Context, *Item, Result)
	Retry backoff.Exponential // the wait after an error, growing while errors go on
	Now   func() time.Time
}

// New returns a Publisher; its metrics are registered in reg. Run it with Run.
func New(o Options, reg prometheus.Registerer) *Publisher {
	wake := o.Wake
	if wake == nil {
		wake = make(chan struct{}, 1)
	}
	return &Publisher{
		log: o.Log, m: newMetrics(reg), nc: o.Conn, timeout: o.Timeout, ready: o.Ready, reopen: o.Reopen, wake: wake,
		queue: make(chan *Item, o.Buffer), window: o.Window, maxAttempts: o.MaxAttempts, done: o.Done, now: o.Now,
		limit: ratelog.New(10*time.Second, o.Now), retry: o.Retry,
	}
}

// metrics are the publisher's figures. The counters are atomics the code also reads (tests), exported through
// the registry as they are scraped.
type metrics struct {
	published      *sharedmetrics.Capped // by event type
	duplicates     *sharedmetrics.Capped // by event type
	publishRetries atomic.Uint64
	publishLost    atomic.Uint64
	dropped        atomic.Uint64 // buffer full
	unflushed      atomic.Uint64 // still queued when the shutdown deadline passed
	queued         atomic.Int64  // events waiting to be published or acknowledged
	// forward is the Redis→NATS hop: from reading a message on Redis to the stream's acknowledgement, by result.
	forward *prometheus.HistogramVec
}

// maxLabelValues bounds how many distinct label values one labeled counter keeps (see sharedmetrics.Capped).
const maxLabelValues = 200

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{}
	types := []string{state.TypeMessage, state.TypeCleared, state.TypeUserJoined, state.TypeUserLeft,
		state.TypeMeetingCreated, state.TypeMeetingEnded}
	m.published = sharedmetrics.NewCapped(reg, "bbbchat_relay_events_published_total", "Events stored in the events stream, by type.", "type", maxLabelValues, types...)
	m.duplicates = sharedmetrics.NewCapped(reg, "bbbchat_relay_events_duplicate_total", "Events the stream already had (published by another relay), by type.", "type", maxLabelValues, types...)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_publish_retries_total", "Event publishes retried after an error.", m.publishRetries.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_publish_lost_total", "Events given up after repeated publish errors.", m.publishLost.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_events_dropped_total", "Events dropped because the publish buffer was full (NATS down or too slow).", m.dropped.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_events_unflushed_total", "Events still unpublished when the shutdown deadline passed.", m.unflushed.Load)
	sharedmetrics.GaugeFunc(reg, "bbbchat_relay_publish_queue", "Events waiting to be published or acknowledged.", m.queued.Load)
	m.forward = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bbbchat_relay_forward_duration_seconds",
		Help:    "Time from reading a BBB event on Redis to the events stream's acknowledgement, by result (stored, duplicate, lost).",
		Buckets: sharedmetrics.LatencyBuckets,
	}, []string{"result"})
	for _, r := range []string{"stored", "duplicate", "lost"} {
		m.forward.WithLabelValues(r)
	}
	reg.MustRegister(m.forward)
	return m
}

// observeForward records an event's Redis→NATS hop once its publish settled.
func (m *metrics) observeForward(it *Item, res Result, now time.Time) {
	if it.ReadAt.IsZero() {
		return
	}
	result := "stored"
	switch res {
	case Duplicate:
		result = "duplicate"
	case Lost:
		result = "lost"
	}
	m.forward.WithLabelValues(result).Observe(now.Sub(it.ReadAt).Seconds())
}

// Enqueue hands an event to the publisher without waiting; false when the buffer was full and it was dropped.
// It must not be called after Close.
func (p *Publisher) Enqueue(it *Item) bool {
	select {
	case p.queue <- it:
		p.m.queued.Add(1)
		return true
	default:
		p.m.dropped.Add(1)
		if ok, n := p.limit.Allow("dropped"); ok {
			p.log.Error("publish buffer full: BBB event dropped, it will not reach the stream (NATS down or too slow)",
				"type", it.Event.Type, "meeting", it.Event.MeetingID, "id", it.Event.ID, "buffer", cap(p.queue),
				"dropped_before", n)
		}
		return false
	}
}

// Close tells the publisher that no more events come: Run returns once everything queued settled.
func (p *Publisher) Close() { close(p.queue) }

// Notify wakes the publisher when NATS or the state comes back.
func (p *Publisher) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// isTransient reports errors that say nothing about the event itself: retry until NATS is back. Which errors mean
// that NATS cannot be reached is state.Unavailable's to know; the publisher adds its own: its acknowledgement
// timeout, the server's request timeout, and nats.go's full reconnect buffer or slow reply subscription. Its own
// context ending is not transient: Run is stopping.
func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if state.Unavailable(err) {
		return true
	}
	if apiErr, ok := errors.AsType[*jetstream.APIError](err); ok {
		return apiErr.Code == 408
	}
	return errors.Is(err, errPublishTimeout) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, nats.ErrSlowConsumer)
}

// parseAck reads the stream's answer to a publish: stored, a duplicate of a stored event, or an error. Its verdict
// is the one nats.go's own reading of the answer gives (FuzzParseAck holds it to that); the answers nats-server
// writes are read without a JSON decoder, anything else is decoded as nats.go decodes it.
func parseAck(m *nats.Msg) (Result, error) {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return 0, jetstream.ErrNoStreamResponse // no stream takes the subject
	}
	if res, ok := fastAck(m.Data); ok {
		return res, nil
	}
	// nats.go's pubAckResponse: the API response's type and error, and the acknowledgement.
	var a struct {
		Type  string              `json:"type"`
		Error *jetstream.APIError `json:"error"`
		*jetstream.PubAck
	}
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return 0, jetstream.ErrInvalidJSAck
	}
	if a.Error != nil {
		return 0, a.Error
	}
	if a.PubAck == nil || a.Stream == "" {
		return 0, jetstream.ErrInvalidJSAck
	}
	if a.Duplicate {
		return Duplicate, nil
	}
	return Stored, nil
}

// fastAck reads an acknowledgement in the forms nats-server writes, {"stream":"EVENTS","seq":42} with optionally
// "domain":"…" and "duplicate": true, without a JSON decoder. It takes only a JSON object whose keys are stream,
// domain, seq and duplicate, each at most once, spelled exactly so, with a non-empty plain ASCII stream name, a
// plain ASCII domain, seq a uint64 and duplicate a boolean; ok false for anything else (encoding/json's reading
// of it could differ: other keys, keys in another case or with escapes, repeated keys, null, errors).
func fastAck(data []byte) (res Result, ok bool) {
	i := 0
	ws := func() {
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
			i++
		}
	}
	// str reads a string with no escapes and only printable ASCII in it.
	str := func() ([]byte, bool) {
		if i >= len(data) || data[i] != '"' {
			return nil, false
		}
		i++
		start := i
		for ; i < len(data) && data[i] != '"'; i++ {
			if c := data[i]; c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
		}
		if i >= len(data) {
			return nil, false
		}
		i++
		return data[start : i-1], true
	}
	const (
		seenStream = 1 << iota
		seenDomain
		seenSeq
		seenDuplicate
	)
	var (
		seen      int
		stream    bool // non-empty
		duplicate bool
	)
	ws()
	if i >= len(data) || data[i] != '{' {
		return 0, false
	}
	i++
	for {
		ws()
		key, ok := str()
		if !ok {
			return 0, false
		}
		ws()
		if i >= len(data) || data[i] != ':' {
			return 0, false
		}
		i++
		ws()
		var bit int
		switch string(key) {
		case "stream", "domain":
			bit = seenStream
			if key[0] == 'd' {
				bit = seenDomain
			}
			v, ok := str()
			if !ok {
				return 0, false
			}
			if bit == seenStream {
				stream = len(v) > 0
			}
		case "seq":
			bit = seenSeq
			start := i
			for i < len(data) && data[i] >= '0' && data[i] <= '9' {
				i++
			}
			// A JSON integer (no leading zero) that fits a uint64 (19 digits always do).
			if n := i - start; n == 0 || n > 19 || n > 1 && data[start] == '0' {
				return 0, false
			}
		case "duplicate":
			bit = seenDuplicate
			switch {
			case len(data)-i >= 4 && string(data[i:i+4]) == "true":
				duplicate = true
				i += 4
			case len(data)-i >= 5 && string(data[i:i+5]) == "false":
				i += 5
			default:
				return 0, false
			}
		default:
			return 0, false
		}
		if seen&bit != 0 {
			return 0, false
		}
		seen |= bit
		ws()
		if i >= len(data) {
			return 0, false
		}
		if data[i] == ',' {
			i++
			continue
		}
		if data[i] != '}' {
			return 0, false
		}
		i++
		break
	}
	ws()
	if i != len(data) || !stream {
		return 0, false
	}
	if duplicate {
		return Duplicate, true
	}
	return Stored, true
}

// Run publishes until the queue is closed and everything in it settled, or until ctx (the shutdown deadline)
// ends; what is left then is counted as unflushed.
func (p *Publisher) Run(ctx context.Context) {
	var (
		retry    []*Item   // failed, to send again before anything newer, kept in seq order
		inflight []*flight // sent, awaiting acknowledgement, in send order (and so in token and seq order)
		held     []*flight // stored while an older event waits to be sent again, kept in seq order
		next     *Item     // taken from the queue, not sent yet
		closed   bool      // the queue is closed: no more events
		failing  bool      // an error happened: drain inflight, wait, then resend
		probing  bool      // after an error: one publish at a time until the stream stores one (see Publisher)
		backoff  = p.retry.Start()
		token    uint64
		sub      *nats.Subscription
		acks     = make(chan *nats.Msg, 2*p.window+64) // never full: at most window publishes await an answer
		inbox    = p.nc.NewInbox() + "."
		timer    = time.NewTimer(time.Hour)
		armed    time.Time // the deadline timer is set for
	)
	timer.Stop()
	defer func() {
		timer.Stop()
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		for _, f := range held { // in the stream already
			p.finish(ctx, f.it, f.res)
		}
		n := len(retry) + len(inflight)
		if next != nil {
			n++
		}
		if !closed {
		drain:
			for {
				select {
				case _, ok := <-p.queue:
					if !ok {
						break drain
					}
					n++
				default:
					break drain
				}
			}
		}
		if n > 0 {
			p.m.unflushed.Add(uint64(n))
			p.m.queued.Add(-int64(n))
			p.log.Error("shutdown deadline passed with events not in the stream", "events", n)
		}
	}()
	// release finishes, in seq order, the held events that no older event waits before any more. What is in
	// flight is in seq order (after an error nothing is sent until all in flight settled, and then the failed
	// ones go first), so its first is its oldest.
	release := func() {
		for len(held) > 0 {
			seq := held[0].it.Seq
			if len(retry) > 0 && retry[0].Seq < seq || len(inflight) > 0 && inflight[0].it.Seq < seq {
				return
			}
			p.finish(ctx, held[0].it, held[0].res)
			held[0] = nil
			held = held[1:]
		}
	}
	addRetry := func(it *Item) {
		i := sort.Search(len(retry), func(i int) bool { return retry[i].Seq > it.Seq })
		retry = append(retry, nil)
		copy(retry[i+1:], retry[i:])
		retry[i] = it
	}
	// take returns the next event to send: a retried one first, else the queued one.
	take := func() *Item {
		if len(retry) > 0 {
			it := retry[0]
			retry = retry[1:]
			return it
		}
		if next != nil {
			it := next
			next = nil
			return it
		}
		if closed {
			return nil
		}
		select {
		case it, ok := <-p.queue:
			if !ok {
				closed = true
				return nil
			}
			return it
		default:
			return nil
		}
	}
	// answer settles the flight an acknowledgement is for; one for a flight no longer waited for is ignored.
	answer := func(m *nats.Msg) {
		tok, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, inbox), 10, 64)
		if err != nil {
			return
		}
		i := sort.Search(len(inflight), func(i int) bool { return inflight[i].token >= tok })
		if i == len(inflight) || inflight[i].token != tok || inflight[i].settled {
			return
		}
		f := inflight[i]
		f.settled = true
		f.res, f.err = parseAck(m)
	}
	buf := make([]byte, 0, 64)
	for {
		if ctx.Err() != nil {
			return
		}
		if sub == nil {
			s, err := p.nc.ChanSubscribe(inbox+"*", acks)
			if err != nil {
				if ok, n := p.limit.Allow("publish-subscribe"); ok {
					p.log.Warn("cannot subscribe to the stream's acknowledgements, retrying", "err", err,
						"retries_before", n)
				}
				if !p.sleep(ctx, backoff.Next()) {
					return
				}
				continue
			}
			sub = s
		}
		// Send while the window has room.
		if !failing && p.ready() {
			reconnects := p.nc.Stats().Reconnects // the connection these go out on
			for len(inflight) < p.window && !(probing && len(inflight) > 0) {
				it := take()
				if it == nil {
					break
				}
				token++
				buf = strconv.AppendUint(append(buf[:0], inbox...), token, 10)
				msg := &nats.Msg{Subject: it.Event.Subject(), Reply: string(buf), Data: it.Payload,
					Header: nats.Header{jetstream.MsgIDHeader: []string{it.Event.ID}}}
				if err := p.nc.PublishMsg(msg); err != nil {
					if p.failed(ctx, it, err) {
						addRetry(it)
					}
					failing, probing = true, true
					break
				}
				inflight = append(inflight, &flight{it: it, token: token, deadline: p.now().Add(p.timeout), reconnects: reconnects})
			}
		}
		// Settle, in send order, what was answered or timed out.
		now := p.now()
		for len(inflight) > 0 {
			f := inflight[0]
			if !f.settled && now.Before(f.deadline) {
				break
			}
			inflight[0] = nil
			inflight = inflight[1:]
			if !f.settled {
				f.err = errPublishTimeout
			}
			if f.err != nil {
				if p.failed(ctx, f.it, f.err) {
					addRetry(f.it)
				}
				failing, probing = true, true
				continue
			}
			probing = false
			if !failing {
				backoff.Reset()
			}
			if len(held) == 0 && len(retry) == 0 {
				p.finish(ctx, f.it, f.res)
				continue
			}
			// An older event failed and is to be sent again: this one waits for it, so that the state sees
			// the events in their order.
			i := sort.Search(len(held), func(i int) bool { return held[i].it.Seq > f.it.Seq })
			held = append(held, nil)
			copy(held[i+1:], held[i:])
			held[i] = f
		}
		release()
		if len(inflight) > 0 {
			if d := inflight[0].deadline; !d.Equal(armed) {
				timer.Reset(d.Sub(now))
				armed = d
			}
			// Wait for an answer, the oldest publish's deadline, or (with room in the window) the next event.
			var queue <-chan *Item
			if !failing && !closed && next == nil && len(retry) == 0 && len(inflight) < p.window {
				queue = p.queue
			}
			select {
			case m := <-acks:
				answer(m)
				for more := true; more; { // take what else arrived without waiting
					select {
					case m := <-acks:
						answer(m)
					default:
						more = false
					}
				}
			case <-timer.C:
				armed = time.Time{}
			case <-p.wake:
				// NATS or the state is back. After a reconnection, what went out on the old connection will not
				// be answered: send it again now rather than wait out its deadline (the stream deduplicates), so
				// that a relay killed soon after an outage does not take its backlog with it. Nothing newer goes
				// out before it (failing): it is older, and the stream keeps the order in which it stores.
				rc := p.nc.Stats().Reconnects
				for _, f := range inflight {
					if !f.settled && f.reconnects != rc {
						f.deadline = now
						failing, probing = true, true
					}
				}
			case it, ok := <-queue:
				if !ok {
					closed = true
				} else {
					next = it
				}
			case <-ctx.Done():
				return
			}
			continue
		}
		if closed && len(retry) == 0 && next == nil {
			return
		}
		// Nothing in flight: wait for NATS after an error, or for the next event.
		if failing || (!p.ready() && (len(retry) > 0 || next != nil || closed)) {
			if !p.sleep(ctx, backoff.Next()) {
				return
			}
			failing = false
			continue
		}
		if len(retry) == 0 && next == nil {
			select {
			case it, ok := <-p.queue:
				if !ok {
					closed = true
				} else {
					next = it
				}
			case m := <-acks:
				answer(m) // late: its flight was given up already
			case <-ctx.Done():
				return
			}
		}
	}
}

// sleep waits d, or until NATS comes back, or until ctx ends (false).
func (p *Publisher) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.wake:
	case <-ctx.Done():
		return false
	}
	return true
}

// failed accounts for a failed publish and reports whether to send it again.
func (p *Publisher) failed(ctx context.Context, it *Item, err error) bool {
	transient := isTransient(err)
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		p.reopen()
	}
	if !transient {
		it.attempts++
		if it.attempts >= p.maxAttempts {
			p.m.publishLost.Add(1)
			p.log.Error("event lost: the stream refused it repeatedly", "type", it.Event.Type,
				"meeting", it.Event.MeetingID, "id", it.Event.ID, "attempts", it.attempts, "err", err)
			p.finish(ctx, it, Lost)
			return false
		}
	}
	p.m.publishRetries.Add(1)
	if ok, n := p.limit.Allow("publish-retry"); ok {
		p.log.Warn("publishing an event failed, retrying", "type", it.Event.Type, "meeting", it.Event.MeetingID,
			"id", it.Event.ID, "err", err, "transient", transient, "retries_before", n)
	}
	return true
}

// finish counts a settled event and hands it on (Done).
func (p *Publisher) finish(ctx context.Context, it *Item, res Result) {
	p.m.queued.Add(-1)
	switch res {
	case Stored:
		p.m.published.Inc(it.Event.Type)
	case Duplicate:
		p.m.duplicates.Inc(it.Event.Type)
	}
	p.m.observeForward(it, res, p.now())
	if p.done != nil {
		p.done(ctx, it, res)
	}
}
