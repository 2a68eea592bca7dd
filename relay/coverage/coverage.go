// Package coverage owns relay's part in making a gap never silent. BBB's Redis keeps nothing for a subscriber that
// is away, so events published while no relay of a server was subscribed are lost for good; what can be done is to
// say so. While its Redis subscription is up (redisfeed's SubscribedSince), each relay writes a heartbeat to the
// coverage bucket (state.Coverage): "some relay heard this server until now". A relay whose subscription began
// after the last heartbeat (with a margin for the heartbeat's period) knows that no relay was subscribed in
// between: both relays were down, or Redis was gone. It waits a short grace period (a relay that stayed subscribed
// through a NATS outage may not have written yet), then publishes one gap event on bbbchat.gap with the window
// (from the last heartbeat to its own subscription) and the server, and logs it. Relays that find the same window
// publish the same event id, which the stream stores once.
//
// It reports in bbbchat_relay_gap_events_total. It must not read Redis itself (redisfeed owns the subscription and
// its own reconnections), must not keep anything in Redis, and must not block the feed: it runs on its own
// goroutine and only reads the feed's subscription time.
//
// A window shorter than the margin (Margin, about two heartbeats) can go unmarked; docs/operations.md says so.
package coverage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/prometheus/client_golang/prometheus"
)

// Timing of the heartbeat.
const (
	// Every is how often a subscribed relay writes the heartbeat.
	Every = time.Second
	// Margin is how much older than a relay's subscription the last heartbeat may be for the two to count as
	// continuous: a heartbeat period, and as much again for a slow write.
	Margin = 2*Every + 500*time.Millisecond
	// Grace is how long a relay that found a window waits for a heartbeat that closes it before it publishes it.
	Grace = 3 * Every
	// opTimeout bounds each read and write of the bucket.
	opTimeout = 2 * time.Second
)

// Options are what a Watch is built from; all are required.
type Options struct {
	Log    *slog.Logger
	Now    func() time.Time
	Server string              // the BBB server's name, as gap events carry it
	Store  func() *state.Store // the state, nil until it is open
	Since  func() time.Time    // when the relay's Redis subscription began; zero while not subscribed
	Every  time.Duration       // heartbeat period (0: Every)
	OnGap  func(state.Event)   // called with each gap event this relay stored; may be nil
}

// Watch writes the heartbeat and publishes gaps.
type Watch struct {
	o       Options
	gaps    atomic.Uint64
	pending *window // a window found, waiting out Grace
	warned  time.Time
}

type window struct {
	from  int64     // ms: the last heartbeat before it
	found time.Time // when this relay found it
}

// New returns a Watch; its metric is registered in reg.
func New(o Options, reg prometheus.Registerer) *Watch {
	if o.Every <= 0 {
		o.Every = Every
	}
	w := &Watch{o: o}
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_gap_events_total",
		"Gap events this relay stored: windows in which no relay was subscribed to BBB's Redis.", w.gaps.Load)
	return w
}

// Run writes the heartbeat every period until ctx ends.
func (w *Watch) Run(ctx context.Context) {
	t := time.NewTicker(w.o.Every)
	defer t.Stop()
	for {
		w.Step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step is one heartbeat: while the relay is subscribed and the state is open, it reads the server's coverage,
// finds a window nobody heard (publishing it once Grace has passed), and writes the heartbeat.
func (w *Watch) Step(ctx context.Context) {
	since := w.o.Since()
	s := w.o.Store()
	if since.IsZero() || s == nil {
		return
	}
	now := w.o.Now()
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	cur, err := s.GetCoverage(ctx, w.o.Server)
	mine := since.UnixMilli()
	switch {
	case errors.Is(err, state.ErrNotFound):
		// The first relay ever on this server: nothing before it to miss.
		cur = state.Coverage{At: now.UnixMilli(), Since: mine}
	case err != nil:
		w.warn(now, "cannot read the coverage heartbeat", err)
		return
	case cur.At >= mine-Margin.Milliseconds():
		// The recorded coverage reaches this relay's subscription: no window.
		w.pending = nil
	default:
		// Nobody recorded hearing the server between cur.At and this relay's subscription.
		if w.pending == nil || w.pending.from != cur.At {
			w.pending = &window{from: cur.At, found: now}
		}
		if now.Sub(w.pending.found) < Grace {
			return // a relay that stayed subscribed may write yet; write nothing meanwhile
		}
		from := time.UnixMilli(w.pending.from)
		e := state.GapEvent(w.o.Server, from, since)
		err := s.PublishGap(ctx, e)
		if err != nil && !errors.Is(err, state.ErrDuplicate) {
			w.warn(now, "cannot publish the gap event", err)
			return
		}
		if err == nil {
			w.gaps.Add(1)
			if w.o.OnGap != nil {
				w.o.OnGap(e)
			}
		}
		w.o.Log.Warn(fmt.Sprintf("no relay was subscribed to BBB's Redis between %s and %s: chat events of that window may be missing",
			from.UTC().Format(time.RFC3339Nano), since.UTC().Format(time.RFC3339Nano)),
			"from", from, "to", since, "gap", since.Sub(from).Round(time.Millisecond), "server", w.o.Server,
			"event", e.ID, "already_published", errors.Is(err, state.ErrDuplicate))
		w.pending = nil
		cur = state.Coverage{Since: mine}
	}
	next := state.Coverage{At: now.UnixMilli(), Since: min(cur.Since, mine)}
	if cur.Since == 0 {
		next.Since = mine
	}
	if err := s.PutCoverage(ctx, w.o.Server, next); err != nil {
		w.warn(now, "cannot write the coverage heartbeat", err)
	}
}

// warn logs a failure at most every 30 s: NATS being away is logged by the connection already.
func (w *Watch) warn(now time.Time, msg string, err error) {
	if now.Sub(w.warned) < 30*time.Second {
		return
	}
	w.warned = now
	w.o.Log.Warn(msg, "err", err)
}
