package e2e

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

// metricNames scrapes a /metrics endpoint and returns the "name type" lines of bbb-chat's own metrics (bbbchat_*),
// sorted as written; the Go and process collectors' go_* and process_* metrics vary with the Go version.
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
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok && strings.HasPrefix(rest, "bbbchat_") {
			b.WriteString(rest)
		}
	}
	return b.String()
}

// TestMetricNames pins the names and types of every metric ingress exports: dashboards and alerts depend on them.
func TestMetricNames(t *testing.T) {
	e := newEnv(t, "2.7")
	_, c := e.startIngressWith(nil)
	// A series with labels only known at run time (the BBB version) appears with the first message sent.
	m := e.meeting("ext-metrics", "Metrics")
	expect(t, c.call(callStart, "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	if _, err := e.sim.Join(t.Context(), m.IntID, "Chat Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	expect(t, c.call(callSend, "user_name", "Ann", "message", "hi", m.IntID), 200, "sent")
	got := metricNames(t, c.metricsURL)
	testenv.Golden(t, filepath.Join("testdata", "ingress_metrics.golden"), []byte(got), *updateGolden)
}
