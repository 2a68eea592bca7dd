package keep

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/ratelog"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/config"
	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Keeper opens the state (buckets and stream) as soon as NATS answers, and opens it again whenever asked
// (after a reconnection, or when the stream did not answer), so a NATS server that lost its data gets the
// definitions back. It never gives up.
type Keeper struct {
	opts   state.Options
	log    *slog.Logger
	open   atomic.Bool // bbbchat_relay_state_open
	store  atomic.Pointer[state.Store]
	kick   chan struct{}
	opened chan struct{} // closed at the first successful open
}

// NewKeeper returns a keeper opening the state with o; its metric is registered in reg. Run it with Run.
func NewKeeper(o state.Options, log *slog.Logger, reg prometheus.Registerer) *Keeper {
	k := &Keeper{opts: o, log: log, kick: make(chan struct{}, 1), opened: make(chan struct{})}
	sharedmetrics.FlagGauge(reg, "bbbchat_relay_state_open", "1 when the JetStream buckets and stream are open.", &k.open)
	return k
}

// StateOptions are the stream and bucket settings relay opens the state with, from its configuration.
func StateOptions(cfg config.Relay) state.Options {
	return state.Options{Replicas: cfg.Replicas, EventsMaxAge: cfg.StreamMaxAge, EventsMaxBytes: cfg.StreamMaxBytes,
		Server: cfg.ServerID}
}

// Store returns the store, nil until it was opened.
func (k *Keeper) Store() *state.Store { return k.store.Load() }

// Opened is closed once the state was first opened.
func (k *Keeper) Opened() <-chan struct{} { return k.opened }

// Reopen asks for the definitions to be applied again (after a reconnection, or when the stream did not answer).
// It never waits.
func (k *Keeper) Reopen() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// Run opens the state on nc as soon as NATS answers, calls onOpen (may be nil) with it the first time, and opens
// it again at every Reopen, until ctx ends.
func (k *Keeper) Run(ctx context.Context, nc *nats.Conn, onOpen func(*state.Store)) {
	limit := ratelog.New(30*time.Second, time.Now)
	for {
		retry := backoff.Exponential{Min: 250 * time.Millisecond, Max: 5 * time.Second}.Start()
		for {
			if ctx.Err() != nil {
				return
			}
			if nc.IsConnected() {
				octx, cancel := context.WithTimeout(ctx, 10*time.Second)
				s, err := state.Open(octx, nc, k.opts)
				cancel()
				if err == nil {
					k.open.Store(true)
					if k.store.CompareAndSwap(nil, s) {
						k.log.Info("state open", "stream", state.StreamEvents)
						close(k.opened)
						if onOpen != nil {
							onOpen(s)
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
