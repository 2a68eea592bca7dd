package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbmsg"

	"github.com/bbb-chat/bbb-chat/internal/metricstext"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

var update = flag.Bool("update", false, "rewrite golden files")

// world is a real redis-server and nats-server for one test, with clients.
type world struct {
	redis *testenv.Server
	nats  *testenv.Server
	rdb   *redis.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{redis: testenv.Redis(t), nats: testenv.NATS(t)}
	w.rdb = redis.NewClient(&redis.Options{Addr: w.redis.Addr})
	t.Cleanup(func() { w.rdb.Close() })
	return w
}

// env is the environment of a relay on this world, listening on a free port.
func (w *world) env(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"BBB_CHAT_REDIS_URL":        testenv.RedisURL(w.redis),
		"BBB_CHAT_NATS_URL":         testenv.NATSURL(w.nats),
		"BBB_CHAT_RELAY_LISTEN":     "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
		"BBB_CHAT_NATS_EMBEDDED":    "false",
		"BBB_CHAT_BBB_VERSION":      "2.7",
		"BBB_CHAT_LOG_LEVEL":        "debug",
		"BBB_CHAT_SHUTDOWN_TIMEOUT": "5s",
		"BBB_CHAT_SERVER_ID":        config.LocalServerID, // the test's store's (state.DefaultServer)
	}
}

// publish puts raw messages on a Redis channel, in order.
func (w *world) publish(t *testing.T, channel string, msgs ...[]byte) {
	t.Helper()
	for _, m := range msgs {
		if err := w.rdb.Publish(context.Background(), channel, m).Err(); err != nil {
			t.Fatalf("redis publish: %v", err)
		}
	}
}

// connect returns a NATS connection (and the state on it) to url.
func connect(t *testing.T, url string) (*nats.Conn, *state.Store) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var s *state.Store
	testenv.Eventually(t, 20*time.Second, "state opens", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err = state.Open(ctx, nc, state.Options{})
		return err == nil
	})
	return nc, s
}

// relayProc is a relay binary under test.
type relayProc struct {
	*testenv.Proc
	base string
}

func startRelay(t *testing.T, env map[string]string) *relayProc {
	t.Helper()
	bin := testenv.Build(t, "./relay", "relay")
	return &relayProc{Proc: testenv.StartProc(t, bin, env), base: "http://" + env["BBB_CHAT_RELAY_LISTEN"]}
}

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (r *relayProc) waitReady(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "relay /readyz answers 200", func() bool {
		if r.Exited() {
			t.Fatalf("relay exited:\n%s", r.Output())
		}
		code, _, err := httpGet(r.base + "/readyz")
		return err == nil && code == 200
	})
}

// metrics reads /metrics; nil when it does not answer.
func (r *relayProc) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	code, body, err := httpGet(r.base + "/metrics")
	if err != nil || code != 200 {
		return nil
	}
	return metricstext.Parse(body)
}

// waitMetric waits until cond holds for a metric series.
func (r *relayProc) waitMetric(t *testing.T, series string, cond func(float64) bool) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "metric "+series, func() bool {
		m := r.metrics(t)
		return m != nil && cond(m[series])
	})
}

// received is one message of the events stream as a test sees it.
type received struct {
	Subject string          `json:"subject"`
	Event   json.RawMessage `json:"event"`
}

func (r received) event(t *testing.T) state.Event {
	t.Helper()
	var e state.Event
	if err := json.Unmarshal(r.Event, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// streamEvents reads the whole events stream, in order, through a consumer on bbbchat.>.
func streamEvents(t *testing.T, nc *nats.Conn) []received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, state.StreamEvents)
	if err != nil {
		return nil
	}
	info, err := stream.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return nil
	}
	c, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{state.SubjectRoot + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []received
	for {
		batch, err := c.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var last uint64
		for m := range batch.Messages() {
			n++
			out = append(out, received{Subject: m.Subject(), Event: m.Data()})
			if md, err := m.Metadata(); err == nil {
				last = md.Sequence.Stream
			}
		}
		if n == 0 || last >= info.State.LastSeq {
			return out
		}
	}
}

// waitEvents waits until the stream holds exactly n events (and does not hold more).
func waitEvents(t *testing.T, nc *nats.Conn, n int) []received {
	t.Helper()
	var got []received
	testenv.Eventually(t, 20*time.Second, fmt.Sprintf("%d events in the stream", n), func() bool {
		got = streamEvents(t, nc)
		if len(got) > n {
			t.Fatalf("stream holds %d events, want %d:\n%s", len(got), n, dump(got))
		}
		return len(got) == n
	})
	return got
}

func dump(rs []received) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s\n", r.Subject, r.Event)
	}
	return b.String()
}

// captured returns the 2.7 events captured on a real server.
func captured(t testing.TB) [][]byte {
	return bbbmsg.Captured(t, filepath.Join("testdata", "bbb-2.7-captured-raw.jsonl"))
}
