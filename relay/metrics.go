package main

import (
	"net/http"
	"sync/atomic"
	"time"

	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// maxLabelValues bounds how many distinct label values one labeled counter keeps; further values are counted
// under "other", so garbage on Redis cannot grow /metrics without bound.
const maxLabelValues = 200

// labeled is a counter with one label, of at most maxLabelValues values.
type labeled struct{ c *sharedmetrics.Capped }

func (l labeled) inc(v string)           { l.c.Inc(v) }
func (l labeled) add(v string, n uint64) { l.c.Add(v, float64(n)) }

// metrics holds relay's metrics, registered in its own Prometheus registry (reg), which /metrics serves. It is
// built in serve and passed down. The plain counters and gauges are atomics the code also reads (readiness, tests),
// exported through the registry as they are scraped.
type metrics struct {
	reg *prometheus.Registry

	stateUpdates labeled // by result: ok, error

	stateOpen atomic.Bool

	// attempts is the time of each callback HTTP attempt, by outcome.
	attempts *prometheus.HistogramVec
}

func newMetrics(version string) *metrics {
	reg := sharedmetrics.NewRegistry("relay", version)
	m := &metrics{reg: reg}
	capped := func(name, help, label string, known ...string) labeled {
		return labeled{sharedmetrics.NewCapped(reg, name, help, label, maxLabelValues, known...)}
	}
	m.stateUpdates = capped("bbbchat_relay_state_updates_total", "Presence, meeting and bridge updates, by result.", "result", "ok", "error")

	sharedmetrics.FlagGauge(reg, "bbbchat_relay_state_open", "1 when the JetStream buckets and stream are open.", &m.stateOpen)

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
