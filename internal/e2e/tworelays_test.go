package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// newDefaultEnv is a BBB server with bbb-chat as installed by default: two relays, the first of which runs the
// embedded JetStream server (the second uses it, and takes it over when the first is gone), and ingress on it.
// It returns the env (whose relay is the first) and the second relay with its URL.
func newDefaultEnv(t *testing.T, version string) (*env, *testenv.Proc, string) {
	t.Helper()
	e := &env{t: t, version: version, secret: testSecret + "-" + version}
	e.releaseFile = filepath.Join(t.TempDir(), "bigbluebutton-release")
	if err := os.WriteFile(e.releaseFile, []byte("BIGBLUEBUTTON_RELEASE="+version+".3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.hostFiles = hostFiles(t)
	e.redis = testenv.Redis(t)
	e.rdb = redis.NewClient(&redis.Options{Addr: e.redis.Addr})
	t.Cleanup(func() { e.rdb.Close() })
	sim, err := bbbsim.Start(t.Context(), e.rdb, bbbsim.Options{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	e.sim = sim
	natsURL := "nats://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.extraEnv = map[string]string{
		"BBB_CHAT_NATS_URL":      natsURL,
		"BBB_CHAT_NATS_EMBEDDED": "true",
		"BBB_CHAT_NATS_STORE":    filepath.Join(t.TempDir(), "nats"),
	}
	e.ingressBin = testenv.Build(t, "./ingress", "ingress")
	e.relayBin = testenv.Build(t, "./relay", "relay")
	e.apiURL = "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.relayURL = "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.startRelay()
	second, secondURL := e.startRelayWith(nil)
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if e.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "state opened by relay", func() bool {
		_, err := e.js.Stream(t.Context(), state.StreamEvents)
		return err == nil
	})
	if e.store, err = state.Open(t.Context(), nc, state.Options{}); err != nil {
		t.Fatal(err)
	}
	e.startIngress()
	return e, second, secondURL
}

// gapEvents returns the gap events in the stream.
func (e *env) gapEvents() []state.Event {
	e.t.Helper()
	c, err := e.js.OrderedConsumer(e.t.Context(), state.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{state.SubjectGap}})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []state.Event
	for {
		msg, err := c.Next(jetstream.FetchMaxWait(300 * time.Millisecond))
		if err != nil {
			return out
		}
		var ev state.Event
		if err := state.DecodeEvent(msg.Data(), &ev); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
}

// notInStream returns the ids of a meeting's messages that are not in the stream (waiting a while for them).
func (e *env) notInStream(meetingID string, ids []string) []string {
	e.t.Helper()
	var missing []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		have := map[string]bool{}
		c, err := e.js.OrderedConsumer(e.t.Context(), state.StreamEvents, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{state.EventSubject(meetingID, state.TypeMessage)}})
		if err != nil {
			e.t.Fatal(err)
		}
		for {
			msg, err := c.Next(jetstream.FetchMaxWait(300 * time.Millisecond))
			if err != nil {
				break
			}
			var ev state.Event
			if state.DecodeEvent(msg.Data(), &ev) == nil {
				have[ev.ID] = true
			}
		}
		missing = missing[:0]
		for _, id := range ids {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitCaughtUp waits until the relay at url is ready and has no event waiting for the stream.
func (e *env) waitCaughtUp(url string) {
	e.t.Helper()
	testenv.Eventually(e.t, 30*time.Second, "relay "+url+" caught up", func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		m := metricsAt(url + "/metrics")
		q, ok := m["bbbchat_relay_publish_queue"]
		return resp.StatusCode == 200 && ok && q == 0
	})
}

// TestTwoRelaysKilledInTurn is the default installation under the worst a host does to it: two relays (the first
// running the embedded JetStream server), each killed with SIGKILL and restarted 2–3 s later (systemd's RestartSec)
// in turn (each once both are ready and have stored what they read), ten times (three with -short), while two meetings chat at 20
// messages/s in all and API posts go on; the schedule's seed is logged.
// Every message BBB broadcast reaches the stream and each receiver, in order, repeats only under the same
// webhook-id; every API post answered 200 is in BBB's chat; no gap is published, since one relay always heard
// BBB. Then both relays are killed at once while the meetings go on chatting: once they are back, one gap event
// names the window (from before the kill to after the restart), and reaches the bridge that asked for gaps.
func TestTwoRelaysKilledInTurn(t *testing.T) {
	e, relayB, relayBURL := newDefaultEnv(t, "3.0")
	meetings := []*bridged{e.bridgedMeeting("turn-0"), e.bridgedMeeting("turn-1")}
	// A bridge that asks for gaps.
	gapRecv := newReceiver(t)
	gapMeeting, err := e.sim.CreateMeeting(t.Context(), "ext-gaps", "gaps")
	if err != nil {
		t.Fatal(err)
	}
	e.waitKnown(gapMeeting.IntID)
	expect(t, e.call(callStart, "meeting_id", gapMeeting.ExtID, "chat_user", "Bridge", "callback_uri", gapRecv.URL(),
		"callback_secret", "cb-gaps", "callback_events", state.TypeGap), 200, "started")

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		said     = map[string][]string{} // meeting → ids, in order
		accepted []string                // API posts answered 200
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
				time.Sleep(100 * time.Millisecond) // 10/s per meeting
			}
		})
	}
	client := &http.Client{Timeout: 15 * time.Second}
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			b := meetings[i%len(meetings)]
			text := fmt.Sprintf("api %d", i)
			body := sign(callSend, strs("user_name", "Viewer", "message", text, "nonce", fmt.Sprint(i)), e.secret, time.Now().Unix())
			resp, err := client.Post(e.apiURL+"/api/sendChatMessage/"+b.m.IntID, "", strings.NewReader(string(body)))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					accepted = append(accepted, b.m.IntID+"|Viewer: "+text)
					mu.Unlock()
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	rng := rand.New(rand.NewPCG(testenv.Seed(t), 2))
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	start := time.Now()
	for i := range rounds {
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		// systemd restarts a failed relay after RestartSec=2s (the unit's); a crashed container restarts as fast.
		down := time.Duration(2000+rng.IntN(1000)) * time.Millisecond
		// In turn: both relays are up and have caught up (ready, nothing waiting for the stream) before one goes;
		// the other hears BBB while it is away. (A relay that has not yet stored what it alone heard takes that
		// with it when it is killed: a backlog is in memory.)
		e.waitCaughtUp(e.relayURL)
		e.waitCaughtUp(relayBURL)
		if i%2 == 0 {
			e.relay.Kill()
			time.Sleep(down)
			e.startRelay() // waits until it is ready: subscribed to Redis, connected to NATS
		} else {
			relayB.Kill()
			time.Sleep(down)
			relayB, relayBURL = e.startRelayWith(nil)
		}
	}
	time.Sleep(500 * time.Millisecond) // load goes on a moment after the last restart
	stop.Store(true)
	wg.Wait()
	t.Logf("%d kills in %s; said %d and %d, API posts accepted %d", rounds, time.Since(start).Round(time.Second),
		len(said[meetings[0].m.IntID]), len(said[meetings[1].m.IntID]), len(accepted))

	for _, b := range meetings {
		if missing := e.notInStream(b.m.IntID, said[b.m.IntID]); len(missing) > 0 {
			t.Errorf("%s: %d of %d messages said are not in the stream: %v", b.m.ExtID, len(missing), len(said[b.m.IntID]), missing)
		}
	}
	if t.Failed() {
		return
	}
	for _, b := range meetings {
		n := waitDelivered(t, b, said[b.m.IntID], 60*time.Second)
		inStream := e.streamCount(b.m.IntID, state.TypeMessage)
		t.Logf("%s: %d said, all delivered in order, %d repeats; %d messages in the stream", b.m.ExtID,
			len(said[b.m.IntID]), n, inStream)
		if inStream < uint64(len(said[b.m.IntID])) {
			t.Errorf("%s: %d messages in the stream, %d said", b.m.ExtID, inStream, len(said[b.m.IntID]))
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
	for _, a := range accepted {
		if !inChat[a] {
			t.Errorf("accepted API post %q is not in BBB's chat", a)
		}
	}
	if g := e.gapEvents(); len(g) != 0 {
		t.Errorf("gap events while a relay was always subscribed: %+v", g)
	}
	if t.Failed() {
		return
	}

	// Both at once, while the meetings go on chatting.
	before := time.Now()
	e.relay.Kill()
	relayB.Kill()
	killed := time.Now()
	for i := range 20 {
		if _, err := e.sim.Say(t.Context(), meetings[0].m.IntID, meetings[0].talker, fmt.Sprintf("unheard %d", i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	restart := time.Now()
	e.startRelay()
	e.startRelayWith(nil)
	back := time.Now()
	var g []state.Event
	testenv.Eventually(t, 30*time.Second, "a gap event", func() bool {
		g = e.gapEvents()
		return len(g) > 0
	})
	if len(g) != 1 {
		t.Fatalf("gap events: %+v", g)
	}
	from, to := time.UnixMilli(g[0].From), time.UnixMilli(g[0].To)
	t.Logf("gap from %s to %s (%s); relays killed at %s, restarted from %s to %s", from.Format(time.StampMilli),
		to.Format(time.StampMilli), to.Sub(from), killed.Format(time.StampMilli), restart.Format(time.StampMilli),
		back.Format(time.StampMilli))
	if from.After(before) || from.Before(before.Add(-3*time.Second)) || to.Before(restart) || to.After(back) ||
		g[0].Server == "" || g[0].Subject() != state.SubjectGap {
		t.Errorf("gap %+v does not name the window: killed at %s, restarted between %s and %s", g[0], before, restart, back)
	}
	testenv.Eventually(t, 30*time.Second, "the gap reaches the bridge that asked for it", func() bool {
		return len(gapRecv.deliveries()) > 0
	})
	d := gapRecv.deliveries()[0]
	if d.Body["type"] != "gap" || d.Body["meeting_id"] != gapMeeting.ExtID ||
		ms(d.Body["from"]) != g[0].From || ms(d.Body["to"]) != g[0].To ||
		d.Body["server"] != g[0].Server || d.ID != g[0].ID {
		t.Errorf("gap callback %s %v, want the event %+v", d.ID, d.Body, g[0])
	}
	for _, b := range meetings {
		for _, d := range b.recv.deliveries() {
			if d.Body["type"] == "gap" {
				t.Errorf("%s got a gap it did not ask for", b.m.ExtID)
			}
		}
	}
	// Chat goes on after the gap, delivered as before.
	ids := e.say(meetings[1], 5, "after")
	waitDelivered(t, meetings[1], append(said[meetings[1].m.IntID], ids...), 30*time.Second)
}

// ms is a JSON number read into an any, as an int64.
func ms(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
