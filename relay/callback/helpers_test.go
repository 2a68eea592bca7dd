package callback

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testLog writes slog output to the test log until the test is over.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("%s", p)
	}
	return len(p), nil
}

// env is one real nats-server with bbb-chat's state in it.
type env struct {
	t     *testing.T
	srv   *testenv.Server
	store *state.Store
	log   *slog.Logger
}

func newEnv(t *testing.T) *env {
	t.Helper()
	tl := &testLog{t: t}
	t.Cleanup(func() { tl.mu.Lock(); tl.done = true; tl.mu.Unlock() }) // runs last
	e := &env{t: t, srv: testenv.NATS(t), log: slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	e.store = e.openStore()
	return e
}

// openStore opens the state through a NATS connection of its own, as another relay process would.
func (e *env) openStore() *state.Store {
	e.t.Helper()
	nc, err := nats.Connect(testenv.NATSURL(e.srv), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	s, err := state.Open(e.t.Context(), nc, state.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func secretOf(meetingID string) string { return "secret of " + meetingID }

// bridge creates a bridge with a callback to url, as startChatForMeeting does.
func (e *env) bridge(meetingID, url string, events ...string) state.Bridge {
	e.t.Helper()
	b, err := e.store.CreateBridge(e.t.Context(), state.Bridge{MeetingID: meetingID, RequestedID: "ext-" + meetingID,
		ChatUser: "Bridge", CallbackURI: url, CallbackSecret: secretOf(meetingID), CallbackEvents: events,
		CallbackState: state.CallbackActive, CreatedAt: time.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// publish stores an event in the stream as relay does, retrying while NATS restarts.
func (e *env) publish(ev state.Event) state.Event {
	e.t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	testenv.Eventually(e.t, 20*time.Second, "publish "+ev.ID, func() bool {
		ctx, cancel := context.WithTimeout(e.t.Context(), time.Second)
		defer cancel()
		_, err := e.store.PublishEvent(ctx, ev, payload)
		return err == nil || err == state.ErrDuplicate
	})
	return ev
}

// message publishes the i-th public chat message of a viewer in meeting.
func (e *env) message(meetingID string, i int) state.Event {
	id := fmt.Sprintf("17300000%05d-%s", i, meetingID)
	return e.publish(state.Event{Type: state.TypeMessage, ID: id, MeetingID: meetingID, Timestamp: 1730000000000 + int64(i),
		ChatID: PublicChatID, MessageID: id, SenderID: "w_alice", SenderName: "Alice", SenderRole: "VIEWER",
		Text: fmt.Sprintf("hello %d", i), CorrelationID: fmt.Sprintf("w_alice-%d", 1730000000000+int64(i))})
}

func (e *env) messages(meetingID string, from, to int) []string {
	var ids []string
	for i := from; i < to; i++ {
		ids = append(ids, e.message(meetingID, i).ID)
	}
	return ids
}

// testOptions are quick defaults for tests: a short schedule without jitter randomness.
func (e *env) testOptions() Options {
	return Options{
		Store:     e.store,
		Timeout:   500 * time.Millisecond,
		Schedule:  []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond},
		Rand:      func() float64 { return 0.5 },
		Log:       e.log,
		UserAgent: "bbb-chat/test",
	}
}

// run starts a Manager; the returned stop (also run at cleanup) cancels it and waits for Run to return.
func (e *env) run(o Options, drain time.Duration) (*Manager, func()) {
	e.t.Helper()
	m := NewManager(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, drain) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("Run: %v", err)
				}
			case <-time.After(drain + 20*time.Second):
				e.t.Errorf("Run did not return after cancel")
			}
		})
	}
	e.t.Cleanup(stop)
	return m, stop
}

func (e *env) stats(meetingID string) state.CallbackStats {
	s, err := e.store.GetCallbackStats(e.t.Context(), meetingID)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// hit is one request a receiver saw.
type hit struct {
	ID, Timestamp, Signature, UserAgent, ContentType, Method string
	Body                                                     []byte
	At                                                       time.Time
	Status                                                   int // answered status; -1 when the client was not there to read it
}

// answer decides a receiver's reaction to the attempt-th request with one webhook-id; it returns the status it
// wrote, or -1 when it wrote nothing the client read (hijacked, hung, too slow).
type answer func(w http.ResponseWriter, r *http.Request, attempt int) int

func ok200(w http.ResponseWriter, _ *http.Request, _ int) int {
	w.WriteHeader(http.StatusOK)
	return 200
}

// receiver is a real HTTP server that records every callback.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	hits     []hit
	tries    map[string]int
	answered []bool // per hit: the answer function returned
	answer   answer
}

func newReceiver(t *testing.T, a answer) *receiver {
	r := &receiver{answer: a, tries: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// newReceiverAt starts a receiver on a given address (which was free when reserved).
func newReceiverAt(t *testing.T, addr string, a answer) *receiver {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{answer: a, tries: map[string]int{}}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Listener.Close()
	r.srv.Listener = l
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/api/sendChatMessage" }

func (r *receiver) setAnswer(a answer) {
	r.mu.Lock()
	r.answer = a
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body := make([]byte, 0, 512)
	buf := make([]byte, 512)
	for {
		n, err := req.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	h := hit{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
		Signature: req.Header.Get("webhook-signature"), UserAgent: req.UserAgent(),
		ContentType: req.Header.Get("Content-Type"), Method: req.Method, Body: body, At: time.Now()}
	r.mu.Lock()
	r.tries[h.ID]++
	attempt, a, i := r.tries[h.ID], r.answer, len(r.hits)
	r.hits = append(r.hits, h) // in order of arrival; the status follows
	r.answered = append(r.answered, false)
	r.mu.Unlock()
	if a == nil {
		a = ok200
	}
	status := a(w, req, attempt)
	r.mu.Lock()
	r.hits[i].Status = status
	r.answered[i] = true
	r.mu.Unlock()
}

func (r *receiver) all() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.hits)
}

// delivered lists the webhook-ids answered 2xx, in order.
func (r *receiver) delivered() []string {
	var ids []string
	for _, h := range r.all() {
		if h.Status >= 200 && h.Status < 300 {
			ids = append(ids, h.ID)
		}
	}
	return ids
}

// count is how many requests arrived.
func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hits)
}

// waitDelivered waits until the receiver has acknowledged exactly want (in order) and fails on anything else.
func waitDelivered(t *testing.T, r *receiver, want []string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, fmt.Sprintf("%d deliveries", len(want)), func() bool {
		return len(r.delivered()) >= len(want)
	})
	if got := r.delivered(); !slices.Equal(got, want) {
		t.Fatalf("delivered\n %q\nwant\n %q", got, want)
	}
}

// verifyHit checks a request's headers, webhook signature and body checksum like a receiver would.
func verifyHit(t *testing.T, h hit, secret, call string) {
	t.Helper()
	if h.Method != http.MethodPost || h.ContentType != "application/json" || h.UserAgent != "bbb-chat/test" {
		t.Fatalf("request %s: method %q, content type %q, user agent %q", h.ID, h.Method, h.ContentType, h.UserAgent)
	}
	if err := checksum.VerifyWebhook(secret, h.ID, h.Timestamp, h.Signature, h.Body, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("webhook signature of %s: %v", h.ID, err)
	}
	var unix int64
	if _, err := fmt.Sscan(h.Timestamp, &unix); err != nil {
		t.Fatalf("webhook-timestamp %q: %v", h.Timestamp, err)
	}
	checkBodyChecksum(t, call, h.Body, secret, unix)
	v := checksum.Verifier{Secrets: []string{secret}, Delta: 30}
	if _, _, err := v.Verify(call, h.Body); err != nil {
		t.Fatalf("checksum of %s does not verify as bbb-chat's %s: %v", h.ID, call, err)
	}
}

// inFlight reports whether the receiver is holding a request it has not answered.
func inFlight(r *receiver) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.answered {
		if !a {
			return true
		}
	}
	return false
}

// pending is a bridge's undelivered callbacks, as the API's getChatInfo reads them.
func (e *env) pending(ctx context.Context, meetingID string) (uint64, error) {
	return bridge.New(e.store, bridge.Options{}).Pending(ctx, meetingID)
}

// events is the events stream, through a NATS connection of the tests' own.
func (e *env) events() jetstream.Stream {
	e.t.Helper()
	nc, err := nats.Connect(testenv.NATSURL(e.srv))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := js.Stream(e.t.Context(), state.StreamEvents)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}
