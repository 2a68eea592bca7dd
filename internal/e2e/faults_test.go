package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestRedisOutage stops BBB's Redis while messages flow both ways: sends in the outage get 503 at once, relay
// resubscribes by itself and logs and counts the gap, and everything said before and after is delivered.
func TestRedisOutage(t *testing.T) {
	e := newEnv(t, "2.7")
	b := e.bridgedMeeting("redis-outage")
	want := e.say(b, 5, "before")
	for i := range 5 {
		expect(t, e.send(b.m.IntID, "Viewer", fmt.Sprintf("api before %d", i)), 200, "sent")
	}
	waitDelivered(t, b, want, 10*time.Second)

	e.redis.Stop()
	start := time.Now()
	expect(t, e.send(b.m.IntID, "Viewer", "in the outage"), 503, "BBB's Redis is unreachable")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the 503 took %s", d)
	}
	testenv.Eventually(t, 10*time.Second, "relay reports Redis missing", func() bool {
		return metricsAt(e.relayURL + "/metrics")["bbbchat_relay_redis_subscribed"] == 0
	})
	time.Sleep(500 * time.Millisecond) // time itself: the outage lasts a moment
	e.redis.Start()

	testenv.WaitHTTP(t, e.relayURL+"/readyz", 20*time.Second)
	mt := metricsAt(e.relayURL + "/metrics")
	if mt["bbbchat_relay_redis_gaps_total"] < 1 || mt["bbbchat_relay_redis_reconnects_total"] < 1 {
		t.Errorf("gap not counted: gaps %v reconnects %v", mt["bbbchat_relay_redis_gaps_total"], mt["bbbchat_relay_redis_reconnects_total"])
	}
	if !strings.Contains(e.relay.Output(), "redis subscription gap") {
		t.Error("gap not logged")
	}
	// The simulator (BBB) resubscribes by itself too; until then ingress says nobody listens.
	testenv.Eventually(t, 20*time.Second, "ingress sends again", func() bool {
		return e.send(b.m.IntID, "Viewer", "after the outage").Status == 200
	})
	want = append(want, e.say(b, 5, "after")...)
	waitDelivered(t, b, want, 10*time.Second)
	chat := e.sim.Chat(b.m.IntID)
	api := 0
	for _, c := range chat {
		if c.SenderID == b.chatUID {
			api++
		}
	}
	if api != 6 {
		t.Errorf("%d API posts reached the chat, want 6 (5 before, 1 after; none in the outage)", api)
	}
}

// TestNATSOutage stops NATS while messages flow: ingress answers 503 at once, relay keeps BBB's events and
// publishes them when NATS is back, and every one is delivered, in order.
func TestNATSOutage(t *testing.T) {
	e := newEnv(t, "2.7")
	_, api := e.startIngressWith(nil)
	b := e.bridgedMeeting("nats-outage")
	want := e.say(b, 3, "before")
	expect(t, api.send(b.m.IntID, "Viewer", "api before"), 200, "sent")
	waitDelivered(t, b, want, 10*time.Second)

	e.nats.Stop()
	testenv.Eventually(t, 10*time.Second, "relay sees NATS gone", func() bool {
		return metricsAt(e.relayURL + "/metrics")["bbbchat_relay_nats_connected"] == 0
	})
	// Once ingress knows NATS is gone (its /readyz says so), calls get their 503 at once; a call racing with
	// that discovery waits for its request timeout instead.
	testenv.Eventually(t, 10*time.Second, "ingress sees NATS gone", func() bool {
		resp, err := http.Get(api.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	start := time.Now()
	expect(t, api.send(b.m.IntID, "Viewer", "in the outage"), 503, "NATS is unreachable")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the 503 took %s; want it at once", d)
	}
	resp, err := http.Get(api.url + "/readyz")
	if err != nil || resp.StatusCode != 503 {
		t.Errorf("readyz during the outage: %v %v", resp, err)
	}
	resp.Body.Close()
	want = append(want, e.say(b, 5, "during")...) // BBB goes on; relay keeps these

	time.Sleep(time.Second) // time itself: the outage lasts a moment
	e.nats.Start()
	testenv.Eventually(t, 20*time.Second, "ingress recovers", func() bool {
		return api.send(b.m.IntID, "Viewer", "after").Status == 200
	})
	want = append(want, e.say(b, 3, "after")...)
	if n := waitDelivered(t, b, want, 30*time.Second); n > 0 {
		t.Logf("%d callbacks were sent again after the NATS restart (same webhook-id)", n)
	}
	mt := metricsAt(e.relayURL + "/metrics")
	if mt["bbbchat_relay_nats_disconnects_total"] < 1 {
		t.Errorf("disconnect not counted")
	}
	for _, k := range []string{"bbbchat_relay_events_dropped_total", "bbbchat_relay_publish_lost_total"} {
		if mt[k] != 0 {
			t.Errorf("%s = %v", k, mt[k])
		}
	}
	im := metricsAt(api.metricsURL)
	if im[`bbbchat_nats_connection_events_total{event="disconnect"}`] < 1 || im[`bbbchat_nats_connection_events_total{event="reconnect"}`] < 1 {
		t.Errorf("ingress did not count the outage: %v", im)
	}
}

// TestKillLoop kills relay or ingress with SIGKILL at random moments under load, ten times (three with -short),
// with two relays on the same Redis and NATS (one relay alone cannot hear what BBB says while it is down: Redis
// keeps nothing); the schedule's seed is logged (testenv.Seed). Every bridge registered is still there, every API
// call answered 200 reached BBB, and every message BBB broadcast is delivered at least once, in order, with no
// gaps; a repeat carries the same webhook-id.
func TestKillLoop(t *testing.T) {
	e := newEnv(t, "2.7")
	relayB, _ := e.startRelayWith(nil)
	var meetings []*bridged
	for i := range 3 {
		meetings = append(meetings, e.bridgedMeeting(fmt.Sprintf("kill-%d", i)))
	}
	ingressURL := e.apiURL

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		said     = map[string][]string{} // meeting → ids, in order
		accepted []string                // API messages answered 200
		started  []string                // bridges answered 200
	)
	for _, b := range meetings {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				msg, err := e.sim.Say(context.Background(), b.m.IntID, b.talker, fmt.Sprintf("talk %d", i))
				if err != nil {
					t.Errorf("say: %v", err)
					return
				}
				mu.Lock()
				said[b.m.IntID] = append(said[b.m.IntID], msg.ID)
				mu.Unlock()
				time.Sleep(15 * time.Millisecond)
			}
		})
	}
	client := &http.Client{Timeout: 15 * time.Second}
	post := func(path string, body []byte) int {
		resp, err := client.Post(ingressURL+path, "", strings.NewReader(string(body)))
		if err != nil {
			return 0 // ingress is down: not accepted
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			b := meetings[i%len(meetings)]
			text := fmt.Sprintf("api %d", i)
			body := sign(callSend, strs("user_name", "Viewer", "message", text, "nonce", fmt.Sprint(i)), e.secret, time.Now().Unix())
			if post("/api/sendChatMessage/"+b.m.IntID, body) == 200 {
				mu.Lock()
				accepted = append(accepted, b.m.IntID+"|Viewer: "+text)
				mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			id := fmt.Sprintf("registered-%d", i)
			body := sign(callStart, strs("meeting_id", id, "chat_user", "u"), e.secret, time.Now().Unix())
			if post("/api/startChatForMeeting", body) == 200 {
				mu.Lock()
				started = append(started, id)
				mu.Unlock()
			}
			time.Sleep(150 * time.Millisecond)
		}
	})

	rng := rand.New(rand.NewPCG(testenv.Seed(t), 1))
	kills := map[string]int{}
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	for range rounds {
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		switch victim := []string{"relay A", "relay B", "ingress"}[rng.IntN(3)]; victim {
		case "relay A":
			e.relay.Kill()
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			e.startRelay()
			kills[victim]++
		case "relay B":
			relayB.Kill()
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			relayB, _ = e.startRelayWith(nil)
			kills[victim]++
		case "ingress":
			e.ingress.Kill()
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			e.startIngress()
			kills[victim]++
		}
	}
	time.Sleep(300 * time.Millisecond) // time itself: load goes on a moment after the last kill
	stop.Store(true)
	wg.Wait()
	t.Logf("kills: %v; said %d/%d/%d, API posts accepted %d, bridges started %d", kills,
		len(said[meetings[0].m.IntID]), len(said[meetings[1].m.IntID]), len(said[meetings[2].m.IntID]), len(accepted), len(started))

	for _, b := range meetings {
		n := waitDelivered(t, b, said[b.m.IntID], 60*time.Second)
		t.Logf("%s: %d delivered, %d repeats", b.m.ExtID, len(said[b.m.IntID]), n)
	}
	inChat := map[string]bool{}
	for _, b := range meetings {
		for _, c := range e.sim.Chat(b.m.IntID) {
			if c.SenderID == b.chatUID {
				inChat[b.m.IntID+"|"+c.Message] = true
			}
		}
	}
	for _, a := range accepted {
		if !inChat[a] {
			t.Errorf("accepted API post %q is not in BBB's chat", a)
		}
	}
	ctx := t.Context()
	for _, id := range append(started, meetings[0].m.IntID, meetings[1].m.IntID, meetings[2].m.IntID) {
		if _, err := e.store.GetBridge(ctx, id); err != nil {
			t.Errorf("bridge %s: %v", id, err)
		}
	}
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Errorf("BBB dropped: %+v", d)
	}
}
