package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbmsg"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

const capturedMeeting = "8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700"

// The captured 2.7 events go into the stream with the right subjects and fields, and presence, meeting ids and
// bridges follow them.
func TestCapturedEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := startRelay(t, w.env(t))
	r.waitReady(t)
	nc, s := connect(t, testenv.NATSURL(w.nats))
	ctx := t.Context()

	// A bridge without callback ends with the meeting; one with a callback is marked Ending.
	if _, err := s.CreateBridge(ctx, state.Bridge{MeetingID: capturedMeeting, ChatUser: "Bridge", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(sink.Close)
	other := "0000000000000000000000000000000000000000-1698771157701"
	if _, err := s.CreateBridge(ctx, state.Bridge{MeetingID: other, ChatUser: "Bridge", CallbackURI: sink.URL,
		CallbackSecret: "s3cret", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ev := captured(t)
	// created, joined, chat, and an event relay does not publish (presenter assigned).
	w.publish(t, bbb.ChannelFromAkka, ev[0], ev[1], ev[2], ev[5])
	waitEvents(t, nc, 3)
	testenv.Eventually(t, 10*time.Second, "presence and meeting recorded", func() bool {
		us, _ := s.MeetingUsers(ctx, capturedMeeting)
		m, err := s.MeetingByInternal(ctx, capturedMeeting)
		// The name index is written after the user's own key: wait for both.
		p, ferr := s.FindUser(ctx, capturedMeeting, "John Doe")
		return len(us) == 1 && us[0].UserID == "w_xfsb9gxtlfom" && us[0].Name == "John Doe" && err == nil &&
			m.ExternalID == "random-9019868" && ferr == nil && p.Role == "MODERATOR" &&
			p.JoinedAt.Equal(time.UnixMilli(1698771164638))
	})

	// left (another user), MeetingEnded then MeetingDestroyed: one meeting.ended event.
	w.publish(t, bbb.ChannelFromAkka, ev[3], bbbmsg.MeetingEnded(t, "MeetingEndedEvtMsg", capturedMeeting, 1698771307700), ev[4],
		bbbmsg.MeetingEnded(t, "MeetingEndedEvtMsg", other, 1698771307800))
	r.waitMetric(t, `bbbchat_relay_events_duplicate_total{type="meeting.ended"}`, func(v float64) bool { return v == 1 })
	got := waitEvents(t, nc, 6)
	golden(t, filepath.Join("testdata", "captured-2.7.golden.json"), got)

	testenv.Eventually(t, 10*time.Second, "meeting forgotten and bridge ended", func() bool {
		us, _ := s.MeetingUsers(ctx, capturedMeeting)
		_, merr := s.MeetingByInternal(ctx, capturedMeeting)
		_, berr := s.GetBridge(ctx, capturedMeeting)
		return len(us) == 0 && errors.Is(merr, state.ErrNotFound) && errors.Is(berr, state.ErrNotFound)
	})
	// The callback worker may end that bridge itself as soon as it has seen the meeting end.
	testenv.Eventually(t, 10*time.Second, "bridge with a callback ending or ended", func() bool {
		b, err := s.GetBridge(ctx, other)
		return errors.Is(err, state.ErrNotFound) || err == nil && b.Ending
	})
	if v, err := s.GetServerVersion(ctx, config.LocalServerID); err != nil || v.Version != "2.7" || v.Source != "config" {
		t.Fatalf("server version = %+v, %v", v, err)
	}
	r.waitMetric(t, `bbbchat_relay_state_updates_total{result="ok"}`, func(v float64) bool { return v == 6 })
	m := r.metrics(t)
	if _, ok := m["bbbchat_relay_callbacks_delivered_total"]; !ok {
		t.Error("callback metrics missing from /metrics")
	}
	for series, want := range map[string]float64{
		`bbbchat_relay_redis_events_total{name="PresenterAssignedEvtMsg"}`:         1,
		`bbbchat_relay_redis_events_total{name="MeetingDestroyedEvtMsg"}`:          1,
		`bbbchat_relay_events_published_total{type="message"}`:                     1,
		`bbbchat_relay_events_published_total{type="meeting.ended"}`:               2,
		`bbbchat_build_info{binary="relay",version="dev"}`:                         1,
		`bbbchat_relay_redis_subscribed`:                                           1,
		`bbbchat_relay_nats_connected`:                                             1,
		`bbbchat_relay_redis_events_total{name="GroupChatMessageBroadcastEvtMsg"}`: 1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if strings.Contains(r.Output(), "s3cret") {
		t.Error("a callback secret was logged")
	}
}

// golden compares the received events with a golden file (rewritten with -update).
func golden(t *testing.T, path string, got []received) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, r := range got {
		var ev bytes.Buffer
		if err := json.Indent(&ev, r.Event, "    ", "  "); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  {\n    \"subject\": %q,\n    \"event\": %s\n  }", r.Subject, ev.String())
		if i < len(got)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	testenv.Golden(t, path, b.Bytes(), *update)
}

// Two relays on the same Redis and NATS store every event exactly once.
func TestTwoRelays(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r1 := startRelay(t, w.env(t))
	r2 := startRelay(t, w.env(t))
	r1.waitReady(t)
	r2.waitReady(t)
	nc, _ := connect(t, testenv.NATSURL(w.nats))

	const meeting = "m-two"
	var msgs [][]byte
	ts := int64(1700000000000)
	for i := range 100 {
		user := "w_u" + strconv.Itoa(i)
		msgs = append(msgs, bbbmsg.UserJoined(t, meeting, user, "User "+strconv.Itoa(i), ts+int64(i)),
			bbbmsg.Chat(t, meeting, fmt.Sprintf("%d-msg%05d", ts+int64(i), i), user, "hello "+strconv.Itoa(i), ts+int64(i)),
			bbbmsg.UserLeft(t, meeting, user, ts+int64(i)))
	}
	w.publish(t, bbb.ChannelFromAkka, msgs...)
	settled := func(r *relayProc) func() bool {
		return func() bool {
			m := r.metrics(t)
			n := 0.0
			for k, v := range m {
				if strings.HasPrefix(k, "bbbchat_relay_events_published_total") || strings.HasPrefix(k, "bbbchat_relay_events_duplicate_total") {
					n += v
				}
			}
			return n == float64(len(msgs))
		}
	}
	testenv.Eventually(t, 20*time.Second, "relay 1 settled every event", settled(r1))
	testenv.Eventually(t, 20*time.Second, "relay 2 settled every event", settled(r2))
	got := waitEvents(t, nc, len(msgs))
	seen := map[string]bool{}
	var chats []string
	for _, g := range got {
		e := g.event(t)
		if seen[e.ID] {
			t.Fatalf("event %s stored twice", e.ID)
		}
		seen[e.ID] = true
		if e.Type == state.TypeMessage {
			chats = append(chats, e.Text)
		}
	}
	for i, c := range chats {
		if c != "hello "+strconv.Itoa(i) {
			t.Fatalf("chat %d is %q: stream out of order", i, c)
		}
	}
	sum := func(series string) float64 { return r1.metrics(t)[series] + r2.metrics(t)[series] }
	if n := sum(`bbbchat_relay_events_published_total{type="message"}`); n != 100 {
		t.Errorf("messages published by both relays together: %v, want 100", n)
	}
}

// A burst of thousands of events (one pipelined write to Redis) is stored in full, without drops.
func TestThroughput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := startRelay(t, w.env(t))
	r.waitReady(t)
	nc, _ := connect(t, testenv.NATSURL(w.nats))
	const n = 10000
	pipe := w.rdb.Pipeline()
	for i := range n {
		pipe.Publish(t.Context(), bbb.ChannelFromAkka, bbbmsg.Chat(t, fmt.Sprintf("m-%d", i%50), fmt.Sprintf("%d-burst", i), "w_a", "hello", int64(i)))
	}
	start := time.Now()
	if _, err := pipe.Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "every event in the stream", func() bool {
		st, err := js.Stream(t.Context(), state.StreamEvents)
		if err != nil {
			return false
		}
		info, err := st.Info(t.Context())
		return err == nil && info.State.Msgs == n
	})
	t.Logf("%d events stored %s after the burst", n, time.Since(start).Round(time.Millisecond))
	r.waitMetric(t, `bbbchat_relay_events_published_total{type="message"}`, func(v float64) bool { return v == n })
	if m := r.metrics(t); m["bbbchat_relay_events_dropped_total"] != 0 {
		t.Errorf("dropped %v", m["bbbchat_relay_events_dropped_total"])
	}
}

// A Redis restart: relay resubscribes by itself, logs and counts the gap, and later events arrive.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := startRelay(t, w.env(t))
	r.waitReady(t)
	nc, _ := connect(t, testenv.NATSURL(w.nats))
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-redis", "1-before", "w_a", "before", 1))
	waitEvents(t, nc, 1)

	w.redis.Restart()
	r.waitMetric(t, "bbbchat_relay_redis_gaps_total", func(v float64) bool { return v == 1 })
	r.waitMetric(t, "bbbchat_relay_redis_subscribed", func(v float64) bool { return v == 1 })
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-redis", "2-after", "w_a", "after", 2))
	got := waitEvents(t, nc, 2)
	if e := got[1].event(t); e.ID != "2-after" || e.Text != "after" {
		t.Fatalf("after the restart: %+v", e)
	}
	if m := r.metrics(t); m["bbbchat_relay_redis_reconnects_total"] != 1 {
		t.Errorf("reconnects = %v, want 1", m["bbbchat_relay_redis_reconnects_total"])
	}
	testenv.Eventually(t, 5*time.Second, "gap logged", func() bool {
		return strings.Contains(r.Output(), "redis subscription gap: events published between")
	})
}

// A NATS restart: events read from Redis during the outage wait in relay and arrive, in order, once NATS is back.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := startRelay(t, w.env(t))
	r.waitReady(t)
	nc, _ := connect(t, testenv.NATSURL(w.nats))
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-nats", "1-a", "w_a", "a", 1))
	waitEvents(t, nc, 1)

	w.nats.Stop()
	r.waitMetric(t, "bbbchat_relay_nats_connected", func(v float64) bool { return v == 0 })
	var during [][]byte
	for i := range 20 {
		during = append(during, bbbmsg.Chat(t, "m-nats", fmt.Sprintf("%d-during", 10+i), "w_a", "during "+strconv.Itoa(i), int64(10+i)))
	}
	w.publish(t, bbb.ChannelFromAkka, during...)
	r.waitMetric(t, `bbbchat_relay_redis_events_total{name="GroupChatMessageBroadcastEvtMsg"}`, func(v float64) bool { return v == 21 })
	if code, _, _ := httpGet(r.base + "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with NATS down = %d, want 503", code)
	}
	w.nats.Start()
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-nats", "99-after", "w_a", "after", 99))
	got := waitEvents(t, nc, 22)
	for i, g := range got[1:21] {
		if e := g.event(t); e.Text != "during "+strconv.Itoa(i) {
			t.Fatalf("event %d after the outage: %q", i+1, e.Text)
		}
	}
	if e := got[21].event(t); e.Text != "after" {
		t.Fatalf("last event %q", e.Text)
	}
	m := r.metrics(t)
	if m["bbbchat_relay_nats_reconnects_total"] < 1 || m["bbbchat_relay_events_dropped_total"] != 0 {
		t.Errorf("reconnects %v, dropped %v", m["bbbchat_relay_nats_reconnects_total"], m["bbbchat_relay_events_dropped_total"])
	}
	r.waitReady(t)
}

// With no NATS server, relay embeds one: clients can use it, and its stream survives relay being killed.
func TestEmbeddedNATS(t *testing.T) {
	t.Parallel()
	rs := testenv.Redis(t)
	w := &world{redis: rs}
	w.rdb = redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { w.rdb.Close() })
	natsURL := "nats://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	env := map[string]string{
		"BBB_CHAT_REDIS_URL":        testenv.RedisURL(rs),
		"BBB_CHAT_NATS_URL":         natsURL,
		"BBB_CHAT_NATS_EMBEDDED":    "true",
		"BBB_CHAT_NATS_STORE":       t.TempDir(),
		"BBB_CHAT_RELAY_LISTEN":     "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
		"BBB_CHAT_BBB_VERSION":      "auto",
		"BBB_CHAT_BBB_RELEASE_FILE": filepath.Join(t.TempDir(), "absent"),
		"BBB_CHAT_SERVER_ID":        config.LocalServerID,
	}
	r := startRelay(t, env)
	r.waitReady(t)
	testenv.Eventually(t, 5*time.Second, "embedding logged", func() bool {
		return strings.Contains(r.Output(), "started the embedded NATS JetStream server")
	})
	nc, s := connect(t, natsURL)
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-emb", "1-kept", "w_a", "kept &amp; sound", 1))
	got := waitEvents(t, nc, 1)
	if e := got[0].event(t); e.Text != "kept & sound" || e.BBBVersion != "2.5" {
		t.Fatalf("event %+v: want 2.x text unescaped and the version inferred from the event (2.5)", e)
	}
	testenv.Eventually(t, 10*time.Second, "version inferred from events recorded", func() bool {
		v, err := s.GetServerVersion(t.Context(), config.LocalServerID)
		return err == nil && v.Version == "2.5" && v.Source == "events"
	})
	nc.Close()

	// A second relay with the same settings uses the first one's server...
	env2 := maps.Clone(env)
	env2["BBB_CHAT_RELAY_LISTEN"] = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	r2 := startRelay(t, env2)
	r2.waitReady(t)
	if m := r2.metrics(t); m["bbbchat_relay_nats_embedded"] != 0 {
		t.Fatal("second relay started a server of its own")
	}
	// ...and runs it itself once the first is killed (kill -9: no clean shutdown), with the stream intact.
	r.Kill()
	r2.waitMetric(t, "bbbchat_relay_nats_embedded", func(v float64) bool { return v == 1 })
	r2.waitReady(t)
	nc2, _ := connect(t, natsURL)
	if got := waitEvents(t, nc2, 1); got[0].event(t).ID != "1-kept" {
		t.Fatalf("after the takeover: %s", dump(got))
	}
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-emb", "2-new", "w_a", "new", 2))
	waitEvents(t, nc2, 2)
	nc2.Close()

	// Killed and started again: the new process embeds the server again and the events are still there.
	r2.Kill()
	r3 := startRelay(t, env)
	r3.waitReady(t)
	nc3, _ := connect(t, natsURL)
	got = waitEvents(t, nc3, 2)
	if e := got[1].event(t); e.ID != "2-new" {
		t.Fatalf("after restart: %s", dump(got))
	}
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-emb", "3-later", "w_a", "later", 3))
	waitEvents(t, nc3, 3)
}

// Garbage on the channels is counted and ignored; relay stays up and the buckets stay as they were.
func TestGarbage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := startRelay(t, w.env(t))
	r.waitReady(t)
	nc, _ := connect(t, testenv.NATSURL(w.nats))
	ctx := t.Context()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	huge := append([]byte(`{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg"},"x":"`), bytes.Repeat([]byte("a"), 1<<20)...)
	huge = append(huge, `"}`...)
	garbage := map[string][]byte{
		"not_json":                            []byte("not json at all"),
		"not_json ":                           []byte(`{"envelope":`),
		"not_envelope":                        []byte(`[1,2,3]`),
		"not_envelope ":                       []byte(`"a string"`),
		"not_envelope  ":                      []byte(`{"envelope":{"name":42},"core":{"header":{}}}`),
		"not_envelope   ":                     []byte(`{"core":{"header":{"name":""}}}`),
		"bad_GroupChatMessageBroadcastEvtMsg": []byte(`{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg"},"core":{"header":{"name":"GroupChatMessageBroadcastEvtMsg","meetingId":"m"},"body":{"chatId":5,"msg":{}}}}`),
		"bad_UserJoinedMeetingEvtMsg":         []byte(`{"envelope":{"name":"UserJoinedMeetingEvtMsg"},"core":{"header":{"name":"UserJoinedMeetingEvtMsg","meetingId":"m"},"body":{"intId":["x"]}}}`),
		"bad_MeetingCreatedEvtMsg":            []byte(`{"envelope":{"name":"MeetingCreatedEvtMsg"},"core":{"header":{"name":"MeetingCreatedEvtMsg"},"body":null}}`),
		"too_large":                           huge,
	}
	for _, g := range garbage {
		w.publish(t, bbb.ChannelFromAkka, g)
		w.publish(t, bbb.ChannelFromAkkaChat, g)
	}
	// Well-formed, but of no interest or for meetings nobody knows: nothing in the buckets changes.
	w.publish(t, bbb.ChannelFromAkka,
		[]byte(`{"envelope":{"name":"SomethingNewEvtMsg","timestamp":1},"core":{"header":{"name":"SomethingNewEvtMsg"},"body":{}}}`),
		bbbmsg.UserLeft(t, "m-unknown", "w_nobody", 5),
		bbbmsg.MeetingEnded(t, "MeetingDestroyedEvtMsg", "m-unknown", 6),
		bbbmsg.Chat(t, "m-unknown", "7-last", "w_x", "still alive", 7))
	got := waitEvents(t, nc, 3)
	if e := got[2].event(t); e.ID != "7-last" {
		t.Fatalf("last event %+v", e)
	}
	want := map[string]float64{}
	for k := range garbage {
		want[`bbbchat_relay_decode_errors_total{reason="`+strings.TrimSpace(k)+`"}`] += 2
	}
	want[`bbbchat_relay_redis_events_total{name="SomethingNewEvtMsg"}`] = 1
	want[`bbbchat_relay_unknown_meeting_events_total`] = 3
	m := r.metrics(t)
	for series, v := range want {
		if m[series] != v {
			t.Errorf("%s = %v, want %v", series, m[series], v)
		}
	}
	if code, _, _ := httpGet(r.base + "/healthz"); code != 200 || r.Exited() {
		t.Fatal("relay is not up")
	}
	for _, bucket := range []string{state.BucketPresence, state.BucketMeetings, state.BucketBridges} {
		kv, err := js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k := range keys.Keys() {
			if strings.HasPrefix(k, "meta.bbb_version.") {
				continue
			}
			t.Errorf("bucket %s has key %q after garbage", bucket, k)
		}
	}
}

// SIGTERM: relay flushes and exits 0 within the shutdown timeout.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := startRelay(t, w.env(t))
	r.waitReady(t)
	nc, _ := connect(t, testenv.NATSURL(w.nats))
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-term", "1-x", "w_a", "x", 1))
	waitEvents(t, nc, 1)
	start := time.Now()
	if err := r.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err, exited := r.Wait(7 * time.Second)
	if !exited {
		t.Fatalf("relay still running %s after SIGTERM", time.Since(start))
	}
	if err != nil {
		t.Fatalf("exit: %v\n%s", err, r.Output())
	}
	testenv.Eventually(t, 5*time.Second, "clean stop logged", func() bool {
		return strings.Contains(r.Output(), "relay stopped") // output is read from a pipe, maybe after the exit
	})
}

// Redis and NATS down at start: relay starts anyway, says what it misses, and works once they come. SIGTERM with
// NATS down again still exits 0 within the shutdown timeout, reporting what did not reach the stream.
func TestDependenciesDownAtStart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.redis.Stop()
	w.nats.Stop()
	env := w.env(t)
	env["BBB_CHAT_SHUTDOWN_TIMEOUT"] = "2s"
	r := startRelay(t, env)
	testenv.WaitHTTP(t, r.base+"/healthz", 20*time.Second)
	code, body, err := httpGet(r.base + "/readyz")
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, `"missing":["redis","nats","state"]`) {
		t.Fatalf("/readyz = %d %s %v", code, body, err)
	}
	w.redis.Start()
	w.nats.Start()
	r.waitReady(t)
	nc, _ := connect(t, testenv.NATSURL(w.nats))
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-late", "1-late", "w_a", "late", 1))
	waitEvents(t, nc, 1)
	if m := r.metrics(t); m["bbbchat_relay_redis_gaps_total"] != 0 {
		t.Errorf("the first subscription counted as a gap")
	}

	w.nats.Stop()
	r.waitMetric(t, "bbbchat_relay_nats_connected", func(v float64) bool { return v == 0 })
	w.publish(t, bbb.ChannelFromAkka, bbbmsg.Chat(t, "m-late", "2-lost", "w_a", "lost", 2))
	r.waitMetric(t, "bbbchat_relay_publish_queue", func(v float64) bool { return v == 1 })
	start := time.Now()
	if err := r.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err, exited := r.Wait(5 * time.Second)
	if !exited || err != nil {
		t.Fatalf("after SIGTERM with NATS down: exited %v after %s, %v", exited, time.Since(start), err)
	}
	testenv.Eventually(t, 5*time.Second, "unflushed events reported", func() bool {
		return strings.Contains(r.Output(), "shutdown deadline passed with events not in the stream")
	})
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"relay", "version"}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.String() != "bbb-chat relay dev\n" {
		t.Fatalf("version printed %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"relay", "frobnicate"}, func(string) string { return "" }, &out, &errb); !errors.Is(err, errUsage) {
		t.Fatalf("unknown command: %v", err)
	}
	if !strings.Contains(errb.String(), "usage: relay") {
		t.Fatalf("no usage on stderr: %q", errb.String())
	}
	// The built binary too, with the version set by the linker.
	bin := testenv.Build(t, "./relay", "relay")
	p := testenv.StartProc(t, bin, nil, "version")
	if err, ok := p.Wait(10 * time.Second); !ok || err != nil {
		t.Fatalf("relay version: %v %v", err, ok)
	}
	testenv.Eventually(t, 5*time.Second, "version printed", func() bool {
		return p.Output() == "bbb-chat relay dev\n" // output is read from a pipe, maybe after the exit
	})
}
