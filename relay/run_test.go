package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbmsg"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
)

// run() in this process (so the race detector sees relay's goroutines): events through a NATS outage and a Redis
// restart, garbage, then a clean return when the context ends.
func TestServeInProcess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	env := w.env(t)
	env["BBB_CHAT_LOG_FORMAT"] = "json"
	env["GOMAXPROCS"] = strconv.Itoa(runtime.GOMAXPROCS(0)) // service.Procs leaves the processors of this test process as they are
	logs := &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"relay"}, func(k string) string { return env[k] }, io.Discard, logs) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("relay log:\n%s", logs.String())
		}
	})
	r := &relayProc{base: "http://" + env["BBB_CHAT_RELAY_LISTEN"]}
	testenv.Eventually(t, 20*time.Second, "ready", func() bool {
		code, _, err := httpGet(r.base + "/readyz")
		return err == nil && code == 200
	})
	nc, _ := connect(t, testenv.NATSURL(w.nats))

	ev := captured(t)
	w.publish(t, bbb.ChannelFromAkka, ev...)
	w.publish(t, bbb.ChannelFromAkka, []byte("garbage"), []byte(`{"envelope":{"name":"UserLeftMeetingEvtMsg"}}`))
	waitEvents(t, nc, 5)

	w.nats.Stop()
	r.waitMetric(t, "bbbchat_relay_nats_connected", func(v float64) bool { return v == 0 })
	for i := range 5 {
		w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-in", fmt.Sprintf("%d-x", i), "w_a", fmt.Sprint(i), int64(i)))
	}
	r.waitMetric(t, `bbbchat_relay_redis_events_total{name="GroupChatMessageBroadcastEvtMsg"}`, func(v float64) bool { return v == 6 })
	w.nats.Start()
	got := waitEvents(t, nc, 10)
	for i, g := range got[5:] {
		if e := g.event(t); e.Text != fmt.Sprint(i) {
			t.Fatalf("event %d after the outage: %+v", i, e)
		}
	}

	w.redis.Restart()
	r.waitMetric(t, "bbbchat_relay_redis_gaps_total", func(v float64) bool { return v == 1 })
	r.waitMetric(t, "bbbchat_relay_redis_subscribed", func(v float64) bool { return v == 1 })
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-in", "after-redis", "w_a", "after", 100))
	waitEvents(t, nc, 11)
	if m := r.metrics(t); m[`bbbchat_relay_decode_errors_total{reason="not_json"}`] != 1 ||
		m[`bbbchat_relay_decode_errors_total{reason="bad_UserLeftMeetingEvtMsg"}`] != 1 {
		t.Errorf("decode errors not counted: %v", m)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	for line := range strings.Lines(logs.String()) {
		if !json.Valid([]byte(line)) {
			t.Fatalf("not a JSON log line: %q", line)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"relay stopped"`) {
		t.Error("no clean stop logged")
	}
}
