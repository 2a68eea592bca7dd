package main

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/ratelog"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
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

// flight is one publish awaiting the stream's acknowledgement (nats.go's future for it).
type flight struct {
	it      *pubItem
	ok      <-chan *jetstream.PubAck
	failed  <-chan error
	settled bool // the acknowledgement (or an error) arrived
	res     publishResult
	err     error
}

// settle records the acknowledgement or the error; ack nil means err.
func (f *flight) settle(ack *jetstream.PubAck, err error) {
	f.settled = true
	switch {
	case err != nil:
		f.err = err
	case ack.Duplicate:
		f.res = resultDuplicate
	default:
		f.res = resultStored
	}
}

// poll settles f if its answer is in, without waiting; it reports whether f is settled.
func (f *flight) poll() bool {
	if f.settled {
		return true
	}
	select {
	case ack := <-f.ok:
		f.settle(ack, nil)
	case err := <-f.failed:
		f.settle(nil, err)
	default:
	}
	return f.settled
}

// publisher puts events into the stream in the order they came from Redis, asynchronously: up to window
// publishes await their acknowledgement at once (nats.go's asynchronous publish, each with the event id as its
// message id), so relay keeps up with thousands of events a second.
//
// Redis pub/sub cannot be paused, so the reader never waits on the publisher: enqueue takes an event or, when the
// buffer (NATS down or too slow) is full, drops it and says so loudly.
//
// Errors: a publish that fails because NATS is unreachable, the acknowledgement timed out or the stream did not
// answer is retried until it succeeds (or the shutdown deadline passes). Retrying is safe because the stream
// deduplicates by event id. Any other error (the stream refused the message) is retried maxAttempts times, then
// the event is counted as lost. After an error the publisher stops sending, lets every publish in flight finish,
// and sends the failed ones again in their original order; later events stored meanwhile are handed on only
// after them, so an outage does not reorder events. (Only a publish given up after a permanent error lands out of
// order.)
type publisher struct {
	log         *slog.Logger
	m           *metrics
	nc          *nats.Conn
	timeout     time.Duration // for an acknowledgement
	ready       func() bool   // NATS connected and the stream open
	reopen      func()        // the stream did not answer: make sure it exists
	wake        chan struct{}
	queue       chan *pubItem
	window      int
	maxAttempts int
	done        func(context.Context, *pubItem, publishResult)
	limit       *ratelog.Limiter
	retry       backoff.Exponential // the wait after an error, growing while errors go on
}

// enqueue hands an event to the publisher without waiting; false when the buffer was full and it was dropped.
func (p *publisher) enqueue(it *pubItem) bool {
	select {
	case p.queue <- it:
		p.m.queued.Add(1)
		return true
	default:
		p.m.dropped.Add(1)
		if ok, n := p.limit.Allow("dropped"); ok {
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
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, jetstream.ErrTooManyStalledMsgs) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, context.DeadlineExceeded)
}

// run publishes until the queue is closed and everything in it settled, or until ctx (the shutdown deadline)
// ends; what is left then is counted as unflushed.
func (p *publisher) run(ctx context.Context) {
	// The acknowledgements time out after p.timeout (nats.go's timer); nats.go fails those in flight when the
	// connection is lost. At most window await theirs, so nats.go's own limit never stalls a publish.
	js, err := jetstream.New(p.nc, jetstream.WithPublishAsyncMaxPending(p.window),
		jetstream.WithPublishAsyncTimeout(p.timeout))
	if err != nil { // only options out of range
		p.log.Error("cannot publish to the stream", "err", err)
		return
	}
	var (
		retry    []*pubItem // failed, to send again before anything newer, kept in seq order
		inflight []*flight  // sent, awaiting acknowledgement, in send (and so seq) order
		held     []*flight  // stored while an older event waits to be sent again, kept in seq order
		next     *pubItem   // taken from the queue, not sent yet
		closed   bool       // the queue is closed: no more events
		failing  bool       // an error happened: drain inflight, wait, then resend
		backoff  = p.retry.Start()
	)
	defer func() {
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
			seq := held[0].it.seq
			if len(retry) > 0 && retry[0].seq < seq || len(inflight) > 0 && inflight[0].it.seq < seq {
				return
			}
			p.finish(ctx, held[0].it, held[0].res)
			held[0] = nil
			held = held[1:]
		}
	}
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
	for {
		if ctx.Err() != nil {
			return
		}
		// Send while the window has room.
		if !failing && p.ready() {
			for len(inflight) < p.window {
				it := take()
				if it == nil {
					break
				}
				msg := &nats.Msg{Subject: it.ev.Subject(), Data: it.payload}
				paf, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(it.ev.ID))
				if err != nil {
					if p.failed(ctx, it, err) {
						addRetry(it)
					}
					failing = true
					break
				}
				inflight = append(inflight, &flight{it: it, ok: paf.Ok(), failed: paf.Err()})
			}
		}
		// Settle, in send order, what was answered.
		for len(inflight) > 0 && inflight[0].poll() {
			f := inflight[0]
			inflight[0] = nil
			inflight = inflight[1:]
			if f.err != nil {
				if p.failed(ctx, f.it, f.err) {
					addRetry(f.it)
				}
				failing = true
				continue
			}
			if !failing {
				backoff.Reset()
			}
			if len(held) == 0 && len(retry) == 0 {
				p.finish(ctx, f.it, f.res)
				continue
			}
			// An older event failed and is to be sent again: this one waits for it, so that the state sees
			// the events in their order.
			i := sort.Search(len(held), func(i int) bool { return held[i].it.seq > f.it.seq })
			held = append(held, nil)
			copy(held[i+1:], held[i:])
			held[i] = f
		}
		release()
		if len(inflight) > 0 {
			// Wait for the oldest publish's answer or (with room in the window) the next event.
			var queue <-chan *pubItem
			if !failing && !closed && next == nil && len(retry) == 0 && len(inflight) < p.window {
				queue = p.queue
			}
			head := inflight[0]
			select {
			case ack := <-head.ok:
				head.settle(ack, nil)
			case err := <-head.failed:
				head.settle(nil, err)
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
	if ok, n := p.limit.Allow("publish-retry"); ok {
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
