package main

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/callback"
	"github.com/bbb-chat/bbb-chat/shared/config"
	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/prometheus/client_golang/prometheus"
)

// startCallbacks runs the callback deliveries (package callback) until ctx ends; the returned channel is closed
// once they drained (up to the shutdown timeout). Their counters join /metrics.
func startCallbacks(ctx context.Context, cfg config.Relay, s *state.Store, log *slog.Logger, m *metrics, live *reloadable) <-chan struct{} {
	client := callback.NewClient(cfg.CallbackTimeout)
	// Every connection is checked against the callback allow list at the address actually dialled (DNS may have
	// changed since the chat started); SIGHUP may change the list.
	dialer := &net.Dialer{Timeout: cfg.CallbackTimeout, KeepAlive: 30 * time.Second}
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return live.egress.Load().DialContext(dialer)(ctx, network, addr)
	}
	mgr := callback.NewManager(callback.Options{
		Store:  s,
		Cache:  s.StartCache(ctx),
		Client: client,
		IsEcho: func(e state.Event, b state.Bridge) bool {
			// Posts ingress made through BBB 3.0's chat API come back as system messages (sender SYSTEM).
			if e.SenderID != "SYSTEM" {
				return false
			}
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			ok, err := s.IsAPIPost(ctx, e.MeetingID, e.SenderName, e.Text)
			if err != nil {
				log.Warn("cannot tell whether a system message is bbb-chat's own post; sending it", "err", err)
			}
			return ok
		},
		Timeout:       cfg.CallbackTimeout,
		Schedule:      cfg.RetrySchedule,
		Jitter:        cfg.RetryJitter,
		MaxRetryAfter: cfg.MaxRetryAfter,
		ProbeInterval: probeInterval(cfg.ProbeInterval),
		CheckURL: func(ctx context.Context, uri string) error {
			return live.egress.Load().CheckURL(ctx, uri, nil)
		},
		Now:         time.Now,
		Rand:        rand.Float64,
		Log:         log.With("component", "callback"),
		UserAgent:   "bbb-chat/" + version,
		AttemptDone: m.observeAttempt,
	})
	registerCallbackMetrics(m.reg, mgr.Metrics())
	pw := newPendingWatch(s, cfg.MaxPending, log.With("component", "callback"))
	pw.register(m.reg)
	go pw.run(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Run(ctx, cfg.ShutdownTimeout); err != nil {
			log.Error("callback deliveries stopped", "err", err)
		}
	}()
	return done
}

// registerCallbackMetrics exports the callback Manager's counters in reg.
func registerCallbackMetrics(reg prometheus.Registerer, cm *callback.Metrics) {
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_callbacks_delivered_total", "Callbacks answered 2xx.", cm.Delivered.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_callbacks_retried_total", "Failed callback attempts scheduled again.", cm.Retried.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_callbacks_failed_total", "Callbacks given up after the retry schedule.", cm.Failed.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_callbacks_gone_total", "Receivers that answered 410 Gone.", cm.Gone.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_callbacks_skipped_total", "Events not sent: echoes, private chats, kinds not asked for.", cm.Skipped.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_callbacks_malformed_total", "Events on a bridge's subjects that relay cannot have published (garbage, too big, another meeting's), skipped.", cm.Malformed.Load)
	sharedmetrics.GaugeFunc(reg, "bbbchat_relay_callbacks_in_flight", "Callback HTTP attempts under way.", cm.InFlight.Load)
	sharedmetrics.GaugeFunc(reg, "bbbchat_relay_callback_workers", "Bridges this process delivers callbacks for.", cm.Workers.Load)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bbbchat_relay_callbacks_oldest_pending_seconds",
		Help: "Age of the oldest undelivered callback this process holds.",
	}, func() float64 { return cm.OldestPending().Seconds() }))
}

// probeInterval is BBB_CHAT_CALLBACK_PROBE_INTERVAL as callback.Options takes it (0 there is the default; off is
// negative).
func probeInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
