package coverage

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// clock is a fake clock the relays of a test share.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// relay is one relay's watch and the subscription time it reads.
type relay struct {
	w     *Watch
	since time.Time
	gaps  []state.Event
}

func newRelay(t *testing.T, s *state.Store, c *clock) *relay {
	r := &relay{}
	r.w = New(Options{Log: slog.New(slog.NewTextHandler(t.Output(), nil)), Now: c.now, Server: "bbb-1",
		Store: func() *state.Store { return s }, Since: func() time.Time { return r.since },
		OnGap: func(e state.Event) { r.gaps = append(r.gaps, e) }}, prometheus.NewRegistry())
	return r
}

// gapsInStream returns the gap events in the stream.
func gapsInStream(t *testing.T, js jetstream.JetStream) []state.Event {
	t.Helper()
	c, err := js.OrderedConsumer(t.Context(), state.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{state.SubjectGap}})
	if err != nil {
		t.Fatal(err)
	}
	var out []state.Event
	for {
		msg, err := c.Next(jetstream.FetchMaxWait(200 * time.Millisecond))
		if err != nil {
			return out
		}
		var e state.Event
		if err := state.DecodeEvent(msg.Data(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

// Two relays take turns (one always subscribed): no gap. Both away for a while: the first back publishes one gap
// naming the window, from the last heartbeat to its subscription, once the grace period has passed; the second,
// finding the same window, adds nothing. A relay that stayed subscribed through a NATS outage (no heartbeat
// written) closes the window a fresh relay found, and no gap is published.
func TestGaps(t *testing.T) {
	srv := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s, err := state.Open(t.Context(), nc, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx := t.Context()
	c := &clock{t: time.UnixMilli(1_800_000_000_000)}
	a, b := newRelay(t, s, c), newRelay(t, s, c)
	step := func(rs ...*relay) {
		for _, r := range rs {
			r.w.Step(ctx)
		}
		c.add(Every)
	}

	// A first: no heartbeat before, nothing to miss.
	a.since = c.now()
	step(a)
	step(a)
	// B restarts while A is up, then A while B is up.
	b.since = c.now()
	step(a, b)
	a.since = time.Time{}
	step(b)
	step(b)
	a.since = c.now()
	step(a, b)
	step(a, b)
	if g := gapsInStream(t, js); len(g) != 0 || len(a.gaps)+len(b.gaps) != 0 {
		t.Fatalf("gaps with a relay always subscribed: %+v", g)
	}

	// Both gone for 10 s.
	last := c.now().Add(-Every) // the last heartbeat written
	a.since, b.since = time.Time{}, time.Time{}
	c.add(10 * time.Second)
	a.since = c.now()
	b.since = c.now().Add(200 * time.Millisecond)
	for range 5 {
		step(a, b)
	}
	g := gapsInStream(t, js)
	if len(g) != 1 || len(a.gaps)+len(b.gaps) != 1 {
		t.Fatalf("gaps after both were away: %+v (relays: %d, %d)", g, len(a.gaps), len(b.gaps))
	}
	if g[0].From != last.UnixMilli() || g[0].To != a.since.UnixMilli() || g[0].Server != "bbb-1" ||
		g[0].Subject() != state.SubjectGap || g[0].ID == "" {
		t.Fatalf("gap %+v, want from %d to %d", g[0], last.UnixMilli(), a.since.UnixMilli())
	}
	cov, err := s.GetCoverage(ctx, "bbb-1")
	if err != nil || cov.At < c.now().Add(-2*Every).UnixMilli() {
		t.Fatalf("heartbeat after the gap: %+v, %v", cov, err)
	}

	// A stays subscribed through a NATS outage of 10 s (it writes nothing); B restarts in it. B finds a window,
	// and A's first heartbeat after the outage closes it within the grace period.
	b.since = time.Time{}
	c.add(10 * time.Second)
	b.since = c.now()
	step(b)
	step(b)
	step(a, b)
	step(a, b)
	step(a, b)
	if g := gapsInStream(t, js); len(g) != 1 {
		t.Fatalf("a NATS outage made a gap: %+v", g)
	}

	// Subjects: bbbchat.gap, parsed back.
	if m, typ, err := state.ParseSubject(state.SubjectGap); m != "" || typ != state.TypeGap || err != nil {
		t.Fatalf("ParseSubject(%q) = %q %q %v", state.SubjectGap, m, typ, err)
	}
	if got := state.EventSubject("", state.TypeGap); got != "bbbchat.gap" {
		t.Fatalf("EventSubject of a gap = %q", got)
	}
}
