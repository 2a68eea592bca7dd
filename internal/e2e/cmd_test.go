package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestCheckCommand(t *testing.T) {
	e := newEnv(t, "2.7")
	checkOut := func(m map[string]string) (string, error) { return ingressCLI(t, e.ingressBin, m, "check") }
	good := e.ingressEnv()
	good["BBB_CHAT_LISTEN"] = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	out, err := checkOut(good)
	if err != nil || strings.Contains(out, "FAIL") || !strings.Contains(out, "BBB version 2.7") || !strings.Contains(out, "BBB listens") {
		t.Fatalf("good setup: %v\n%s", err, out)
	}
	cases := map[string]struct {
		change func(map[string]string)
		want   string
	}{
		"missing secret": {func(m map[string]string) { delete(m, "BBB_CHAT_SHARED_SECRET") }, "FAIL  configuration: BBB_CHAT_SHARED_SECRET is not set"},
		"default secret": {func(m map[string]string) { m["BBB_CHAT_SHARED_SECRET"] = "change_me" }, "FAIL  BBB_CHAT_SHARED_SECRET is the example value"},
		"redis down": {func(m map[string]string) {
			m["BBB_CHAT_REDIS_URL"] = "redis://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
		}, "FAIL  Redis at"},
		"nats down": {func(m map[string]string) {
			m["BBB_CHAT_NATS_URL"] = "nats://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
		}, "FAIL  NATS at"},
		"listen taken": {func(m map[string]string) { m["BBB_CHAT_LISTEN"] = e.redis.Addr }, "FAIL  BBB_CHAT_LISTEN"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range good {
				m[k] = v
			}
			tc.change(m)
			out, err := checkOut(m)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("err %v, output:\n%s\nwant a line with %q", err, out, tc.want)
			}
		})
	}
}

func TestCallCommandAndHealthcheck(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m, _ := e.sim.CreateMeeting(ctx, "call", "Call")
	e.waitKnown(m.IntID)
	e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER")
	e.waitPresent(m.IntID, "Bridge", true)
	ienv := e.ingressEnv()
	cli := func(args ...string) (string, error) { t.Helper(); return ingressCLI(t, e.ingressBin, ienv, args...) }
	out, err := cli("call", "startChatForMeeting", "meeting_id="+m.IntID, "chat_user=Bridge", `callback_events:=null`)
	if err != nil {
		t.Fatalf("call: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"success":true`) {
		t.Fatalf("call answered %s", out)
	}
	if out, err := cli("call", "sendChatMessage/"+m.IntID, "user_name=Ann", "message=Hi from the CLI"); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	if msgs := e.waitChat(m.IntID, 1); msgs[0].Message != "Ann: Hi from the CLI" {
		t.Fatalf("chat got %q", msgs[0].Message)
	}
	// --print-curl prints a command that works as it is.
	curl, err := cli("call", "getChatInfo", "meeting_id="+m.IntID, "--print-curl")
	if err != nil {
		t.Fatalf("%v\n%s", err, curl)
	}
	if _, err := exec.LookPath("curl"); err == nil {
		got, err := exec.Command("sh", "-c", curl).CombinedOutput()
		if err != nil || !strings.Contains(string(got), `"chat_user_present":true`) {
			t.Fatalf("curl %s: %v\n%s", curl, err, got)
		}
	}
	// A failing call exits non-zero.
	if _, err := cli("call", "endChatForMeeting", "meeting_id=nope"); err == nil {
		t.Fatal("404 call exited 0")
	}
	if out, err := cli("healthcheck"); err != nil {
		t.Fatalf("healthcheck of a running ingress: %v\n%s", err, out)
	}
	down := e.ingressEnv()
	down["BBB_CHAT_LISTEN"] = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	if _, err := ingressCLI(t, e.ingressBin, down, "healthcheck"); err == nil {
		t.Fatal("healthcheck of nothing passed")
	}
}

// TestSystemdNotifyAndReload runs ingress as systemd would (NOTIFY_SOCKET, env file) and checks READY=1, a reload
// on SIGHUP that changes the message template, and STOPPING=1 and exit 0 on SIGTERM.
func TestSystemdNotifyAndReload(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m, _ := e.sim.CreateMeeting(ctx, "hup", "Hup")
	e.waitKnown(m.IntID)
	e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER")
	e.waitPresent(m.IntID, "Bridge", true)
	expect(t, e.call("startChatForMeeting", "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")

	dir := t.TempDir()
	notify := testenv.NewNotifySocket(t)
	sock := notify.Path
	waitNote := func(want string) { t.Helper(); notify.Wait(want, 10*time.Second) }
	envFile := filepath.Join(dir, "bbb-chat.env")
	os.WriteFile(envFile, []byte("BBB_CHAT_MESSAGE_TEMPLATE={user_name} says: {message}\n"), 0o600)
	apiURL := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	env := e.ingressEnv()
	env["BBB_CHAT_LISTEN"] = strings.TrimPrefix(apiURL, "http://")
	env["BBB_CHAT_METRICS_LISTEN"] = "off"
	env["NOTIFY_SOCKET"] = sock
	env["BBB_CHAT_ENV_FILE"] = envFile
	p := testenv.StartProc(t, e.ingressBin, env)
	waitNote("READY=1")
	testenv.WaitHTTP(t, apiURL+"/readyz", 10*time.Second)
	e.apiURL = apiURL
	expect(t, e.send(m.IntID, "Ann", "one"), 200, "sent")
	if msgs := e.waitChat(m.IntID, 1); msgs[0].Message != "Ann says: one" {
		t.Fatalf("template from env file not used: %q", msgs[0].Message)
	}
	os.WriteFile(envFile, []byte("BBB_CHAT_MESSAGE_TEMPLATE=[{user_name}] {message}\n"), 0o600)
	p.Signal(syscall.SIGHUP)
	waitNote("RELOADING=1")
	waitNote("READY=1")
	expect(t, e.send(m.IntID, "Ann", "two"), 200, "sent")
	if msgs := e.waitChat(m.IntID, 2); msgs[1].Message != "[Ann] two" {
		t.Fatalf("template not reloaded: %q", msgs[1].Message)
	}
	// A broken template on reload is refused; the running one stays.
	os.WriteFile(envFile, []byte("BBB_CHAT_MESSAGE_TEMPLATE={nonsense}\n"), 0o600)
	p.Signal(syscall.SIGHUP)
	waitNote("READY=1")
	expect(t, e.send(m.IntID, "Ann", "three"), 200, "sent")
	if msgs := e.waitChat(m.IntID, 3); msgs[2].Message != "[Ann] three" {
		t.Fatalf("bad reload applied: %q", msgs[2].Message)
	}
	p.Signal(syscall.SIGTERM)
	waitNote("STOPPING=1")
	if err, exited := p.Wait(10 * time.Second); !exited || err != nil {
		t.Fatalf("exit after SIGTERM: exited=%v err=%v", exited, err)
	}
}

// TestCheckChangesNothing: `ingress check` reads the stream and buckets and says what it found; it never creates
// them, nor puts an operator's BBB_CHAT_STREAM_MAX_AGE back to the configured value.
func TestCheckChangesNothing(t *testing.T) {
	srv := testenv.NATS(t)
	rds := testenv.Redis(t)
	dir := t.TempDir()
	env := map[string]string{
		"BBB_CHAT_REDIS_URL":                testenv.RedisURL(rds),
		"BBB_CHAT_NATS_URL":                 testenv.NATSURL(srv),
		"BBB_CHAT_SHARED_SECRET":            "a secret long enough for the check",
		"BBB_CHAT_LISTEN":                   "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
		"BBB_CHAT_BBB_RELEASE_FILE":         filepath.Join(dir, "none"),
		"BBB_CHAT_SHARED_SECRET_TIME_DELTA": "5",
	}
	for k, v := range hostFiles(t) {
		env[k] = v
	}
	nc, err := nats.Connect(testenv.NATSURL(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bin := testenv.Build(t, "./ingress", "ingress")
	check := func() string {
		out, _ := ingressCLI(t, bin, env, "check") // no BBB listens on Redis
		return out
	}

	out := check()
	if !strings.Contains(out, "warn  the stream "+state.StreamEvents+" does not exist yet") ||
		!strings.Contains(out, "warn  BBB version not known yet") {
		t.Fatalf("check on an empty server:\n%s", out)
	}
	if _, err := js.Stream(t.Context(), state.StreamEvents); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("check created the stream: %v", err)
	}
	if _, err := js.KeyValue(t.Context(), state.BucketMeetings); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("check created a bucket: %v", err)
	}

	// The state as ingress makes it, but with a day's events instead of BBB_CHAT_STREAM_MAX_AGE's 168h: an ingress
	// run once with BBB_CHAT_STREAM_MAX_AGE=24h, then stopped.
	day := map[string]string{"BBB_CHAT_STREAM_MAX_AGE": "24h", "BBB_CHAT_METRICS_LISTEN": "off"}
	for k, v := range env {
		if _, ok := day[k]; !ok {
			day[k] = v
		}
	}
	p := testenv.StartProc(t, bin, day)
	testenv.WaitHTTP(t, "http://"+env["BBB_CHAT_LISTEN"]+"/readyz", 20*time.Second)
	p.Signal(syscall.SIGTERM)
	if err, exited := p.Wait(10 * time.Second); !exited || err != nil {
		t.Fatalf("ingress with a day's events: exited=%v err=%v\n%s", exited, err, p.Output())
	}
	out = check()
	if !strings.Contains(out, "warn  the stream "+state.StreamEvents+" differs from the configuration: max_age 24h0m0s (configured 168h0m0s)") ||
		!strings.Contains(out, "ok    JetStream state as configured: "+state.BucketBridges) ||
		strings.Contains(out, "does not exist yet") {
		t.Fatalf("check does not say what it found:\n%s", out)
	}
	st, err := js.Stream(t.Context(), state.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.MaxAge; got != 24*time.Hour {
		t.Fatalf("check changed the stream's max age to %s", got)
	}
}
