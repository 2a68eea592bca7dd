package config

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"
)

func TestRestartOnly(t *testing.T) {
	base := Ingress{MessageTemplate: "a", TimeDelta: 5, Listen: "x"}
	base.LogLevel = "info"
	tests := []struct {
		name   string
		change func(*Ingress)
		want   []string
	}{
		{"nothing", func(*Ingress) {}, nil},
		{"reloaded keys only", func(c *Ingress) {
			c.LogLevel, c.MessageTemplate, c.SharedSecret, c.OldSharedSecret = "debug", "b", "s", "o"
			c.CallbackAllow = []string{"10.0.0.0/8"}
		}, nil},
		{"time delta", func(c *Ingress) { c.TimeDelta = 9 }, []string{"BBB_CHAT_SHARED_SECRET_TIME_DELTA"}},
		{"embedded and own", func(c *Ingress) { c.NATSURL, c.Listen = "nats://other", "y" }, []string{"BBB_CHAT_NATS_URL", "BBB_CHAT_LISTEN"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.change(&c)
			if got := RestartOnly(base, c); !slices.Equal(got, tc.want) {
				t.Fatalf("RestartOnly = %v; want %v", got, tc.want)
			}
		})
	}
	r := Relay{CallbackTimeout: 1}
	r2 := r
	r2.CallbackTimeout, r2.LogLevel = 2, "debug"
	if got := RestartOnly(&r, &r2); !slices.Equal(got, []string{"BBB_CHAT_CALLBACK_TIMEOUT"}) {
		t.Fatalf("relay: %v", got)
	}
}

// TestReloadedKeysExist: every key Reloaded names is a setting of that binary.
func TestReloadedKeysExist(t *testing.T) {
	for _, cfg := range []any{&Ingress{}, &Relay{}} {
		params, err := Keys(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range Reloaded(cfg) {
			if !slices.ContainsFunc(params, func(p env.FieldParams) bool { return p.Key == k }) {
				t.Errorf("%T: Reloaded names %s, which it does not read", cfg, k)
			}
		}
	}
}

var settingKey = regexp.MustCompile(`BBB_CHAT_[A-Z0-9_]+`)

// TestReloadDocs: the README, docs/operations.md and the packaged env file say which settings a reload applies,
// each in one paragraph, and name exactly Reloaded's keys there.
func TestReloadDocs(t *testing.T) {
	want := map[string]bool{}
	for _, cfg := range []any{Ingress{}, Relay{}} {
		for _, k := range Reloaded(cfg) {
			want[k] = true
		}
	}
	for _, doc := range []struct{ file, marker string }{
		{"README.md", "`systemctl reload` (SIGHUP) applies"},
		{"docs/operations.md", "`sudo systemctl reload bbb-chat-ingress bbb-chat-relay@1 bbb-chat-relay@2` applies"},
		{"deploy/env/bbb-chat.env", "systemctl reload bbb-chat-ingress bbb-chat-relay@1 bbb-chat-relay@2"},
	} {
		text := repoFile(t, doc.file)
		_, para, ok := strings.Cut(text, doc.marker)
		if !ok {
			t.Errorf("%s: no paragraph starting %q", doc.file, doc.marker)
			continue
		}
		para, _, _ = strings.Cut(para, "\n\n")
		para, _, _ = strings.Cut(para, "\n#\n")
		got := map[string]bool{}
		for _, k := range settingKey.FindAllString(para, -1) {
			got[k] = true
		}
		if !mapsEqual(got, want) {
			t.Errorf("%s names %v as reloaded; the binaries reload %v", doc.file, sortedSet(got), sortedSet(want))
		}
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
