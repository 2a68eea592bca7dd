package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
)

// delivery is one callback a receiver got.
type delivery struct {
	ID   string // webhook-id
	Body map[string]any
	At   time.Time
}

// receiver is a callback receiver on loopback that records what it acknowledged. answer, when set, picks the
// status of each request (2xx acknowledges); the default is 204.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivery // acknowledged, in arrival order
	tried  int        // every request, acknowledged or not
	answer func(r *http.Request) int
}

// newReceiver starts a receiver, closed at cleanup.
func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// serve records one request, and the delivery when it is acknowledged.
func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	r.tried++
	answer := r.answer
	r.mu.Unlock()
	status := http.StatusNoContent
	if answer != nil {
		status = answer(req)
	}
	if status >= 200 && status < 300 {
		var body map[string]any
		json.Unmarshal(raw, &body)
		r.mu.Lock()
		r.got = append(r.got, delivery{ID: req.Header.Get("webhook-id"), Body: body, At: time.Now()})
		r.mu.Unlock()
	}
	w.WriteHeader(status)
}

// URL is the callback_uri of the receiver.
func (r *receiver) URL() string { return r.srv.URL + "/hook" }

// setAnswer changes how the receiver answers from now on; nil acknowledges every request.
func (r *receiver) setAnswer(f func(*http.Request) int) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

// deliveries returns the acknowledged deliveries so far, in arrival order.
func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// attempts is how many requests arrived, acknowledged or not.
func (r *receiver) attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tried
}

// checkDelivered asserts that a receiver got exactly want (webhook ids), each at least once, first arrivals in
// the order said, with no gaps. Repeats are allowed (at-least-once: after a crash of relay, or of NATS before it
// wrote the consumer's acknowledgements, a run of callbacks is sent again), but a repeated webhook-id must carry
// the same message. It returns how many deliveries were repeats.
func checkDelivered(t *testing.T, name string, got []delivery, want []string) int {
	t.Helper()
	var first []string
	seen := map[string]delivery{}
	repeats := 0
	for _, d := range got {
		if prev, ok := seen[d.ID]; ok {
			repeats++
			for _, k := range []string{"message_id", "message", "user_name", "timestamp", "sender_id"} {
				if fmt.Sprint(prev.Body[k]) != fmt.Sprint(d.Body[k]) {
					t.Fatalf("%s: webhook-id %s repeated with another %s: %v, then %v", name, d.ID, k, prev.Body[k], d.Body[k])
				}
			}
			continue
		}
		seen[d.ID] = d
		first = append(first, d.ID)
	}
	if strings.Join(first, ",") != strings.Join(want, ",") {
		missing := 0
		for _, id := range want {
			if _, ok := seen[id]; !ok {
				missing++
			}
		}
		t.Fatalf("%s: delivered %d distinct (%d missing of %d), not in the order said:\n got %v\nwant %v", name,
			len(first), missing, len(want), first, want)
	}
	return repeats
}

// bridged is a meeting with a bridge to a receiver, its chat user and a talker present.
type bridged struct {
	m       bbbsim.Meeting
	recv    *receiver
	chatUID string
	talker  string
}

// bridgedMeeting creates a meeting with a bridge to a new receiver, its chat user and a talker present.
func (e *env) bridgedMeeting(name string) *bridged {
	e.t.Helper()
	ctx := e.t.Context()
	m, err := e.sim.CreateMeeting(ctx, "ext-"+name, name)
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitKnown(m.IntID)
	b := &bridged{m: m, recv: newReceiver(e.t)}
	expect(e.t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge", "callback_uri", b.recv.URL(),
		"callback_secret", "cb-"+name), 200, "started")
	if b.chatUID, err = e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER"); err != nil {
		e.t.Fatal(err)
	}
	if b.talker, err = e.sim.Join(ctx, m.IntID, "Talker "+name, "VIEWER"); err != nil {
		e.t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Bridge", true)
	return b
}

// say has the talker say n messages and returns their ids.
func (e *env) say(b *bridged, n int, text string) []string {
	e.t.Helper()
	var ids []string
	for i := range n {
		msg, err := e.sim.Say(e.t.Context(), b.m.IntID, b.talker, fmt.Sprintf("%s %d", text, i))
		if err != nil {
			e.t.Fatalf("say: %v", err)
		}
		ids = append(ids, msg.ID)
	}
	return ids
}

// waitDelivered waits until the receiver has every id, then checks order and repeats; it returns the number of
// repeats.
func waitDelivered(t *testing.T, b *bridged, want []string, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := map[string]bool{}
		for _, d := range b.recv.deliveries() {
			got[d.ID] = true
		}
		missing := 0
		for _, id := range want {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d messages not delivered after %s", b.m.ExtID, missing, len(want), timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return checkDelivered(t, b.m.ExtID, b.recv.deliveries(), want)
}
