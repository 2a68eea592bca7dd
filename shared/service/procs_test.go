package service

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestProcsSample(t *testing.T) {
	start := time.Unix(1700000000, 0)
	type step struct {
		at    time.Duration // since start
		cores float64
		want  string // "one" or "all" after the sample
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"idle stays on one", []step{{0, 0.01, "one"}, {time.Second, 0.3, "one"}, {2 * time.Second, 0.49, "one"}}},
		{"load goes wide at once", []step{{0, 0.1, "one"}, {time.Second, 0.5, "all"}}},
		{"back to one after DownAfter below Down", []step{
			{0, 0.9, "all"}, {time.Second, 0.2, "all"}, {5 * time.Second, 0.2, "all"}, {11 * time.Second, 0.2, "one"}}},
		{"a busy sample restarts the wait", []step{
			{0, 0.9, "all"}, {time.Second, 0.2, "all"}, {6 * time.Second, 0.4, "all"}, {11 * time.Second, 0.2, "all"},
			{20 * time.Second, 0.2, "all"}, {21 * time.Second, 0.2, "one"}}},
		{"between the thresholds nothing changes", []step{
			{0, 0.4, "one"}, {time.Second, 0.6, "all"}, {2 * time.Second, 0.4, "all"}, {30 * time.Second, 0.4, "all"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, sets := "one", 0
			p := NewProcs(slog.New(slog.NewTextHandler(io.Discard, nil)))
			p.Set = func(one bool) {
				sets++
				state = map[bool]string{true: "one", false: "all"}[one]
			}
			for i, s := range tc.steps {
				p.Sample(s.cores, start.Add(s.at))
				if state != s.want {
					t.Fatalf("step %d (%.2f cores at %s): %s processors, want %s", i, s.cores, s.at, state, s.want)
				}
			}
			if sets > 2 {
				t.Errorf("%d switches, want at most 2", sets)
			}
		})
	}
}

func TestProcsAdapt(t *testing.T) {
	sets := make(chan bool, 100)
	p := NewProcs(slog.New(slog.NewTextHandler(io.Discard, nil)))
	p.Set = func(one bool) { sets <- one }
	p.Every = time.Millisecond
	var cpu time.Duration
	at := time.Unix(1700000000, 0)
	p.CPU = func() time.Duration { cpu += time.Second; return cpu } // a core's worth per second: wide
	p.Now = func() time.Time { at = at.Add(time.Second); return at }

	p.Adapt(t.Context(), func(k string) string { return map[string]string{"GOMAXPROCS": "4"}[k] })
	if len(sets) != 0 {
		t.Fatalf("GOMAXPROCS set by the operator: want no change, got %d", len(sets))
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); p.Adapt(ctx, func(string) string { return "" }) }()
	if one := <-sets; !one {
		t.Fatal("Adapt should start on one processor")
	}
	if one := <-sets; one {
		t.Fatal("a core's worth of CPU should widen to all processors")
	}
	cancel()
	<-done
	if one := <-sets; one {
		t.Fatal("Adapt should leave Go's default behind")
	}
}
