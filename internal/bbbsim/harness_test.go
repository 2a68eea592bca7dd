package bbbsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// M is a JSON object as the tests build and read them. The tests deliberately spell out every message shape
// themselves instead of using the simulator's tables.
type M = map[string]any

const (
	mainCh     = "from-akka-apps-redis-channel"
	chatCh     = "from-akka-apps-chat-redis-channel"
	frontendCh = "from-akka-apps-frontend-redis-channel"
	toAkka     = "to-akka-apps-redis-channel"
	publicChat = "MAIN-PUBLIC-GROUP-CHAT"
	waitFor    = 5 * time.Second
)

// startMs is the creation time of the captured 2.7 meeting, so that CreateMeeting("random-9019868") reproduces its
// internal id.
const startMs = 1698771157700

// clock is a fake clock that moves one millisecond on every reading.
type clock struct{ ms atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ms.Store(startMs - 1)
	return c
}

func (c *clock) Now() time.Time { return time.UnixMilli(c.ms.Add(1)) }

// harness is a real redis-server, a simulator of one version, and one subscriber on the three channels akka
// publishes on. One connection subscribes to all three, so Redis delivers their messages in publish order.
type harness struct {
	t       *testing.T
	version string
	rdb     *redis.Client
	sim     *bbbsim.Sim
	msgs    <-chan *redis.Message
	clock   *clock
	events  chan bbbsim.Event
}

func newHarness(t *testing.T, version string) *harness {
	t.Helper()
	srv := testenv.Redis(t)
	opt, err := redis.ParseURL(testenv.RedisURL(srv))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx := t.Context()

	ps := rdb.Subscribe(ctx, mainCh, chatCh, frontendCh)
	for range 3 {
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}
	t.Cleanup(func() { ps.Close() })

	h := &harness{t: t, version: version, rdb: rdb, msgs: ps.Channel(), clock: newClock(),
		events: make(chan bbbsim.Event, 1000)}
	sim, err := bbbsim.Start(ctx, rdb, bbbsim.Options{
		Version: version,
		Now:     h.clock.Now,
		Rand:    rand.New(rand.NewPCG(1, 2)),
		OnEvent: func(e bbbsim.Event) {
			select {
			case h.events <- e:
			default:
			}
		},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	h.sim = sim
	return h
}

// at returns the harness bound to a subtest's t, so that its failures stop that subtest.
func (h *harness) at(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// published is one message akka published, as seen by the subscriber.
type published struct {
	channel string
	raw     string
	m       M
}

func (p published) name() string { return str(p.m, "envelope", "name") }

// next returns the next published message, failing after a deadline.
func (h *harness) next() published {
	h.t.Helper()
	select {
	case msg := <-h.msgs:
		m := decode(h.t, msg.Payload)
		return published{channel: msg.Channel, raw: msg.Payload, m: m}
	case <-time.After(waitFor):
		h.t.Fatalf("nothing published within %s", waitFor)
		return published{}
	}
}

// expect returns the next published message and checks its channel and name.
func (h *harness) expect(channel, name string) published {
	h.t.Helper()
	p := h.next()
	if p.channel != channel || p.name() != name {
		h.t.Fatalf("next published: %s on %s, want %s on %s\n%s", p.name(), p.channel, name, channel, p.raw)
	}
	return p
}

// expectAlsoFrontend reads the frontend duplicate of p that 2.3+ publishes, and checks it is byte for byte p.
func (h *harness) expectAlsoFrontend(p published) {
	h.t.Helper()
	if h.version == "2.2" {
		return
	}
	d := h.expect(frontendCh, p.name())
	if d.raw != p.raw {
		h.t.Fatalf("frontend duplicate differs:\n%s\n%s", d.raw, p.raw)
	}
}

func (h *harness) publish(v any) {
	h.t.Helper()
	var data []byte
	switch x := v.(type) {
	case string:
		data = []byte(x)
	case []byte:
		data = x
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := h.rdb.Publish(h.t.Context(), toAkka, data).Err(); err != nil {
		h.t.Fatalf("publish: %v", err)
	}
}

// waitDrop waits for the n-th drop and returns it.
func (h *harness) waitDrop(n int) bbbsim.Drop {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), waitFor)
	defer cancel()
	drops, err := h.sim.WaitDropped(ctx, n)
	if err != nil {
		h.t.Fatalf("%v (drops so far: %+v)", err, h.sim.Dropped())
	}
	return drops[n-1]
}

func decode(t testing.TB, s string) M {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m M
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("published message is not JSON: %v\n%s", err, s)
	}
	return m
}

// get walks nested objects.
func get(m M, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(M)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func str(m M, path ...string) string {
	s, _ := get(m, path...).(string)
	return s
}

func obj(m M, path ...string) M {
	o, _ := get(m, path...).(M)
	return o
}

func keys(m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// assertKeys checks that the object at path has exactly the keys want.
func assertKeys(t testing.TB, m M, want []string, path ...string) {
	t.Helper()
	o := m
	if len(path) > 0 {
		o = obj(m, path...)
	}
	if o == nil {
		t.Errorf("%s: not an object", strings.Join(path, "."))
		return
	}
	w := slices.Clone(want)
	slices.Sort(w)
	if got := keys(o); !slices.Equal(got, w) {
		t.Errorf("keys of %s:\n got %v\nwant %v", strings.Join(append([]string{"<top>"}, path...), "."), got, w)
	}
}

// assertEnvelope checks the levels every akka event shares.
func assertEnvelope(t testing.TB, m M, routing, header []string) {
	t.Helper()
	assertKeys(t, m, []string{"envelope", "core"})
	assertKeys(t, m, []string{"name", "routing", "timestamp"}, "envelope")
	assertKeys(t, m, routing, "envelope", "routing")
	assertKeys(t, m, []string{"header", "body"}, "core")
	assertKeys(t, m, header, "core", "header")
	if _, ok := get(m, "envelope", "timestamp").(json.Number); !ok {
		t.Errorf("envelope.timestamp is not a number")
	}
}

var (
	routingMeeting = []string{"msgType", "meetingId", "userId"}
	routingSystem  = []string{"sender"}
	headerClient   = []string{"name", "meetingId", "userId"}
	headerBase     = []string{"name"}
	headerMeeting  = []string{"name", "meetingId"}
)

func is2x(v string) bool   { return !from30(v) }
func from30(v string) bool { return v == "3.0" || v == "4.0" }
func is40(v string) bool   { return v == "4.0" }
func upTo24(v string) bool { return v == "2.2" || v == "2.3" || v == "2.4" }

// jsonLine renders v compactly, for comparing raw messages.
func jsonLine(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}
