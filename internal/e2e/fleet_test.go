package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// clusterEnv is what a BBB server of a fleet runs with: the three-node cluster's URLs, replicas 3, its server id.
func clusterEnv(url, server string) map[string]string {
	return map[string]string{"BBB_CHAT_NATS_URL": url, "BBB_CHAT_NATS_REPLICAS": "3", "BBB_CHAT_SERVER_ID": server}
}

// TestReplicasBootRace: BBB_CHAT_NATS_REPLICAS=3 with relay's default BBB_CHAT_NATS_EMBEDDED=true, and relay up
// before the cluster (a boot race). Relay must not start its embedded server on the first node's address: that
// single server could hold no bucket with 3 replicas, would keep the node out, and every API call would answer 503.
// It waits for the cluster instead, and once the nodes are up a chat starts.
func TestReplicasBootRace(t *testing.T) {
	nodes := testenv.NATSCluster(t)
	url := testenv.NATSClusterURL(nodes)
	e := newEnvOn(t, "3.0", true, nodes[0], clusterEnv(url, "bbb-a"))
	e.relay.Kill()
	e.ingress.Kill()
	for _, n := range nodes {
		n.Stop()
	}
	m := e.commonEnv()
	m["BBB_CHAT_NATS_EMBEDDED"] = "true"
	m["BBB_CHAT_NATS_STORE"] = t.TempDir()
	m["BBB_CHAT_RELAY_LISTEN"] = strings.TrimPrefix(e.relayURL, "http://")
	relay := testenv.StartProc(t, e.relayBin, m)
	testenv.Eventually(t, 10*time.Second, "relay says it waits for the cluster", func() bool {
		return strings.Contains(relay.Output(), "not starting the embedded NATS server")
	})
	for _, n := range nodes {
		n.Start()
	}
	testenv.WaitHTTP(t, e.relayURL+"/readyz", 30*time.Second)
	e.startIngress()
	mt := e.meeting("boot-race", "Boot race")
	r := newReceiver(t)
	expect(t, e.call(callStart, "meeting_id", mt.IntID, "chat_user", "Bridge", "callback_uri", r.URL(),
		"callback_secret", "cb-boot"), 200, "started")
	if strings.Contains(relay.Output(), "started the embedded NATS") {
		t.Fatalf("relay embedded a server:\n%s", relay.Output())
	}
}

// TestReplicasOnOneServer: BBB_CHAT_NATS_REPLICAS=3 on a single nats-server. NATS answers but refuses every bucket:
// ingress says that, not "NATS is unreachable", so the operator knows retrying will not help.
func TestReplicasOnOneServer(t *testing.T) {
	srv := testenv.NATS(t)
	rds := testenv.Redis(t)
	listen := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	env := hostFiles(t)
	for k, v := range map[string]string{
		"BBB_CHAT_REDIS_URL": testenv.RedisURL(rds), "BBB_CHAT_NATS_URL": testenv.NATSURL(srv),
		"BBB_CHAT_NATS_REPLICAS": "3", "BBB_CHAT_LISTEN": listen, "BBB_CHAT_BBB_VERSION": "3.0",
		"BBB_CHAT_METRICS_LISTEN": "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), "BBB_CHAT_SHARED_SECRET": testSecret,
	} {
		env[k] = v
	}
	p := testenv.StartProc(t, testenv.Build(t, "./ingress", "ingress"), env)
	testenv.WaitTCP(t, listen, 20*time.Second)
	testenv.Eventually(t, 20*time.Second, "ingress tried to open the state", func() bool {
		return strings.Contains(p.Output(), "cannot open state")
	})
	c := apiClient{t: t, url: "http://" + listen, secret: testSecret}
	a := c.call(callStart, "meeting_id", "m1", "chat_user", "Bridge")
	expect(t, a, 503, "BBB_CHAT_NATS_REPLICAS")
	if !strings.Contains(p.Output(), "needs a NATS cluster of at least 3") {
		t.Errorf("ingress's log does not say what to change:\n%s", p.Output())
	}
}

// TestFleet: two BBB servers of different versions, each with its Redis, relay and ingress, on one three-node NATS
// cluster with replicas 3. A subscriber of bbbchat.> sees both servers' chat, each event naming its server. A call
// reaching server A's ingress for a meeting on server B is carried out on B (B's chat shows the post, B's presence
// answers getChatInfo) with the answer B gives, and so is a viewer's post on a page served by A. Under load on both servers the stream's leader node is killed
// (-9): no callback is lost or out of order, the API answers throughout, and the node comes back and catches up.
// B's relay stopped for good loses no callback of B's meeting; B's Redis down leaves A's chat going. With B's
// ingress gone, a call to A for B's meeting gets the usual 404.
func TestFleet(t *testing.T) {
	nodes := testenv.NATSCluster(t)
	url := testenv.NATSClusterURL(nodes)
	a := newEnvOn(t, "3.0", true, nodes[0], clusterEnv(url, "bbb-a"))
	b := newEnvOn(t, "2.7", true, nodes[0], clusterEnv(url, "bbb-b"))
	ctx := t.Context()
	if out := b.relay.Output(); !strings.Contains(out, "joined a fleet") || strings.Contains(out, "level=WARN") {
		t.Errorf("B's relay does not say it joined a fleet, or warns:\n%s", out)
	}

	// A subscriber of the whole fleet's chat.
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var mu sync.Mutex
	servers := map[string]string{} // meeting → server of its message events
	if _, err := nc.Subscribe(state.SubjectRoot+".>", func(m *nats.Msg) {
		var ev state.Event
		if state.DecodeEvent(m.Data, &ev) == nil && ev.Type == state.TypeMessage {
			mu.Lock()
			servers[ev.MeetingID] = ev.Server
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	onA := a.bridgedMeeting("fleet-a")
	// B's meeting, its chat started through A.
	mb := b.meeting("ext-fleet-b", "Fleet B")
	onB := &bridged{m: mb, recv: newReceiver(t)}
	ans := a.call(callStart, "meeting_id", mb.IntID, "chat_user", "Bridge", "callback_uri", onB.recv.URL(),
		"callback_secret", "cb-fleet-b")
	expect(t, ans, 200, "started")
	if ans.Body["meeting_known"] != true {
		t.Fatalf("B's meeting not known where the call was carried out: %s", ans.Raw)
	}
	if onB.chatUID, err = b.sim.Join(ctx, mb.IntID, "Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	if onB.talker, err = b.sim.Join(ctx, mb.IntID, "Talker B", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	b.waitPresent(mb.IntID, "Bridge", true)
	// Presence is B's own: only B's ingress can see the chat user.
	info := a.call(callInfo, "meeting_id", mb.IntID)
	expect(t, info, 200, "")
	if info.Body["chat_user_present"] != true {
		t.Fatalf("getChatInfo through A for B's meeting: %s", info.Raw)
	}
	expect(t, a.send(mb.IntID, "Ann", "via A"), 200, "sent")
	if got := b.waitChat(mb.IntID, 1)[0].Message; got != "Ann: via A" {
		t.Fatalf("B's chat got %q", got)
	}
	if d := b.sim.Dropped(); len(d) != 0 {
		t.Fatalf("B's BBB dropped: %+v", d)
	}
	// The other way round, and a second chat for B's meeting is refused as B refuses it.
	expect(t, b.send(onA.m.IntID, "Bob", "via B"), 200, "sent")
	a.waitChat(onA.m.IntID, 1)
	expect(t, a.call(callStart, "meeting_id", mb.IntID, "chat_user", "Bridge"), 409, "already registered")

	// A viewer page opened on an ingress of A that shares B's secret (one public address for the fleet): its post
	// for B's meeting is carried out on B, and B's BBB shows it. (Its calls may take 3 s: it shows, at the end,
	// that without a quorum a call answers 503 once that time is spent.)
	_, a2 := a.startIngressWith(map[string]string{"BBB_CHAT_SHARED_SECRET": b.secret, "BBB_CHAT_REQUEST_TIMEOUT": "3s"})
	link := b.viewerLink(mb.IntID, true, 0)
	expect(t, link, 200, "")
	token, _ := link.Body["token"].(string)
	if status, ans, _ := viewerPost(t, a2.url+"/chat/"+token+"/messages", "Vera", "from the page on A"); status != 200 {
		t.Fatalf("viewer post on A for B's meeting: %d %v", status, ans)
	}
	testenv.Eventually(t, 10*time.Second, "B's chat shows the viewer's post", func() bool {
		for _, m := range b.sim.Chat(mb.IntID) {
			if strings.Contains(m.Message, "from the page on A") {
				return true
			}
		}
		return false
	})

	// Both servers' chat reaches the subscriber, each event naming its server.
	wantA, wantB := a.say(onA, 1, "hello a"), b.say(onB, 1, "hello b")
	testenv.Eventually(t, 10*time.Second, "the subscriber sees both servers' messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return servers[onA.m.IntID] == "bbb-a" && servers[mb.IntID] == "bbb-b"
	})

	// Load on both servers, 1,000 messages/s in all; the stream's leader node is killed (-9) halfway.
	n := fleetLoad(t)
	leader := streamLeader(t, a)
	var victim *testenv.Server
	for _, node := range nodes {
		if node.Name == "nats-"+leader {
			victim = node
		}
	}
	if victim == nil {
		t.Fatalf("stream leader %q is none of the nodes", leader)
	}
	loadA, loadB := talk(ctx, a, onA, n), talk(ctx, b, onB, n)
	halfway := time.Now().Add(time.Duration(n/2) * time.Second / fleetRate)
	for time.Now().Before(halfway) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("killing %s, the events stream's leader, under load", victim.Name)
	victim.Stop()
	killed := time.Now()

	// With two nodes of three the API answers every call, here and forwarded both ways: the stream, buckets and
	// consumers whose leader died elect another (nats-server notices after 4 to 9 s), and ingress waits that out
	// within the call's deadline. Three callers go on until the load is over and the stream has a leader again.
	type outageCall struct {
		after, took time.Duration // from the kill to the call; the call's
		status      int
		raw         string
	}
	callers := []struct {
		what string
		c    apiClient
		call string
		kv   []string
	}{
		{"getChatInfo on A", a.api(), callInfo, []string{"meeting_id", onA.m.IntID}},
		{"getChatInfo through A for B", a.api(), callInfo, []string{"meeting_id", mb.IntID}},
		{"sendChatMessage through B for A", b.api(), callSend, []string{"user_name", "Bob", "message", "during the outage", onA.m.IntID}},
	}
	stop := make(chan struct{})
	results := make([][]outageCall, len(callers))
	var wg sync.WaitGroup
	for i, c := range callers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				began := time.Now()
				status, raw := tryCall(c.c, c.call, c.kv...)
				results[i] = append(results[i], outageCall{after: began.Sub(killed), took: time.Since(began), status: status, raw: raw})
			}
		})
	}
	sa, sb := <-loadA, <-loadB
	testenv.Eventually(t, 30*time.Second, "the events stream has a leader again", func() bool {
		return newLeader(a, victim.Name)
	})
	elected := time.Since(killed)
	close(stop)
	wg.Wait()
	sent := 0
	for i, rs := range results {
		var slowest outageCall
		waited := 0 // calls that took more than a second: they met an election
		for _, r := range rs {
			if r.took > time.Second {
				waited++
			}
			if r.status != 200 {
				t.Errorf("%s %s after the kill, with two nodes of three: %d %s (in %s)", callers[i].what,
					r.after.Round(100*time.Millisecond), r.status, r.raw, r.took.Round(time.Millisecond))
			}
			if r.took > slowest.took {
				slowest = r
			}
		}
		if callers[i].call == callSend {
			sent = len(rs)
		}
		t.Logf("%s: %d calls during the outage, %d of them slower than 1 s; the slowest, %s after the kill, in %s",
			callers[i].what, len(rs), waited, slowest.after.Round(100*time.Millisecond), slowest.took.Round(time.Millisecond))
	}
	t.Logf("the events stream led again %s after the kill", elected.Round(100*time.Millisecond))
	if t.Failed() {
		t.FailNow()
	}
	for _, s := range []said{sa, sb} {
		if s.err != nil {
			t.Fatalf("saying: %v", s.err)
		}
		t.Logf("said %d messages on %s in %s: %.0f/s (%d/s asked)", len(s.ids), s.server,
			s.took.Round(time.Millisecond), float64(len(s.ids))/s.took.Seconds(), fleetRate)
	}
	victim.Start()
	waitDelivered(t, onA, append(wantA, sa.ids...), 90*time.Second)
	waitDelivered(t, onB, append(wantB, sb.ids...), 90*time.Second)
	testenv.Eventually(t, 30*time.Second, "A's chat shows the posts made during the outage", func() bool {
		got := 0
		for _, m := range a.sim.Chat(onA.m.IntID) {
			if strings.Contains(m.Message, "during the outage") {
				got++
			}
		}
		return got == sent
	})
	testenv.Eventually(t, 30*time.Second, victim.Name+" back and current in the stream", func() bool {
		info, err := a.events().Info(context.Background())
		if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	})

	// B's relay leaves the fleet for good while a callback of B's meeting is in flight: A's relay delivers it
	// (again, if B's relay had it) and the rest, in order.
	release := make(chan struct{})
	tried := onB.recv.attempts()
	onB.recv.setAnswer(func(*http.Request) int { <-release; return http.StatusNoContent })
	before := b.streamCount(mb.IntID, state.TypeMessage)
	leaving := b.say(onB, 3, "leaving")
	testenv.Eventually(t, 10*time.Second, "B's messages stored and one in flight", func() bool {
		return b.streamCount(mb.IntID, state.TypeMessage) >= before+3 && onB.recv.attempts() > tried
	})
	b.relay.Kill()
	onB.recv.setAnswer(nil)
	close(release)
	waitDelivered(t, onB, append(append(wantB, sb.ids...), leaving...), 30*time.Second)

	// B's Redis down: A's chat goes on, and a post through A for B's meeting gets B's answer.
	b.redis.Stop()
	still := a.say(onA, 3, "still here")
	waitDelivered(t, onA, append(append(wantA, sa.ids...), still...), 20*time.Second)
	expect(t, a.send(mb.IntID, "Ann", "B's Redis is down"), 503, "Redis is unreachable")

	// No live ingress on B: its meeting is on no live server. (Once nats-server has seen B's ingress go: a call
	// forwarded in the instant it dies is lost with it, and answers 503 when its time is spent.)
	b.ingress.Kill()
	testenv.Eventually(t, 10*time.Second, "nats-server drops B's ingress", func() bool {
		_, err := nc.Request("_bbbchat.api.bbb-b", nil, time.Second)
		return errors.Is(err, nats.ErrNoResponders)
	})
	expect(t, a.send(mb.IntID, "Ann", "nobody there"), 404, "Chat was not found")
	expect(t, a.call(callInfo, "meeting_id", onA.m.IntID), 200, "")

	// Two nodes of three down: no quorum, nothing can be stored. A call answers 503 with the usual JSON error once
	// its time (BBB_CHAT_REQUEST_TIMEOUT, 3 s on A's second ingress) is spent, and 200 again once a second node is
	// back.
	for _, node := range nodes[:2] {
		node.Stop()
	}
	began := time.Now()
	ans = a2.call(callInfo, "meeting_id", onA.m.IntID)
	took := time.Since(began)
	expect(t, ans, 503, "NATS is unreachable; try again")
	if took > 5*time.Second {
		t.Fatalf("without a quorum the 503 took %s, with BBB_CHAT_REQUEST_TIMEOUT=3s", took)
	}
	t.Logf("without a quorum: 503 in %s", took.Round(time.Millisecond))
	nodes[0].Start()
	back := time.Now()
	testenv.Eventually(t, 60*time.Second, "getChatInfo on A answers 200 with two nodes again", func() bool {
		ans := a2.call(callInfo, "meeting_id", onA.m.IntID)
		if ans.Status != 200 && ans.Status != 503 {
			t.Fatalf("getChatInfo with a node coming back: %d %s", ans.Status, ans.Raw)
		}
		return ans.Status == 200
	})
	t.Logf("200 again %s after a second node is back", time.Since(back).Round(100*time.Millisecond))
}

// fleetRate is the load TestFleet puts on each of its two servers, in messages/s: 1,000/s in all.
const fleetRate = 500

// fleetLoad is how many messages TestFleet says on each server: BBB_CHAT_FLEET_MESSAGES for a longer run by hand,
// else 3,000 (6 s of load, the kill after 3 s); 1,000 with -short.
func fleetLoad(t *testing.T) int {
	if v := os.Getenv("BBB_CHAT_FLEET_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("BBB_CHAT_FLEET_MESSAGES=%q: want a number of at least 100", v)
		}
		return n
	}
	if testing.Short() {
		return 1000
	}
	return 3000
}

// said is what was said on one server: the ids of its messages in the order BBB took them, and how long it took.
type said struct {
	server string
	ids    []string
	took   time.Duration
	err    error
}

// fleetTalkers is how many goroutines say TestFleet's messages on each server: one alone, whose Say waits for its
// Redis round trip, falls behind 500/s under -race on a busy machine.
const fleetTalkers = 4

// talk has br's talker say n messages on e's BBB at fleetRate, message i at its due time (late ones at once, so a
// slow moment does not lower the rate), from fleetTalkers goroutines, and sends what was said when done. The order
// BBB took them in is its chat's.
func talk(ctx context.Context, e *env, br *bridged, n int) <-chan said {
	out := make(chan said, 1)
	go func() {
		s := said{server: "BBB " + e.version}
		var mu sync.Mutex
		ids := map[string]bool{}
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range fleetTalkers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					if wait := time.Until(start.Add(time.Duration(i) * time.Second / fleetRate)); wait > 0 {
						time.Sleep(wait)
					}
					msg, err := e.sim.Say(ctx, br.m.IntID, br.talker, fmt.Sprintf("load %d", i))
					mu.Lock()
					if err != nil && s.err == nil {
						s.err = err
					}
					ids[msg.ID] = err == nil
					mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		s.took = time.Since(start)
		for _, m := range e.sim.Chat(br.m.IntID) {
			if ids[m.ID] {
				s.ids = append(s.ids, m.ID)
			}
		}
		if s.err == nil && len(s.ids) != n {
			s.err = fmt.Errorf("%d messages said, %d in BBB's chat", n, len(s.ids))
		}
		out <- s
	}()
	return out
}

// tryCall is apiClient.call for a goroutine of its own: the status and body of the answer, 0 and the error when
// there was none.
func tryCall(c apiClient, call string, kv ...string) (int, string) {
	path := "/api/" + call
	if call == callSend {
		path += "/" + kv[len(kv)-1]
		kv = kv[:len(kv)-1]
	}
	kv = append(kv, "nonce", strconv.FormatInt(time.Now().UnixNano(), 10))
	resp, err := http.Post(c.url+path, "", bytes.NewReader(sign(call, strs(kv...), c.secret, time.Now().Unix())))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// newLeader reports whether the events stream has a leader other than the node named dead.
func newLeader(e *env, dead string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := e.js.Stream(ctx, state.StreamEvents)
	if err != nil {
		return false
	}
	info, err := st.Info(ctx)
	return err == nil && info.Cluster != nil && info.Cluster.Leader != "" && "nats-"+info.Cluster.Leader != dead
}

// streamLeader is the node leading the events stream (its server name).
func streamLeader(t *testing.T, e *env) string {
	t.Helper()
	info, err := e.events().Info(t.Context())
	if err != nil || info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("events stream has no leader: %+v, %v", info, err)
	}
	return info.Cluster.Leader
}
