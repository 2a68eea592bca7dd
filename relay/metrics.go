package main

import (
	"net/http"
	"time"

	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics is relay's Prometheus registry (reg), which /metrics serves, and the callback attempt histogram. It is
// built in serve; every package of relay registers its own metrics in reg (main passes it down), and main only
// those of the callback deliveries it wires up.
type metrics struct {
	reg *prometheus.Registry

	// attempts is the time of each callback HTTP attempt, by outcome.
	attempts *prometheus.HistogramVec
}

func newMetrics(version string) *metrics {
	reg := sharedmetrics.NewRegistry("relay", version)
	m := &metrics{reg: reg}
	m.attempts = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bbbchat_relay_callback_attempt_duration_seconds",
		Help:    "Time of each callback HTTP attempt, by outcome (2xx, 3xx, 4xx, 5xx, error).",
		Buckets: sharedmetrics.LatencyBuckets,
	}, []string{"outcome"})
	for _, o := range []string{"2xx", "3xx", "4xx", "5xx", "error"} {
		m.attempts.WithLabelValues(o)
	}
	reg.MustRegister(m.attempts)
	return m
}

// observeAttempt records one callback attempt.
func (m *metrics) observeAttempt(outcome string, took time.Duration) {
	m.attempts.WithLabelValues(outcome).Observe(took.Seconds())
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler { return sharedmetrics.Handler(m.reg) }
