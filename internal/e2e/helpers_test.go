package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/metricstext"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go/jetstream"
)

// The API's calls, as a client names them in the path and the checksum (docs/api.md).
const (
	callStart   = "startChatForMeeting"
	callEnd     = "endChatForMeeting"
	callSend    = "sendChatMessage"
	callInfo    = "getChatInfo"
	callRunning = "runningChats"
	callRetry   = "retryCallbacks"
)

// apiClient calls one ingress process with one shared secret.
type apiClient struct {
	t          *testing.T
	url        string // http://host:port
	metricsURL string // http://host:port/metrics, "" when off
	secret     string
}

func (e *env) api() apiClient { return apiClient{t: e.t, url: e.apiURL, secret: e.secret} }

// postURL posts body to base+path and decodes the JSON answer, failing the test when the answer is not the API's
// JSON shape.
func postURL(t *testing.T, base, path string, body []byte) answer {
	t.Helper()
	resp, err := http.Post(base+path, "", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	return readAnswer(t, path, resp)
}

func readAnswer(t *testing.T, path string, resp *http.Response) answer {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		t.Fatalf("%s: answer %d is not JSON: %q", path, resp.StatusCode, raw)
	}
	if _, ok := a.Body["success"].(bool); !ok {
		t.Fatalf("%s: answer has no success: %s", path, raw)
	}
	if _, ok := a.Body["message"].(string); !ok {
		t.Fatalf("%s: answer has no message: %s", path, raw)
	}
	return a
}

func (c apiClient) post(path string, body []byte) answer {
	c.t.Helper()
	return postURL(c.t, c.url, path, body)
}

// call signs a call the way the original's README client does, with a nonce so that calls never repeat.
func (c apiClient) call(call string, kv ...string) answer {
	c.t.Helper()
	path := "/api/" + call
	if call == callSend {
		path += "/" + kv[len(kv)-1]
		kv = kv[:len(kv)-1]
	}
	kv = append(kv, "nonce", strconv.FormatInt(time.Now().UnixNano(), 10))
	return c.post(path, sign(call, strs(kv...), c.secret, time.Now().Unix()))
}

func (c apiClient) send(meetingID, userName, message string) answer {
	c.t.Helper()
	return c.call(callSend, "user_name", userName, "message", message, meetingID)
}

// signRaw signs params written as the client wants them (form 2: the body's own text) and returns the body with
// the checksum added as the last member.
func signRaw(call, params, secret string, unix int64) []byte {
	sum := checksum.Sign(call, []byte(params), secret, unix)
	inner := strings.TrimSpace(params)
	inner = strings.TrimSuffix(inner, "}")
	sep := ","
	if strings.TrimSpace(strings.TrimPrefix(inner, "{")) == "" {
		sep = ""
	}
	return []byte(inner + sep + `"checksum":"` + sum + `"}`)
}

// startIngressWith starts one more ingress on the env's Redis and NATS with the env's settings changed by over
// (a value "" unsets the variable), and waits until it is ready.
func (e *env) startIngressWith(over map[string]string) (*testenv.Proc, apiClient) {
	e.t.Helper()
	m := e.commonEnv()
	c := apiClient{t: e.t, url: "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(e.t)), secret: e.secret}
	metrics := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(e.t))
	c.metricsURL = "http://" + metrics + "/metrics"
	m["BBB_CHAT_LISTEN"] = strings.TrimPrefix(c.url, "http://")
	m["BBB_CHAT_METRICS_LISTEN"] = metrics
	m["BBB_CHAT_SHARED_SECRET"] = e.secret
	for k, v := range over {
		m[k] = v
	}
	if s := m["BBB_CHAT_SHARED_SECRET"]; s != "" {
		c.secret = s
	}
	p := testenv.StartProc(e.t, e.ingressBin, m)
	testenv.WaitHTTP(e.t, c.url+"/readyz", 20*time.Second)
	return p, c
}

// startRelayWith starts one more relay on the env's Redis and NATS with the env's relay settings changed by over,
// and returns it with its base URL once it is ready.
func (e *env) startRelayWith(over map[string]string) (*testenv.Proc, string) {
	e.t.Helper()
	m := e.commonEnv()
	url := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(e.t))
	m["BBB_CHAT_RELAY_LISTEN"] = strings.TrimPrefix(url, "http://")
	m["BBB_CHAT_CALLBACK_RETRY_SCHEDULE"] = "50ms,100ms,200ms"
	m["BBB_CHAT_CALLBACK_TIMEOUT"] = "2s"
	for k, v := range over {
		m[k] = v
	}
	p := testenv.StartProc(e.t, e.relayBin, m)
	testenv.WaitHTTP(e.t, url+"/readyz", 20*time.Second)
	return p, url
}

// metricsAt reads a Prometheus text page into series → value; nil when it cannot be read.
func metricsAt(url string) map[string]float64 {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil
	}
	return metricstext.Parse(string(body))
}

// vmRSS returns a process's resident set size in kB, from /proc/<pid>/status; 0 when it cannot be read.
func vmRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

// snapshot describes what bbb-chat stores that an API call could change: every bridge, the consumers, the
// events stream's state and the failed deliveries. Two snapshots are equal when nothing was changed.
func (e *env) snapshot() string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	bridges, err := e.store.Bridges(ctx)
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	sort.Slice(bridges, func(i, j int) bool { return bridges[i].MeetingID < bridges[j].MeetingID })
	for _, br := range bridges {
		j, _ := json.Marshal(br)
		fmt.Fprintf(&b, "bridge %s rev %d\n", j, br.Revision)
		fs, _ := e.store.Failed(ctx, br.MeetingID)
		fmt.Fprintf(&b, "failed %s %d\n", br.MeetingID, len(fs))
	}
	info, err := e.events().Info(ctx)
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	fmt.Fprintf(&b, "stream msgs %d bytes %d last %d consumers %d\n", info.State.Msgs, info.State.Bytes,
		info.State.LastSeq, info.State.Consumers)
	names := e.events().ConsumerNames(ctx)
	var cs []string
	for n := range names.Name() {
		cs = append(cs, n)
	}
	sort.Strings(cs)
	fmt.Fprintf(&b, "consumers %v\n", cs)
	kv, err := e.js.KeyValue(ctx, state.BucketBridges)
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	si := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
	fmt.Fprintf(&b, "bridges bucket msgs %d last %d\n", si.State.Msgs, si.State.LastSeq)
	return b.String()
}

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

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

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

func (r *receiver) URL() string { return r.srv.URL + "/hook" }

func (r *receiver) setAnswer(f func(*http.Request) int) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

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

// meeting creates a meeting in the simulator and waits until relay has recorded it.
func (e *env) meeting(extID, name string) bbbsim.Meeting {
	e.t.Helper()
	m, err := e.sim.CreateMeeting(e.t.Context(), extID, name)
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitKnown(m.IntID)
	return m
}
