package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/ratelog"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// stateKeeper opens the state (buckets and stream) as soon as NATS answers, and opens it again whenever asked
// (after a reconnection, or when the stream did not answer), so a NATS server that lost its data gets the
// definitions back. It never gives up.
type stateKeeper struct {
	nc     *nats.Conn
	opts   state.Options
	log    *slog.Logger
	m      *metrics
	store  atomic.Pointer[state.Store]
	kick   chan struct{}
	opened chan struct{} // closed at the first successful open
	onOpen func(*state.Store)
}

// newStateKeeper returns a keeper; set nc before run.
func newStateKeeper(o state.Options, log *slog.Logger, m *metrics) *stateKeeper {
	return &stateKeeper{opts: o, log: log, m: m, kick: make(chan struct{}, 1), opened: make(chan struct{})}
}

// get returns the store, nil until it was opened.
func (k *stateKeeper) get() *state.Store { return k.store.Load() }

// reopen asks for the definitions to be applied again.
func (k *stateKeeper) reopen() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

func (k *stateKeeper) run(ctx context.Context) {
	limit := ratelog.New(30*time.Second, time.Now)
	for {
		retry := backoff.Exponential{Min: 250 * time.Millisecond, Max: 5 * time.Second}.Start()
		for {
			if ctx.Err() != nil {
				return
			}
			if k.nc.IsConnected() {
				octx, cancel := context.WithTimeout(ctx, 10*time.Second)
				s, err := state.Open(octx, k.nc, k.opts)
				cancel()
				if err == nil {
					k.m.stateOpen.Store(true)
					if k.store.CompareAndSwap(nil, s) {
						k.log.Info("state open", "stream", state.StreamEvents)
						close(k.opened)
						if k.onOpen != nil {
							k.onOpen(s)
						}
					}
					break
				}
				if ok, n := limit.Allow("open"); ok && ctx.Err() == nil {
					k.log.Warn("cannot open the JetStream state yet, retrying", "err", err, "failures_before", n)
				}
			}
			if !service.Sleep(ctx, retry.Next()) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-k.kick:
		}
	}
}
