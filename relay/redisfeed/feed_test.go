package redisfeed

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/metricstext"
	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
)

func TestMetricsFormat(t *testing.T) {
	reg := sharedmetrics.NewRegistry("relay", `v1"x`)
	m := newMetrics(reg)
	m.redisEvents.Inc("A")
	m.redisEvents.Add("B", 2)
	for i := range maxLabelValues + 5 {
		m.decodeErrors.Inc(strings.Repeat("r", i+1))
	}
	sharedmetrics.CounterFunc(reg, "extra_total", "Extra.", func() uint64 { return 7 })
	rec := httptest.NewRecorder()
	sharedmetrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	page := rec.Body.String()
	got := metricstext.Parse(page)
	for series, want := range map[string]float64{
		`bbbchat_build_info{binary="relay",version="v1\"x"}`: 1,
		`bbbchat_relay_redis_events_total{name="A"}`:         1,
		`bbbchat_relay_redis_events_total{name="B"}`:         2,
		`bbbchat_relay_decode_errors_total{reason="other"}`:  5,
		`bbbchat_relay_redis_subscribed`:                     0,
		`extra_total`:                                        7,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
	if !strings.Contains(page, "# TYPE bbbchat_relay_redis_events_total counter\n") {
		t.Error("no TYPE line")
	}
}
