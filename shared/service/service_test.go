package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/nats-io/nats.go"
)

func TestReadyHandler(t *testing.T) {
	for _, c := range []struct {
		name     string
		problems []Problem
		status   int
		body     string
	}{
		{"ready", nil, http.StatusOK, `{"status":"ready"}`},
		{"one missing", []Problem{{"nats", "not connected"}}, http.StatusServiceUnavailable,
			`{"status":"not ready","missing":["nats"],"problems":{"nats":"not connected"}}`},
		{"in check order", []Problem{{"redis", "not subscribed"}, {"nats", "not connected"}, {"state", "not open"}},
			http.StatusServiceUnavailable,
			`{"status":"not ready","missing":["redis","nats","state"],"problems":{"nats":"not connected","redis":"not subscribed","state":"not open"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			ReadyHandler(func(ctx context.Context) []Problem {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("readiness check without a deadline")
				}
				return c.problems
			}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != c.status || rec.Body.String() != c.body+"\n" {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body.String(), c.status, c.body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestHealthHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	HealthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != `{"status":"ok"}`+"\n" {
		t.Errorf("got %d %s", rec.Code, rec.Body.String())
	}
}

func TestRedactURLs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://user:pw@h:1", "nats://redacted@h:1"},
		{"nats://token@h:1", "nats://redacted@h:1"},
		{"nats://a:pw@h:1,nats://b:pw2@i:2", "nats://redacted@h:1,nats://redacted@i:2"},
	} {
		if got := RedactURLs(c.in); got != c.want {
			t.Errorf("RedactURLs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// logBuffer is a logger whose lines a test reads.
func logBuffer() (*slog.Logger, *testenv.Buffer) {
	var b testenv.Buffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

func TestReloadOn(t *testing.T) {
	type cfg struct{ level string }
	for _, c := range []struct {
		name             string
		loadErr, applErr error
		want             string
	}{
		{"applied", nil, nil, "configuration reloaded (log level)"},
		{"invalid", errors.New("BBB_CHAT_X: bad"), nil, "reload refused: configuration is invalid; keeping the running one"},
		{"refused", nil, errors.New("bad list"), "reload refused; keeping the running configuration"},
		{"restart needed", nil, &RestartNeeded{Keys: []string{"BBB_CHAT_LISTEN", "BBB_CHAT_NATS_URL"}},
			`configuration reloaded in part (log level); these settings changed but take a restart, and keep their running values until then" keys=BBB_CHAT_LISTEN,BBB_CHAT_NATS_URL`},
	} {
		t.Run(c.name, func(t *testing.T) {
			log, out := logBuffer()
			ctx, cancel := context.WithCancel(t.Context())
			hup := make(chan os.Signal)
			var applied []cfg
			done := make(chan struct{})
			go func() {
				defer close(done)
				reloadOn(ctx, hup, func(string) string { return "" }, log,
					func(func(string) string) (cfg, error) { return cfg{"debug"}, c.loadErr },
					func(v cfg) error { applied = append(applied, v); return c.applErr }, "log level")
			}()
			hup <- syscall.SIGHUP
			hup <- syscall.SIGHUP // the second is taken once the first reload is done
			cancel()
			<-done
			if !strings.Contains(out.String(), c.want) {
				t.Errorf("log %q lacks %q", out.String(), c.want)
			}
			if _, partial := errors.AsType[*RestartNeeded](c.applErr); c.applErr != nil && !partial && !strings.Contains(out.String(), "err=") {
				t.Errorf("error not logged under err: %q", out.String())
			}
			if wantApplied := c.loadErr == nil; (len(applied) == 2) != wantApplied {
				t.Errorf("applied %v", applied)
			}
		})
	}
}

// TestReloader: a reload that changes a key only a restart applies still applies the rest, and says which keys.
func TestReloader(t *testing.T) {
	running := config.Ingress{Listen: "127.0.0.1:1", MessageTemplate: "a"}
	var applied []config.Ingress
	apply := Reloader(running, func(c config.Ingress) error { applied = append(applied, c); return nil })
	same := running
	same.MessageTemplate = "b"
	if err := apply(same); err != nil {
		t.Fatalf("a reloadable change: %v", err)
	}
	moved := same
	moved.Listen = "127.0.0.1:2"
	err := apply(moved)
	if rn, ok := errors.AsType[*RestartNeeded](err); !ok || len(rn.Keys) != 1 || rn.Keys[0] != "BBB_CHAT_LISTEN" {
		t.Fatalf("a restart-only change: %v", err)
	}
	if len(applied) != 2 {
		t.Fatalf("applied %d times; the reloadable part must be applied both times", len(applied))
	}
}

func TestConnectNATS(t *testing.T) {
	ns := testenv.NATS(t)
	log, out := logBuffer()
	var mu sync.Mutex
	var events []string
	note := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	seen := func(e string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range events {
			if x == e {
				return true
			}
		}
		return false
	}
	nc, err := ConnectNATS(config.Common{NATSURL: testenv.NATSURL(ns)}, "bbb-chat test", log, NATSEvents{
		Connected: func(_ *nats.Conn, reconnect bool) {
			if reconnect {
				note("reconnect")
			} else {
				note("connect")
			}
		},
		Disconnected: func() { note("disconnect") },
		Closed:       func() { note("closed") },
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "connected", func() bool { return seen("connect") })
	ns.Restart()
	testenv.Eventually(t, 20*time.Second, "reconnected", func() bool { return seen("disconnect") && seen("reconnect") })
	nc.Close()
	testenv.Eventually(t, 5*time.Second, "closed", func() bool { return seen("closed") })
	for _, want := range []string{"NATS connected", "NATS disconnected, reconnecting", "NATS reconnected"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}
}

func TestConnectNATSUnreachable(t *testing.T) {
	log, out := logBuffer()
	port := testenv.FreePort(t)
	nc, err := ConnectNATS(config.Common{NATSURL: "nats://u:secret@127.0.0.1:" + itoa(port)}, "bbb-chat test", log, NATSEvents{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if nc.IsConnected() {
		t.Fatal("connected to nothing")
	}
	if !strings.Contains(out.String(), "NATS not reachable yet, retrying in the background") ||
		strings.Contains(out.String(), "secret") {
		t.Errorf("log: %s", out.String())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
