// Package metrics is a small Prometheus text-format registry for bbb-chat's two binaries: counters and gauges with
// labels, and gauges computed when scraped. It owns the exposition format only; each binary names its own
// metrics. No client library and no package-level registry: each process builds one and passes it down.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds a process's metrics. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	metrics map[string]*family
}

type family struct {
	name, help, typ string
	labels          []string
	mu              sync.Mutex
	series          map[string]*Value
	fn              func() float64
}

// Value is one series of a counter or gauge.
type Value struct {
	labels string
	bits   atomic.Uint64
}

// Add adds d (may be negative for gauges).
func (v *Value) Add(d float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Inc adds one.
func (v *Value) Inc() { v.Add(1) }

// Set sets a gauge.
func (v *Value) Set(f float64) { v.bits.Store(math.Float64bits(f)) }

// Get returns the current value.
func (v *Value) Get() float64 { return math.Float64frombits(v.bits.Load()) }

// Vec is a metric with labels; With picks a series.
type Vec struct{ f *family }

// New returns an empty registry.
func New() *Registry { return &Registry{metrics: map[string]*family{}} }

func (r *Registry) add(name, help, typ string, labels []string) *family {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.metrics[name]; ok {
		return f
	}
	f := &family{name: name, help: help, typ: typ, labels: labels, series: map[string]*Value{}}
	r.metrics[name] = f
	return f
}

// Counter registers a counter with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) Vec {
	return Vec{r.add(name, help, "counter", labels)}
}

// Gauge registers a gauge with the given label names.
func (r *Registry) Gauge(name, help string, labels ...string) Vec {
	return Vec{r.add(name, help, "gauge", labels)}
}

// GaugeFunc registers a gauge computed at each scrape.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	f := r.add(name, help, "gauge", nil)
	f.fn = fn
}

// With returns the series for these label values (as many as the label names, in order).
func (v Vec) With(values ...string) *Value {
	key := ""
	if len(v.f.labels) > 0 {
		var b strings.Builder
		for i, name := range v.f.labels {
			if i > 0 {
				b.WriteByte(',')
			}
			val := ""
			if i < len(values) {
				val = values[i]
			}
			b.WriteString(name)
			b.WriteString(`="`)
			b.WriteString(EscapeLabel(val))
			b.WriteByte('"')
		}
		key = b.String()
	}
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	s, ok := v.f.series[key]
	if !ok {
		s = &Value{labels: key}
		v.f.series[key] = s
	}
	return s
}

// EscapeLabel escapes a label value for the text format: backslash, newline and double quote. Most values have none
// of them and come back as they are, without an allocation (With runs on every request).
func EscapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Names lists the registered metric names, sorted (for the golden file of metric names).
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.metrics))
	for n, f := range r.metrics {
		out = append(out, n+" "+f.typ)
	}
	sort.Strings(out)
	return out
}

// WriteTo writes every metric in the Prometheus text format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.metrics))
	for _, f := range r.metrics {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	var b strings.Builder
	for _, f := range fams {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		if f.fn != nil {
			fmt.Fprintf(&b, "%s %s\n", f.name, num(f.fn()))
			continue
		}
		f.mu.Lock()
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" {
				fmt.Fprintf(&b, "%s %s\n", f.name, num(f.series[k].Get()))
			} else {
				fmt.Fprintf(&b, "%s{%s} %s\n", f.name, k, num(f.series[k].Get()))
			}
		}
		f.mu.Unlock()
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Handler serves the registry at /metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.WriteTo(w)
	})
}

// Parse reads a page in the text format back into series (name and labels, as written) → value, skipping
// comments and lines without a number: what tests and checks read from /metrics.
func Parse(text string) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
