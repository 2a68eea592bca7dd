package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/testenv"
)

// soakDuration is how long TestSoak loads the system: BBB_CHAT_SOAK (e.g. "5m") for a long run by hand, else 20s.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("BBB_CHAT_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("BBB_CHAT_SOAK=%q: want a duration of at least 10s", v)
		}
		return d
	}
	return 20 * time.Second
}

// procUsage is a process's memory and goroutines at one moment.
type procUsage struct {
	at         time.Duration
	rssKB      int
	goroutines float64
}

// TestSoak runs mixed load (BBB users chatting in several bridged meetings, API posts, info calls, bridges started
// and ended) with faults injected (receivers failing a quarter of their calls, Redis and NATS restarted) on
// loopback, then checks that every message is accounted for and that memory and goroutines of both binaries stayed
// flat.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)
	e := newEnv(t, "2.7")
	ing, api := e.startIngressWith(nil)
	var meetings []*bridged
	for i := range 4 {
		meetings = append(meetings, e.bridgedMeeting(fmt.Sprintf("soak-%d", i)))
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var rngMu sync.Mutex
	chance := func(p float64) bool { rngMu.Lock(); defer rngMu.Unlock(); return rng.Float64() < p }
	failing := atomic.Bool{}
	failing.Store(true)
	for _, b := range meetings {
		b.recv.setAnswer(func(*http.Request) int {
			if failing.Load() && chance(0.25) {
				if chance(0.5) {
					return http.StatusInternalServerError
				}
				return http.StatusServiceUnavailable
			}
			return http.StatusNoContent
		})
	}

	var (
		stop, paused atomic.Bool
		wg           sync.WaitGroup
		mu           sync.Mutex
		said         = map[string][]string{}
		accepted     []string
		statuses     = map[int]int{}
		otherErrs    []string
	)
	for _, b := range meetings {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if paused.Load() {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				msg, err := e.sim.Say(context.Background(), b.m.IntID, b.talker, fmt.Sprintf("soak %d", i))
				if err == nil {
					mu.Lock()
					said[b.m.IntID] = append(said[b.m.IntID], msg.ID)
					mu.Unlock()
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	client := &http.Client{Timeout: 15 * time.Second}
	post := func(path string, body []byte) int {
		resp, err := client.Post(api.url+path, "", strings.NewReader(string(body)))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	wg.Go(func() { // API posts
		for i := 0; !stop.Load(); i++ {
			b := meetings[i%len(meetings)]
			text := fmt.Sprintf("api %d", i)
			status := post("/api/sendChatMessage/"+b.m.IntID, sign(callSend, strs("user_name", "Viewer", "message", text, "nonce", fmt.Sprint(i)), e.secret, time.Now().Unix()))
			mu.Lock()
			statuses[status]++
			if status == 200 {
				accepted = append(accepted, b.m.IntID+"|Viewer: "+text)
			}
			mu.Unlock()
			time.Sleep(15 * time.Millisecond)
		}
	})
	wg.Go(func() { // reads and bridge churn
		for i := 0; !stop.Load(); i++ {
			post("/api/getChatInfo", sign(callInfo, strs("meeting_id", meetings[i%len(meetings)].m.IntID, "nonce", fmt.Sprint(i)), e.secret, time.Now().Unix()))
			id := fmt.Sprintf("churn-%d", i)
			if s := post("/api/startChatForMeeting", sign(callStart, strs("meeting_id", id, "chat_user", "u", "callback_uri",
				meetings[0].recv.URL(), "callback_secret", "s"), e.secret, time.Now().Unix())); s == 200 {
				if s := post("/api/endChatForMeeting", sign(callEnd, strs("meeting_id", id), e.secret, time.Now().Unix())); s != 200 {
					mu.Lock()
					otherErrs = append(otherErrs, fmt.Sprintf("end %s: %d", id, s))
					mu.Unlock()
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	// Usage samples of both binaries, every second.
	var samples struct {
		sync.Mutex
		relay, ingress []procUsage
	}
	start := time.Now()
	sample := func() {
		r := procUsage{at: time.Since(start), rssKB: vmRSS(t, e.relay.Pid()), goroutines: metricsAt(e.relayURL + "/metrics")["bbbchat_goroutines"]}
		i := procUsage{at: time.Since(start), rssKB: vmRSS(t, ing.Pid()), goroutines: metricsAt(api.metricsURL)["bbbchat_goroutines"]}
		samples.Lock()
		samples.relay = append(samples.relay, r)
		samples.ingress = append(samples.ingress, i)
		samples.Unlock()
	}
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		for !stop.Load() {
			sample()
			time.Sleep(time.Second)
		}
	}()

	// Faults: Redis and NATS restarted in turn, a cycle every ~third of a 20s run (every 20s on long runs).
	faults := 0
	redisRestarts, natsRestarts := 0, 0
	cycle := min(duration/3, 20*time.Second)
	for next := cycle; next < duration; next += cycle {
		time.Sleep(time.Until(start.Add(next)))
		faults++
		if faults%2 == 1 {
			// BBB's Redis: BBB stops talking while its Redis is down, and relay must be subscribed again before
			// it talks (Redis keeps nothing for an absent subscriber; relay counts such gaps).
			paused.Store(true)
			e.redis.Stop()
			time.Sleep(500 * time.Millisecond)
			e.redis.Start()
			testenv.Eventually(t, 20*time.Second, "relay resubscribed", func() bool {
				return metricsAt(e.relayURL + "/metrics")["bbbchat_relay_redis_subscribed"] == 1
			})
			paused.Store(false)
			redisRestarts++
		} else {
			e.nats.Stop()
			time.Sleep(time.Second)
			e.nats.Start()
			natsRestarts++
		}
	}
	time.Sleep(time.Until(start.Add(duration)))
	stop.Store(true)
	wg.Wait()
	<-sampling

	// Drain: receivers well, failed deliveries sent again, until every message said is delivered.
	failing.Store(false)
	deadline := time.Now().Add(60 * time.Second)
	total, repeats, retried := 0, 0, 0
	for _, b := range meetings {
		want := said[b.m.IntID]
		total += len(want)
		for {
			a := api.call(callRetry, "meeting_id", b.m.IntID)
			if a.Status != 200 {
				t.Fatalf("retryCallbacks: %s", a.Raw)
			}
			retried += int(a.Body["retried"].(float64))
			if deliveredAll(b, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not every message delivered after the drain", b.m.ExtID)
			}
			time.Sleep(200 * time.Millisecond)
		}
		got := map[string]int{}
		for _, d := range b.recv.deliveries() {
			got[d.ID]++
		}
		for id, n := range got {
			repeats += n - 1
			if !contained(want, id) {
				t.Errorf("%s: delivered %s, which nobody said", b.m.ExtID, id)
			}
		}
	}
	inChat := map[string]bool{}
	for _, b := range meetings {
		for _, c := range e.sim.Chat(b.m.IntID) {
			if c.SenderID == b.chatUID {
				inChat[b.m.IntID+"|"+c.Message] = true
			}
		}
	}
	lost := 0
	for _, a := range accepted {
		if !inChat[a] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d accepted API posts did not reach BBB", lost)
	}
	for s := range statuses {
		if s != 200 && s != 503 {
			t.Errorf("API posts answered %d: %v", s, statuses)
		}
	}
	if len(otherErrs) > 0 {
		t.Errorf("bridge churn: %v", otherErrs)
	}
	mt := metricsAt(e.relayURL + "/metrics")
	for _, k := range []string{"bbbchat_relay_events_dropped_total", "bbbchat_relay_publish_lost_total"} {
		if mt[k] != 0 {
			t.Errorf("%s = %v", k, mt[k])
		}
	}

	// Settle, then the final sample against the early ones.
	time.Sleep(3 * time.Second)
	sample()
	samples.Lock()
	defer samples.Unlock()
	checkFlat(t, "relay", samples.relay)
	checkFlat(t, "ingress", samples.ingress)
	t.Logf("soak %s: %d messages said, all delivered (%d repeats, %d sent again by retryCallbacks); %d API posts accepted, none lost; statuses %v; %d Redis and %d NATS restarts",
		duration, total, repeats, retried, len(accepted), statuses, redisRestarts, natsRestarts)
}

func deliveredAll(b *bridged, want []string) bool {
	got := map[string]bool{}
	for _, d := range b.recv.deliveries() {
		got[d.ID] = true
	}
	for _, id := range want {
		if !got[id] {
			return false
		}
	}
	return true
}

func contained(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// checkFlat compares the last sample (after the load, settled) with the warmed-up early samples: resident memory
// may grow by half plus 16 MiB (the Go heap settles in steps and returns memory lazily), goroutines by 25.
func checkFlat(t *testing.T, name string, s []procUsage) {
	t.Helper()
	if len(s) < 4 {
		t.Fatalf("%s: only %d samples", name, len(s))
	}
	last := s[len(s)-1]
	// Warm: the samples of the second fifth of the run (the first holds start-up).
	warm := s[len(s)/5 : max(len(s)/5+1, 2*len(s)/5)]
	rss, gor := 0, 0.0
	for _, u := range warm {
		rss = max(rss, u.rssKB)
		gor = max(gor, u.goroutines)
	}
	var line []string
	for _, u := range s {
		line = append(line, fmt.Sprintf("%.0fs:%dMB/%v", u.at.Seconds(), u.rssKB>>10, u.goroutines))
	}
	t.Logf("%s usage (rss/goroutines): %s", name, strings.Join(line, " "))
	if last.rssKB > rss*3/2+16<<10 {
		t.Errorf("%s: resident memory grew from %d kB to %d kB", name, rss, last.rssKB)
	}
	if last.goroutines > gor+25 {
		t.Errorf("%s: goroutines grew from %v to %v", name, gor, last.goroutines)
	}
}
