package natslink

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// syncBuffer is a log sink safe for the connection's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJoinedSays: relay says at start which NATS server and account it joined, and warns when the account holds
// no bbb-chat stream (another application's server) or other bbb-chat servers' state.
func TestJoinedSays(t *testing.T) {
	srv := testenv.NATS(t)
	url := testenv.NATSURL(srv)
	connect := func(serverID string) string {
		t.Helper()
		var buf syncBuffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		cfg, err := config.LoadRelay(func(k string) string {
			return map[string]string{"BBB_CHAT_NATS_URL": url, "BBB_CHAT_NATS_EMBEDDED": "false", "BBB_CHAT_SERVER_ID": serverID}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		link, err := Connect(cfg, log, prometheus.NewRegistry(), func() {})
		if err != nil {
			t.Fatal(err)
		}
		link.Conn().Close()
		link.Shutdown()
		return buf.String()
	}

	out := connect("bbb-a")
	for _, want := range []string{"level=WARN", "not bbb-chat's", "account=$G", "server_id=bbb-a", "nats_server="} {
		if !strings.Contains(out, want) {
			t.Errorf("foreign server: log lacks %q:\n%s", want, out)
		}
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s, err := state.Open(t.Context(), nc, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out := connect("bbb-a"); !strings.Contains(out, "joined bbb-chat's NATS server") || strings.Contains(out, "level=WARN") {
		t.Errorf("bbb-chat's server: want an info line and no warning:\n%s", out)
	}

	if err := s.SetServerVersion(t.Context(), "bbb-b", state.ServerVersion{Version: "3.0", Source: "config", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	out = connect("bbb-a")
	for _, want := range []string{"level=WARN", "other bbb-chat servers", "other_servers=[bbb-b]"} {
		if !strings.Contains(out, want) {
			t.Errorf("shared account: log lacks %q:\n%s", want, out)
		}
	}
	if out := connect("bbb-b"); strings.Contains(out, "level=WARN") {
		t.Errorf("its own record is no other server's:\n%s", out)
	}

	// relay check says the same.
	for id, want := range map[string]string{"bbb-a": "other bbb-chat servers keep their state here too ([bbb-b])",
		"bbb-b": "account $G: bbb-chat's (this server is bbb-b)"} {
		var out bytes.Buffer
		CheckJoined(t.Context(), &service.Checks{W: &out}, nc, id)
		if !strings.Contains(out.String(), want) {
			t.Errorf("check as %s: %q, want %q", id, out.String(), want)
		}
	}
}
