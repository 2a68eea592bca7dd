package main

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

func newTestConfirmer() *confirmer {
	c := &confirmer{waiting: map[string][]chan state.Event{}}
	c.results = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"result"})
	return c
}

func deliver(t *testing.T, c *confirmer, e state.Event) {
	t.Helper()
	b, err := state.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	c.onMessage(&nats.Msg{Data: b})
}

func TestConfirmer(t *testing.T) {
	c := newTestConfirmer()
	ctx := context.Background()
	now := time.UnixMilli(1730000000000)

	// Correlation ids have the form relay's echo rule knows, and differ within one millisecond.
	seen := map[string]bool{}
	form := regexp.MustCompile(`^w_bot-\d+$`)
	for range 1000 {
		id := c.correlationID("w_bot", now)
		if !form.MatchString(id) || seen[id] {
			t.Fatalf("correlation id %q: wrong form or repeated", id)
		}
		seen[id] = true
	}

	// A post as the chat user: its broadcast, by correlation id; another meeting's or another post's is not it.
	w := c.expect(userPostKey("m1", "w_bot-1"))
	deliver(t, c, state.Event{Type: state.TypeMessage, MeetingID: "m2", MessageID: "x", CorrelationID: "w_bot-1"})
	deliver(t, c, state.Event{Type: state.TypeMessage, MeetingID: "m1", MessageID: "y", CorrelationID: "w_bot-2"})
	deliver(t, c, state.Event{Type: state.TypeMessage, MeetingID: "m1", MessageID: "z", CorrelationID: "w_bot-1", SenderID: "w_bot"})
	if e, ok := w.wait(ctx, time.Second); !ok || e.MessageID != "z" {
		t.Fatalf("got %+v, %v", e, ok)
	}
	w.cancel()

	// Two identical API posts: each broadcast confirms one, oldest first.
	key := apiPostKey("m1", "Ann", "hi")
	w1, w2 := c.expect(key), c.expect(key)
	deliver(t, c, state.Event{Type: state.TypeMessage, MeetingID: "m1", MessageID: "a", SenderID: "SYSTEM", SenderName: "Ann", Text: "hi"})
	if e, ok := w1.wait(ctx, time.Second); !ok || e.MessageID != "a" {
		t.Fatalf("first API post: %+v, %v", e, ok)
	}
	if _, ok := w2.wait(ctx, 10*time.Millisecond); ok {
		t.Fatal("the second API post was confirmed by the first's broadcast")
	}
	w2.cancel()
	w2.cancel() // twice is fine

	// An edit, by its type and message id.
	we := c.expect(actionKey(state.TypeMessageEdited, "m1", "a"))
	deliver(t, c, state.Event{Type: state.TypeMessageDeleted, MeetingID: "m1", MessageID: "a"})
	deliver(t, c, state.Event{Type: state.TypeMessageEdited, MeetingID: "m1", MessageID: "a"})
	if _, ok := we.wait(ctx, time.Second); !ok {
		t.Fatal("edit not confirmed")
	}
	we.cancel()

	if n := c.n.Load(); n != 0 || len(c.waiting) != 0 {
		t.Fatalf("%d waiters left: %v", n, c.waiting)
	}
	// Nobody waits: broadcasts are dropped undecoded, and garbage changes nothing.
	c.onMessage(&nats.Msg{Data: []byte("not json")})
}
