package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/bridge"
	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/prometheus/client_golang/prometheus"
)

// pendingInterval is how often relay compares each bridge's callback queue with BBB_CHAT_CALLBACK_MAX_PENDING.
const pendingInterval = 5 * time.Second

// pendingWatch finds bridges whose callback queue (events waiting plus the one in flight) is over
// BBB_CHAT_CALLBACK_MAX_PENDING: it warns when one goes over and tells when it is back under, and counts them for
// /metrics. It drops nothing: the queue is a position in the events stream, which keeps every event anyway (up to
// its MaxAge and MaxBytes), so an overloaded bridge costs no storage of its own; it is a receiver that cannot keep
// up, for the operator to look at. One pass reads the queues through bridge.Lifecycle.Queues.
type pendingWatch struct {
	store      *state.Store
	max        uint64
	log        *slog.Logger
	overloaded atomic.Int64
	total      atomic.Int64      // callbacks not yet delivered, all bridges together
	current    map[string]uint64 // meeting → pending, of the bridges over max at the last pass
}

func newPendingWatch(s *state.Store, max int, log *slog.Logger) *pendingWatch {
	return &pendingWatch{store: s, max: uint64(max), log: log, current: map[string]uint64{}}
}

func (p *pendingWatch) run(ctx context.Context) {
	t := time.NewTicker(pendingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pendingInterval)
		err := p.pass(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			p.log.Debug("cannot read the callback queues", "err", err)
		}
	}
}

// pass reads every callback consumer once and updates the overloaded set.
func (p *pendingWatch) pass(ctx context.Context) error {
	over := map[string]uint64{}
	var total uint64
	err := bridge.New(p.store, bridge.Options{}).Queues(ctx, func(q bridge.Queue) {
		total += q.Pending
		if q.Pending > p.max {
			over[q.MeetingID] = q.Pending
		}
	})
	if err != nil {
		return err
	}
	for id, n := range over {
		if _, was := p.current[id]; !was {
			p.log.Warn("callback queue over BBB_CHAT_CALLBACK_MAX_PENDING: the receiver does not keep up; nothing is dropped, but events older than BBB_CHAT_STREAM_MAX_AGE leave the stream",
				"meeting", id, "pending", n, "max", p.max)
		}
	}
	for id := range p.current {
		if _, still := over[id]; !still {
			p.log.Info("callback queue back under BBB_CHAT_CALLBACK_MAX_PENDING", "meeting", id, "max", p.max)
		}
	}
	p.current = over
	p.overloaded.Store(int64(len(over)))
	p.total.Store(int64(total))
	return nil
}

// register exports the watch's figures in reg.
func (p *pendingWatch) register(reg prometheus.Registerer) {
	sharedmetrics.GaugeFunc(reg, "bbbchat_relay_callbacks_overloaded_bridges",
		"Bridges with more undelivered callbacks than BBB_CHAT_CALLBACK_MAX_PENDING (checked every 5s).",
		p.overloaded.Load)
	sharedmetrics.GaugeFunc(reg, "bbbchat_relay_callbacks_max_pending", "BBB_CHAT_CALLBACK_MAX_PENDING.", func() uint64 { return p.max })
	sharedmetrics.GaugeFunc(reg, "bbbchat_relay_callbacks_pending",
		"Callbacks not yet delivered, all bridges together: waiting in the stream or in flight (checked every 5s).",
		p.total.Load)
}
