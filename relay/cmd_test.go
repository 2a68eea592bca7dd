package main

import (
	"bytes"
	"context"
	"errors"
	"os"
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

func getenvOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestCheckCommand(t *testing.T) {
	w := newWorld(t)
	good := w.env(t)
	checkOut := func(m map[string]string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"relay", "check"}, getenvOf(m), &out, &out)
		return out.String(), err
	}
	out, err := checkOut(good)
	if err != nil || strings.Contains(out, "FAIL") || !strings.Contains(out, "NATS JetStream at") {
		t.Fatalf("good setup: %v\n%s", err, out)
	}
	free := func() string { return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) }
	cases := map[string]struct {
		change func(map[string]string)
		want   string
		ok     bool
	}{
		"redis down": {func(m map[string]string) { m["BBB_CHAT_REDIS_URL"] = "redis://" + free() }, "FAIL  Redis at", false},
		"nats down":  {func(m map[string]string) { m["BBB_CHAT_NATS_URL"] = "nats://" + free() }, "FAIL  NATS at", false},
		"nats down, embedded": {func(m map[string]string) {
			m["BBB_CHAT_NATS_URL"] = "nats://" + free()
			m["BBB_CHAT_NATS_EMBEDDED"] = "true"
			m["BBB_CHAT_NATS_STORE"] = t.TempDir()
		}, "relay will start its embedded JetStream server", true},
		"bad version":    {func(m map[string]string) { m["BBB_CHAT_BBB_VERSION"] = "1.1" }, "FAIL  BBB_CHAT_BBB_VERSION", false},
		"bad allow list": {func(m map[string]string) { m["BBB_CHAT_CALLBACK_ALLOW"] = "not/a host" }, "FAIL  configuration", false},
		"listen taken":   {func(m map[string]string) { m["BBB_CHAT_RELAY_LISTEN"] = w.redis.Addr }, "FAIL  BBB_CHAT_RELAY_LISTEN", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range good {
				m[k] = v
			}
			tc.change(m)
			out, err := checkOut(m)
			if (err == nil) != tc.ok || !strings.Contains(out, tc.want) {
				t.Fatalf("err %v, output:\n%s\nwant a line with %q", err, out, tc.want)
			}
		})
	}
}

// TestSystemdNotifyReloadHealthcheck runs relay as systemd would: READY=1 once serving, a SIGHUP that changes the
// log level from the env file, healthcheck against it, STOPPING=1 and exit 0 on SIGTERM.
func TestSystemdNotifyReloadHealthcheck(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	notify := testenv.NewNotifySocket(t)
	sock := notify.Path
	waitNote := func(want string) { t.Helper(); notify.Wait(want, 20*time.Second) }
	envFile := filepath.Join(dir, "bbb-chat.env")
	os.WriteFile(envFile, []byte("BBB_CHAT_LOG_LEVEL=warn\n"), 0o600)
	env := w.env(t)
	delete(env, "BBB_CHAT_LOG_LEVEL")
	env["NOTIFY_SOCKET"] = sock
	env["BBB_CHAT_ENV_FILE"] = envFile
	r := startRelay(t, env)
	waitNote("READY=1")
	r.waitReady(t)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"relay", "healthcheck"}, getenvOf(env), &out, &out); err != nil {
		t.Fatalf("healthcheck: %v", err)
	}
	os.WriteFile(envFile, []byte("BBB_CHAT_LOG_LEVEL=debug\n"), 0o600)
	r.Signal(syscall.SIGHUP)
	waitNote("RELOADING=1")
	waitNote("READY=1")
	testenv.Eventually(t, 5*time.Second, "reload logged", func() bool {
		return strings.Contains(r.Output(), "configuration reloaded")
	})
	// At debug level the malformed message is logged in detail.
	w.publish(t, "from-akka-apps-redis-channel", []byte("garbage"))
	testenv.Eventually(t, 5*time.Second, "debug line after reload", func() bool {
		return strings.Contains(r.Output(), "level=DEBUG")
	})
	r.Signal(syscall.SIGTERM)
	waitNote("STOPPING=1")
	if err, exited := r.Wait(20 * time.Second); !exited || err != nil {
		t.Fatalf("exit after SIGTERM: exited=%v err=%v", exited, err)
	}
	env["BBB_CHAT_RELAY_LISTEN"] = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	if err := run(t.Context(), []string{"relay", "healthcheck"}, getenvOf(env), &out, &out); err == nil {
		t.Fatal("healthcheck of nothing passed")
	}
}

// TestCheckChangesNothing: `relay check` reads the stream and buckets and says what it found; it never creates
// them, nor puts an operator's settings back to the configured values (the service does that when it starts).
func TestCheckChangesNothing(t *testing.T) {
	w := newWorld(t)
	env := w.env(t)
	nc, err := nats.Connect(testenv.NATSURL(w.nats))
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
		if err := run(t.Context(), []string{"relay", "check"}, getenvOf(env), &out, &out); err != nil {
			t.Fatalf("check: %v\n%s", err, out.String())
		}
		return out.String()
	}

	// Nothing there yet: the check says so and creates nothing.
	out := check()
	if !strings.Contains(out, "warn  the stream "+state.StreamEvents+" does not exist yet") ||
		!strings.Contains(out, "warn  the bucket "+state.BucketBridges+" does not exist yet") {
		t.Fatalf("check on an empty server:\n%s", out)
	}
	if _, err := js.Stream(t.Context(), state.StreamEvents); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("check created the stream: %v", err)
	}
	if _, err := js.KeyValue(t.Context(), state.BucketBridges); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("check created a bucket: %v", err)
	}

	// A stream made with other settings than relay's configuration (BBB_CHAT_STREAM_MAX_AGE's default, 168h).
	if _, err := state.Open(t.Context(), nc, state.Options{EventsMaxAge: 24 * time.Hour, EventsMaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	out = check()
	if !strings.Contains(out, "warn  the stream "+state.StreamEvents+" differs from the configuration: max_age 24h0m0s (configured 168h0m0s), max_bytes 1048576 (configured 1073741824)") {
		t.Fatalf("check does not report the stream's settings:\n%s", out)
	}
	if !strings.Contains(out, "ok    JetStream state as configured: "+state.BucketBridges) {
		t.Fatalf("check does not report the buckets:\n%s", out)
	}
	st, err := js.Stream(t.Context(), state.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.CachedInfo().Config; cfg.MaxAge != 24*time.Hour || cfg.MaxBytes != 1<<20 {
		t.Fatalf("check changed the stream: max age %s, max bytes %d", cfg.MaxAge, cfg.MaxBytes)
	}
}
