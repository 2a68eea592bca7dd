package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// CounterFunc registers a counter whose value load reads at each scrape: for counts the code keeps in an atomic
// it also reads itself (readiness, tests).
func CounterFunc[T uint64 | int64](reg prometheus.Registerer, name, help string, load func() T) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
		func() float64 { return float64(max(load(), 0)) }))
}

// GaugeFunc registers a gauge whose value load reads at each scrape (never below zero).
func GaugeFunc[T uint64 | int64](reg prometheus.Registerer, name, help string, load func() T) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
		func() float64 { return float64(max(load(), 0)) }))
}

// FlagGauge registers a gauge of 1 while b is true, else 0.
func FlagGauge(reg prometheus.Registerer, name, help string, b *atomic.Bool) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		if b.Load() {
			return 1
		}
		return 0
	}))
}
