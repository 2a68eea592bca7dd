package callback

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// Manager runs one delivery worker per bridge with a callback. Make it with NewManager and start it with Run.
type Manager struct {
	o       Options
	bridges *bridge.Lifecycle // the bridges' lifecycle and consumers
	ackWait time.Duration
	log     *slog.Logger
	metrics *Metrics

	// hard ends every HTTP attempt and acknowledgement wait: cancelled when Run's drain timeout passes.
	hard context.Context

	poster *poster        // sends the callbacks (nil: Options.Client does)
	prober *prober        // notices failing receivers' return (nil: off)
	pushed chan *nats.Msg // what every bridge's consumer pushes, for the dispatcher
	subs   sync.Map       // deliver subject → *worker subscribed to it

	runq chan *worker // to an idle runner
	idle atomic.Int32 // runners waiting on runq
}

// NewManager returns a Manager; nothing runs until Run.
func NewManager(o Options) *Manager {
	o = o.withDefaults()
	lc := bridge.New(o.Store, bridge.Options{CallbackTimeout: o.Timeout, Now: o.Now})
	m := &Manager{o: o, bridges: lc, ackWait: lc.AckWait(), log: o.Log, metrics: o.Metrics,
		pushed: make(chan *nats.Msg, pushedBuffer), runq: make(chan *worker)}
	if tr, ok := o.Client.Transport.(*http.Transport); ok && o.Client.CheckRedirect != nil {
		m.poster = newPoster(tr) // it never follows a redirect either
	}
	m.prober = newProber(m, o.ProbeInterval)
	return m
}

// nakAll hands back at once, unacknowledged, what is waiting in ch.
func nakAll(ch <-chan *nats.Msg) {
	for {
		select {
		case msg := <-ch:
			_ = msg.Nak()
		default:
			return
		}
	}
}

// Idle runners: goroutines that finished a worker's turn wait runnerLinger for the next worker with work, at most
// maxIdleRunners of them. A busy relay then hands most turns to a goroutine whose stack has grown already,
// instead of starting one (and growing its stack) for every event.
const (
	maxIdleRunners = 16
	runnerLinger   = time.Second
)

// startWork runs w.work on an idle runner, or on a new one.
func (m *Manager) startWork(w *worker) {
	select {
	case m.runq <- w:
	default:
		go m.runner(w)
	}
}

// runner works w's turn, then takes other workers' turns while they come within runnerLinger.
func (m *Manager) runner(w *worker) {
	var t *time.Timer
	for {
		w.work()
		if m.idle.Add(1) > maxIdleRunners {
			m.idle.Add(-1)
			return
		}
		if t == nil {
			t = time.NewTimer(runnerLinger)
		} else {
			t.Reset(runnerLinger)
		}
		select {
		case w = <-m.runq:
			m.idle.Add(-1)
			t.Stop()
		case <-t.C:
			m.idle.Add(-1)
			return
		}
	}
}

// dispatch hands what the consumers push to their workers until ctx ends, then hands back what is left.
func (m *Manager) dispatch(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case msg := <-m.pushed:
			m.route(msg)
		case <-ctx.Done():
			nakAll(m.pushed)
			return
		}
	}
}

// route hands one pushed event to the worker subscribed to its deliver subject.
func (m *Manager) route(msg *nats.Msg) {
	if msg.Sub == nil {
		return
	}
	w, ok := m.subs.Load(msg.Sub.Subject)
	if !ok {
		// Its worker unsubscribed after the event arrived: hand it back at once, for another relay or later.
		_ = msg.Nak()
		return
	}
	// A full inbox (a redelivery while the worker still works on the event) drops it: JetStream sends it
	// again after the ack wait.
	w.(*worker).push(msg)
}

// watchReconnects has every worker check its consumer after each reconnection to NATS (a restarted nats-server
// has lost them), until ctx ends.
func (m *Manager) watchReconnects(ctx context.Context) {
	m.o.Store.OnReconnect(ctx, func() {
		m.subs.Range(func(_, w any) bool {
			w.(*worker).checkAgain()
			return true
		})
	})
}

// Metrics returns the counters the Manager updates (Options.Metrics when given).
func (m *Manager) Metrics() *Metrics { return m.metrics }

// AckWait is the AckWait of the callback consumers this Manager keeps: bridge.AckWait(Timeout).
func (m *Manager) AckWait() time.Duration { return m.ackWait }

// Reasons a worker stops.
var (
	errShutdown      = errors.New("relay shutting down")
	errBridgeDeleted = errors.New("bridge deleted")
	errInactive      = errors.New("bridge has no active callback")
	errGone          = errors.New("receiver answered 410 Gone")
	errMeetingEnded  = errors.New("meeting ended and its queue is done")
)

func active(b state.Bridge) bool {
	return b.HasCallback() && b.CallbackState != state.CallbackGone && b.CallbackState != state.CallbackHeld
}

// Run watches the bridges bucket and runs one worker per bridge that has an active callback, stopping a worker
// when its bridge is deleted, loses its callback or is marked gone. It returns nil when ctx ends, after the
// workers' in-flight deliveries finish or drainTimeout passes; a delivery cut short is handed back to JetStream
// unacknowledged, so this or another relay sends it again. When NATS is unreachable it keeps trying. Call it once
// per Manager.
func (m *Manager) Run(ctx context.Context, drainTimeout time.Duration) error {
	hard, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hardCancel()
	m.hard = hard
	context.AfterFunc(hard, m.poster.abort)
	m.watchReconnects(ctx)
	go m.serveRequests(ctx)
	defer m.poster.closeIdle()
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatched := make(chan struct{})
	go m.dispatch(dispatchCtx, dispatched)
	defer func() { stopDispatch(); <-dispatched }()

	workers := map[string]*worker{}
	defer func() {
		for _, w := range workers {
			w.stop(errShutdown)
		}
		timer := time.NewTimer(max(drainTimeout, 0))
		defer timer.Stop()
	drain:
		for _, w := range workers {
			select {
			case <-w.done:
			case <-timer.C:
				m.log.Warn("callback: drain timeout passed, handing in-flight deliveries back", "timeout", drainTimeout)
				break drain
			}
		}
		hardCancel()
		for _, w := range workers {
			<-w.done
		}
		m.metrics.OldestPendingMillis.Store(0)
	}()

	start := func(b state.Bridge) {
		id := b.MeetingID
		prev := workers[id]
		if prev != nil && !prev.exited() {
			if prev.stopping() == nil {
				prev.setBridge(b)
				return
			}
		} else {
			prev = nil
		}
		w := newWorker(m, ctx, b, prev)
		workers[id] = w
		w.kick()
	}
	stop := func(id string, why error) {
		if w := workers[id]; w != nil {
			w.stop(why)
			if w.exited() {
				delete(workers, id)
			}
		}
	}

	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	retry := backoff.Exponential{Min: 100 * time.Millisecond, Max: 5 * time.Second}.Start()
	for ctx.Err() == nil {
		ch, err := m.o.Store.WatchBridges(ctx)
		if err != nil {
			wait := retry.Next()
			m.log.Warn("callback: cannot watch bridges, trying again", "err", err, "in", wait)
			if !service.Sleep(ctx, wait) {
				break
			}
			continue
		}
		retry.Reset()
		seen := map[string]bool{} // bridges in the initial values, until the nil marker
		initial := true
	watch:
		for {
			select {
			case <-ctx.Done():
				break watch
			case <-tick.C:
				m.updateOldest(workers)
				for id, w := range workers {
					if w.exited() {
						delete(workers, id)
					}
				}
			case c, ok := <-ch:
				if !ok {
					if ctx.Err() == nil {
						m.log.Warn("callback: bridges watch ended, watching again")
					}
					break watch
				}
				if c == nil {
					if initial {
						// Bridges deleted while the watch was down.
						for id := range workers {
							if !seen[id] {
								stop(id, errBridgeDeleted)
							}
						}
						initial, seen = false, nil
					}
					continue
				}
				id := c.Bridge.MeetingID
				if initial {
					seen[id] = true
				}
				switch {
				case c.Deleted:
					stop(id, errBridgeDeleted)
				case active(c.Bridge):
					start(c.Bridge)
				default:
					stop(id, errInactive)
				}
			}
		}
	}
	return nil
}

// updateOldest sets OldestPendingMillis from the heads the workers hold.
func (m *Manager) updateOldest(workers map[string]*worker) {
	var oldest int64
	for _, w := range workers {
		if h := w.head.Load(); h != 0 && (oldest == 0 || h < oldest) {
			oldest = h
		}
	}
	if oldest == 0 {
		m.metrics.OldestPendingMillis.Store(0)
		return
	}
	age := m.o.Now().Sub(time.Unix(0, oldest))
	m.metrics.OldestPendingMillis.Store(max(age.Milliseconds(), 0))
}
