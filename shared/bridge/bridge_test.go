package bridge

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

func TestNames(t *testing.T) {
	long := strings.Repeat("m", 101)
	for _, tc := range []struct {
		meeting, consumer string
	}{
		{"8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700", "callbacks_8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700"},
		{"w_x-1", "callbacks_w_x-1"},
		{"a.b", "callbacks_h" + state.HashKey("a.b")},
		{"x y", "callbacks_h" + state.HashKey("x y")},
		{long, "callbacks_h" + state.HashKey(long)},
	} {
		if got := ConsumerName(tc.meeting); got != tc.consumer {
			t.Errorf("ConsumerName(%q) = %q, want %q", tc.meeting, got, tc.consumer)
		}
		if got, want := DeliverSubject(tc.meeting), "_bbbchat.callbacks."+tc.consumer; got != want {
			t.Errorf("DeliverSubject(%q) = %q, want %q", tc.meeting, got, want)
		}
	}
}

func TestAckWait(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
	}{
		{0, 15 * time.Second},
		{-time.Second, 15 * time.Second},
		{10 * time.Second, 15 * time.Second},
		{time.Minute, time.Minute + 5*time.Second},
	} {
		if got := AckWait(tc.timeout); got != tc.want {
			t.Errorf("AckWait(%s) = %s, want %s", tc.timeout, got, tc.want)
		}
		lc := New(nil, Options{CallbackTimeout: tc.timeout})
		if lc.AckWait() != tc.want || lc.adjust != (tc.timeout > 0) {
			t.Errorf("New(timeout %s): AckWait %s, adjusts %v", tc.timeout, lc.AckWait(), lc.adjust)
		}
	}
}

func TestConsumerConfigFilters(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		events  []string
		from    state.Position
		filters []string
		seq     uint64
	}{
		{"messages", nil, state.Position{}, []string{"bbbchat.m.message", "bbbchat.m.meeting.ended", "bbbchat-retry.m"}, 0},
		{"cleared asked", []string{state.CallbackChatCleared}, state.Position{},
			[]string{"bbbchat.m.message", "bbbchat.m.cleared", "bbbchat.m.meeting.ended", "bbbchat-retry.m"}, 0},
		{"kinds asked", []string{state.TypeReactionAdded, state.TypeUserLeft, state.TypeGap}, state.Position{},
			[]string{"bbbchat.m.message", "bbbchat.m.user.left", "bbbchat.m.reaction.added", "bbbchat.m.meeting.ended",
				"bbbchat.gap", "bbbchat-retry.m"}, 0},
		{"all", []string{state.KindAll}, state.Position{},
			[]string{"bbbchat.m.message", "bbbchat.m.cleared", "bbbchat.m.user.joined", "bbbchat.m.user.left",
				"bbbchat.m.message.edited", "bbbchat.m.message.deleted", "bbbchat.m.reaction.added",
				"bbbchat.m.reaction.removed", "bbbchat.m.message.pinned", "bbbchat.m.message.unpinned",
				"bbbchat.m.transcript", "bbbchat.m.meeting.ended", "bbbchat.gap", "bbbchat-retry.m"}, 0},
		{"after a position", nil, state.Position{Seq: 7, At: at.Add(time.Second)},
			[]string{"bbbchat.m.message", "bbbchat.m.meeting.ended", "bbbchat-retry.m"}, 8},
		{"position before the start", nil, state.Position{Seq: 7, At: at.Add(-time.Second)},
			[]string{"bbbchat.m.message", "bbbchat.m.meeting.ended", "bbbchat-retry.m"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := state.Bridge{MeetingID: "m", CallbackURI: "http://x", CallbackEvents: tc.events, CreatedAt: at}
			cfg := ConsumerConfig(b, 3*time.Second, tc.from)
			if strings.Join(cfg.FilterSubjects, " ") != strings.Join(tc.filters, " ") {
				t.Errorf("filters %v, want %v", cfg.FilterSubjects, tc.filters)
			}
			if cfg.OptStartSeq != tc.seq || (tc.seq == 0) != (cfg.OptStartTime != nil && cfg.OptStartTime.Equal(at)) {
				t.Errorf("start seq %d time %v, want seq %d", cfg.OptStartSeq, cfg.OptStartTime, tc.seq)
			}
			if cfg.AckWait != 3*time.Second || cfg.MaxAckPending != 1 || !cfg.MemoryStorage ||
				cfg.DeliverGroup != DeliverGroup || cfg.Durable != "callbacks_m" {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}

// TestLifecycle walks a bridge through start, gone, retry and end, as ingress and relay call them.
func TestLifecycle(t *testing.T) {
	e := openStore(t)
	s := e.s
	ctx := t.Context()
	now := time.Now()
	clock := func() time.Time { return now }
	ingress := New(s, Options{Now: clock})
	relay := New(s, Options{CallbackTimeout: 20 * time.Second, Now: clock})

	if _, err := ingress.Start(ctx, state.Bridge{MeetingID: "plain", ChatUser: "Bridge"}, 2); err != nil {
		t.Fatal(err)
	}
	b, err := ingress.Start(ctx, state.Bridge{MeetingID: "m", ChatUser: "Bridge", CallbackURI: "http://x"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if b.CallbackState != state.CallbackActive || !b.CreatedAt.Equal(now) {
		t.Fatalf("started %+v", b)
	}
	if _, err := ingress.Start(ctx, state.Bridge{MeetingID: "third"}, 2); !errors.Is(err, ErrTooManyBridges) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := ingress.Start(ctx, state.Bridge{MeetingID: "m"}, 5); !errors.Is(err, state.ErrExists) {
		t.Fatalf("twice: %v", err)
	}
	if _, err := ingress.Pending(ctx, "plain"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("a bridge without callback has a consumer: %v", err)
	}

	// One AckWait rule: ingress creates with the default's, relay brings it to its timeout's, ingress leaves it.
	info, err := s.ConsumerInfo(ctx, ConsumerName("m"))
	if err != nil || info.Config.AckWait != AckWait(0) {
		t.Fatalf("created by ingress: %v, %v", info, err)
	}
	if info, err = relay.EnsureConsumer(ctx, b, state.Position{}); err != nil || info.Config.AckWait != 25*time.Second {
		t.Fatalf("kept by relay: %v, %v", info, err)
	}
	if info, err = ingress.EnsureConsumer(ctx, b, state.Position{}); err != nil || info.Config.AckWait != 25*time.Second {
		t.Fatalf("ingress rewrote relay's AckWait: %v, %v", info, err)
	}

	var queues []Queue
	must(t, relay.Queues(ctx, func(q Queue) { queues = append(queues, q) }))
	if len(queues) != 1 || queues[0].MeetingID != "m" || queues[0].Pending != 0 {
		t.Fatalf("queues %+v", queues)
	}

	// 410 Gone, then retryCallbacks turns the callback back on, from now.
	must(t, relay.MarkGone(ctx, "m"))
	must(t, relay.DeleteConsumer(ctx, "m"))
	if b, err = s.GetBridge(ctx, "m"); err != nil || b.CallbackState != state.CallbackGone {
		t.Fatalf("gone: %+v, %v", b, err)
	}
	now = now.Add(time.Minute)
	must(t, s.PutFailed(ctx, state.FailedDelivery{MeetingID: "m", Seq: 3, Event: []byte(`{}`), FailedAt: now}))
	if n, err := ingress.Retry(ctx, b); err != nil || n != 1 {
		t.Fatalf("Retry = %d, %v", n, err)
	}
	if b, err = s.GetBridge(ctx, "m"); err != nil || b.CallbackState != state.CallbackActive || !b.CreatedAt.Equal(now) {
		t.Fatalf("after retry: %+v, %v", b, err)
	}
	if _, err := ingress.Pending(ctx, "m"); err != nil {
		t.Fatalf("no consumer after retry: %v", err)
	}
	if _, err := ingress.Retry(ctx, state.Bridge{MeetingID: "plain"}); !errors.Is(err, ErrNoCallback) {
		t.Fatalf("retry without callback: %v", err)
	}

	// endChatForMeeting: bridge, consumer and failed deliveries go.
	must(t, s.PutFailed(ctx, state.FailedDelivery{MeetingID: "m", Seq: 4, Event: []byte(`{}`), FailedAt: now}))
	must(t, ingress.End(ctx, "m"))
	if _, err := s.GetBridge(ctx, "m"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("bridge after end: %v", err)
	}
	if _, err := ingress.Pending(ctx, "m"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("consumer after end: %v", err)
	}
	if fs, err := s.Failed(ctx, "m"); err != nil || len(fs) != 0 {
		t.Fatalf("failed after end: %v, %v", fs, err)
	}
	if err := ingress.End(ctx, "m"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("end twice: %v", err)
	}
}

func TestMeetingEnded(t *testing.T) {
	e := openStore(t)
	s := e.s
	ctx := t.Context()
	lc := New(s, Options{})
	for _, tc := range []struct {
		name     string
		bridge   *state.Bridge
		want     Outcome
		remains  bool
		twiceOut Outcome
	}{
		{"no bridge", nil, NoBridge, false, NoBridge},
		{"no callback", &state.Bridge{ChatUser: "B"}, Ended, false, NoBridge},
		{"gone callback", &state.Bridge{CallbackURI: "http://x", CallbackState: state.CallbackGone}, Ended, false, NoBridge},
		{"active callback", &state.Bridge{CallbackURI: "http://x", CallbackState: state.CallbackActive}, EndsAfterQueue, true, NoBridge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := strings.ReplaceAll(tc.name, " ", "-")
			if tc.bridge != nil {
				b := *tc.bridge
				b.MeetingID = id
				if _, err := s.CreateBridge(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := lc.MeetingEnded(ctx, id); err != nil || got != tc.want {
				t.Fatalf("MeetingEnded = %v, %v; want %v", got, err, tc.want)
			}
			b, err := s.GetBridge(ctx, id)
			if tc.remains != (err == nil) || (tc.remains && !b.Ending) {
				t.Fatalf("bridge after: %+v, %v", b, err)
			}
			if got, err := lc.MeetingEnded(ctx, id); err != nil || got != tc.twiceOut {
				t.Fatalf("again: %v, %v", got, err)
			}
			must(t, lc.Finish(ctx, id))
			if _, err := s.GetBridge(ctx, id); !errors.Is(err, state.ErrNotFound) {
				t.Fatalf("after Finish: %v", err)
			}
		})
	}
}

// A closed connection is the one unavailability kind, whatever the call.
func TestUnavailable(t *testing.T) {
	e := openStore(t)
	lc := New(e.s, Options{})
	e.nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	for name, call := range map[string]func() error{
		"start": func() error { _, err := lc.Start(ctx, state.Bridge{MeetingID: "m"}, 10); return err },
		"end":   func() error { return lc.End(ctx, "m") },
		"pending": func() error {
			_, err := lc.Pending(ctx, "m")
			return err
		},
		"queues": func() error { return lc.Queues(ctx, func(Queue) {}) },
	} {
		if err := call(); !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s: %v, want state.ErrUnavailable", name, err)
		}
	}
}
