package callback

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// typeOf is a callback body's "type", "" for a body without one.
func typeOf(body []byte) string {
	v, err := pyjson.Parse(body)
	if err != nil {
		return ""
	}
	t, _ := v.Lookup("type")
	s, _ := t.Str()
	return s
}

// TestReceiverBackWithinSeconds: the receiver is down when the first callback goes and its next attempt is an
// hour away (the schedule's step after a long outage); the receiver is probed with signed test events, and once
// it answers, everything waiting is delivered, in order, within seconds rather than at the hour.
func TestReceiverBackWithinSeconds(t *testing.T) {
	e := newEnv(t)
	var down atomic.Bool
	down.Store(true)
	rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) int {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return 503
		}
		w.WriteHeader(http.StatusNoContent)
		return 204
	})
	e.bridge("m1", rcv.url())
	o := e.testOptions()
	o.Schedule = []time.Duration{time.Hour, time.Hour}
	o.ProbeInterval = 500 * time.Millisecond
	_, stop := e.run(o, time.Second)

	want := e.messages("m1", 0, 40)
	testenv.Eventually(t, 10*time.Second, "failed probes", func() bool {
		n := 0
		for _, h := range rcv.all() {
			if typeOf(h.Body) == TypePing {
				n++
			}
		}
		return n >= 2
	})
	back := time.Now()
	down.Store(false)
	testenv.Eventually(t, 15*time.Second, "every waiting callback delivered", func() bool {
		n := 0
		for _, h := range rcv.all() {
			if h.Status == 204 && typeOf(h.Body) == "" {
				n++
			}
		}
		return n >= len(want)
	})
	t.Logf("all %d delivered %s after the receiver came back", len(want), time.Since(back).Round(time.Millisecond))
	var got []string
	for _, h := range rcv.all() {
		if typeOf(h.Body) == TypePing {
			verifyHit(t, h, secretOf("m1"), TypePing)
			continue
		}
		if h.Status == 204 {
			got = append(got, h.ID)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("delivered %d, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delivered out of order at %d: %q, want %q", i, got, want)
		}
	}
	stop()
}

// TestRefusedEventNotReleasedAgain: a receiver that answers test events but refuses one event gets that event
// once more after a probe, and then not again before its retry is due: the schedule still decides, and the
// receiver is not probed for it.
func TestRefusedEventNotReleasedAgain(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) int {
		if r.Header.Get("webhook-id") == "1730000000000-m1" {
			w.WriteHeader(http.StatusInternalServerError)
			return 500
		}
		w.WriteHeader(http.StatusOK)
		return 200
	})
	e.bridge("m1", rcv.url())
	o := e.testOptions()
	o.Schedule = []time.Duration{time.Hour, time.Hour}
	o.ProbeInterval = 300 * time.Millisecond
	m, stop := e.run(o, time.Second)
	e.message("m1", 0)
	// Held again after its release, as the event's failure: no probe is armed for it.
	testenv.Eventually(t, 10*time.Second, "released once, then held as the event's failure", func() bool {
		m.prober.mu.Lock()
		defer m.prober.mu.Unlock()
		for _, o := range m.prober.origins {
			for _, h := range o.held {
				return h.asIs && !releasable(h, o) && o.timer == nil && !o.probing
			}
		}
		return false
	})
	rcv.mu.Lock()
	tries := rcv.tries["1730000000000-m1"]
	pings := 0
	for _, h := range rcv.hits {
		if typeOf(h.Body) == TypePing {
			pings++
		}
	}
	rcv.mu.Unlock()
	if tries != 2 || pings != 1 {
		t.Fatalf("the refused event was sent %d times with %d probes; want 2 and 1", tries, pings)
	}
	stop()
}

// TestReceiverBackAfterRelayRestart: a relay that starts while a bridge's callback waits for a retry hours away
// (its receiver failed under the relay before) probes that receiver too, and sends what waits once it answers.
func TestReceiverBackAfterRelayRestart(t *testing.T) {
	e := newEnv(t)
	var down atomic.Bool
	down.Store(true)
	rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) int {
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return 502
		}
		w.WriteHeader(http.StatusOK)
		return 200
	})
	e.bridge("m1", rcv.url())
	o := e.testOptions()
	o.Schedule = []time.Duration{3 * time.Hour}
	o.ProbeInterval = -1
	_, stop := e.run(o, time.Second)
	want := e.messages("m1", 0, 5)
	testenv.Eventually(t, 10*time.Second, "first attempt failed and written", func() bool {
		s := e.stats("m1")
		return rcv.count() >= 1 && !s.LastErrorAt.IsZero()
	})
	stop()

	o.ProbeInterval = 300 * time.Millisecond
	o.Store = e.openStore()
	e.run(o, time.Second)
	down.Store(false)
	testenv.Eventually(t, 10*time.Second, "what waited delivered", func() bool {
		n := 0
		for _, h := range rcv.all() {
			if h.Status == 200 && typeOf(h.Body) == "" {
				n++
			}
		}
		return n >= len(want)
	})
}

// TestStaleHoldDropped: with a fake clock, a bridge held for a retry that was due long ago (another relay took the
// redelivery) is forgotten at the next probe time, without a probe; one still waiting is probed.
func TestStaleHoldDropped(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, nil)
	now := time.Unix(1_800_000_000, 0)
	o := e.testOptions()
	o.Now = func() time.Time { return now }
	o.ProbeInterval = time.Hour // the timers never fire in this test: probe is called by hand
	m := NewManager(o)
	m.hard = t.Context()
	b := e.bridge("m1", rcv.url())
	w := &worker{m: m, id: "m1", log: e.log}
	m.prober.hold(w, b, 7, 3, now.Add(2*time.Hour))
	org := m.prober.origins[originOf(b.CallbackURI)]

	now = now.Add(90 * time.Minute) // still waiting: probed
	m.prober.probe(org)
	if n := rcv.count(); n != 1 || typeOf(rcv.all()[0].Body) != TypePing {
		t.Fatalf("%d requests; want one test event", n)
	}
	// The test event was answered: released (it has no consumer here, so nothing is reset) and forgotten.
	if w.held.Load() || w.released.seq != 7 || w.released.carry != 2 {
		t.Fatalf("after a 2xx probe: held %v, released %+v", w.held.Load(), w.released)
	}

	m.prober.hold(w, b, 8, 1, now.Add(time.Minute))
	org = m.prober.origins[originOf(b.CallbackURI)]
	now = now.Add(3 * time.Hour) // its retry was due long ago and never came back here
	m.prober.probe(org)
	if n := rcv.count(); n != 1 {
		t.Fatalf("a stale hold was probed: %d requests", n)
	}
	if w.held.Load() || len(m.prober.origins) != 0 {
		t.Fatalf("a stale hold is kept: %v", m.prober.origins)
	}
}
