package metrics

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/metricstext"
	"github.com/prometheus/client_golang/prometheus"
)

// The scrape-time counters and gauges export what their atomics hold when scraped, never below zero.
func TestFuncs(t *testing.T) {
	reg := prometheus.NewRegistry()
	var (
		count  atomic.Uint64
		queued atomic.Int64
		up     atomic.Bool
	)
	CounterFunc(reg, "c_total", "C.", count.Load)
	GaugeFunc(reg, "q", "Q.", queued.Load)
	FlagGauge(reg, "up", "Up.", &up)
	steps := []struct {
		name         string
		set          func()
		c, q, upWant float64
	}{
		{"zero", func() {}, 0, 0, 0},
		{"counted", func() { count.Add(3); queued.Add(2); up.Store(true) }, 3, 2, 1},
		{"a gauge below zero reads zero", func() { queued.Add(-5); up.Store(false) }, 3, 0, 0},
	}
	for _, s := range steps {
		s.set()
		page := scrape(t, reg)
		got := metricstext.Parse(page)
		if got["c_total"] != s.c || got["q"] != s.q || got["up"] != s.upWant {
			t.Errorf("%s: c_total %v q %v up %v, want %v %v %v", s.name, got["c_total"], got["q"], got["up"], s.c, s.q, s.upWant)
		}
		if !strings.Contains(page, "# TYPE c_total counter\n") || !strings.Contains(page, "# TYPE q gauge\n") {
			t.Errorf("%s: wrong types:\n%s", s.name, page)
		}
	}
}
