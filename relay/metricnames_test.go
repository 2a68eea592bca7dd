package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/bbbmsg"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
)

// TestMetricNames pins the names and types of every metric relay exports (bbbchat_*; the Go and process
// collectors' go_* and process_* vary with the Go version): dashboards and alerts depend on them.
func TestMetricNames(t *testing.T) {
	w := newWorld(t)
	r := startRelay(t, w.env(t))
	r.waitReady(t)
	// The callback metrics join once the state is open; the series with labels only known at run time (envelope
	// name, BBB version) appear with the first chat message.
	r.waitMetric(t, "bbbchat_relay_callback_workers", func(float64) bool { return true })
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-names", "1-names", "w_a", "hi", 1))
	r.waitMetric(t, `bbbchat_relay_redis_events_total{name="GroupChatMessageBroadcastEvtMsg"}`,
		func(v float64) bool { return v == 1 })
	_, body, err := httpGet(r.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok && strings.HasPrefix(rest, "bbbchat_") {
			b.WriteString(rest)
		}
	}
	got := b.String()
	testenv.Golden(t, filepath.Join("testdata", "metrics.golden"), []byte(got), *update)
}
