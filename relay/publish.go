package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pubItem is one event on its way into the stream.
type pubItem struct {
	seq       uint64 // order of arrival from Redis
	ev        state.Event
	payload   []byte
	createdAt int64     // meeting.created: BBB's creation time (ms)
	readAt    time.Time // when the reader took it from Redis (for the Redis→NATS hop histogram)
	attempts  int       // failed attempts with a permanent error
}

// publishResult is how an event's publish ended.
type publishResult int

const (
	resultStored    publishResult = iota // stored in the stream
	resultDuplicate                      // the stream had it already (another relay stored it)
	resultLost                           // given up after repeated errors
)

// flight is one publish awaiting the stream's acknowledgement.
type flight struct {
	it       *pubItem
	token    uint64    // the last token of the publish's reply subject
	deadline time.Time // when it counts as timed out
	settled  bool      // the acknowledgement (or an error) arrived
	res      publishResult
	err      error
}

// errPublishTimeout: the stream did not acknowledge a publish in time (NATS slow, or the reply lost in a
// reconnect). Sending it again is safe: the stream deduplicates by event id.
var errPublishTimeout = errors.New("no acknowledgement from the stream in time")

// publisher puts events into the stream in the order they came from Redis, asynchronously: up to window
// publishes await their acknowledgement at once, so relay keeps up with thousands of events a second. It
// publishes with a reply subject of its own and reads the acknowledgements from a channel subscription on its own
// goroutine, so an acknowledgement wakes the publisher and nothing else.
//
// Redis pub/sub cannot be paused, so the reader never waits on the publisher: enqueue takes an event or, when the
// buffer (NATS down or too slow) is full, drops it and says so loudly.
//
// Errors: a publish that fails because NATS is unreachable, the acknowledgement timed out or the stream did not
// answer is retried until it succeeds (or the shutdown deadline passes). Retrying is safe because the stream
// deduplicates by event id. Any other error (the stream refused the message) is retried maxAttempts times, then
// the event is counted as lost. After an error the publisher stops sending, lets every publish in flight finish,
// and sends the failed ones again in their original order, so an outage does not reorder events. (Only a publish
// that fails while later ones succeed, which takes a permanent error, lands out of order.)
type publisher struct {
	log         *slog.Logger
	m           *metrics
	nc          *nats.Conn
	now         func() time.Time
	timeout     time.Duration // for an acknowledgement
	ready       func() bool   // NATS connected and the stream open
	reopen      func()        // the stream did not answer: make sure it exists
	wake        chan struct{}
	queue       chan *pubItem
	window      int
	maxAttempts int
	done        func(context.Context, *pubItem, publishResult)
	limit       *logLimiter
	backoffMin  time.Duration
	backoffMax  time.Duration
}

// enqueue hands an event to the publisher without waiting; false when the buffer was full and it was dropped.
func (p *publisher) enqueue(it *pubItem) bool {
	select {
	case p.queue <- it:
		p.m.queued.Add(1)
		return true
	default:
		p.m.dropped.Add(1)
		if ok, n := p.limit.allow("dropped"); ok {
			p.log.Error("publish buffer full: BBB event dropped, it will not reach the stream (NATS down or too slow)",
				"type", it.ev.Type, "meeting", it.ev.MeetingID, "id", it.ev.ID, "buffer", cap(p.queue),
				"dropped_before", n)
		}
		return false
	}
}

// notify wakes the publisher when NATS or the state comes back.
func (p *publisher) notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// isTransient reports errors that say nothing about the event itself: retry until NATS is back.
func isTransient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 503 || apiErr.Code == 408
	}
	return errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrSlowConsumer) ||
		errors.Is(err, errPublishTimeout) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, context.DeadlineExceeded)
}

// parseAck reads the stream's answer to a publish: stored, a duplicate of a stored event, or an error.
func parseAck(m *nats.Msg) (publishResult, error) {
	if len(m.Data) == 0 {
		if m.Header.Get("Status") == "503" {
			return 0, jetstream.ErrNoStreamResponse
		}
		return 0, jetstream.ErrInvalidJSAck
	}
	if !mentionsError(m.Data) {
		// {"stream":"BBBCHAT_EVENTS","seq":42} or {…,"duplicate": true}: nothing else to read.
		if !bytes.HasPrefix(m.Data, []byte(`{"stream":`)) || !bytes.Contains(m.Data, []byte(`"seq":`)) {
			return 0, jetstream.ErrInvalidJSAck
		}
		if _, v, ok := bytes.Cut(m.Data, []byte(`"duplicate":`)); ok && bytes.HasPrefix(bytes.TrimLeft(v, " "), []byte("true")) {
			return resultDuplicate, nil
		}
		return resultStored, nil
	}
	var a struct {
		Error     *jetstream.APIError `json:"error"`
		Seq       uint64              `json:"seq"`
		Duplicate bool                `json:"duplicate"`
	}
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return 0, jetstream.ErrInvalidJSAck
	}
	if a.Error != nil {
		return 0, a.Error
	}
	if a.Duplicate {
		return resultDuplicate, nil
	}
	return resultStored, nil
}

// mentionsError reports whether data holds the string "error" in any case (a key encoding/json would read as
// the acknowledgement's error).
func mentionsError(data []byte) bool {
	for i := 0; i+7 <= len(data); i++ {
		if data[i] == '"' && data[i+6] == '"' && bytes.EqualFold(data[i+1:i+6], []byte("error")) {
			return true
		}
	}
	return false
}

// run publishes until the queue is closed and everything in it settled, or until ctx (the shutdown deadline)
// ends; what is left then is counted as unflushed.
func (p *publisher) run(ctx context.Context) {
	var (
		retry    []*pubItem // failed, to send again before anything newer, kept in seq order
		inflight []*flight  // sent, awaiting acknowledgement, in send order (and so in token order)
		next     *pubItem   // taken from the queue, not sent yet
		closed   bool       // the queue is closed: no more events
		failing  bool       // an error happened: drain inflight, wait, then resend
		backoff  = p.backoffMin
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
	addRetry := func(it *pubItem) {
		i := sort.Search(len(retry), func(i int) bool { return retry[i].seq > it.seq })
		retry = append(retry, nil)
		copy(retry[i+1:], retry[i:])
		retry[i] = it
	}
	// take returns the next event to send: a retried one first, else the queued one.
	take := func() *pubItem {
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
				if ok, n := p.limit.allow("publish-subscribe"); ok {
					p.log.Warn("cannot subscribe to the stream's acknowledgements, retrying", "err", err,
						"retries_before", n)
				}
				if !p.sleep(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, p.backoffMax)
				continue
			}
			sub = s
		}
		// Send while the window has room.
		if !failing && p.ready() {
			for len(inflight) < p.window {
				it := take()
				if it == nil {
					break
				}
				token++
				buf = strconv.AppendUint(append(buf[:0], inbox...), token, 10)
				msg := &nats.Msg{Subject: it.ev.Subject(), Reply: string(buf), Data: it.payload,
					Header: nats.Header{jetstream.MsgIDHeader: []string{it.ev.ID}}}
				if err := p.nc.PublishMsg(msg); err != nil {
					if p.failed(ctx, it, err) {
						addRetry(it)
					}
					failing = true
					break
				}
				inflight = append(inflight, &flight{it: it, token: token, deadline: p.now().Add(p.timeout)})
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
				failing = true
				continue
			}
			p.finish(ctx, f.it, f.res)
			if !failing {
				backoff = p.backoffMin
			}
		}
		if len(inflight) > 0 {
			if d := inflight[0].deadline; !d.Equal(armed) {
				timer.Reset(d.Sub(now))
				armed = d
			}
			// Wait for an answer, the oldest publish's deadline, or (with room in the window) the next event.
			var queue <-chan *pubItem
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
			if !p.sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, p.backoffMax)
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
func (p *publisher) sleep(ctx context.Context, d time.Duration) bool {
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
func (p *publisher) failed(ctx context.Context, it *pubItem, err error) bool {
	transient := isTransient(err)
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		p.reopen()
	}
	if !transient {
		it.attempts++
		if it.attempts >= p.maxAttempts {
			p.m.publishLost.Add(1)
			p.log.Error("event lost: the stream refused it repeatedly", "type", it.ev.Type,
				"meeting", it.ev.MeetingID, "id", it.ev.ID, "attempts", it.attempts, "err", err)
			p.finish(ctx, it, resultLost)
			return false
		}
	}
	p.m.publishRetries.Add(1)
	if ok, n := p.limit.allow("publish-retry"); ok {
		p.log.Warn("publishing an event failed, retrying", "type", it.ev.Type, "meeting", it.ev.MeetingID,
			"id", it.ev.ID, "err", err, "transient", transient, "retries_before", n)
	}
	return true
}

// finish counts a settled event and hands it on to the state updates.
func (p *publisher) finish(ctx context.Context, it *pubItem, res publishResult) {
	p.m.queued.Add(-1)
	switch res {
	case resultStored:
		p.m.published.inc(it.ev.Type)
	case resultDuplicate:
		p.m.duplicates.inc(it.ev.Type)
	}
	if p.done != nil {
		p.done(ctx, it, res)
	}
}
