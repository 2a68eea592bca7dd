package bridge

import (
	"errors"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testStore is a store on a throw-away nats-server, with the test's own NATS handles beside it.
type testStore struct {
	s   *state.Store
	srv *testenv.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func openStore(t *testing.T) *testStore {
	t.Helper()
	srv := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(srv), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s, err := state.Open(t.Context(), nc, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &testStore{s: s, srv: srv, nc: nc, js: js}
}

// withAckWait is a lifecycle that keeps its consumers at ackWait, as relay keeps them at its callback timeout's.
func withAckWait(s *state.Store, ackWait time.Duration) *Lifecycle {
	return &Lifecycle{s: s, ackWait: ackWait, adjust: true, now: time.Now}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCallbackConsumer(t *testing.T) {
	e := openStore(t)
	s := e.s
	ctx := t.Context()
	b := state.Bridge{MeetingID: "m", CallbackURI: "http://x", CallbackEvents: []string{state.CallbackChatCleared}, CreatedAt: time.Now()}
	if _, err := s.PublishEvent(ctx, state.Event{Type: state.TypeMessage, ID: "before", MeetingID: "m"}, []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // the stream's clock must pass the bridge's creation time
	b.CreatedAt = time.Now()
	sub := pushed(t, e)
	if _, err := withAckWait(s, time.Second).EnsureConsumer(ctx, b, state.Position{}); err != nil {
		t.Fatal(err)
	}
	if info, err := withAckWait(s, 2*time.Second).EnsureConsumer(ctx, b, state.Position{}); err != nil || info.Config.AckWait != 2*time.Second {
		t.Fatalf("AckWait not updated: %v", err)
	}
	for i, typ := range []string{state.TypeMessage, state.TypeUserJoined, state.TypeCleared, state.TypeMeetingEnded} {
		if _, err := s.PublishEvent(ctx, state.Event{Type: typ, ID: typ + string(rune('a'+i)), MeetingID: "m"}, []byte(typ)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, s.PutFailed(ctx, state.FailedDelivery{MeetingID: "m", Seq: 1, Event: []byte(`"retried"`), FailedAt: time.Now()}))
	if _, err := s.RetryFailed(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 4 {
		got = append(got, next(t, sub))
	}
	want := []string{state.TypeMessage, state.TypeCleared, state.TypeMeetingEnded, `"retried"`}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delivered %q, want %q", got, want)
		}
	}
	if n, err := withAckWait(s, time.Second).Pending(ctx, "m"); err != nil || n != 0 {
		t.Fatalf("Pending = %d, %v", n, err)
	}
	must(t, withAckWait(s, time.Second).DeleteConsumer(ctx, "m"))
	if _, err := withAckWait(s, time.Second).Pending(ctx, "m"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Pending after delete: %v", err)
	}
}

// The callback consumer keeps its state in nats-server's memory: after a restart it is gone, and is created again
// right after the position relay wrote, not from the bridge's start; a position from before the bridge (re)started
// is not followed.
func TestCallbackConsumerAfterRestart(t *testing.T) {
	e := openStore(t)
	s, srv := e.s, e.srv
	ctx := t.Context()
	time.Sleep(2 * time.Millisecond)
	b := state.Bridge{MeetingID: "m", CallbackURI: "http://x", CreatedAt: time.Now()}
	info, err := withAckWait(s, time.Second).EnsureConsumer(ctx, b, state.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Config.MemoryStorage {
		t.Fatal("callback consumer keeps its state on disk")
	}
	var seqs []uint64
	for _, text := range []string{"one", "two", "three"} {
		seq, err := s.PublishEvent(ctx, state.Event{Type: state.TypeMessage, ID: text, MeetingID: "m"}, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	pos := func(i int) state.Position {
		m, err := e.js.Stream(ctx, state.StreamEvents)
		must(t, err)
		raw, err := m.GetMsg(ctx, seqs[i])
		must(t, err)
		return state.Position{Seq: raw.Sequence, At: raw.Time}
	}
	must(t, s.AddCallbackStats(ctx, "m", state.CallbackStats{Delivered: 1, Position: pos(0)}, nil))

	srv.Restart()
	testenv.Eventually(t, 10*time.Second, "JetStream back", func() bool {
		_, err := e.js.AccountInfo(ctx)
		return err == nil
	})
	if _, err := withAckWait(s, time.Second).Pending(ctx, "m"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("consumer after restart: %v", err)
	}
	sub := pushed(t, e)
	// The caller's own position (unwritten yet) wins when it is further.
	_, err = withAckWait(s, time.Second).EnsureConsumer(ctx, b, pos(1))
	must(t, err)
	if got := next(t, sub); got != "three" {
		t.Fatalf("after the caller's position: %q, want three", got)
	}
	must(t, withAckWait(s, time.Second).DeleteConsumer(ctx, "m"))
	_, err = withAckWait(s, time.Second).EnsureConsumer(ctx, b, state.Position{})
	must(t, err)
	if got := next(t, sub); got != "two" {
		t.Fatalf("after the written position: %q, want two", got)
	}
	// Restarted after the position: start there, not at the position.
	must(t, withAckWait(s, time.Second).DeleteConsumer(ctx, "m"))
	for { // what the deleted consumer pushed before it went
		if _, err := sub.NextMsg(200 * time.Millisecond); err != nil {
			break
		}
	}
	time.Sleep(2 * time.Millisecond)
	b.CreatedAt = time.Now()
	_, err = withAckWait(s, time.Second).EnsureConsumer(ctx, b, state.Position{})
	must(t, err)
	if _, err := s.PublishEvent(ctx, state.Event{Type: state.TypeMessage, ID: "four", MeetingID: "m"}, []byte("four")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub); got != "four" {
		t.Fatalf("after a restart of the bridge: %q, want four", got)
	}
}

// pushed subscribes as relay does to what the callback consumer of meeting m pushes.
func pushed(t *testing.T, e *testStore) *nats.Subscription {
	t.Helper()
	sub, err := e.nc.QueueSubscribeSync(DeliverSubject("m"), DeliverGroup)
	must(t, err)
	t.Cleanup(func() { sub.Unsubscribe() })
	return sub
}

// next acknowledges and returns the next event pushed.
func next(t *testing.T, sub *nats.Subscription) string {
	t.Helper()
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("nothing pushed: %v", err)
	}
	must(t, m.AckSync())
	return string(m.Data)
}

// A pull consumer an earlier version made is replaced by a push consumer that goes on after its ack floor.
func TestCallbackConsumerFromPull(t *testing.T) {
	e := openStore(t)
	s := e.s
	ctx := t.Context()
	time.Sleep(2 * time.Millisecond)
	b := state.Bridge{MeetingID: "m", CallbackURI: "http://x", CreatedAt: time.Now()}
	cfg := ConsumerConfig(b, time.Second, state.Position{})
	cfg.DeliverSubject, cfg.DeliverGroup, cfg.MemoryStorage, cfg.MaxWaiting = "", "", false, 64
	old, err := e.js.CreateConsumer(ctx, state.StreamEvents, cfg)
	must(t, err)
	for _, text := range []string{"one", "two"} {
		if _, err := s.PublishEvent(ctx, state.Event{Type: state.TypeMessage, ID: text, MeetingID: "m"}, []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := old.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	must(t, err)
	for m := range msgs.Messages() {
		must(t, m.DoubleAck(ctx))
	}
	sub := pushed(t, e)
	info, err := withAckWait(s, time.Second).EnsureConsumer(ctx, b, state.Position{})
	must(t, err)
	if info.Config.DeliverSubject == "" || !info.Config.MemoryStorage {
		t.Fatalf("not replaced: %+v", info.Config)
	}
	if got := next(t, sub); got != "two" {
		t.Fatalf("after the pull consumer's ack floor: %q, want two", got)
	}
}

// Release sends a delivery that waits out a retry delay now, and does nothing when nothing waits or the caller's
// head is done already.
func TestRelease(t *testing.T) {
	e := openStore(t)
	s := e.s
	ctx := t.Context()
	time.Sleep(2 * time.Millisecond)
	lc := withAckWait(s, time.Second)
	b := state.Bridge{MeetingID: "m", CallbackURI: "http://x", CreatedAt: time.Now()}
	if _, err := lc.EnsureConsumer(ctx, b, state.Position{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := lc.Release(ctx, "m", 0); ok || err != nil {
		t.Fatalf("Release with nothing out = %v, %v", ok, err)
	}
	if _, err := lc.Release(ctx, "other", 0); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Release without a consumer: %v", err)
	}
	sub := pushed(t, e)
	seq, err := s.PublishEvent(ctx, state.Event{Type: state.TypeMessage, ID: "one", MeetingID: "m"}, []byte("one"))
	must(t, err)
	m, err := sub.NextMsg(5 * time.Second)
	must(t, err)
	must(t, m.NakWithDelay(time.Hour))
	start := time.Now()
	if ok, err := lc.Release(ctx, "m", seq); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	if got := next(t, sub); got != "one" || time.Since(start) > 3*time.Second {
		t.Fatalf("after Release: %q after %s", got, time.Since(start))
	}
	// The next event is out now; the caller's head, delivered, is not released again.
	_, err = s.PublishEvent(ctx, state.Event{Type: state.TypeMessage, ID: "two", MeetingID: "m"}, []byte("two"))
	must(t, err)
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, err := lc.Release(ctx, "m", seq); ok || err != nil {
		t.Fatalf("Release of a delivered head = %v, %v", ok, err)
	}
}
