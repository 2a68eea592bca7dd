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
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// worker delivers one bridge's callbacks, one event at a time, until its bridge goes or the Manager stops. It has
// a goroutine only while it has something to do (attach to its consumer, deliver what was pushed, stop): an idle
// bridge costs a subscription, a timer and a few words, not a goroutine's stack.
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
	inbox  chan *nats.Msg // what the bridge's consumer pushed, from the Manager's dispatcher

	// Owned by the goroutine that works (there is at most one at a time).
	sub      *nats.Subscription
	attached bool                    // subscribed, and the consumer was there
	signer   *checksum.WebhookSigner // for the bridge's current secret

	runMu   sync.Mutex
	running bool // a goroutine works
	recheck bool // check the consumer again (NATS reconnected, or checkInterval passed)
	over    bool // finished
	check   *time.Timer

	statsMu    sync.Mutex
	pos        state.Position // the last event done with, written or not
	stats      state.CallbackStats
	flushMu    sync.Mutex        // one write of the statistics at a time
	written    state.StoredStats // what this worker last wrote (under flushMu)
	statsDirty bool
	statsOff   bool // the bridge was deleted and its statistics with it
	statsTimer *time.Timer
	lastFlush  time.Time

	// The prober's (under prober.mu; the atomics let a delivery skip the lock when they say there is nothing).
	heldAt      string  // the origin it is held under; "" when not held
	released    release // its last release
	held        atomic.Bool
	releasedSeq atomic.Uint64 // released.seq
}

func newWorker(m *Manager, parent context.Context, b state.Bridge, prev *worker) *worker {
	ctx, cancel := context.WithCancelCause(parent)
	w := &worker{m: m, id: b.MeetingID, ctx: ctx, cancel: cancel, done: make(chan struct{}), prev: prev,
		log: m.log.With("meeting", b.MeetingID), inbox: make(chan *nats.Msg, inboxSize)}
	w.bridge.Store(&b)
	m.metrics.Workers.Add(1)
	context.AfterFunc(ctx, w.kick)
	return w
}

// kick makes sure a goroutine works, starting one if none does.
func (w *worker) kick() {
	w.runMu.Lock()
	if w.running || w.over {
		w.runMu.Unlock()
		return
	}
	w.running = true
	w.runMu.Unlock()
	w.m.startWork(w)
}

// checkAgain asks the worker to make sure its consumer still exists.
func (w *worker) checkAgain() {
	w.runMu.Lock()
	w.recheck = true
	w.runMu.Unlock()
	w.kick()
}

// push hands the worker an event its consumer pushed, unless its inbox is full.
func (w *worker) push(msg *nats.Msg) {
	select {
	case w.inbox <- msg:
		w.kick()
	default:
	}
}

// work does what there is to do, one step at a time, and returns when nothing is left (or the worker is done).
func (w *worker) work() {
	if w.prev != nil {
		<-w.prev.done // its in-flight delivery and consumer clean-up come first
		w.prev = nil
	}
	for {
		if why := w.step(); why != nil {
			w.finish(why)
			return
		}
		w.runMu.Lock()
		if len(w.inbox) == 0 && !w.recheck && w.ctx.Err() == nil {
			w.running = false
			w.runMu.Unlock()
			return
		}
		w.runMu.Unlock()
	}
}

// step attaches (again) if need be, then handles one pushed event if there is one. A non-nil result ends the
// worker.
func (w *worker) step() error {
	if w.ctx.Err() != nil {
		return context.Cause(w.ctx)
	}
	w.runMu.Lock()
	again := w.recheck
	w.recheck = false
	w.runMu.Unlock()
	if !w.attached || again {
		if err := w.attach(); err != nil {
			return err
		}
	}
	select {
	case msg := <-w.inbox:
		if w.ctx.Err() != nil {
			_ = msg.Nak() // stopping: hand it back at once
			return context.Cause(w.ctx)
		}
		stop := w.handle(msg)
		if errors.Is(stop, errGone) || errors.Is(stop, errMeetingEnded) || errors.Is(stop, errShutdown) ||
			errors.Is(stop, errBridgeDeleted) {
			return stop
		}
	default:
	}
	return nil
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

// finish cleans up after the worker's last step: hands back what was pushed, and deletes the consumer of an ended
// bridge or writes the statistics.
func (w *worker) finish(why error) {
	w.runMu.Lock()
	w.over = true
	if w.check != nil {
		w.check.Stop()
	}
	w.runMu.Unlock()
	w.unsubscribe()
	w.m.prober.drop(w)
	w.head.Store(0)
	w.m.metrics.Workers.Add(-1)
	w.log.Debug("callback: worker stops", "why", why)
	switch {
	case errors.Is(why, errBridgeDeleted), errors.Is(why, errMeetingEnded):
		w.dropStats()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 5*time.Second)
		defer cancel()
		if err := w.m.bridges.DeleteConsumer(ctx, w.id); err != nil {
			w.log.Warn("callback: cannot delete the consumer of an ended bridge", "err", err)
		}
	default:
		w.flushStats(true)
	}
	close(w.done)
}

// attach subscribes to what the bridge's consumer pushes and makes sure the consumer exists, trying again with
// a growing pause until it can, or the worker is stopped or its bridge is done. Then it arms the next check.
func (w *worker) attach() error {
	o := w.m.o
	retry := backoff.Exponential{Min: 100 * time.Millisecond, Max: 5 * time.Second}.Start()
	pause := retry.Next()
	for {
		if w.ctx.Err() != nil {
			return context.Cause(w.ctx)
		}
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
			info, err := w.m.bridges.EnsureConsumer(w.ctx, cur, w.position())
			if err != nil {
				if w.ctx.Err() == nil {
					w.log.Warn("callback: cannot attach to consumer", "err", err, "retry_in", pause)
				}
				break
			}
			if !w.attached && w.check == nil {
				w.resumeProbing(cur, info.NumAckPending)
			}
			w.attached = true
			every := backoff.Jitter(checkInterval, 0.2, o.Rand)
			w.runMu.Lock()
			if w.check == nil {
				w.check = time.AfterFunc(every, w.checkAgain)
			} else {
				w.check.Reset(every)
			}
			w.runMu.Unlock()
			return nil
		}
		if !service.Sleep(w.ctx, pause) {
			return context.Cause(w.ctx)
		}
		pause = retry.Next()
	}
}

// resumeProbing has the prober watch the receiver of a bridge found failing when the worker starts (relay
// restarted, or took the bridge over): its last attempt failed and an event is out, maybe waiting for a retry
// hours away.
func (w *worker) resumeProbing(b state.Bridge, out int) {
	if w.m.prober == nil || out == 0 {
		return
	}
	stats, err := w.m.o.Store.GetCallbackStats(w.ctx, w.id)
	if err != nil || stats.LastErrorAt.IsZero() || !stats.LastErrorAt.After(stats.LastSuccessAt) {
		return
	}
	if e := stats.LastError; strings.HasPrefix(e, "HTTP ") && !strings.HasPrefix(e, "HTTP 5") &&
		!strings.HasPrefix(e, "HTTP 408") && !strings.HasPrefix(e, "HTTP 429") {
		return // the receiver was up and refused the event (result.unavailable)
	}
	w.m.prober.hold(w, b, 0, 1, w.m.o.Now().Add(24*time.Hour))
}

// subscribe subscribes, once for the worker's life, to the bridge's deliver subject in the relays' queue group,
// into the Manager's dispatcher. nats.go subscribes again by itself after a reconnect.
func (w *worker) subscribe() error {
	if w.sub != nil {
		return nil
	}
	subject := bridge.DeliverSubject(w.id)
	w.m.subs.Store(subject, w)
	sub, err := w.m.bridges.Subscribe(w.id, w.m.pushed)
	if err != nil {
		w.m.subs.CompareAndDelete(subject, w)
		return fmt.Errorf("subscribe: %w", err)
	}
	w.sub = sub
	return nil
}

// unsubscribe ends the subscription and hands back, at once, what was pushed and not handled.
func (w *worker) unsubscribe() {
	if w.sub != nil {
		_ = w.sub.Unsubscribe()
		w.m.subs.CompareAndDelete(w.sub.Subject, w)
		w.sub = nil
	}
	nakAll(w.inbox)
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
	case state.TypeMeetingEnded:
		if !b.Wants(state.TypeMeetingEnded) {
			return w.endMeeting(msg)
		}
	case state.TypeTranscript:
		if !b.Wants(state.KindTranscript) {
			return w.skip(msg)
		}
	case state.TypeMessageEdited, state.TypeMessageDeleted, state.TypeReactionAdded, state.TypeReactionRemoved,
		state.TypeMessagePinned, state.TypeMessageUnpinned:
		if !b.Wants(e.Type) {
			return w.skip(msg)
		}
		why, err := classifyAction(w.m.hard, e, b, w.chatUserID(b))
		if err != nil {
			w.log.Warn("callback: cannot look up the chat user; sending the event", "err", err)
		}
		if why != skipNone {
			return w.skip(msg)
		}
	default:
		if !b.Wants(e.Type) {
			return w.skip(msg)
		}
		if _, _, err := Body(e, b, 0); err != nil { // a kind delivered by another part (a transcript, say)
			return w.skip(msg)
		}
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
	excerpt       []byte // the first bytes of the reply's body, when asked for
	err           error
	retryAfter    time.Duration
	hasRetryAfter bool
}

func (r result) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// unavailable reports whether the receiver looked down (no answer, 5xx, 408, 429) without saying when to come
// back (Retry-After): the failures the prober watches for the receiver's return. Other answers come from a
// receiver that is up and refuses the event; a Retry-After is honoured as it is.
func (r result) unavailable() bool {
	if r.hasRetryAfter {
		return false
	}
	return r.err != nil || r.status >= 500 || r.status == http.StatusRequestTimeout || r.status == http.StatusTooManyRequests
}

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
	body, err := w.bodyOf(e, b, now.Unix())
	if errors.Is(err, errNotNow) {
		w.log.Warn("callback: cannot build the body yet, trying again", "type", e.Type, "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return nil
	}
	if err != nil { // cannot happen: handle checked the type
		w.term(msg)
		return nil
	}
	id := WebhookID(e)
	res := w.attempt(b, id, body, now)
	if o.AttemptDone != nil {
		o.AttemptDone(res.outcome(), o.Now().Sub(now))
	}
	if w.m.hard.Err() != nil {
		// The drain timeout cut the attempt short: hand the event back, to be sent again with the same id.
		_ = msg.Nak()
		return errShutdown
	}
	attempt := w.m.prober.attemptNumber(w, meta.Sequence.Stream, int(meta.NumDelivered))
	// The delivery's logger is made only to log: With formats its attributes at once.
	logger := func() *slog.Logger {
		return w.log.With("webhook_id", id, "type", e.Type, "attempt", attempt, "target", redact(b.CallbackURI))
	}
	if res.ok() {
		w.m.prober.drop(w)
		if e.Type == state.TypeMeetingEnded || e.Type == state.TypeTranscript {
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
		w.m.prober.drop(w)
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
		if w.m.prober != nil && delay > 2*w.m.prober.interval && res.unavailable() {
			w.m.prober.hold(w, b, meta.Sequence.Stream, attempt, now.Add(delay))
		} else {
			w.m.prober.drop(w)
		}
		log.Info("callback: attempt failed, retrying", "err", res.String(), "retry_in", delay)
		return nil
	}
	w.m.prober.drop(w)
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
	log.Warn("callback: given up after the retry schedule", "err", res.String())
	if e.Type == state.TypeMeetingEnded || e.Type == state.TypeTranscript {
		return w.endMeeting(msg)
	}
	w.term(msg)
	return nil
}

// attempt POSTs body once, within the configured timeout.
func (w *worker) attempt(b state.Bridge, id string, body []byte, now time.Time) result {
	if w.signer == nil || w.signer.Secret() != b.CallbackSecret {
		w.signer = checksum.NewWebhookSigner(b.CallbackSecret)
	}
	return w.m.post(b, id, body, now, w.signer, w.m.o.Timeout, 0)
}

// post POSTs body to the bridge's receiver once, within the configured timeout, signed with signer (for the
// bridge's secret), within timeout, keeping the first keep bytes of the reply's body: the one way every callback,
// test event and probe is sent.
func (m *Manager) post(b state.Bridge, id string, body []byte, now time.Time, signer *checksum.WebhookSigner,
	timeout time.Duration, keep int) result {
	o := m.o
	deadline := time.Now().Add(timeout)
	req, err := http.NewRequestWithContext(m.hard, http.MethodPost, b.CallbackURI, bytes.NewReader(body))
	if err != nil {
		return result{err: errors.New("invalid callback URL")}
	}
	if o.CheckTarget != nil {
		ctx := m.hard
		if _, err := netip.ParseAddr(req.URL.Hostname()); err != nil { // a name, to resolve within the attempt
			c, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			ctx = c
		}
		if err := o.CheckTarget(ctx, b.CallbackURI); err != nil {
			return result{err: fmt.Errorf("callback target refused: %w", err)}
		}
	}
	ts := now.Unix()
	req.Header = http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {o.UserAgent},
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts, 10)},
		"Webhook-Signature": {signer.Sign(id, ts, body)},
	}
	m.metrics.InFlight.Add(1)
	var a reply
	if m.poster.handles(req) {
		a, err = m.poster.post(m.hard, deadline, req, body, keep)
	} else {
		ctx, cancel := context.WithDeadline(m.hard, deadline)
		a, err = postWith(o.Client, req.WithContext(ctx), keep)
		cancel()
	}
	m.metrics.InFlight.Add(-1)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text carries the URL, which may carry a token
			err = ue.Err
		}
		var ne net.Error
		if m.hard.Err() == nil && (!time.Now().Before(deadline) || errors.As(err, &ne) && ne.Timeout()) {
			err = fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return result{err: err}
	}
	r := result{status: a.status, excerpt: a.excerpt}
	r.retryAfter, r.hasRetryAfter = ParseRetryAfter(a.retryAfter, now)
	return r
}

// postWith sends req with net/http's client (through a proxy, say) and discards the reply's body but its first
// keep bytes.
func postWith(c *http.Client, req *http.Request, keep int) (reply, error) {
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	excerpt, _ := readExcerpt(resp.Body, keep)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	return reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), excerpt: excerpt}, nil
}

// gone marks the bridge's callback gone and stops the worker.
func (w *worker) gone(msg *nats.Msg, e state.Event) error {
	w.m.metrics.Gone.Add(1)
	if e.Type == state.TypeMeetingEnded || e.Type == state.TypeTranscript {
		return w.endMeeting(msg)
	}
	ctx, cancel := context.WithTimeout(w.m.hard, 10*time.Second)
	defer cancel()
	err := w.m.bridges.MarkGone(ctx, w.id)
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
	if err := w.m.bridges.DeleteConsumer(ctx, w.id); err != nil {
		w.log.Warn("callback: cannot delete the consumer of a gone bridge", "err", err)
	}
	return errGone
}

// endMeeting ends the bridge after its meeting's end was delivered, given up or not asked for: its queue is
// done. The consumer goes when the worker stops (and with it the end event).
func (w *worker) endMeeting(msg *nats.Msg) error {
	if w.waitsForTranscript(msg) {
		_ = w.ack(msg) // the bridge ends after its transcript (transcript.go)
		return nil
	}
	ctx, cancel := context.WithTimeout(w.m.hard, 10*time.Second)
	defer cancel()
	if err := w.m.bridges.Finish(ctx, w.id); err != nil {
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
