package main

import (
	"flag"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// metricNames scrapes a /metrics endpoint and returns its "name type" lines, sorted as written.
func metricNames(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var b strings.Builder
	for line := range strings.Lines(string(body)) {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			b.WriteString(rest)
		}
	}
	return b.String()
}

// TestMetricNames pins the names and types of every metric ingress exports: dashboards and alerts depend on them.
func TestMetricNames(t *testing.T) {
	e := newEnv(t, "2.7")
	_, c := e.startIngressWith(nil)
	got := metricNames(t, c.metricsURL)
	testenv.Golden(t, filepath.Join("testdata", "metrics.golden"), []byte(got), *updateGolden)
}
