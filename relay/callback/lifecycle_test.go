package callback

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

func TestBridgeDeletedAndStartedAgain(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, nil)
	e.bridge("m1", rcv.url())
	o := e.testOptions()
	o.Metrics = new(Metrics)
	e.run(o, time.Second)
	first := e.messages("m1", 0, 3)
	waitDelivered(t, rcv, first, 10*time.Second)

	// endChat: the bridge goes; its worker stops and its consumer goes with it.
	if err := e.store.DeleteBridge(t.Context(), "m1"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "worker stopped and consumer deleted", func() bool {
		_, err := e.pending(t.Context(), "m1")
		return errors.Is(err, state.ErrNotFound) && o.Metrics.Workers.Load() == 0
	})
	e.messages("m1", 3, 5) // while no bridge: never sent

	// startChat again: only what comes after it is sent. Its start time must be after the stream time of the
	// events above.
	last, err := e.events().GetLastMsgForSubject(t.Context(), state.EventSubject("m1", state.TypeMessage))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Second, "clock past the last event", func() bool { return time.Now().After(last.Time) })
	e.bridge("m1", rcv.url())
	second := e.messages("m1", 5, 8)
	waitDelivered(t, rcv, append(slices.Clone(first), second...), 10*time.Second)
}

func TestCheckTargetRefuses(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, nil)
	e.bridge("m1", rcv.url())
	var asked atomic.Int32
	o := e.testOptions()
	o.CheckTarget = func(_ context.Context, rawURL string) error {
		asked.Add(1)
		if rawURL != rcv.url() {
			t.Errorf("CheckTarget got %q", rawURL)
		}
		return errors.New("loopback address not allowed")
	}
	e.run(o, time.Second)
	e.message("m1", 0)
	testenv.Eventually(t, 10*time.Second, "given up", func() bool {
		fs, err := e.store.Failed(t.Context(), "m1")
		return err == nil && len(fs) == 1
	})
	fs, _ := e.store.Failed(t.Context(), "m1")
	if !strings.Contains(fs[0].LastError, "loopback address not allowed") || asked.Load() != 4 {
		t.Fatalf("failed delivery %+v after %d checks", fs[0], asked.Load())
	}
	if n := rcv.count(); n != 0 {
		t.Fatalf("%d requests reached a refused target", n)
	}
}

func TestOldestPendingAge(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) int {
		w.WriteHeader(http.StatusInternalServerError)
		return 500
	})
	e.bridge("m1", rcv.url())
	o := e.testOptions()
	o.Metrics = new(Metrics)
	o.Schedule = slices.Repeat([]time.Duration{20 * time.Millisecond}, 10000)
	e.run(o, time.Second)
	e.message("m1", 0)
	testenv.Eventually(t, 10*time.Second, "oldest pending grows", func() bool {
		return o.Metrics.OldestPending() >= time.Second
	})
	rcv.setAnswer(nil)
	testenv.Eventually(t, 10*time.Second, "nothing pending", func() bool {
		return len(rcv.delivered()) == 1 && o.Metrics.OldestPending() == 0
	})
}

// TestManyBridges runs a thousand bridges, one of them dead, and checks that every live one delivers and that a
// bridge costs only a few goroutines and kilobytes.
func TestManyBridges(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a thousand consumers")
	}
	const n = 1000
	e := newEnv(t)
	var got atomic.Int64
	var seen sync.Map // webhook ids received: an attempt that timed out under load may have arrived, then its retry
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, attempt int) int {
		if strings.HasSuffix(r.URL.Path, "/dead") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return 503
		}
		if _, again := seen.LoadOrStore(r.Header.Get("Webhook-Id"), true); !again {
			got.Add(1)
		}
		return ok200(w, r, attempt)
	})
	for i := range n {
		url := rcv.url() + "/live"
		if i == 0 {
			url = rcv.url() + "/dead"
		}
		e.bridge(fmt.Sprintf("m%04d", i), url)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	o := e.testOptions()
	o.Metrics = new(Metrics)
	o.Schedule = slices.Repeat([]time.Duration{100 * time.Millisecond}, 10000)
	e.run(o, time.Second)
	for i := range n {
		e.message(fmt.Sprintf("m%04d", i), 0)
	}
	testenv.Eventually(t, 60*time.Second, "every live bridge delivered", func() bool { return got.Load() == n-1 })
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perBridge := (int64(after.HeapInuse) - int64(before.HeapInuse)) / n
	stack := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	extra := runtime.NumGoroutine() - goroutines
	t.Logf("%d bridges: %d goroutines, ~%d bytes of heap and %d of stack each", n, extra, perBridge, stack)
	if o.Metrics.Workers.Load() != n {
		t.Fatalf("%d workers", o.Metrics.Workers.Load())
	}
	// An idle bridge holds no goroutine: a subscription, a timer and its statistics.
	if extra > 100 || perBridge > 16<<10 || stack > 2<<10 {
		t.Fatalf("too heavy: %d goroutines, %d bytes of heap and %d of stack per bridge", extra, perBridge, stack)
	}
}

func TestStartsWhileNATSIsDown(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t, nil)
	e.bridge("m1", rcv.url())
	e.srv.Stop()
	o := e.testOptions()
	o.Metrics = new(Metrics)
	e.run(o, time.Second)
	e.srv.Start()
	want := e.messages("m1", 0, 3)
	waitDelivered(t, rcv, want, 30*time.Second)
}
