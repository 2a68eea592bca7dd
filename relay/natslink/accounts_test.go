package natslink

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// TestAccountsKeepDeploymentsApart runs nats-server with docs/operations.md's configuration (its address and store
// moved under the test) and shows what the docs say: each BBB server's account sees its own bbb-chat state only,
// and relay names the account it joined.
func TestAccountsKeepDeploymentsApart(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### Keeping deployments apart")
	if !ok {
		t.Fatal("operations.md has no section Keeping deployments apart")
	}
	m := regexp.MustCompile("(?s)```\\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("no configuration block in the section")
	}
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	conf := regexp.MustCompile(`(?m)^listen: .*$`).ReplaceAllString(m[1], "listen: "+addr)
	conf = regexp.MustCompile(`store_dir: \S+`).ReplaceAllString(conf, "store_dir: "+strconv.Quote(filepath.Join(t.TempDir(), "js")))
	if conf == m[1] || !strings.Contains(conf, addr) {
		t.Fatalf("could not move the configuration's address and store:\n%s", conf)
	}
	path := filepath.Join(t.TempDir(), "nats-server.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.StartProc(t, testenv.NATSServerBinary(t), map[string]string{
		"BBB1_PASSWORD": "pw-1", "BBB2_PASSWORD": "pw-2", "APP_PASSWORD": "pw-app",
	}, "-c", path)
	testenv.WaitTCP(t, addr, 10*time.Second)

	conn := func(user, pw string) *nats.Conn {
		t.Helper()
		nc, err := nats.Connect("nats://"+addr, nats.UserInfo(user, pw))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	one, two := conn("bbb1", "pw-1"), conn("bbb2", "pw-2")
	s, err := state.Open(t.Context(), one, state.Options{Server: "bbb-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetServerVersion(t.Context(), "bbb-1", state.ServerVersion{Version: "2.7"}); err != nil {
		t.Fatal(err)
	}
	j1, err := describe(t.Context(), one, "bbb-1")
	if err != nil || j1.Account != "BBB1" || !j1.Stream || len(j1.Others) != 0 {
		t.Fatalf("bbb1's account: %+v, %v", j1, err)
	}
	j2, err := describe(t.Context(), two, "bbb-2")
	if err != nil || j2.Account != "BBB2" || j2.Stream || !j2.Foreign() {
		t.Fatalf("bbb2's account sees bbb1's state, or is not named: %+v, %v", j2, err)
	}
}
