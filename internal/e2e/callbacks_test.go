package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

const callPing = "pingCallback"

// typesOf lists the kinds of a receiver's first deliveries, in order ("message" for a body without type).
func typesOf(ds []delivery) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.ID] {
			continue
		}
		seen[d.ID] = true
		t, _ := d.Body["type"].(string)
		if t == "" {
			t = state.TypeMessage
		}
		out = append(out, t)
	}
	return out
}

// TestCallbackKinds: callback_events takes the NATS kinds and "all" (getChatInfo shows them) and the first
// spellings; an unknown kind is a 400 that names it. A bridge that asked for all gets every kind in the order it
// happened, each body with its type (a new message's as it always was). Edits and reactions, which BBB 3.0's
// events carry, are put in the stream as relay publishes them.
func TestCallbackKinds(t *testing.T) {
	e := newEnv(t, "3.0")
	ctx := t.Context()
	m := e.meeting("ext-kinds", "Kinds")
	recv := newReceiver(t)
	start := func(meeting, events string) answer {
		return e.call(callStart, "meeting_id", meeting, "chat_user", "Bridge", "callback_uri", recv.URL(),
			"callback_secret", "cb-kinds", "callback_events", events)
	}
	a := start(m.IntID, "cleared,reactions")
	expect(t, a, 400, `callback_events has "reactions", which is not a callback kind`)
	expect(t, start(m.IntID, "all"), 200, "started")
	info := e.call(callInfo, "meeting_id", m.IntID)
	cb, _ := info.Body["callback"].(map[string]any)
	if got := fmt.Sprint(cb["events"]); got != fmt.Sprint(state.CallbackKinds()) {
		t.Fatalf("getChatInfo events %s, want every kind", got)
	}

	// The first spellings are accepted and shown as kinds.
	old := e.meeting("ext-kinds-old", "Old")
	expect(t, e.call(callStart, "meeting_id", old.IntID, "chat_user", "Bridge", "callback_uri", recv.URL(),
		"callback_secret", "cb-old", "callback_events", "sendChatMessage,chatCleared,meetingEnded"), 200, "started")
	cb, _ = e.call(callInfo, "meeting_id", old.IntID).Body["callback"].(map[string]any)
	if got := fmt.Sprint(cb["events"]); got != "[message cleared meeting.ended]" {
		t.Fatalf("getChatInfo events of the first spellings %s", got)
	}
	expect(t, e.call(callEnd, "meeting_id", old.IntID), 200, "ended")

	bot, err := e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := e.sim.Join(ctx, m.IntID, "Alice", "MODERATOR")
	if err != nil {
		t.Fatal(err)
	}
	_ = bot
	said, err := e.sim.Say(ctx, m.IntID, alice, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.ClearChat(ctx, m.IntID, alice); err != nil {
		t.Fatal(err)
	}
	e.waitKnownEvent(m.IntID, state.TypeCleared)
	for _, ev := range []state.Event{
		{Type: state.TypeMessageEdited, ID: "edit-1", MessageID: said.ID, Text: "hello, edited"},
		{Type: state.TypeReactionAdded, ID: "react-1", MessageID: said.ID, Emoji: "👍"},
		{Type: state.TypeReactionRemoved, ID: "react-2", MessageID: said.ID, Emoji: "👍"},
		{Type: state.TypeMessagePinned, ID: "pin-1", MessageID: said.ID},
		{Type: state.TypeMessageUnpinned, ID: "pin-2", MessageID: said.ID},
		{Type: state.TypeMessageDeleted, ID: "del-1", MessageID: said.ID},
	} {
		ev.MeetingID, ev.ChatID, ev.UserID, ev.UserName, ev.Timestamp = m.IntID, "MAIN-PUBLIC-GROUP-CHAT", alice, "Alice", time.Now().UnixMilli()
		payload, _ := json.Marshal(ev)
		if _, err := e.store.PublishEvent(ctx, ev, payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.sim.Leave(ctx, m.IntID, alice); err != nil {
		t.Fatal(err)
	}
	e.waitKnownEvent(m.IntID, state.TypeUserLeft)
	if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
		t.Fatal(err)
	}
	want := []string{state.TypeUserJoined, state.TypeUserJoined, state.TypeMessage, state.TypeCleared,
		state.TypeMessageEdited, state.TypeReactionAdded, state.TypeReactionRemoved, state.TypeMessagePinned,
		state.TypeMessageUnpinned, state.TypeMessageDeleted, state.TypeUserLeft, state.TypeMeetingEnded}
	testenv.Eventually(t, 20*time.Second, "every kind delivered", func() bool {
		return len(typesOf(recv.deliveries())) >= len(want)
	})
	if got := typesOf(recv.deliveries()); !slices.Equal(got, want) {
		t.Fatalf("delivered kinds\n %q\nwant\n %q", got, want)
	}
	for _, d := range recv.deliveries() {
		if d.Body["type"] == state.TypeMessageEdited && d.Body["message"] != "hello, edited" {
			t.Errorf("edit body %v", d.Body)
		}
		if d.Body["type"] == state.TypeReactionAdded && (d.Body["emoji"] != "👍" || d.Body["message_id"] != said.ID || d.Body["user_name"] != "Alice") {
			t.Errorf("reaction body %v", d.Body)
		}
	}
}

// waitKnownEvent waits until the stream holds an event of typ for the meeting (relay published what BBB said).
func (e *env) waitKnownEvent(meetingID, typ string) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, typ+" in the stream", func() bool { return e.streamCount(meetingID, typ) > 0 })
}

// TestPingCallback: pingCallback has relay send a signed test event now and answers what the receiver said.
func TestPingCallback(t *testing.T) {
	e := newEnv(t, "2.7")
	m := e.meeting("ext-ping", "Ping")
	recv := newReceiver(t)
	var pings []delivery
	recv.setAnswer(func(r *http.Request) int {
		if strings.Contains(r.Header.Get("webhook-id"), "ping") {
			return http.StatusOK
		}
		return http.StatusNoContent
	})
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge", "callback_uri", recv.URL(),
		"callback_secret", "cb-ping"), 200, "started")
	a := e.call(callPing, "meeting_id", m.ExtID)
	expect(t, a, 200, "The receiver answered HTTP 200")
	if a.Body["delivered"] != true || a.Body["status"] != float64(200) || a.Body["took_ms"] == nil {
		t.Fatalf("ping answer %s", a.Raw)
	}
	pings = recv.deliveries()
	if len(pings) != 1 || pings[0].Body["type"] != "ping" || pings[0].Body["meeting_id"] != m.IntID {
		t.Fatalf("receiver got %v", pings)
	}

	// A receiver that refuses: what it said, bounded.
	recv.setAnswer(func(r *http.Request) int { return http.StatusServiceUnavailable })
	a = e.call(callPing, "meeting_id", m.IntID)
	expect(t, a, 200, "The receiver answered HTTP 503")
	if a.Body["delivered"] != false || a.Body["status"] != float64(503) || !strings.Contains(a.Body["error"].(string), "503") {
		t.Fatalf("ping answer %s", a.Raw)
	}
	// One nobody listens at.
	m2 := e.meeting("ext-ping-2", "Ping 2")
	expect(t, e.call(callStart, "meeting_id", m2.IntID, "chat_user", "Bridge", "callback_uri",
		"http://127.0.0.1:"+fmt.Sprint(testenv.FreePort(t))+"/hook", "callback_secret", "cb"), 200, "started")
	a = e.call(callPing, "meeting_id", m2.IntID)
	expect(t, a, 200, "The receiver did not answer")
	if a.Body["delivered"] != false || a.Body["status"] != float64(0) || !strings.Contains(a.Body["error"].(string), "refused") {
		t.Fatalf("ping answer %s", a.Raw)
	}
	expect(t, e.call(callPing, "meeting_id", "nope"), 404, "not found")
	m3 := e.meeting("ext-ping-3", "Ping 3")
	expect(t, e.call(callStart, "meeting_id", m3.IntID, "chat_user", "Bridge"), 200, "started")
	expect(t, e.call(callPing, "meeting_id", m3.IntID), 400, "without a callback")

	// Without relay, nobody sends it: said so, not a timeout.
	e.relay.Kill()
	expect(t, e.call(callPing, "meeting_id", m.IntID), 503, "No relay answers")
}

// TestRetryPendingNow: retryCallbacks with pending sends the callbacks that wait out a retry delay now.
func TestRetryPendingNow(t *testing.T) {
	e := newEnv(t, "2.7")
	e.relay.Kill()
	e.startRelayWith(map[string]string{"BBB_CHAT_CALLBACK_RETRY_SCHEDULE": "1h", "BBB_CHAT_CALLBACK_PROBE_INTERVAL": "0"})
	b := e.bridgedMeeting("pending")
	b.recv.setAnswer(func(*http.Request) int { return http.StatusServiceUnavailable })
	want := e.say(b, 3, "waiting")
	testenv.Eventually(t, 10*time.Second, "first attempt failed", func() bool { return b.recv.attempts() >= 1 })
	b.recv.setAnswer(nil)
	body := sign(callRetry, []pyjson.Member{{Key: "meeting_id", Value: pyjson.String(b.m.IntID)},
		{Key: "pending", Value: pyjson.Bool(true)}}, e.secret, time.Now().Unix())
	a := e.post("/api/"+callRetry, body)
	expect(t, a, 200, "the pending ones are sent now")
	if a.Body["released"] != true || a.Body["retried"] != float64(0) {
		t.Fatalf("retry answer %s", a.Raw)
	}
	waitDelivered(t, b, want, 10*time.Second)
	body = sign(callRetry, []pyjson.Member{{Key: "meeting_id", Value: pyjson.String(b.m.IntID)},
		{Key: "pending", Value: pyjson.String("yes")}}, e.secret, time.Now().Unix())
	expect(t, e.post("/api/"+callRetry, body), 400, "pending must be true or false")
}

// TestReceiverBackWithinSeconds: with the default schedule, a receiver down for a while (its next attempt minutes
// away) gets everything that waited, in order, within 15 s of its return, not at the next step.
func TestReceiverBackWithinSeconds(t *testing.T) {
	e := newEnv(t, "2.7")
	e.relay.Kill()
	e.startRelayWith(map[string]string{"BBB_CHAT_CALLBACK_RETRY_SCHEDULE": "5s,5m,30m,2h,5h,10h,10h",
		"BBB_CHAT_CALLBACK_TIMEOUT": "10s"})
	b := e.bridgedMeeting("outage")
	b.recv.setAnswer(func(*http.Request) int { return http.StatusServiceUnavailable })
	want := e.say(b, 200, "during the outage")
	// Past the schedule's first step: the next attempt is 5 minutes away.
	testenv.Eventually(t, 30*time.Second, "second attempt failed", func() bool { return b.recv.attempts() >= 2 })
	back := time.Now()
	b.recv.setAnswer(nil)
	testenv.Eventually(t, 15*time.Second, "every waiting message delivered", func() bool {
		return len(withoutPings(b.recv.deliveries())) >= len(want)
	})
	t.Logf("all %d delivered %s after the receiver came back", len(want), time.Since(back).Round(time.Millisecond))
	checkDelivered(t, b.m.ExtID, withoutPings(b.recv.deliveries()), want)
}

// withoutPings drops the test events from deliveries.
func withoutPings(ds []delivery) []delivery {
	var out []delivery
	for _, d := range ds {
		if d.Body["type"] != "ping" {
			out = append(out, d)
		}
	}
	return out
}

// TestCallbackTargetRefusedAtStart: startChatForMeeting refuses a callback target that relay would refuse, even
// when ingress itself was started with another allow list; with no relay running, ingress's own list decides.
func TestCallbackTargetRefusedAtStart(t *testing.T) {
	e := newEnv(t, "2.7")
	m := e.meeting("ext-target", "Target")
	recv := newReceiver(t)
	start := func() answer {
		return e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge", "callback_uri", recv.URL(),
			"callback_secret", "cb")
	}
	e.relay.Kill()
	strict, _ := e.startRelayWith(map[string]string{"BBB_CHAT_CALLBACK_ALLOW": ""})
	a := start()
	expect(t, a, 400, "callback_uri is refused by relay")
	if !strings.Contains(a.Body["message"].(string), "loopback") || !strings.Contains(a.Body["message"].(string), "BBB_CHAT_CALLBACK_ALLOW") {
		t.Fatalf("the refusal does not say why: %s", a.Raw)
	}
	strict.Kill()
	expect(t, start(), 200, "started") // no relay: ingress's list allows loopback
}

// TestDocReceiversTakeEveryKind: the receivers of docs/api.md accept test events and typed bodies (their checksum
// is signed under their type), so pingCallback and relay's probes reach them, and a chat asking for all works.
func TestDocReceiversTakeEveryKind(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	receivers := map[string][]string{"go": {testenv.Build(t, "./docs/examples", "receiver")}}
	if py, err := exec.LookPath("python3"); err == nil {
		receivers["python"] = []string{py, testenv.RepoRoot(t) + "/docs/examples/receiver.py"}
	}
	for name, cmd := range receivers {
		t.Run(name, func(t *testing.T) {
			port := strconv.Itoa(testenv.FreePort(t))
			p := testenv.StartProc(t, cmd[0], map[string]string{"SECRET": "doc secret", "PORT": port}, cmd[1:]...)
			testenv.WaitTCP(t, "127.0.0.1:"+port, 20*time.Second)
			m, _ := e.sim.CreateMeeting(ctx, "kinds-"+name, "Docs")
			e.waitKnown(m.IntID)
			expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge", "callback_uri",
				"http://127.0.0.1:"+port+"/hook", "callback_secret", "doc secret", "callback_events", "all"), 200, "started")
			a := e.call(callPing, "meeting_id", m.IntID)
			expect(t, a, 200, "The receiver answered HTTP 204")
			alice, _ := e.sim.Join(ctx, m.IntID, "Alice", "MODERATOR")
			if err := e.sim.ClearChat(ctx, m.IntID, alice); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 20*time.Second, name+" receiver printed the typed events", func() bool {
				out := p.Output()
				return strings.Contains(out, "ping "+m.IntID) && strings.Contains(out, "user.joined "+m.IntID) &&
					strings.Contains(out, "cleared "+m.IntID)
			})
		})
	}
}

// TestReceiverBackWithTwoRelays: with two relays sharing the deliveries, a receiver back from an outage still gets
// everything that waited, in order (first arrivals; at least once), within 15 s.
func TestReceiverBackWithTwoRelays(t *testing.T) {
	e := newEnv(t, "2.7")
	e.relay.Kill()
	schedule := map[string]string{"BBB_CHAT_CALLBACK_RETRY_SCHEDULE": "5s,5m,30m,2h,5h,10h,10h", "BBB_CHAT_CALLBACK_TIMEOUT": "10s"}
	e.startRelayWith(schedule)
	e.startRelayWith(schedule)
	b := e.bridgedMeeting("two")
	b.recv.setAnswer(func(*http.Request) int { return http.StatusBadGateway })
	want := e.say(b, 50, "while down")
	testenv.Eventually(t, 30*time.Second, "second attempt failed", func() bool { return b.recv.attempts() >= 2 })
	back := time.Now()
	b.recv.setAnswer(nil)
	testenv.Eventually(t, 15*time.Second, "every waiting message delivered", func() bool {
		seen := map[string]bool{}
		for _, d := range withoutPings(b.recv.deliveries()) {
			seen[d.ID] = true
		}
		return len(seen) >= len(want)
	})
	t.Logf("all %d delivered %s after the receiver came back", len(want), time.Since(back).Round(time.Millisecond))
	checkDelivered(t, b.m.ExtID, withoutPings(b.recv.deliveries()), want)
}
