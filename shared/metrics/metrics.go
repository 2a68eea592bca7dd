// Package metrics is what ingress and relay share about /metrics, on top of the Prometheus Go client
// (github.com/prometheus/client_golang; docs/operations.md says why): a process's private registry with the Go and
// process collectors, the build information and goroutine gauges both binaries export under one label set, the
// /metrics handler, the latency buckets, and a counter whose label values are bounded. It owns no metric of either
// binary (each names its own) and holds no package-level registry: run builds one and passes it down.
package metrics

import (
	"net/http"
	"runtime"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a process's registry: the Go runtime and process collectors, and
// bbbchat_build_info{binary,version} and bbbchat_goroutines, the same on both binaries.
func NewRegistry(binary, version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bbbchat_build_info",
		Help: "Build information of the running binary.",
	}, []string{"binary", "version"})
	info.WithLabelValues(binary, version).Set(1)
	reg.MustRegister(info)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bbbchat_goroutines",
		Help: "Goroutines of this process (should stay flat under steady load).",
	}, func() float64 { return float64(runtime.NumGoroutine()) }))
	return reg
}

// Handler serves reg at /metrics in the Prometheus text format. A metric that cannot be gathered is left out and
// the rest served, so one broken collector cannot blind the whole page.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: reg})
}

// LatencyBuckets are the buckets, in seconds, of bbb-chat's latency histograms: from a millisecond (a call
// answered from memory, a hop on a quiet host) to a minute (a callback receiver at the end of its timeout).
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Capped is a counter with one label whose distinct values are bounded: beyond max of them, further values are
// counted under "other", so garbage from outside (a Redis channel, say) cannot grow /metrics without bound. The
// values known in advance are exported at zero from the start (so rate() sees their first increase) and do not
// count against max.
type Capped struct {
	vec   *prometheus.CounterVec
	max   int
	known int
	mu    sync.Mutex
	seen  map[string]prometheus.Counter
}

// NewCapped registers a counter with one label, keeping at most max distinct values of it besides known.
func NewCapped(reg prometheus.Registerer, name, help, label string, max int, known ...string) *Capped {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	reg.MustRegister(vec)
	c := &Capped{vec: vec, max: max, seen: map[string]prometheus.Counter{}}
	for _, v := range known {
		if _, dup := c.seen[v]; !dup {
			c.seen[v] = vec.WithLabelValues(v)
		}
	}
	c.known = len(c.seen)
	return c
}

// Inc adds one to the series of value v.
func (c *Capped) Inc(v string) { c.Add(v, 1) }

// Add adds n to the series of value v (of "other" when max values are taken already).
func (c *Capped) Add(v string, n float64) {
	c.mu.Lock()
	s, ok := c.seen[v]
	if !ok {
		if len(c.seen)-c.known >= c.max {
			v = "other"
			s = c.seen[v]
		}
		if s == nil {
			s = c.vec.WithLabelValues(v)
			c.seen[v] = s
		}
	}
	c.mu.Unlock()
	s.Add(n)
}
