package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/metricstext"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// testSecret is the shared secret the tests' ingress runs with (the version is appended).
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
	releaseFile          string            // BBB's release file, as on a BBB host; "" for none (version inferred from events)
	hostFiles            map[string]string // see hostFiles
}

// newEnv starts a BBB server of version (its release file written) with relay and ingress on it.
func newEnv(t *testing.T, version string) *env {
	t.Helper()
	return newEnvWith(t, version, true)
}

// newEnvWith is newEnv; without releaseFile, relay infers the version from the shape of BBB's events.
func newEnvWith(t *testing.T, version string, releaseFile bool) *env {
	t.Helper()
	return newEnvOn(t, version, releaseFile, nil, nil)
}

// newEnvOn is newEnvWith on the NATS server natsSrv (nil: one of its own), with extra in both binaries'
// environment: a second BBB server beside another on one NATS.
func newEnvOn(t *testing.T, version string, releaseFile bool, natsSrv *testenv.Server, extra map[string]string) *env {
	t.Helper()
	e := &env{t: t, version: version, secret: testSecret + "-" + version, extraEnv: extra}
	e.releaseFile = filepath.Join(t.TempDir(), "bigbluebutton-release")
	if releaseFile {
		if err := os.WriteFile(e.releaseFile, []byte("BIGBLUEBUTTON_RELEASE="+version+".3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.hostFiles = hostFiles(t)
	e.redis = testenv.Redis(t)
	if e.nats = natsSrv; e.nats == nil {
		e.nats = testenv.NATS(t)
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: e.redis.Addr})
	t.Cleanup(func() { e.rdb.Close() })
	sim, err := bbbsim.Start(t.Context(), e.rdb, bbbsim.Options{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	e.sim = sim
	natsURL := testenv.NATSURL(e.nats)
	if u := extra["BBB_CHAT_NATS_URL"]; u != "" {
		natsURL = u // a cluster's nodes (fleet_test.go)
	}
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	server := e2eServerID
	if id := extra["BBB_CHAT_SERVER_ID"]; id != "" {
		server = id
	}
	replicas, _ := strconv.Atoi(extra["BBB_CHAT_NATS_REPLICAS"])
	if e.store, err = state.Open(t.Context(), nc, state.Options{Server: server, Replicas: replicas}); err != nil {
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

// e2eServerID is the server id (BBB_CHAT_SERVER_ID) of the env's binaries.
const e2eServerID = "e2e"

// commonEnv is the environment both binaries get: the env's Redis and NATS, and e.extraEnv on top.
func (e *env) commonEnv() map[string]string {
	m := map[string]string{
		"BBB_CHAT_REDIS_URL":        testenv.RedisURL(e.redis),
		"BBB_CHAT_NATS_EMBEDDED":    "false",
		"BBB_CHAT_BBB_VERSION":      "auto",
		"BBB_CHAT_BBB_RELEASE_FILE": e.releaseFile,
		"BBB_CHAT_LOG_LEVEL":        "debug",
		"BBB_CHAT_CALLBACK_ALLOW":   "127.0.0.0/8",
		"BBB_CHAT_SERVER_ID":        e2eServerID,
	}
	if e.nats != nil { // else extraEnv names it (relay's embedded server)
		m["BBB_CHAT_NATS_URL"] = testenv.NATSURL(e.nats)
	}
	for k, v := range e.hostFiles {
		m[k] = v
	}
	for k, v := range e.extraEnv {
		m[k] = v
	}
	return m
}

// startIngress starts the env's ingress on e.apiURL and waits until it is ready.
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

// startRelay starts the env's relay on e.relayURL, with short callback retries, and waits until it is ready.
func (e *env) startRelay() {
	e.t.Helper()
	m := e.commonEnv()
	m["BBB_CHAT_RELAY_LISTEN"] = strings.TrimPrefix(e.relayURL, "http://")
	m["BBB_CHAT_CALLBACK_RETRY_SCHEDULE"] = "50ms,100ms,200ms"
	m["BBB_CHAT_CALLBACK_TIMEOUT"] = "2s"
	e.relay = testenv.StartProc(e.t, e.relayBin, m)
	testenv.WaitHTTP(e.t, e.relayURL+"/readyz", 20*time.Second)
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

// hostFiles points the settings that default to a BBB host's files (config.HostDefault) at an empty or an absent
// file of the test's own, so that the binaries read nothing of the machine the tests run on, even on a BBB server.
func hostFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	empty, none := filepath.Join(dir, "empty"), filepath.Join(dir, "none")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"BBB_CHAT_ENV_FILE":                empty,
		"BBB_CHAT_SHARED_SECRET_FILE":      empty,
		"BBB_CHAT_BBB_PROPERTIES":          none,
		"BBB_CHAT_BBB_PROPERTIES_OVERRIDE": none,
	}
}

// ingressEnv is the environment of the env's ingress, for running its subcommands.
func (e *env) ingressEnv() map[string]string {
	m := e.commonEnv()
	m["BBB_CHAT_LISTEN"] = strings.TrimPrefix(e.apiURL, "http://")
	m["BBB_CHAT_SHARED_SECRET"] = e.secret
	return m
}

// ingressCLI runs the ingress binary with args (a subcommand and its arguments) and only the environment env, as
// an operator would on the host, and returns what it printed (stdout and stderr) and its exit error.
func ingressCLI(t *testing.T, bin string, env map[string]string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
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

// waitKnown waits until relay has recorded the meeting.
func (e *env) waitKnown(meetingID string) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, "relay records meeting "+meetingID, func() bool {
		_, known, _ := e.store.ResolveMeeting(context.Background(), meetingID)
		return known
	})
}

// waitPresent waits until relay has recorded the user named name as present in the meeting, or as gone.
func (e *env) waitPresent(meetingID, name string, present bool) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, fmt.Sprintf("presence of %q is %v", name, present), func() bool {
		_, err := e.store.FindUser(context.Background(), meetingID, name)
		return (err == nil) == present
	})
}

// waitChat waits until the meeting's chat holds n messages and returns them.
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

// streamCount counts the events of a meeting's type in a server's stream.
func (e *env) streamCount(meetingID, typ string) uint64 {
	info, err := e.events().Info(context.Background(), jetstream.WithSubjectFilter(state.EventSubject(meetingID, typ)))
	if err != nil {
		return 0
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
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
