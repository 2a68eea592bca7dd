package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/metricstext"
	"github.com/prometheus/client_golang/prometheus"
)

func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestRegistry(t *testing.T) {
	for _, c := range []struct{ binary, version, series string }{
		{"ingress", "dev", `bbbchat_build_info{binary="ingress",version="dev"}`},
		{"relay", `v1"x`, `bbbchat_build_info{binary="relay",version="v1\"x"}`},
	} {
		t.Run(c.binary, func(t *testing.T) {
			page := scrape(t, NewRegistry(c.binary, c.version))
			got := metricstext.Parse(page)
			if got[c.series] != 1 {
				t.Errorf("%s missing:\n%s", c.series, page)
			}
			if got["bbbchat_goroutines"] < 1 {
				t.Error("bbbchat_goroutines missing")
			}
			for _, want := range []string{"# TYPE go_goroutines gauge\n", "# TYPE bbbchat_build_info gauge\n"} {
				if !strings.Contains(page, want) {
					t.Errorf("no %q", want)
				}
			}
		})
	}
}

func TestCapped(t *testing.T) {
	for _, c := range []struct {
		name   string
		known  []string
		values int
		want   map[string]float64
	}{
		{"under the cap", nil, 2, map[string]float64{`c_total{l="v0"}`: 1, `c_total{l="v1"}`: 1}},
		{"at the cap", nil, 3, map[string]float64{`c_total{l="v2"}`: 1}},
		{"over the cap", nil, 6, map[string]float64{`c_total{l="v2"}`: 1, `c_total{l="other"}`: 3}},
		{"known values at zero", []string{"ok", "error"}, 0, map[string]float64{`c_total{l="ok"}`: 0, `c_total{l="error"}`: 0}},
		{"known values do not count", []string{"ok", "error"}, 4, map[string]float64{`c_total{l="v2"}`: 1, `c_total{l="other"}`: 1, `c_total{l="ok"}`: 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			cc := NewCapped(reg, "c_total", "C.", "l", 3, c.known...)
			for i := range c.values {
				cc.Inc(fmt.Sprintf("v%d", i))
			}
			got := metricstext.Parse(scrape(t, reg))
			for k, v := range c.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v, want %v (%v)", k, got[k], v, got)
				}
			}
			if _, ok := got[`c_total{l="v3"}`]; ok {
				t.Error("a value over the cap got its own series")
			}
		})
	}
}

func TestCappedConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := NewCapped(reg, "c_total", "C.", "l", 10)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Inc("x")
			}
		})
	}
	wg.Wait()
	if got := metricstext.Parse(scrape(t, reg))[`c_total{l="x"}`]; got != 8000 {
		t.Fatalf("got %v", got)
	}
}

// Inc runs on every Redis message relay reads.
func BenchmarkCappedInc(b *testing.B) {
	c := NewCapped(prometheus.NewRegistry(), "c_total", "C.", "l", 200)
	b.ReportAllocs()
	for b.Loop() {
		c.Inc("GroupChatMessageBroadcastEvtMsg")
	}
}
