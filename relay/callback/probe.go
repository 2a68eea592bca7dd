package callback

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// prober notices within seconds that a failing receiver answers again. A bridge whose head event failed because
// the receiver looked down (no answer, 5xx, 408, 429, without a Retry-After) and waits longer than two probe
// intervals for its next attempt (the retry schedule grows to hours) is held here, under its receiver's origin
// (scheme, host and port). While an origin holds bridges, one test event (type "ping", as
// pingCallback sends) is POSTed to one of their receivers every probe interval (±20 %). When a probe is answered
// 2xx, every bridge held under that origin is released (bridge.Lifecycle.Release): its waiting event goes now, and
// the rest of its queue after it, in order.
//
// A bridge whose released event fails again, with no failed probe in between, is the event's failure, not the
// receiver's: it is held again but not released before a probe fails (the receiver went away again) and one
// succeeds, so an event its receiver refuses still waits out the schedule and is given up at its end. The attempt
// after a release keeps the number of the attempt before it (the consumer's count starts again), so the
// schedule does not start over either.
//
// What it holds lives in this process only: after a restart, a waiting event goes when its retry is due (or at
// retryCallbacks with pending), as it did before probing.
type prober struct {
	m        *Manager
	interval time.Duration

	mu      sync.Mutex
	origins map[string]*origin
}

// origin is one receiver's origin and the bridges held under it.
type origin struct {
	key     string
	held    map[*worker]hold
	failed  uint64 // probes that failed: a release needs one after a released event failed again
	timer   *time.Timer
	probing bool
}

// hold is a bridge waiting for its receiver.
type hold struct {
	b       state.Bridge
	seq     uint64    // the waiting event's stream sequence
	attempt int       // the number of the attempt that failed
	until   time.Time // when its next attempt is due anyway
	// asIs: held again after its event was released and failed again, with no failed probe since: not
	// released before one.
	asIs   bool
	failed uint64 // origin.failed when held
}

// release is what the worker remembers of its last release (under prober.mu).
type release struct {
	seq     uint64
	carry   int    // added to the consumer's delivery count for the attempt's number
	failed  uint64 // origin.failed at the release
	origin  string
	present bool
}

func newProber(m *Manager, interval time.Duration) *prober {
	if interval <= 0 {
		return nil
	}
	return &prober{m: m, interval: interval, origins: map[string]*origin{}}
}

// originOf is the origin of a callback URI, the unit the prober probes.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// attemptNumber is the number of the attempt at the event of seq, delivered for the n-th time by its consumer.
func (p *prober) attemptNumber(w *worker, seq uint64, n int) int {
	if p == nil || w.releasedSeq.Load() != seq {
		return n
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.released.present && w.released.seq == seq {
		return n + w.released.carry
	}
	return n
}

// hold notes that w's event seq failed its attempt-th attempt and waits until until.
func (p *prober) hold(w *worker, b state.Bridge, seq uint64, attempt int, until time.Time) {
	if p == nil {
		return
	}
	key := originOf(b.CallbackURI)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked(w)
	o := p.origins[key]
	if o == nil {
		o = &origin{key: key, held: map[*worker]hold{}}
		p.origins[key] = o
	}
	r := w.released
	h := hold{b: b, seq: seq, attempt: attempt, until: until, failed: o.failed}
	h.asIs = r.present && r.seq == seq && r.origin == key && r.failed == o.failed
	o.held[w] = h
	w.heldAt = key
	w.held.Store(true)
	p.armLocked(o)
}

// drop forgets w: its event was delivered or given up, or the worker stops.
func (p *prober) drop(w *worker) {
	if p == nil || !w.held.Load() {
		return
	}
	p.mu.Lock()
	p.dropLocked(w)
	p.mu.Unlock()
}

func (p *prober) dropLocked(w *worker) {
	if w.heldAt == "" {
		return
	}
	if o := p.origins[w.heldAt]; o != nil {
		delete(o.held, w)
		if len(o.held) == 0 && !o.probing {
			if o.timer != nil {
				o.timer.Stop()
			}
			delete(p.origins, o.key)
		}
	}
	w.heldAt = ""
	w.held.Store(false)
}

// releasable reports whether h may be released after a successful probe.
func releasable(h hold, o *origin) bool { return !h.asIs || o.failed > h.failed }

// armLocked starts the origin's probe timer when a held bridge may be released and none runs.
func (p *prober) armLocked(o *origin) {
	if o.timer != nil || o.probing {
		return
	}
	for _, h := range o.held {
		if releasable(h, o) {
			o.timer = time.AfterFunc(backoff.Jitter(p.interval, 0.2, p.m.o.Rand), func() { p.probe(o) })
			return
		}
	}
}

// probe sends one test event to a held bridge's receiver and releases the origin's bridges when it answers 2xx.
func (p *prober) probe(o *origin) {
	now := p.m.o.Now()
	p.mu.Lock()
	o.timer = nil
	var target *hold
	stale := p.m.ackWait + 2*p.interval
	for w, h := range o.held {
		if now.Sub(h.until) > stale {
			// Its retry was due long ago and did not come back here: another relay has it.
			delete(o.held, w)
			w.heldAt = ""
			w.held.Store(false)
			continue
		}
		if releasable(h, o) && target == nil {
			target = &h
		}
	}
	if target == nil || p.m.hard.Err() != nil {
		if len(o.held) == 0 {
			delete(p.origins, o.key)
		}
		p.mu.Unlock()
		return
	}
	o.probing = true
	p.mu.Unlock()

	res := p.m.ping(target.b, now, min(p.m.o.Timeout, p.interval), 0)

	p.mu.Lock()
	o.probing = false
	var freed []hold
	var workers []*worker
	if res.ok() {
		for w, h := range o.held {
			if !releasable(h, o) {
				continue
			}
			delete(o.held, w)
			w.heldAt = ""
			w.held.Store(false)
			w.released = release{seq: h.seq, carry: h.attempt - 1, failed: o.failed, origin: o.key, present: true}
			w.releasedSeq.Store(h.seq)
			freed = append(freed, h)
			workers = append(workers, w)
		}
	} else {
		o.failed++
	}
	if len(o.held) == 0 {
		delete(p.origins, o.key)
	} else {
		p.armLocked(o)
	}
	p.mu.Unlock()

	if len(freed) == 0 {
		return
	}
	p.m.log.Info("callback: receiver answers again; sending the callbacks that wait for it now",
		"target", redact(o.key), "bridges", len(freed))
	for i, h := range freed {
		ctx, cancel := context.WithTimeout(p.m.hard, 5*time.Second)
		if _, err := p.m.bridges.Release(ctx, h.b.MeetingID, h.seq); err != nil && p.m.hard.Err() == nil {
			workers[i].log.Warn("callback: cannot release the waiting callback; it goes when its retry is due", "err", err)
		}
		cancel()
	}
}

// PingResult is what a receiver answered a test event.
type PingResult struct {
	Status  int           // the HTTP status; 0 when there was no answer
	Excerpt []byte        // the first bytes of the answer's body
	Err     string        // why there was no answer, or why a 2xx is missing; "" when 2xx
	Took    time.Duration // from sending to the answer
}

// ping POSTs a test event, signed both ways, to the bridge's receiver, within timeout, keeping the first keep
// bytes of the answer.
func (m *Manager) ping(b state.Bridge, now time.Time, timeout time.Duration, keep int) result {
	e := state.Event{Type: TypePing, ID: "ping-" + strconv.FormatInt(now.UnixNano(), 36), MeetingID: b.MeetingID,
		Timestamp: now.UnixMilli(), Text: "A test event from bbb-chat: answer 2xx."}
	_, body, err := Body(e, b, now.Unix())
	if err != nil {
		return result{err: err}
	}
	return m.post(b, WebhookID(e), body, now, checksum.NewWebhookSigner(b.CallbackSecret), timeout, keep)
}
