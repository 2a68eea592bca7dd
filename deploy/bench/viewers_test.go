package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestMain lets the test binary be the viewers phase's bare SSE handler too: the phase starts its own executable
// as `bench bare-sse ADDR`.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "bare-sse" {
		if err := bareSSE(context.Background(), os.Args[2]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestViewersSmoke runs the smoke benchmark with 20 viewers: both sides connect them all and lose nothing.
func TestViewersSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"bench", "-smoke", "-json", "-send-rate", "0", "-viewers", "20"}, func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var got struct {
		Viewers map[string]float64 `json:"viewers"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got.Viewers == nil {
		t.Fatalf("no viewers object: %v\n%s", err, stdout.String())
	}
	v := got.Viewers
	for _, k := range []string{"viewers_connected", "bare_viewers_connected"} {
		if v[k] != 20 {
			t.Errorf("%s = %v, want 20", k, v[k])
		}
	}
	for _, k := range []string{"viewers_lost", "bare_viewers_lost"} {
		if v[k] != 0 {
			t.Errorf("%s = %v, want 0", k, v[k])
		}
	}
	for _, k := range []string{"viewers_p99_ms", "ingress_rss_mb", "bare_viewers_p99_ms", "bare_rss_mb", "ingress_to_bare_rss"} {
		if v[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, v[k])
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s\nlog:\n%s", stdout.String(), stderr.String())
	}
}
