package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole benchmark at low rates with 2 s phases: everything starts, every phase measures, and
// nothing is lost. Without -short the fleet phases run too (a three-node cluster and two servers: 15 s more).
func TestSmoke(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	args := []string{"bench", "-smoke", "-json"}
	if !testing.Short() {
		args = append(args, "-fleet")
	}
	err := run(ctx, args, func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	t.Logf("smoke run took %s", time.Since(start).Round(time.Millisecond))
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout.String())
	}
	for _, k := range []string{"forward_rate", "forward_p50_ms", "forward_p99_ms", "forward_lost",
		"forward_duplicates", "nats_p99_ms", "send_rate", "send_p50_ms", "send_p99_ms", "ingress_rss_mb",
		"relay_rss_mb", "cpu_s_per_1k", "limit_redis_rate", "limit_jetstream_rate", "limit_http_rate",
		"send_confirmed_rate", "send_confirmed_p99_ms"} {
		if _, ok := got[k].(float64); !ok {
			t.Errorf("key %s missing or not a number: %v", k, got[k])
		}
	}
	for _, k := range []string{"forward_lost", "nats_lost", "send_lost", "send_errors", "send_dropped_by_bbb",
		"send_unconfirmed", "send_confirmed_errors",
		"callback_signatures_bad", "callback_misrouted", "callback_unexpected"} {
		if got[k] != float64(0) {
			t.Errorf("%s = %v, want 0", k, got[k])
		}
	}
	for _, k := range []string{"forward_rate", "nats_rate", "send_rate", "limit_redis_rate", "limit_jetstream_rate",
		"limit_http_rate", "ingress_rss_mb", "relay_rss_mb", "callback_signatures_checked"} {
		if v, _ := got[k].(float64); v <= 0 {
			t.Errorf("%s = %v, want > 0", k, got[k])
		}
	}
	if !testing.Short() {
		checkFleet(t, got["fleet"])
	}
	if t.Failed() {
		t.Logf("output:\n%s\nlog:\n%s", stdout.String(), stderr.String())
	}
}

// checkFleet checks the smoke run's fleet object: both servers forwarded everything, forwarded calls were carried
// out on the meeting's server.
func checkFleet(t *testing.T, v any) {
	t.Helper()
	f, ok := v.(map[string]any)
	if !ok {
		t.Errorf("no fleet object: %v", v)
		return
	}
	for _, k := range []string{"one_node_forward_per_s", "one_node_p99_ms", "single_forward_per_s", "single_p99_ms",
		"fleet_forward_per_s", "fleet_p99_ms", "fleet_a_forward_per_s", "fleet_b_forward_per_s",
		"direct_send_per_s", "direct_send_p99_ms", "forwarded_send_per_s", "forwarded_send_p99_ms",
		"relay_a_rss_mb", "relay_b_rss_mb", "nats_node_rss_mb", "callback_signatures_checked"} {
		if n, _ := f[k].(float64); n <= 0 {
			t.Errorf("fleet %s = %v, want > 0", k, f[k])
		}
	}
	for _, k := range []string{"single_lost", "single_nats_lost", "fleet_lost", "fleet_nats_lost", "fleet_duplicates",
		"direct_send_errors", "direct_send_lost", "forwarded_send_errors", "forwarded_send_lost",
		"direct_send_dropped_by_bbb", "forwarded_send_dropped_by_bbb",
		"callback_signatures_bad", "callback_misrouted"} {
		if f[k] != float64(0) {
			t.Errorf("fleet %s = %v, want 0", k, f[k])
		}
	}
}

func TestFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    string
		wantErr string
		check   func(config) bool
	}{
		{"defaults", "", "", func(c config) bool {
			return c.meetings == 100 && c.bridges == 100 && c.rate == 1000 && c.sendRate == 2000 &&
				c.duration == 10*time.Second && c.version == "2.7"
		}},
		{"scale", "-scale", "", func(c config) bool { return c.meetings == 1000 && c.bridges == 1000 }},
		{"smoke", "-smoke", "", func(c config) bool { return c.duration == 2*time.Second && c.rate == 100 }},
		{"fewer bridges", "-meetings 10 -bridges 3", "", func(c config) bool { return c.bridges == 3 }},
		{"bridges capped", "-meetings 10 -bridges 30", "", func(c config) bool { return c.bridges == 10 }},
		{"no meetings", "-meetings 0", "-meetings", nil},
		{"bad rate", "-rate 0", "-rate", nil},
		{"viewers", "-viewers 10000", "", func(c config) bool { return c.viewers == 10000 && c.viewerRate == 5 }},
		{"bad viewer rate", "-viewers 10 -viewer-rate 0", "-viewer-rate", nil},
		{"no fleet by default", "", "", func(c config) bool { return !c.fleet }},
		{"fleet", "-fleet", "", func(c config) bool { return c.fleet && c.rate == 1000 && c.meetings == 100 }},
		{"fleet smoke", "-smoke -fleet -send-rate 0", "", func(c config) bool {
			return c.fleet && c.duration == 2*time.Second && c.meetings == 5 && c.sendRate == 0
		}},
		{"fleet with its rate", "-fleet -rate 3000 -meetings 50", "", func(c config) bool {
			return c.fleet && c.rate == 3000 && c.bridges == 50
		}},
		{"extra argument", "now", "unexpected arguments", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseFlags(append([]string{"bench"}, strings.Fields(tc.args)...), &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("got %+v, %v", c, err)
			}
		})
	}
}

func TestTemplate(t *testing.T) {
	const meeting = "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000"
	raw := []byte(`{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg","routing":{"meetingId":"` + meeting +
		`"},"timestamp":1700000005001},"core":{"header":{"meetingId":"` + meeting + `"},"body":{"chatId":"MAIN-PUBLIC-GROUP-CHAT",` +
		`"msg":{"id":"1700000005000-abcdefgh","timestamp":1700000005000,"correlationId":"w_x-1700000004990",` +
		`"sender":{"id":"w_x","name":"V"},"message":"warm0"}}}}`)
	tm, err := newTemplate(raw, meeting, "1700000005000-abcdefgh", "warm0", 1700000005000)
	if err != nil {
		t.Fatal(err)
	}
	id := string(messageID(nil, 1800000000000, 42))
	got := string(tm.render(nil, id, "hello 42", 1800000000000))
	want := strings.NewReplacer("1700000005001", "1800000000000", "1700000005000-abcdefgh", id,
		"1700000005000", "1800000000000", "1700000004990", "1800000000000", "warm0", "hello 42").Replace(string(raw))
	if got != want {
		t.Fatalf("render:\n got %s\nwant %s", got, want)
	}
	if seq, ts, ok := parseMessageID(firstID([]byte(got))); !ok || seq != 42 || ts != 1800000000000 {
		t.Fatalf("parseMessageID = %d %d %v", seq, ts, ok)
	}
}
