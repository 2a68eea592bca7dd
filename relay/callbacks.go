package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/callback"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// startCallbacks runs the callback deliveries (package callback) until ctx ends; the returned channel is closed
// once they drained (up to the shutdown timeout). Their counters join /metrics.
func startCallbacks(ctx context.Context, cfg config.Relay, s *state.Store, log *slog.Logger, m *metrics) <-chan struct{} {
	mgr := callback.NewManager(callback.Options{
		Store:         s,
		Timeout:       cfg.CallbackTimeout,
		Schedule:      cfg.RetrySchedule,
		Jitter:        cfg.RetryJitter,
		MaxRetryAfter: cfg.MaxRetryAfter,
		Now:           time.Now,
		Rand:          rand.Float64,
		Log:           log.With("component", "callback"),
		UserAgent:     "bbb-chat/" + m.version,
	})
	m.addWriter(func(w io.Writer) { writeCallbackMetrics(w, mgr.Metrics()) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Run(ctx, cfg.ShutdownTimeout); err != nil {
			log.Error("callback deliveries stopped", "err", err)
		}
	}()
	return done
}

// writeCallbackMetrics renders the callback Manager's counters.
func writeCallbackMetrics(w io.Writer, cm *callback.Metrics) {
	writeScalar(w, "bbbchat_relay_callbacks_delivered_total", "counter", "Callbacks answered 2xx.", cm.Delivered.Load())
	writeScalar(w, "bbbchat_relay_callbacks_retried_total", "counter", "Failed callback attempts scheduled again.", cm.Retried.Load())
	writeScalar(w, "bbbchat_relay_callbacks_failed_total", "counter", "Callbacks given up after the retry schedule.", cm.Failed.Load())
	writeScalar(w, "bbbchat_relay_callbacks_gone_total", "counter", "Receivers that answered 410 Gone.", cm.Gone.Load())
	writeScalar(w, "bbbchat_relay_callbacks_skipped_total", "counter", "Events not sent: echoes, private chats, kinds not asked for.", cm.Skipped.Load())
	writeScalar(w, "bbbchat_relay_callbacks_in_flight", "gauge", "Callback HTTP attempts under way.", uint64(max(cm.InFlight.Load(), 0)))
	writeScalar(w, "bbbchat_relay_callback_workers", "gauge", "Bridges this process delivers callbacks for.", uint64(max(cm.Workers.Load(), 0)))
	family(w, "bbbchat_relay_callbacks_oldest_pending_seconds", "gauge", "Age of the oldest undelivered callback this process holds.")
	fmt.Fprintf(w, "bbbchat_relay_callbacks_oldest_pending_seconds %g\n", cm.OldestPending().Seconds())
}
