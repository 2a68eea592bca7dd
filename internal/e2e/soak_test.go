package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go/jetstream"
)

// soakDuration is how long TestSoak loads the system: BBB_CHAT_SOAK (e.g. "5m") for a long run by hand, else 20s
// (10s with -short: one Redis and one NATS restart).
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("BBB_CHAT_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("BBB_CHAT_SOAK=%q: want a duration of at least 10s", v)
		}
		return d
	}
	if testing.Short() {
		return 10 * time.Second
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
	rng := rand.New(rand.NewPCG(testenv.Seed(t), 2))
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
		stop       atomic.Bool
		talk       sync.RWMutex // held for writing while BBB's Redis is restarted
		wg         sync.WaitGroup
		mu         sync.Mutex
		said       = map[string][]string{}
		accepted   []string
		statuses   = map[int]int{}
		otherErrs  []string
		sayTimes   = map[string][2]time.Time{}
		acceptedAt []time.Time
		faultLog   []string
	)
	for _, b := range meetings {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				// BBB talks only while its Redis is up and relay listens (see the Redis fault below).
				talk.RLock()
				before := time.Now()
				msg, err := e.sim.Say(context.Background(), b.m.IntID, b.talker, fmt.Sprintf("soak %d", i))
				talk.RUnlock()
				if err == nil {
					mu.Lock()
					said[b.m.IntID] = append(said[b.m.IntID], msg.ID)
					sayTimes[msg.ID] = [2]time.Time{before, time.Now()}
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
			// Like BBB's own messages, posts are held while Redis is restarted: a PUBLISH that Redis answered
			// can still be lost with Redis if it is killed before it wrote the message to BBB's connection.
			talk.RLock()
			status := post("/api/sendChatMessage/"+b.m.IntID, sign(callSend, strs("user_name", "Viewer", "message", text, "nonce", fmt.Sprint(i)), e.secret, time.Now().Unix()))
			talk.RUnlock()
			mu.Lock()
			statuses[status]++
			if status == 200 {
				accepted = append(accepted, b.m.IntID+"|Viewer: "+text)
				acceptedAt = append(acceptedAt, time.Now())
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
				// A NATS or Redis restart between start and end answers 503 ("try again"): try again, as a client
				// would, until the chat is ended.
				for try := 0; ; try++ {
					s := post("/api/endChatForMeeting", sign(callEnd, strs("meeting_id", id, "try", fmt.Sprint(try)), e.secret, time.Now().Unix()))
					if s == 200 {
						break
					}
					if (s == 503 || s == 0) && try < 150 {
						time.Sleep(200 * time.Millisecond)
						continue
					}
					mu.Lock()
					otherErrs = append(otherErrs, fmt.Sprintf("end %s: %d", id, s))
					mu.Unlock()
					break
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
		rr, ri := vmRSS(e.relay.Pid()), vmRSS(ing.Pid())
		if rr == 0 || ri == 0 {
			return // a process is gone: the test has failed already
		}
		r := procUsage{at: time.Since(start), rssKB: rr, goroutines: metricsAt(e.relayURL + "/metrics")["bbbchat_goroutines"]}
		i := procUsage{at: time.Since(start), rssKB: ri, goroutines: metricsAt(api.metricsURL)["bbbchat_goroutines"]}
		samples.Lock()
		samples.relay = append(samples.relay, r)
		samples.ingress = append(samples.ingress, i)
		samples.Unlock()
	}
	sampling := make(chan struct{})
	var stopSampling atomic.Bool
	go func() {
		defer close(sampling)
		for !stopSampling.Load() {
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
			// it talks (Redis keeps nothing for an absent subscriber; relay counts such gaps). Taking the lock
			// waits for messages being said: go-redis would otherwise retry their PUBLISH on the restarted Redis,
			// into the gap.
			talk.Lock()
			// And what was said must have reached relay before Redis dies: a message Redis accepted but had not
			// yet written to relay's socket dies with Redis, which no subscriber can help.
			received := func() float64 {
				return metricsAt(e.relayURL + "/metrics")[`bbbchat_relay_redis_events_total{name="GroupChatMessageBroadcastEvtMsg"}`]
			}
			last := received()
			testenv.Eventually(t, 10*time.Second, "relay has received what was said", func() bool {
				now := received()
				settled := now == last
				last = now
				return settled
			})
			faultLog = append(faultLog, "redis stop "+time.Now().Format("15:04:05.000"))
			e.redis.Stop()
			time.Sleep(500 * time.Millisecond) // time itself: the outage lasts a moment
			e.redis.Start()
			faultLog = append(faultLog, "redis start "+time.Now().Format("15:04:05.000"))
			testenv.Eventually(t, 20*time.Second, "relay resubscribed", func() bool {
				return metricsAt(e.relayURL + "/metrics")["bbbchat_relay_redis_subscribed"] == 1
			})
			talk.Unlock()
			faultLog = append(faultLog, "talk again "+time.Now().Format("15:04:05.000"))
			redisRestarts++
		} else {
			faultLog = append(faultLog, "nats stop "+time.Now().Format("15:04:05.000"))
			e.nats.Stop()
			time.Sleep(time.Second) // time itself: the outage lasts a moment
			e.nats.Start()
			faultLog = append(faultLog, "nats start "+time.Now().Format("15:04:05.000"))
			natsRestarts++
		}
	}
	time.Sleep(time.Until(start.Add(duration)))
	stop.Store(true)
	wg.Wait()
	loadEnd := time.Since(start)

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
				e.reportMissing(b, want, faultLog, sayTimes)
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
	for i, a := range accepted {
		if !inChat[a] {
			lost++
			t.Errorf("accepted API post %q (answered at %s) did not reach BBB", a, acceptedAt[i].Format("15:04:05.000"))
		}
	}
	if lost > 0 {
		t.Errorf("%d accepted API posts did not reach BBB; faults %v; BBB dropped %+v", lost, faultLog, e.sim.Dropped())
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

	// Settle, then the final sample against the early ones (time itself: memory is measured after a quiet spell).
	time.Sleep(3 * time.Second)
	stopSampling.Store(true)
	<-sampling
	sample()
	samples.Lock()
	defer samples.Unlock()
	checkFlat(t, "relay", samples.relay, loadEnd)
	checkFlat(t, "ingress", samples.ingress, loadEnd)
	t.Logf("soak %s: %d messages said, all delivered (%d repeats, %d sent again by retryCallbacks); %d API posts accepted, %d lost; statuses %v; %d Redis and %d NATS restarts",
		duration, total, repeats, retried, len(accepted), lost, statuses, redisRestarts, natsRestarts)
}

// reportMissing logs, for each message said but not delivered, when it was said and whether the events stream has
// it, with the faults' times and relay's counters: enough to tell a loss before the stream from one after it.
func (e *env) reportMissing(b *bridged, want []string, faults []string, said map[string][2]time.Time) {
	e.t.Helper()
	got := map[string]bool{}
	for _, d := range b.recv.deliveries() {
		got[d.ID] = true
	}
	inStream := map[string]uint64{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := e.events().OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{state.EventSubject(b.m.IntID, state.TypeMessage), state.RetrySubject(b.m.IntID)}})
	if err == nil {
		for {
			batch, err := c.FetchNoWait(500)
			if err != nil {
				break
			}
			n := 0
			for m := range batch.Messages() {
				n++
				var ev state.Event
				json.Unmarshal(m.Data(), &ev)
				md, _ := m.Metadata()
				if md != nil {
					inStream[ev.ID] = md.Sequence.Stream
				}
			}
			if n == 0 {
				break
			}
		}
	}
	var missing []string
	for _, id := range want {
		if !got[id] {
			missing = append(missing, fmt.Sprintf("%s (said %s–%s, stream seq %d)", id, said[id][0].Format("15:04:05.000"),
				said[id][1].Format("15:04:05.000"), inStream[id]))
		}
	}
	failed, _ := e.store.Failed(ctx, b.m.IntID)
	pending, _ := e.pending(ctx, b.m.IntID)
	e.t.Logf("%s: %d missing: %v; %d in the stream; %d failed kept, %d pending; faults %v; relay %v", b.m.ExtID,
		len(missing), missing, len(inStream), len(failed), pending, faults, metricsAt(e.relayURL+"/metrics"))
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

// checkFlat checks that a process's usage stayed flat under load: the late samples of the load (its last fifth)
// against the warmed-up early ones (its second fifth; the first holds start-up). Resident memory may grow by half
// plus 16 MiB (the Go heap settles in steps and gives memory back lazily), goroutines by 25. After the load, the
// drain delivers the backlog as fast as it can, which briefly takes more memory (and RSS shrinks only slowly): the
// settled last sample may have at most four times the warm memory, and no more goroutines than under load.
func checkFlat(t *testing.T, name string, s []procUsage, loadEnd time.Duration) {
	t.Helper()
	var load []procUsage
	for _, u := range s[:len(s)-1] {
		if u.at <= loadEnd {
			load = append(load, u)
		}
	}
	if len(load) < 5 {
		t.Fatalf("%s: only %d samples under load", name, len(load))
	}
	peak := func(us []procUsage) (int, float64) {
		rss, gor := 0, 0.0
		for _, u := range us {
			rss, gor = max(rss, u.rssKB), max(gor, u.goroutines)
		}
		return rss, gor
	}
	warmRSS, warmGor := peak(load[len(load)/5 : 2*len(load)/5])
	lateRSS, lateGor := peak(load[4*len(load)/5:])
	last := s[len(s)-1]
	var line []string
	for _, u := range s {
		line = append(line, fmt.Sprintf("%.0fs:%dMB/%v", u.at.Seconds(), u.rssKB>>10, u.goroutines))
	}
	t.Logf("%s usage (rss/goroutines): %s", name, strings.Join(line, " "))
	t.Logf("%s: warm %d kB/%v goroutines, late %d kB/%v, settled after the drain %d kB/%v", name, warmRSS, warmGor,
		lateRSS, lateGor, last.rssKB, last.goroutines)
	if lateRSS > warmRSS*3/2+16<<10 {
		t.Errorf("%s: resident memory grew under load from %d kB to %d kB", name, warmRSS, lateRSS)
	}
	if lateGor > warmGor+25 {
		t.Errorf("%s: goroutines grew under load from %v to %v", name, warmGor, lateGor)
	}
	if last.rssKB > 4*warmRSS {
		t.Errorf("%s: resident memory %d kB after the drain, from %d kB", name, last.rssKB, warmRSS)
	}
	if last.goroutines > warmGor+25 {
		t.Errorf("%s: %v goroutines after the drain, from %v", name, last.goroutines, warmGor)
	}
}
