package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestMetricNames pins the names and types of every metric relay exports: dashboards and alerts depend on them.
func TestMetricNames(t *testing.T) {
	w := newWorld(t)
	r := startRelay(t, w.env(t))
	r.waitReady(t)
	// The callback metrics join once the state is open.
	r.waitMetric(t, "bbbchat_relay_callback_workers", func(float64) bool { return true })
	_, body, err := httpGet(r.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			b.WriteString(rest)
		}
	}
	got := b.String()
	testenv.Golden(t, filepath.Join("testdata", "metrics.golden"), []byte(got), *update)
}
