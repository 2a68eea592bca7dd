package redisfeed

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// A Redis that stops answering without closing the connection (stopped, or a network path gone without a reset)
// is noticed by the PING on the quiet connection: the subscription dials again, counts the gap, and carries on
// once Redis is back. An idle Redis that answers its PINGs is left alone.
func TestSubscriberHungRedis(t *testing.T) {
	t.Parallel()
	rs := testenv.Redis(t)
	m := newMetrics(prometheus.NewRegistry())
	logs := &testenv.Buffer{}
	s := newSubscriber(slog.New(slog.NewTextHandler(logs, nil)), m, time.Now)
	s.pingEvery, s.pongWait = 100*time.Millisecond, 300*time.Millisecond
	o, err := RedisOptions(testenv.RedisURL(rs))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1000)
	stop := s.subscribe(t.Context(), o, func(b string) { got <- b })
	defer stop()
	pub := redis.NewClient(&redis.Options{Addr: rs.Addr, DisableIdentity: true})
	defer pub.Close()

	// seen publishes text until the subscriber has it (the subscription may still be on its way).
	seen := func(text string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, "message "+text+" received", func() bool {
			pub.Publish(t.Context(), bbb.ChannelFromAkkaChat, text)
			deadline := time.After(50 * time.Millisecond)
			for {
				select {
				case g := <-got:
					if g == text {
						return true
					}
				case <-deadline:
					return false
				}
			}
		})
	}
	seen("before")
	time.Sleep(time.Second) // ten PING intervals with nothing published
	if n := m.redisReconnects.Load(); n != 0 {
		t.Fatalf("an idle Redis answering its PINGs was dropped %d times\n%s", n, logs)
	}

	rs.Signal(syscall.SIGSTOP)
	defer rs.Signal(syscall.SIGCONT)
	testenv.Eventually(t, 10*time.Second, "the hung connection dropped", func() bool {
		return !m.redisSubscribed.Load()
	})
	rs.Signal(syscall.SIGCONT)
	testenv.Eventually(t, 20*time.Second, "subscribed again", func() bool {
		return m.redisSubscribed.Load() && m.redisGaps.Load() == 1
	})
	for i := range 3 {
		seen(fmt.Sprint("after-", i))
	}
	if m.redisGaps.Load() != 1 {
		t.Errorf("gaps = %d, want 1\n%s", m.redisGaps.Load(), logs)
	}
}
