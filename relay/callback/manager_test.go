package callback

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

func TestDeliversSignedInOrder(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, nil)
	e.bridge("m1", rcv.url(), state.CallbackChatCleared)
	ctx := t.Context()
	// The chat user is present as w_bot.
	if err := e.store.UserJoined(ctx, "m1", state.Presence{UserID: "w_bot", Name: "Bridge", JoinedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	o := e.testOptions()
	_, stop := e.run(o, time.Second)

	var want []string
	want = append(want, e.messages("m1", 0, 3)...)
	// Not sent: a private chat, the chat user's post (rule a), a post under its name by a user who left (rule b).
	e.publish(state.Event{Type: state.TypeMessage, ID: "p-1", MeetingID: "m1", ChatID: "1698771400005-ab12cd34", SenderID: "w_alice", Text: "psst"})
	e.publish(state.Event{Type: state.TypeMessage, ID: "echo-1", MeetingID: "m1", ChatID: PublicChatID, SenderID: "w_bot", SenderName: "Bridge", CorrelationID: "xyz", Text: "from outside"})
	e.publish(state.Event{Type: state.TypeMessage, ID: "echo-2", MeetingID: "m1", ChatID: PublicChatID, SenderID: "w_gone", SenderName: "Bridge", CorrelationID: "w_gone-1730000000001", Text: "from outside"})
	// Not for this bridge: another meeting, a user joining.
	e.message("other", 1)
	e.publish(state.Event{Type: state.TypeUserJoined, ID: "j-1", MeetingID: "m1", UserID: "w_x"})
	want = append(want, e.publish(state.Event{Type: state.TypeCleared, ID: "c-1", MeetingID: "m1", ChatID: PublicChatID, Timestamp: 1730000000999}).ID)
	want = append(want, e.messages("m1", 3, 6)...)

	waitDelivered(t, rcv, want, 10*time.Second)
	hits := rcv.all()
	if len(hits) != len(want) {
		t.Fatalf("%d requests for %d callbacks", len(hits), len(want))
	}
	for _, h := range hits {
		call := state.CallbackMessage
		if h.ID == "c-1" {
			call = state.CallbackChatCleared
		}
		verifyHit(t, h, secretOf("m1"), call)
	}
	v, err := pyjson.Parse(hits[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range v.Members() {
		keys = append(keys, m.Key)
	}
	wantKeys := []string{"user_name", "message", "meeting_id", "message_id", "timestamp", "sender_id", "sender_role", "checksum"}
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("body members %q, want %q", keys, wantKeys)
	}
	if mid, _ := v.Lookup("meeting_id"); func() string { s, _ := mid.Str(); return s }() != "ext-m1" {
		t.Fatalf("meeting_id = %s, want the requested id", pyjson.Dumps(mid))
	}
	testenv.Eventually(t, 5*time.Second, "statistics flushed", func() bool {
		s := e.stats("m1")
		return s.Delivered == uint64(len(want)) && !s.LastSuccessAt.IsZero()
	})
	stop()
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, nil)
	e.bridge("m1", rcv.url())
	e.bridge("m2", "") // no callback: no worker
	o := e.testOptions()
	o.Metrics = new(Metrics)
	mgr, _ := e.run(o, time.Second)
	if mgr.Metrics() != o.Metrics {
		t.Fatal("Metrics must be the given counters")
	}
	want := e.messages("m1", 0, 2)
	e.publish(state.Event{Type: state.TypeMessage, ID: "p-1", MeetingID: "m1", ChatID: "private", SenderID: "w_a"})
	waitDelivered(t, rcv, want, 10*time.Second)
	testenv.Eventually(t, 5*time.Second, "metrics", func() bool {
		return o.Metrics.Delivered.Load() == 2 && o.Metrics.Skipped.Load() == 1 && o.Metrics.Workers.Load() == 1 &&
			o.Metrics.InFlight.Load() == 0
	})
}

func TestReceiverDownThenUp(t *testing.T) {
	e := newEnv(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	e.bridge("m1", "http://"+addr+"/cb")
	o := e.testOptions()
	o.Schedule = slices.Repeat([]time.Duration{50 * time.Millisecond}, 200)
	o.Metrics = new(Metrics)
	e.run(o, time.Second)
	want := e.messages("m1", 0, 5)
	testenv.Eventually(t, 10*time.Second, "retries while the receiver is down", func() bool {
		return o.Metrics.Retried.Load() >= 3
	})
	testenv.Eventually(t, 5*time.Second, "the refused connection in the statistics", func() bool {
		s := e.stats("m1")
		return s.Retries >= 1 && s.Delivered == 0 && s.LastError != "" && !s.LastErrorAt.IsZero()
	})
	rcv := newReceiverAt(t, addr, nil)
	waitDelivered(t, rcv, want, 10*time.Second)
	if n := rcv.count(); n != len(want) {
		t.Fatalf("%d requests, want %d", n, len(want))
	}
}

func TestRetriesKeepOrderAndID(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		first   answer // the answer to the first two attempts of every callback
	}{
		{"500 then 200", 0, func(w http.ResponseWriter, _ *http.Request, _ int) int {
			w.WriteHeader(http.StatusInternalServerError)
			return 500
		}},
		{"slower than the timeout", 200 * time.Millisecond, func(w http.ResponseWriter, _ *http.Request, _ int) int {
			time.Sleep(400 * time.Millisecond) // time itself: an answer slower than the callback timeout
			w.WriteHeader(http.StatusOK)       // nobody reads it
			return -1
		}},
		{"hangs", 200 * time.Millisecond, func(w http.ResponseWriter, r *http.Request, _ int) int {
			<-r.Context().Done()
			return -1
		}},
		{"resets the connection", 0, func(w http.ResponseWriter, _ *http.Request, _ int) int {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				c.Close()
			}
			return -1
		}},
		{"429 with Retry-After 0", 0, func(w http.ResponseWriter, _ *http.Request, _ int) int {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return 429
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, attempt int) int {
				if attempt <= 2 {
					return tc.first(w, r, attempt)
				}
				return ok200(w, r, attempt)
			})
			e.bridge("m1", rcv.url())
			o := e.testOptions()
			if tc.timeout > 0 {
				o.Timeout = tc.timeout
			}
			e.run(o, time.Second)
			want := e.messages("m1", 0, 4)
			waitDelivered(t, rcv, want, 20*time.Second)
			// Every callback was tried three times, all with its id, before the next one was tried at all.
			var ids []string
			for _, h := range rcv.all() {
				ids = append(ids, h.ID)
				verifyHit(t, h, secretOf("m1"), state.CallbackMessage)
			}
			var wantIDs []string
			for _, id := range want {
				wantIDs = append(wantIDs, id, id, id)
			}
			if !slices.Equal(ids, wantIDs) {
				t.Fatalf("requests\n %q\nwant\n %q", ids, wantIDs)
			}
			testenv.Eventually(t, 5*time.Second, "statistics", func() bool {
				s := e.stats("m1")
				return s.Delivered == 4 && s.Retries == 8 && s.Failed == 0 && s.LastError != ""
			})
		})
	}
}

func TestRetryAfter(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, attempt int) int {
		if attempt == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return 429
		}
		return ok200(w, r, attempt)
	})
	e.bridge("m1", rcv.url())
	e.run(e.testOptions(), time.Second)
	want := e.messages("m1", 0, 1)
	waitDelivered(t, rcv, want, 10*time.Second)
	hits := rcv.all()
	if len(hits) != 2 || hits[0].ID != hits[1].ID {
		t.Fatalf("hits: %+v", hits)
	}
	if gap := hits[1].At.Sub(hits[0].At); gap < 950*time.Millisecond {
		t.Fatalf("retried after %v, Retry-After asked for 1s", gap)
	}
	if hits[0].Timestamp == "" || hits[1].Body == nil {
		t.Fatal("missing headers")
	}
}

func TestGone(t *testing.T) {
	e := newEnv(t)
	gone := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) int {
		w.WriteHeader(http.StatusGone)
		return 410
	})
	clock := newReceiver(t, nil) // a healthy bridge, to know when later events have been handled
	e.bridge("m1", gone.url())
	e.bridge("m2", clock.url())
	o := e.testOptions()
	o.Metrics = new(Metrics)
	e.run(o, time.Second)
	e.messages("m1", 0, 3)
	testenv.Eventually(t, 10*time.Second, "bridge marked gone", func() bool {
		b, err := e.store.GetBridge(t.Context(), "m1")
		return err == nil && b.CallbackState == state.CallbackGone
	})
	testenv.Eventually(t, 10*time.Second, "consumer deleted", func() bool {
		_, err := e.pending(t.Context(), "m1")
		return errors.Is(err, state.ErrNotFound)
	})
	e.messages("m1", 3, 5)
	want := e.messages("m2", 0, 3)
	waitDelivered(t, clock, want, 10*time.Second)
	if n := gone.count(); n != 1 {
		t.Fatalf("the gone receiver got %d requests, want 1", n)
	}
	if b, err := e.store.GetBridge(t.Context(), "m1"); err != nil || b.CallbackURI == "" {
		t.Fatalf("bridge must stay registered: %+v, %v", b, err)
	}
	testenv.Eventually(t, 5*time.Second, "gone counted", func() bool {
		return o.Metrics.Gone.Load() == 1 && o.Metrics.Workers.Load() == 1 && e.stats("m1").LastError == "HTTP 410 Gone"
	})
}

func TestRedirectIsAFailure(t *testing.T) {
	e := newEnv(t)
	target := newReceiver(t, nil)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) int {
		http.Redirect(w, r, target.url(), http.StatusFound)
		return 302
	})
	e.bridge("m1", rcv.url())
	e.run(e.testOptions(), time.Second)
	e.message("m1", 0)
	testenv.Eventually(t, 10*time.Second, "given up", func() bool {
		fs, err := e.store.Failed(t.Context(), "m1")
		return err == nil && len(fs) == 1
	})
	fs, _ := e.store.Failed(t.Context(), "m1")
	if fs[0].Attempts != 4 || fs[0].LastError != "HTTP 302 Found" {
		t.Fatalf("failed delivery: %+v", fs[0])
	}
	if n := rcv.count(); n != 4 {
		t.Fatalf("%d attempts, want 4 (first try and three retries)", n)
	}
	if n := target.count(); n != 0 {
		t.Fatalf("the redirect was followed %d times", n)
	}
}

func TestGiveUpThenRetryFailed(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) int {
		w.WriteHeader(http.StatusServiceUnavailable)
		return 503
	})
	e.bridge("m1", rcv.url())
	o := e.testOptions()
	o.Metrics = new(Metrics)
	e.run(o, time.Second)
	first := e.message("m1", 0)
	testenv.Eventually(t, 10*time.Second, "given up", func() bool {
		fs, err := e.store.Failed(t.Context(), "m1")
		return err == nil && len(fs) == 1
	})
	fs, _ := e.store.Failed(t.Context(), "m1")
	if fs[0].Attempts != 4 || fs[0].LastError != "HTTP 503 Service Unavailable" || fs[0].Subject != first.Subject() {
		t.Fatalf("failed delivery: %+v", fs[0])
	}
	testenv.Eventually(t, 5*time.Second, "failure counted", func() bool {
		s := e.stats("m1")
		return o.Metrics.Failed.Load() == 1 && s.Failed == 1 && s.Retries == 3
	})
	// The queue moves on: the next message goes once the receiver is back.
	rcv.setAnswer(nil)
	next := e.message("m1", 1)
	waitDelivered(t, rcv, []string{next.ID}, 10*time.Second)
	// retryCallbacks puts the given-up one back; it goes with its original webhook-id.
	if n, err := e.store.RetryFailed(t.Context(), "m1"); err != nil || n != 1 {
		t.Fatalf("RetryFailed = %d, %v", n, err)
	}
	waitDelivered(t, rcv, []string{next.ID, first.ID}, 10*time.Second)
	hits := rcv.all()
	verifyHit(t, hits[len(hits)-1], secretOf("m1"), state.CallbackMessage)
	if fs, _ := e.store.Failed(t.Context(), "m1"); len(fs) != 0 {
		t.Fatalf("failed deliveries left: %+v", fs)
	}
}

func TestOneDeadBridgeDoesNotHoldOthers(t *testing.T) {
	e := newEnv(t)
	deadAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	a, b := newReceiver(t, nil), newReceiver(t, nil)
	e.bridge("a", a.url())
	e.bridge("b", b.url())
	e.bridge("dead", "http://"+deadAddr+"/cb")
	o := e.testOptions()
	o.Schedule = slices.Repeat([]time.Duration{30 * time.Millisecond}, 1000)
	e.run(o, time.Second)
	var wantA, wantB []string
	for i := range 10 {
		wantA = append(wantA, e.message("a", i).ID)
		e.message("dead", i)
		wantB = append(wantB, e.message("b", i).ID)
	}
	waitDelivered(t, a, wantA, 10*time.Second)
	waitDelivered(t, b, wantB, 10*time.Second)
	testenv.Eventually(t, 5*time.Second, "the dead one retrying", func() bool {
		s := e.stats("dead")
		return s.Retries >= 2 && s.Delivered == 0
	})
	if n, err := e.pending(t.Context(), "dead"); err != nil || n != 10 {
		t.Fatalf("dead bridge pending = %d, %v; want all 10 kept", n, err)
	}
}

func TestTwoRelaysDeliverOnce(t *testing.T) {
	e := newEnv(t)
	rcvs := map[string]*receiver{}
	for _, id := range []string{"m1", "m2", "m3"} {
		rcvs[id] = newReceiver(t, nil)
		e.bridge(id, rcvs[id].url())
	}
	o1 := e.testOptions()
	o2 := e.testOptions()
	o2.Store = e.openStore()
	o1.Metrics, o2.Metrics = new(Metrics), new(Metrics)
	e.run(o1, time.Second)
	e.run(o2, time.Second)
	want := map[string][]string{}
	for i := range 30 {
		for _, id := range []string{"m1", "m2", "m3"} {
			want[id] = append(want[id], e.message(id, i).ID)
		}
	}
	for _, id := range []string{"m1", "m2", "m3"} {
		waitDelivered(t, rcvs[id], want[id], 20*time.Second)
		if n := rcvs[id].count(); n != 30 {
			t.Fatalf("%s: %d requests for 30 messages", id, n)
		}
	}
	testenv.Eventually(t, 5*time.Second, "both relays' counters add up", func() bool {
		return o1.Metrics.Delivered.Load()+o2.Metrics.Delivered.Load() == 90
	})
	t.Logf("relay 1 delivered %d, relay 2 %d", o1.Metrics.Delivered.Load(), o2.Metrics.Delivered.Load())
}

func TestMeetingEndedEndsBridge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []string
	}{
		{"meetingEnded asked for", []string{state.CallbackMeetingEnded}},
		{"meetingEnded not asked for", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, attempt int) int {
				if attempt == 1 { // every callback fails once, so the end waits behind the queue
					w.WriteHeader(http.StatusBadGateway)
					return 502
				}
				return ok200(w, r, attempt)
			})
			e.bridge("m1", rcv.url(), tc.events...)
			e.run(e.testOptions(), time.Second)
			want := e.messages("m1", 0, 3)
			end := e.publish(state.Event{Type: state.TypeMeetingEnded, ID: "end-m1", MeetingID: "m1", Timestamp: 1730000009000})
			if len(tc.events) > 0 {
				want = append(want, end.ID)
			}
			testenv.Eventually(t, 10*time.Second, "bridge removed", func() bool {
				_, err := e.store.GetBridge(t.Context(), "m1")
				return errors.Is(err, state.ErrNotFound)
			})
			testenv.Eventually(t, 10*time.Second, "consumer removed", func() bool {
				_, err := e.pending(t.Context(), "m1")
				return errors.Is(err, state.ErrNotFound)
			})
			if got := rcv.delivered(); !slices.Equal(got, want) {
				t.Fatalf("delivered %q, want %q", got, want)
			}
			if len(tc.events) > 0 {
				hits := rcv.all()
				verifyHit(t, hits[len(hits)-1], secretOf("m1"), state.CallbackMeetingEnded)
			}
		})
	}
}

func TestNATSRestartResumes(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, attempt int) int {
		time.Sleep(20 * time.Millisecond) // time itself: a slow receiver keeps callbacks in flight over the restart
		return ok200(w, r, attempt)
	})
	e.bridge("m1", rcv.url())
	o := e.testOptions()
	o.Schedule = slices.Repeat([]time.Duration{50 * time.Millisecond}, 100)
	e.run(o, time.Second)
	want := e.messages("m1", 0, 20)
	testenv.Eventually(t, 10*time.Second, "some delivered", func() bool { return len(rcv.delivered()) >= 3 })
	e.srv.Restart()
	want = append(want, e.messages("m1", 20, 30)...)
	testenv.Eventually(t, 30*time.Second, "all delivered after the restart", func() bool {
		return slices.Contains(rcv.delivered(), want[len(want)-1])
	})
	got := rcv.delivered()
	checkOrderedAtLeastOnce(t, got, want)
	// The restarted nats-server lost the consumer (its state is kept in memory); it is created again right after
	// the last event delivered, not from the bridge's start: at most the event in flight comes twice.
	if dup := len(got) - len(want); dup > 1 {
		t.Fatalf("%d callbacks delivered twice after the restart:\n %q", dup, got)
	}
}

// checkOrderedAtLeastOnce checks that got holds every id of want and never skips ahead: each delivery is the
// successor of the one before it, or a replay from an earlier point (a SIGKILLed nats-server forgets the
// acknowledgements of its last ~100 ms; receivers deduplicate on webhook-id).
func checkOrderedAtLeastOnce(t *testing.T, got, want []string) {
	t.Helper()
	pos := map[string]int{}
	for i, id := range want {
		pos[id] = i
	}
	prev, seen := -1, map[string]bool{}
	for _, id := range got {
		i, ok := pos[id]
		if !ok || i > prev+1 {
			t.Fatalf("delivery %q out of order after %d:\n %q\nwant\n %q", id, prev, got, want)
		}
		prev, seen[id] = i, true
	}
	if len(seen) != len(want) {
		t.Fatalf("delivered %d of %d:\n %q", len(seen), len(want), got)
	}
}

func TestShutdownHandsInFlightBack(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, attempt int) int {
		if attempt == 1 {
			select { // hangs until the relay gives up on it
			case <-r.Context().Done():
			case <-release:
			}
			return -1
		}
		return ok200(w, r, attempt)
	})
	defer close(release)
	e.bridge("m1", rcv.url())
	o := e.testOptions()
	o.Timeout = 30 * time.Second // longer than the test: only the drain timeout ends the attempt
	_, stop := e.run(o, 200*time.Millisecond)
	want := e.messages("m1", 0, 3)
	testenv.Eventually(t, 10*time.Second, "first attempt under way", func() bool { return rcv.count() == 1 && inFlight(rcv) })
	start := time.Now()
	stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run took %v to return with a 200ms drain timeout", d)
	}
	testenv.Eventually(t, 5*time.Second, "first attempt cut", func() bool { return !inFlight(rcv) })
	o2 := e.testOptions()
	e.run(o2, time.Second)
	waitDelivered(t, rcv, want, 20*time.Second)
	hits := rcv.all()
	if hits[0].ID != want[0] || hits[1].ID != want[0] || hits[0].Status != -1 {
		t.Fatalf("the interrupted delivery must be repeated with its webhook-id: %q then %q", hits[0].ID, hits[1].ID)
	}
}
