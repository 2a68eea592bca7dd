package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// worker delivers one bridge's callbacks, one event at a time, until its bridge goes or the Manager stops.
type worker struct {
	m      *Manager
	id     string // internal meeting id
	bridge atomic.Pointer[state.Bridge]
	ctx    context.Context // ends fetching; a delivery under way goes on under m.hard
	cancel context.CancelCauseFunc
	done   chan struct{}
	prev   *worker // the worker of an earlier bridge of the same meeting, still stopping
	head   atomic.Int64
	log    *slog.Logger
	cur    state.Position // the event being handled (the worker's goroutine only)
	inbox  chan *nats.Msg // what the bridge's consumer pushes
	sub    *nats.Subscription

	statsMu    sync.Mutex
	pos        state.Position // the last event done with, written or not
	stats      state.CallbackStats
	flushMu    sync.Mutex        // one write of the statistics at a time
	written    state.StoredStats // what this worker last wrote (under flushMu)
	statsDirty bool
	statsOff   bool // the bridge was deleted and its statistics with it
	statsTimer *time.Timer
	lastFlush  time.Time
}

func newWorker(m *Manager, parent context.Context, b state.Bridge, prev *worker) *worker {
	ctx, cancel := context.WithCancelCause(parent)
	w := &worker{m: m, id: b.MeetingID, ctx: ctx, cancel: cancel, done: make(chan struct{}), prev: prev,
		log: m.log.With("meeting", b.MeetingID), inbox: make(chan *nats.Msg, inboxSize)}
	w.bridge.Store(&b)
	return w
}

// setBridge takes a newer version of the bridge.
func (w *worker) setBridge(b state.Bridge) {
	for {
		cur := w.bridge.Load()
		if cur != nil && b.Revision != 0 && cur.Revision >= b.Revision {
			return
		}
		if w.bridge.CompareAndSwap(cur, &b) {
			return
		}
	}
}

func (w *worker) stop(why error) { w.cancel(why) }

// stopping returns why the worker was told to stop, nil while it runs.
func (w *worker) stopping() error {
	if w.ctx.Err() == nil {
		return nil
	}
	return context.Cause(w.ctx)
}

func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (w *worker) run() {
	defer close(w.done)
	if w.prev != nil {
		<-w.prev.done // its in-flight delivery and consumer clean-up come first
		w.prev = nil
	}
	w.m.metrics.Workers.Add(1)
	defer w.m.metrics.Workers.Add(-1)
	why := w.loop()
	w.unsubscribe()
	w.head.Store(0)
	w.log.Debug("callback: worker stops", "why", why)
	switch {
	case errors.Is(why, errBridgeDeleted), errors.Is(why, errMeetingEnded):
		w.dropStats()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 5*time.Second)
		defer cancel()
		if err := w.m.o.Store.DeleteCallbackConsumer(ctx, w.id); err != nil {
			w.log.Warn("callback: cannot delete the consumer of an ended bridge", "err", err)
		}
	default:
		w.flushStats(true)
	}
}

// loop subscribes to what the bridge's consumer pushes, makes sure the consumer exists, and delivers until the
// worker is stopped or its bridge is done; it checks the consumer again after NATS reconnects (a restarted
// nats-server has lost it) and every checkInterval.
func (w *worker) loop() error {
	o := w.m.o
	pause := 100 * time.Millisecond
	for {
		if w.ctx.Err() != nil {
			return context.Cause(w.ctx)
		}
		reconnected := w.m.reconnected()
		// Read the bridge itself before (re)creating its consumer, so a consumer deleted with its bridge is not
		// brought back.
		cur, err := o.Store.GetBridge(w.ctx, w.id)
		switch {
		case errors.Is(err, state.ErrNotFound):
			return errBridgeDeleted
		case err != nil:
			if w.ctx.Err() == nil {
				w.log.Warn("callback: cannot read bridge", "err", err, "retry_in", pause)
			}
		case !active(cur):
			return errInactive
		default:
			w.setBridge(cur)
			if err := w.subscribe(); err != nil {
				if w.ctx.Err() == nil {
					w.log.Warn("callback: cannot subscribe", "err", err, "retry_in", pause)
				}
				break
			}
			if _, err := o.Store.EnsureCallbackConsumer(w.ctx, cur, w.m.ackWait, w.position()); err != nil {
				if w.ctx.Err() == nil {
					w.log.Warn("callback: cannot attach to consumer", "err", err, "retry_in", pause)
				}
				break
			}
			pause = 100 * time.Millisecond
			err := w.consume(reconnected)
			if errors.Is(err, errGone) || errors.Is(err, errMeetingEnded) || errors.Is(err, errShutdown) {
				return err
			}
			if w.ctx.Err() != nil {
				return context.Cause(w.ctx)
			}
			continue
		}
		if !service.Sleep(w.ctx, pause) {
			return context.Cause(w.ctx)
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// subscribe subscribes, once for the worker's life, to the bridge's deliver subject in the relays' queue group.
// nats.go puts what arrives in the inbox and subscribes again by itself after a reconnect.
func (w *worker) subscribe() error {
	if w.sub != nil {
		return nil
	}
	sub, err := w.m.o.Store.NC.ChanQueueSubscribe(state.CallbackDeliverSubject(w.id), state.CallbackDeliverGroup, w.inbox)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	w.sub = sub
	return nil
}

// unsubscribe ends the subscription and hands back, at once, what was pushed and not handled.
func (w *worker) unsubscribe() {
	if w.sub == nil {
		return
	}
	_ = w.sub.Unsubscribe()
	w.sub = nil
	for {
		select {
		case msg := <-w.inbox:
			_ = msg.Nak()
		default:
			return
		}
	}
}

// consume delivers what the consumer pushes, one event at a time (its MaxAckPending is 1), until the worker is
// stopped or done, NATS reconnected, or checkInterval passed.
func (w *worker) consume(reconnected <-chan struct{}) error {
	every, _ := Backoff(1, []time.Duration{checkInterval}, 0.2, w.m.o.Rand)
	check := time.NewTimer(every)
	defer check.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return nil
		case <-reconnected:
			return nil
		case <-check.C:
			return nil
		case msg := <-w.inbox:
			if w.ctx.Err() != nil {
				_ = msg.Nak() // stopping: hand it back at once
				return nil
			}
			if stop := w.handle(msg); stop != nil {
				return stop
			}
		}
	}
}

// handle decides what one event means for the bridge and acts on it. A non-nil result stops the worker.
func (w *worker) handle(msg *nats.Msg) error {
	fetched := time.Now()
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("callback: message without metadata", "err", err)
		return nil
	}
	w.head.Store(meta.Timestamp.UnixNano())
	w.cur = state.Position{Seq: meta.Sequence.Stream, At: meta.Timestamp}
	var e state.Event
	err = state.DecodeEvent(msg.Data, &e)
	if err == nil {
		err = checkEvent(e, msg.Subject, len(msg.Data), w.id)
	}
	if err != nil {
		w.log.Warn("callback: not an event of relay's, skipped", "subject", msg.Subject, "seq", meta.Sequence.Stream,
			"bytes", len(msg.Data), "err", err)
		w.m.metrics.Malformed.Add(1)
		w.m.metrics.Skipped.Add(1)
		w.term(msg)
		return nil
	}
	b := *w.bridge.Load()
	switch e.Type {
	case state.TypeMessage:
		why, err := classify(w.m.hard, e, b, w.chatUserID(b), w.m.o.IsEcho)
		if err != nil {
			w.log.Warn("callback: cannot look up the chat user; sending the message", "err", err)
		}
		if why != skipNone {
			return w.skip(msg)
		}
	case state.TypeCleared:
		if !b.Wants(state.CallbackChatCleared) {
			return w.skip(msg)
		}
	case state.TypeMeetingEnded:
		if !b.Wants(state.CallbackMeetingEnded) {
			return w.endMeeting(msg)
		}
	default:
		return w.skip(msg)
	}
	if time.Since(fetched) > w.m.ackWait/2 {
		_ = msg.InProgress()
	}
	return w.deliver(msg, meta, e, b)
}

// chatUserID returns a lookup of the id of the present user named like the bridge's chat user, trying a few
// times when JetStream does not answer.
func (w *worker) chatUserID(b state.Bridge) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		var err error
		for range 3 {
			var p state.Presence
			if c := w.m.o.Cache; c != nil {
				p, err = c.FindUser(ctx, b.MeetingID, b.ChatUser)
			} else {
				p, err = w.m.o.Store.FindUser(ctx, b.MeetingID, b.ChatUser)
			}
			if err == nil || errors.Is(err, state.ErrNotFound) {
				return p.UserID, err
			}
			if !service.Sleep(ctx, 100*time.Millisecond) {
				break
			}
		}
		return "", err
	}
}

// result is the outcome of one HTTP attempt.
type result struct {
	status        int
	err           error
	retryAfter    time.Duration
	hasRetryAfter bool
}

func (r result) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// String is the error kept in the statistics: the status or the error, never the URL or the secret.
func (r result) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return "HTTP " + strconv.Itoa(r.status) + " " + http.StatusText(r.status)
}

func (w *worker) deliver(msg *nats.Msg, meta *nats.MsgMetadata, e state.Event, b state.Bridge) error {
	o := w.m.o
	now := o.Now()
	_, body, err := Body(e, b, now.Unix())
	if err != nil { // cannot happen: handle checked the type
		w.term(msg)
		return nil
	}
	id := WebhookID(e)
	res := w.attempt(b, id, body, now)
	if w.m.hard.Err() != nil {
		// The drain timeout cut the attempt short: hand the event back, to be sent again with the same id.
		_ = msg.Nak()
		return errShutdown
	}
	attempt := int(meta.NumDelivered)
	// The delivery's logger is made only to log: With formats its attributes at once.
	logger := func() *slog.Logger {
		return w.log.With("webhook_id", id, "type", e.Type, "attempt", attempt, "target", redact(b.CallbackURI))
	}
	if res.ok() {
		if e.Type == state.TypeMeetingEnded {
			w.m.metrics.Delivered.Add(1)
			return w.endMeeting(msg)
		}
		if err := w.ack(msg); err != nil {
			logger().Warn("callback: delivered, but the acknowledgement was lost; it will be sent again", "err", err)
		}
		w.m.metrics.Delivered.Add(1)
		w.note(func(s *state.CallbackStats) { s.Delivered++; s.LastSuccessAt = now })
		if w.log.Enabled(w.ctx, slog.LevelDebug) {
			logger().Debug("callback: delivered", "status", res.status)
		}
		return nil
	}
	log := logger()
	w.note(func(s *state.CallbackStats) { s.LastError, s.LastErrorAt = res.String(), now })
	if res.err == nil && res.status == http.StatusGone {
		log.Info("callback: receiver answered 410 Gone; no more callbacks for this bridge")
		return w.gone(msg, e)
	}
	delay, again := retryDelay(attempt, o.Schedule, o.Jitter, o.Rand, res.retryAfter, res.hasRetryAfter, o.MaxRetryAfter)
	if again {
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("callback: cannot schedule the retry; JetStream sends it again after the ack wait", "err", err)
		}
		w.m.metrics.Retried.Add(1)
		w.note(func(s *state.CallbackStats) { s.Retries++ })
		log.Info("callback: attempt failed, retrying", "error", res.String(), "retry_in", delay)
		return nil
	}
	ctx, cancel := context.WithTimeout(w.m.hard, 10*time.Second)
	defer cancel()
	f := state.FailedDelivery{MeetingID: w.id, Seq: meta.Sequence.Stream, Subject: e.Subject(), Event: msg.Data,
		Attempts: attempt, LastError: res.String(), FailedAt: now}
	if err := o.Store.PutFailed(ctx, f); err != nil {
		// Not kept: do not drop it; try again shortly (it is given up again then).
		log.Warn("callback: cannot keep a failed delivery, trying again", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return nil
	}
	w.m.metrics.Failed.Add(1)
	w.note(func(s *state.CallbackStats) { s.Failed++ })
	log.Warn("callback: given up after the retry schedule", "error", res.String())
	if e.Type == state.TypeMeetingEnded {
		return w.endMeeting(msg)
	}
	w.term(msg)
	return nil
}

// attempt POSTs body once.
func (w *worker) attempt(b state.Bridge, id string, body []byte, now time.Time) result {
	o := w.m.o
	ctx, cancel := context.WithTimeout(w.m.hard, o.Timeout)
	defer cancel()
	if o.CheckTarget != nil {
		if err := o.CheckTarget(ctx, b.CallbackURI); err != nil {
			return result{err: fmt.Errorf("callback target refused: %w", err)}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.CallbackURI, bytes.NewReader(body))
	if err != nil {
		return result{err: errors.New("invalid callback URL")}
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", o.UserAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", checksum.WebhookSignature(b.CallbackSecret, id, ts, body))
	w.m.metrics.InFlight.Add(1)
	resp, err := o.Client.Do(req)
	w.m.metrics.InFlight.Add(-1)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text carries the URL, which may carry a token
			err = ue.Err
		}
		var ne net.Error
		if w.m.hard.Err() == nil && (ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout()) {
			err = fmt.Errorf("no answer within %s: %w", o.Timeout, err)
		}
		return result{err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	r := result{status: resp.StatusCode}
	r.retryAfter, r.hasRetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	return r
}

// gone marks the bridge's callback gone and stops the worker.
func (w *worker) gone(msg *nats.Msg, e state.Event) error {
	w.m.metrics.Gone.Add(1)
	if e.Type == state.TypeMeetingEnded {
		return w.endMeeting(msg)
	}
	ctx, cancel := context.WithTimeout(w.m.hard, 10*time.Second)
	defer cancel()
	_, err := w.m.o.Store.UpdateBridge(ctx, w.id, func(b *state.Bridge) bool {
		if b.CallbackState == state.CallbackGone {
			return false
		}
		b.CallbackState = state.CallbackGone
		return true
	})
	if errors.Is(err, state.ErrNotFound) {
		w.term(msg)
		return errBridgeDeleted
	}
	if err != nil {
		w.log.Warn("callback: cannot mark the bridge gone, trying again", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return nil
	}
	w.term(msg)
	if err := w.m.o.Store.DeleteCallbackConsumer(ctx, w.id); err != nil {
		w.log.Warn("callback: cannot delete the consumer of a gone bridge", "err", err)
	}
	return errGone
}

// endMeeting ends the bridge after its meeting's end was delivered, given up or not asked for: its queue is
// done. The consumer goes when the worker stops (and with it the end event).
func (w *worker) endMeeting(msg *nats.Msg) error {
	ctx, cancel := context.WithTimeout(w.m.hard, 10*time.Second)
	defer cancel()
	if err := w.m.o.Store.DeleteBridge(ctx, w.id); err != nil && !errors.Is(err, state.ErrNotFound) {
		w.log.Warn("callback: cannot delete the bridge of an ended meeting, trying again", "err", err)
		_ = msg.NakWithDelay(time.Second)
		return nil
	}
	w.log.Info("callback: meeting ended and its callbacks are done; bridge removed")
	return errMeetingEnded
}

// skip acknowledges an event that is not sent.
func (w *worker) skip(msg *nats.Msg) error {
	w.m.metrics.Skipped.Add(1)
	if err := w.ack(msg); err != nil {
		w.log.Debug("callback: acknowledgement of a skipped event lost", "err", err)
	}
	return nil
}

func (w *worker) term(msg *nats.Msg) {
	if err := msg.Term(); err != nil {
		w.log.Warn("callback: cannot terminate event", "err", err)
	}
	w.finished()
}

// ack acknowledges the event being handled. It does not wait for JetStream's confirmation: the consumer hands
// out the bridge's next event only once the acknowledgement arrived, and when it is lost (the connection or
// nats-server went down) the event comes again, with the same webhook-id, as it would if relay died right after
// the delivery. What survives a nats-server restart is the position written with the statistics.
func (w *worker) ack(msg *nats.Msg) error {
	err := msg.Ack()
	if errors.Is(err, nats.ErrMsgAlreadyAckd) {
		err = nil
	}
	w.finished()
	return err
}

// finished moves the bridge's position past the event being handled.
func (w *worker) finished() {
	w.head.Store(0)
	p := w.cur
	w.note(func(s *state.CallbackStats) { s.Position.Advance(p) })
}

// redact keeps scheme and host of a URL, for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}
