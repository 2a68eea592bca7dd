package main

import (
	"bytes"
	"context"
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
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func (e *env) ingressEnv() map[string]string {
	m := e.commonEnv()
	m["BBB_CHAT_LISTEN"] = strings.TrimPrefix(e.apiURL, "http://")
	m["BBB_CHAT_SHARED_SECRET"] = e.secret
	return m
}

func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"ingress", "version"}, getenvFrom(nil), &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "bbb-chat ingress ") {
		t.Fatalf("version printed %q", out.String())
	}
	if err := run(t.Context(), []string{"ingress", "bogus"}, getenvFrom(nil), &out, &out); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestCheckCommand(t *testing.T) {
	e := newEnv(t, "2.7")
	checkOut := func(m map[string]string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"ingress", "check"}, getenvFrom(m), &out, &out)
		return out.String(), err
	}
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
	ienv := getenvFrom(e.ingressEnv())
	var out bytes.Buffer
	if err := run(ctx, []string{"ingress", "call", "startChatForMeeting", "meeting_id=" + m.IntID, "chat_user=Bridge",
		`callback_events:=null`}, ienv, &out, &out); err != nil {
		t.Fatalf("call: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"success":true`) {
		t.Fatalf("call answered %s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"ingress", "call", "sendChatMessage/" + m.IntID, "user_name=Ann", "message=Hi from the CLI"}, ienv, &out, &out); err != nil {
		t.Fatalf("send: %v\n%s", err, out.String())
	}
	if msgs := e.waitChat(m.IntID, 1); msgs[0].Message != "Ann: Hi from the CLI" {
		t.Fatalf("chat got %q", msgs[0].Message)
	}
	// --print-curl prints a command that works as it is.
	out.Reset()
	if err := run(ctx, []string{"ingress", "call", "getChatInfo", "meeting_id=" + m.IntID, "--print-curl"}, ienv, &out, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("curl"); err == nil {
		got, err := exec.Command("sh", "-c", out.String()).CombinedOutput()
		if err != nil || !strings.Contains(string(got), `"chat_user_present":true`) {
			t.Fatalf("curl %s: %v\n%s", out.String(), err, got)
		}
	}
	// A failing call exits non-zero.
	if err := run(ctx, []string{"ingress", "call", "endChatForMeeting", "meeting_id=nope"}, ienv, &out, &out); err == nil {
		t.Fatal("404 call exited 0")
	}
	if err := run(ctx, []string{"ingress", "healthcheck"}, ienv, &out, &out); err != nil {
		t.Fatalf("healthcheck of a running ingress: %v", err)
	}
	down := e.ingressEnv()
	down["BBB_CHAT_LISTEN"] = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	if err := run(ctx, []string{"ingress", "healthcheck"}, getenvFrom(down), &out, &out); err == nil {
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
		"BBB_CHAT_BBB_PROPERTIES":           filepath.Join(dir, "none"),
		"BBB_CHAT_BBB_PROPERTIES_OVERRIDE":  filepath.Join(dir, "none"),
		"BBB_CHAT_SHARED_SECRET_TIME_DELTA": "5",
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
	check := func() string {
		var out bytes.Buffer
		_ = run(t.Context(), []string{"ingress", "check"}, getenvFrom(env), &out, &out) // no BBB listens on Redis
		return out.String()
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

	// The state as ingress would make it, but with a day's events instead of BBB_CHAT_STREAM_MAX_AGE's 168h.
	o := stateOptions(config.Ingress{Common: config.Common{Replicas: 1, StreamMaxAge: 24 * time.Hour, StreamMaxBytes: 1 << 30}, TimeDelta: 5})
	if _, err := state.Open(t.Context(), nc, o); err != nil {
		t.Fatal(err)
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
