package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

const testSecret = "s3cr3t-for-tests"

// env is one BBB server as the tests see it: real Redis and NATS, the simulator, and the real binaries.
type env struct {
	t                    *testing.T
	version              string
	secret               string
	redis                *testenv.Server
	nats                 *testenv.Server
	rdb                  *redis.Client
	sim                  *bbbsim.Sim
	store                *state.Store
	js                   jetstream.JetStream // a handle of the tests own, to look at the stream and buckets
	ingressBin, relayBin string
	ingress, relay       *testenv.Proc
	apiURL               string
	relayURL             string
	extraEnv             map[string]string
	releaseFile          string // BBB's release file, as on a BBB host; "" for none (version inferred from events)
}

func newEnv(t *testing.T, version string) *env {
	t.Helper()
	return newEnvWith(t, version, true)
}

func newEnvWith(t *testing.T, version string, releaseFile bool) *env {
	t.Helper()
	e := &env{t: t, version: version, secret: testSecret + "-" + version}
	e.releaseFile = filepath.Join(t.TempDir(), "bigbluebutton-release")
	if releaseFile {
		if err := os.WriteFile(e.releaseFile, []byte("BIGBLUEBUTTON_RELEASE="+version+".3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.redis = testenv.Redis(t)
	e.nats = testenv.NATS(t)
	e.rdb = redis.NewClient(&redis.Options{Addr: e.redis.Addr})
	t.Cleanup(func() { e.rdb.Close() })
	sim, err := bbbsim.Start(t.Context(), e.rdb, bbbsim.Options{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	e.sim = sim
	nc, err := nats.Connect(testenv.NATSURL(e.nats), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if e.store, err = state.Open(t.Context(), nc, state.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	e.ingressBin = testenv.Build(t, "./ingress", "ingress")
	e.relayBin = testenv.Build(t, "./relay", "relay")
	e.apiURL = "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.relayURL = "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.startRelay()
	e.startIngress()
	return e
}

func (e *env) commonEnv() map[string]string {
	m := map[string]string{
		"BBB_CHAT_REDIS_URL":        testenv.RedisURL(e.redis),
		"BBB_CHAT_NATS_URL":         testenv.NATSURL(e.nats),
		"BBB_CHAT_NATS_EMBEDDED":    "false",
		"BBB_CHAT_BBB_VERSION":      "auto",
		"BBB_CHAT_BBB_RELEASE_FILE": e.releaseFile,
		"BBB_CHAT_LOG_LEVEL":        "debug",
		"BBB_CHAT_CALLBACK_ALLOW":   "127.0.0.0/8",
	}
	for k, v := range e.extraEnv {
		m[k] = v
	}
	return m
}

func (e *env) startIngress() {
	e.t.Helper()
	m := e.commonEnv()
	m["BBB_CHAT_LISTEN"] = strings.TrimPrefix(e.apiURL, "http://")
	m["BBB_CHAT_METRICS_LISTEN"] = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(e.t))
	m["BBB_CHAT_SHARED_SECRET"] = e.secret
	// The tests speak the version BBB shows; ingress learns it from relay, except where a test sets it.
	e.ingress = testenv.StartProc(e.t, e.ingressBin, m)
	testenv.WaitHTTP(e.t, e.apiURL+"/readyz", 20*time.Second)
}

func (e *env) startRelay() {
	e.t.Helper()
	m := e.commonEnv()
	m["BBB_CHAT_RELAY_LISTEN"] = strings.TrimPrefix(e.relayURL, "http://")
	m["BBB_CHAT_CALLBACK_RETRY_SCHEDULE"] = "50ms,100ms,200ms"
	m["BBB_CHAT_CALLBACK_TIMEOUT"] = "2s"
	e.relay = testenv.StartProc(e.t, e.relayBin, m)
	testenv.WaitHTTP(e.t, e.relayURL+"/readyz", 20*time.Second)
}

// sign returns the body the original's README client sends: json.dumps of the params with the checksum added last.
func sign(call string, members []pyjson.Member, secret string, unix int64) []byte {
	sum := checksum.Sign(call, pyjson.Dumps(pyjson.Object(members...)), secret, unix)
	return pyjson.Dumps(pyjson.Object(append(members, pyjson.Member{Key: "checksum", Value: pyjson.String(sum)})...))
}

func strs(kv ...string) []pyjson.Member {
	var ms []pyjson.Member
	for i := 0; i+1 < len(kv); i += 2 {
		ms = append(ms, pyjson.Member{Key: kv[i], Value: pyjson.String(kv[i+1])})
	}
	return ms
}

type answer struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (e *env) post(path string, body []byte) answer {
	e.t.Helper()
	resp, err := http.Post(e.apiURL+path, "", bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		e.t.Fatalf("POST %s: answer is not JSON: %q", path, raw)
	}
	if _, ok := a.Body["success"].(bool); !ok {
		e.t.Fatalf("POST %s: answer has no success: %s", path, raw)
	}
	if _, ok := a.Body["message"].(string); !ok {
		e.t.Fatalf("POST %s: answer has no message: %s", path, raw)
	}
	return a
}

// call signs and posts an API call the way the original's README client does.
func (e *env) call(call string, kv ...string) answer {
	e.t.Helper()
	path := "/api/" + call
	if call == "sendChatMessage" {
		path += "/" + kv[len(kv)-1]
		kv = kv[:len(kv)-1]
	}
	// A nonce keeps two identical calls within one second apart (each checksum is accepted once).
	kv = append(kv, "nonce", strconv.FormatInt(time.Now().UnixNano(), 10))
	return e.post(path, sign(call, strs(kv...), e.secret, time.Now().Unix()))
}

func (e *env) send(meetingID, userName, message string) answer {
	return e.call("sendChatMessage", "user_name", userName, "message", message, meetingID)
}

func expect(t *testing.T, a answer, status int, msgPart string) {
	t.Helper()
	if a.Status != status || !strings.Contains(a.Body["message"].(string), msgPart) {
		t.Fatalf("got %d %s; want %d with %q", a.Status, a.Raw, status, msgPart)
	}
	if want := status == 200; a.Body["success"] != want {
		t.Fatalf("success = %v with status %d", a.Body["success"], status)
	}
}

func (e *env) waitKnown(meetingID string) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, "relay records meeting "+meetingID, func() bool {
		_, known, _ := e.store.ResolveMeeting(context.Background(), meetingID)
		return known
	})
}

func (e *env) waitPresent(meetingID, name string, present bool) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, fmt.Sprintf("presence of %q is %v", name, present), func() bool {
		_, err := e.store.FindUser(context.Background(), meetingID, name)
		return (err == nil) == present
	})
}

func (e *env) waitChat(meetingID string, n int) []bbbsim.ChatMessage {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := e.sim.WaitChat(ctx, meetingID, n)
	if err != nil {
		e.t.Fatalf("waiting for %d chat messages: %v; dropped by BBB: %+v", n, err, e.sim.Dropped())
	}
	return msgs
}

func TestEndToEnd(t *testing.T) {
	for _, version := range []string{"2.4", "2.7", "3.0"} {
		t.Run(version, func(t *testing.T) { testVersion(t, version) })
	}
}

func testVersion(t *testing.T, version string) {
	e := newEnv(t, version)
	ctx := t.Context()
	m, err := e.sim.CreateMeeting(ctx, "ext-"+version, "Meeting "+version)
	if err != nil {
		t.Fatal(err)
	}
	e.waitKnown(m.IntID)
	v3 := version == "3.0"

	// Start by external id; a second start is refused.
	a := e.call("startChatForMeeting", "meeting_id", m.ExtID, "chat_user", "Chat Bridge")
	expect(t, a, 200, "started")
	if a.Body["meeting_id"] != m.IntID {
		t.Fatalf("start resolved %v, want %s", a.Body["meeting_id"], m.IntID)
	}
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 409, "Chat is already registered")

	// The chat user is not there yet: 2.x cannot post; 3.0 posts through its chat API under the viewer's name.
	a = e.send(m.IntID, "Early Viewer", "first!")
	if v3 {
		expect(t, a, 200, "sent successfully")
		msgs := e.waitChat(m.IntID, 1)
		if msgs[0].SenderID != "SYSTEM" || msgs[0].SenderName != "Early Viewer" || msgs[0].Message != "first!" {
			t.Fatalf("API post arrived as %+v", msgs[0])
		}
	} else {
		expect(t, a, 409, "not in the meeting")
	}

	// The chat user joins; relay records it; ingress posts as that user, escaped for 2.x.
	uid, err := e.sim.Join(ctx, m.IntID, "Chat Bridge", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	before := len(e.sim.Chat(m.IntID))
	expect(t, e.send(m.IntID, "Alice <b>", "hi <script>alert(1)</script> & 'bye'"), 200, "Message sent successfully")
	msgs := e.waitChat(m.IntID, before+1)
	got := msgs[len(msgs)-1]
	want := "Alice &lt;b&gt;: hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;bye&#39;"
	if v3 {
		want = `Alice \<b\>: hi <script>alert(1)</script> & 'bye'`
	}
	if got.SenderID != uid || got.Message != want {
		t.Fatalf("chat got %q from %s; want %q from %s", got.Message, got.SenderID, want, uid)
	}
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped messages: %+v", d)
	}

	// Both binaries die and come back: the bridge and the presence are still there.
	e.ingress.Kill()
	e.relay.Kill()
	e.startRelay()
	e.startIngress()
	expect(t, e.send(m.IntID, "Bob", "after restart"), 200, "sent")
	e.waitChat(m.IntID, before+2)

	// getChatInfo and runningChats.
	a = e.call("getChatInfo", "meeting_id", m.IntID)
	expect(t, a, 200, "")
	if a.Body["chat_user_present"] != true || a.Body["chat_user"] != "Chat Bridge" {
		t.Fatalf("getChatInfo: %s", a.Raw)
	}
	a = e.call("runningChats")
	if a.Body["count"] != float64(1) {
		t.Fatalf("runningChats: %s", a.Raw)
	}

	// The chat user leaves.
	if err := e.sim.Leave(ctx, m.IntID, uid); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", false)
	if !v3 {
		expect(t, e.send(m.IntID, "Bob", "gone"), 409, "not in the meeting")
	}

	// End, end again, send after end.
	expect(t, e.call("endChatForMeeting", "meeting_id", m.IntID), 200, "ended")
	expect(t, e.call("endChatForMeeting", "meeting_id", m.IntID), 404, "Chat was not found")
	expect(t, e.send(m.IntID, "Bob", "x"), 404, "Chat was not found")

	// A meeting's end ends its bridge by itself.
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "bridge ends with the meeting", func() bool {
		_, err := e.store.GetBridge(context.Background(), m.IntID)
		return err == state.ErrNotFound
	})
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped messages: %+v", d)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-err", "Errors")
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	now := time.Now().Unix()
	long := strings.Repeat("x", 5001)
	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		status int
		msg    string
	}{
		{"no checksum", "POST", "/api/endChatForMeeting", []byte(`{"meeting_id": "x"}`), 401, "No checksum was given."},
		{"wrong checksum", "POST", "/api/endChatForMeeting", []byte(`{"meeting_id": "x", "checksum": "00"}`), 401, "Checksum was incorrect."},
		{"wrong secret", "POST", "/api/endChatForMeeting", sign("endChatForMeeting", strs("meeting_id", "x"), "other", now), 401, "Checksum was incorrect."},
		{"stale", "POST", "/api/endChatForMeeting", sign("endChatForMeeting", strs("meeting_id", "x"), e.secret, now-60), 401, "Checksum was incorrect."},
		{"wrong call name", "POST", "/api/endChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "x"), e.secret, now), 401, "Checksum was incorrect."},
		{"not JSON", "POST", "/api/endChatForMeeting", []byte(`meeting_id=x`), 400, "JSON object"},
		{"array", "POST", "/api/endChatForMeeting", []byte(`[1, 2]`), 400, "JSON object"},
		{"empty body", "POST", "/api/endChatForMeeting", nil, 400, "JSON object"},
		{"missing param", "POST", "/api/sendChatMessage/" + m.IntID, sign("sendChatMessage", strs("message", "hi"), e.secret, now), 400, "user_name is missing"},
		{"mistyped param", "POST", "/api/sendChatMessage/" + m.IntID, sign("sendChatMessage", append(strs("user_name", "a"), pyjson.Member{Key: "message", Value: pyjson.Int(5)}), e.secret, now), 400, "message must be a string"},
		{"empty message", "POST", "/api/sendChatMessage/" + m.IntID, sign("sendChatMessage", strs("user_name", "a", "message", " "), e.secret, now), 400, "message must not be empty"},
		{"long message", "POST", "/api/sendChatMessage/" + m.IntID, sign("sendChatMessage", strs("user_name", "a", "message", long), e.secret, now), 400, "at most 5000"},
		{"unknown chat", "POST", "/api/sendChatMessage/nope", sign("sendChatMessage", strs("user_name", "a", "message", "b"), e.secret, now), 404, "Chat was not found"},
		{"half a callback", "POST", "/api/startChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "y", "chat_user", "u", "callback_uri", "http://example.com/cb"), e.secret, now), 400, "callback_secret"},
		{"bad callback uri", "POST", "/api/startChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "y", "chat_user", "u", "callback_uri", "ftp://x", "callback_secret", "s"), e.secret, now), 400, "http or https"},
		{"callback to a private address", "POST", "/api/startChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "y", "chat_user", "u", "callback_uri", "http://10.1.2.3/hook", "callback_secret", "s"), e.secret, now), 400, "private address"},
		{"callback to cloud metadata", "POST", "/api/startChatForMeeting", sign("startChatForMeeting", strs("meeting_id", "y", "chat_user", "u", "callback_uri", "http://169.254.169.254/latest", "callback_secret", "s"), e.secret, now), 400, "link-local"},
		{"wrong method", "GET", "/api/endChatForMeeting", nil, 405, "Method not allowed"},
		{"unknown path", "POST", "/api/nothing", []byte(`{}`), 404, "No such API call"},
		{"too large", "POST", "/api/endChatForMeeting", bytes.Repeat([]byte(" "), 70000), 413, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.apiURL+tc.path, bytes.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("not JSON: %q", raw)
			}
			if resp.StatusCode != tc.status || body["success"] != false || !strings.Contains(fmt.Sprint(body["message"]), tc.msg) {
				t.Fatalf("got %d %s; want %d with %q", resp.StatusCode, raw, tc.status, tc.msg)
			}
		})
	}
	// A replayed checksum is refused, and the services stayed up with the bridge intact.
	body := sign("getChatInfo", strs("meeting_id", m.IntID), e.secret, time.Now().Unix())
	expect(t, e.post("/api/getChatInfo", body), 200, "")
	expect(t, e.post("/api/getChatInfo", body), 401, "Checksum was already used.")
	if e.ingress.Exited() || e.relay.Exited() {
		t.Fatal("a service died")
	}
	if _, err := e.store.GetBridge(ctx, m.IntID); err != nil {
		t.Fatalf("bridge lost: %v", err)
	}
	// Redis down: sends get 503, never a silent drop.
	uid, _ := e.sim.Join(ctx, m.IntID, "Chat Bridge", "VIEWER")
	_ = uid
	e.waitPresent(m.IntID, "Chat Bridge", true)
	e.redis.Stop()
	expect(t, e.send(m.IntID, "a", "during outage"), 503, "Redis")
	e.redis.Start()
}

// TestPythonClient runs a client written like the original README's example.
func TestPythonClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if exec.Command(py, "-c", "import requests").Run() != nil {
		t.Skip("python3 has no requests module")
	}
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-py", "Python")
	if _, err := e.sim.Join(ctx, m.IntID, "Chat Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	cmd := exec.Command(py, "testdata/readme_client.py", e.apiURL, e.secret, m.IntID)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	t.Logf("python client:\n%s", out)
	msgs := e.waitChat(m.IntID, 1)
	if want := "Jürgen 😀: Grüße &lt;b&gt;aus&lt;/b&gt; Python"; msgs[0].Message != want {
		t.Fatalf("chat got %q, want %q", msgs[0].Message, want)
	}
}

// TestVersionInferred: with no release file, the version comes from the shape of BBB's events, recorded by relay
// and read by ingress.
func TestVersionInferred(t *testing.T) {
	for _, version := range []string{"2.4", "3.0"} {
		t.Run(version, func(t *testing.T) {
			e := newEnvWith(t, version, false)
			ctx := t.Context()
			m, _ := e.sim.CreateMeeting(ctx, "inferred", "Inferred")
			e.waitKnown(m.IntID)
			expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")
			expect(t, e.send(m.IntID, "a", "too early"), 503, "BBB version is not known")
			if _, err := e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER"); err != nil {
				t.Fatal(err)
			}
			e.waitPresent(m.IntID, "Bridge", true)
			testenv.Eventually(t, 10*time.Second, "version recorded", func() bool {
				v, err := e.store.GetServerVersion(context.Background())
				return err == nil && strings.HasPrefix(v.Version, version[:1])
			})
			expect(t, e.send(m.IntID, "a", "now"), 200, "sent")
			e.waitChat(m.IntID, 1)
			if d := e.sim.Dropped(); len(d) != 0 {
				t.Fatalf("BBB dropped: %+v", d)
			}
		})
	}
}

// events is the events stream, looked up through the tests' own handle.
func (e *env) events() jetstream.Stream {
	e.t.Helper()
	st, err := e.js.Stream(context.Background(), state.StreamEvents)
	if err != nil {
		e.t.Fatalf("events stream: %v", err)
	}
	return st
}

// pending is a bridge's undelivered callbacks, as the API's getChatInfo reads them.
func (e *env) pending(ctx context.Context, meetingID string) (uint64, error) {
	return bridge.New(e.store, bridge.Options{}).Pending(ctx, meetingID)
}
