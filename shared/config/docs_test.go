package config

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// setting is one BBB_CHAT_* key as the code defines it: its documented default and which binaries read it.
type setting struct {
	def    string
	usedBy string // ingress, relay or both
}

// documentedDefault is the default the docs show for key: the struct tag's, else the host's path that load applies
// when nothing sets it. The env file and the secret file are read only when they exist, so the docs say that in
// words and show no default.
func documentedDefault(key, tagDefault string) string {
	if tagDefault != "" || key == "BBB_CHAT_ENV_FILE" || key == "BBB_CHAT_SHARED_SECRET_FILE" {
		return tagDefault
	}
	return HostDefault(key)
}

// settings reads every key of both binaries from the env struct tags.
func settings(t *testing.T) map[string]setting {
	t.Helper()
	out := map[string]setting{}
	for _, b := range []struct {
		name string
		cfg  any
	}{{"ingress", &Ingress{}}, {"relay", &Relay{}}} {
		params, err := Keys(b.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range params {
			s, seen := out[p.Key]
			if seen {
				s.usedBy = "both"
			} else {
				s = setting{def: documentedDefault(p.Key, p.DefaultValue), usedBy: b.name}
			}
			out[p.Key] = s
		}
	}
	return out
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var backticked = regexp.MustCompile("`([^`]*)`")

// TestREADMESettingsTable checks the README's settings table against the config definitions: every key once, with
// the default and the binaries the code gives it.
func TestREADMESettingsTable(t *testing.T) {
	want := settings(t)
	readme := repoFile(t, "README.md")
	_, table, ok := strings.Cut(readme, "\n## Configure\n")
	if !ok {
		t.Fatal("README.md has no ## Configure section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	rows := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(table))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `BBB_CHAT_") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) != 6 {
			t.Errorf("README row has %d cells, want 4 (a | in the text?): %s", len(cells)-2, line)
			continue
		}
		key := strings.Trim(strings.TrimSpace(cells[1]), "`")
		def, usedBy := strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])
		rows[key]++
		s, known := want[key]
		if !known {
			t.Errorf("README documents %s, which no binary reads", key)
			continue
		}
		gotDef := ""
		if m := backticked.FindStringSubmatch(def); m != nil {
			gotDef = m[1]
		}
		if gotDef != s.def {
			t.Errorf("README: %s default %q, the code's is %q", key, gotDef, s.def)
		}
		if usedBy != s.usedBy {
			t.Errorf("README: %s used by %q, the code's is %q", key, usedBy, s.usedBy)
		}
	}
	for _, key := range sortedKeys(want) {
		switch n := rows[key]; {
		case n == 0:
			t.Errorf("README's settings table lacks %s (default %q, %s)", key, want[key].def, want[key].usedBy)
		case n > 1:
			t.Errorf("README documents %s %d times", key, n)
		}
	}
}

// envFileLine is one setting of the packaged env file, commented out with its default.
var envFileLine = regexp.MustCompile(`^#(BBB_CHAT_[A-Z0-9_]+)=(.*)$`)

// TestPackagedEnvFile checks that deploy/env/bbb-chat.env lists every setting once, commented out with its default.
// The shared secret is not there on purpose (the file is world-readable; the package keeps the secret in a root-only
// file), nor is the env file's own name.
func TestPackagedEnvFile(t *testing.T) {
	want := settings(t)
	notInFile := []string{"BBB_CHAT_SHARED_SECRET", "BBB_CHAT_ENV_FILE"}
	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(repoFile(t, "deploy/env/bbb-chat.env")))
	for sc.Scan() {
		m := envFileLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		key, val := m[1], m[2]
		seen[key]++
		s, known := want[key]
		switch {
		case !known:
			t.Errorf("bbb-chat.env lists %s, which no binary reads", key)
		case slices.Contains(notInFile, key):
			t.Errorf("bbb-chat.env lists %s, which does not belong there", key)
		case val != s.def:
			t.Errorf("bbb-chat.env: %s=%q, the code's default is %q", key, val, s.def)
		}
	}
	for _, key := range sortedKeys(want) {
		if slices.Contains(notInFile, key) {
			continue
		}
		if n := seen[key]; n != 1 {
			t.Errorf("bbb-chat.env lists %s %d times, want once (as #%s=%s)", key, n, key, want[key].def)
		}
	}
}

func sortedKeys(m map[string]setting) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// notSettings are BBB_CHAT_* names that are not settings of the binaries: the tests' and the build's.
var notSettings = []string{"BBB_CHAT_NATS_SERVER", "BBB_CHAT_SOAK", "BBB_CHAT_FLEET_MESSAGES", "BBB_CHAT_VERSION", "BBB_CHAT_CI_NEXT_VERSION"}

var settingName = regexp.MustCompile(`BBB_CHAT_[A-Z0-9_]*[A-Z0-9]`)

// TestDocsNameOnlyKnownSettings checks that the operator's documents name no setting the binaries do not read (a
// renamed or removed key left behind).
func TestDocsNameOnlyKnownSettings(t *testing.T) {
	want := settings(t)
	files := []string{"README.md", "docker-compose.yml", "deploy/env/bbb-chat.env",
		"deploy/systemd/bbb-chat-ingress.service", "deploy/systemd/bbb-chat-relay@.service"}
	docs, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("docs/*.md: %v %v", docs, err)
	}
	for _, d := range docs {
		files = append(files, filepath.ToSlash(strings.TrimPrefix(d, filepath.Join("..", "..")+string(filepath.Separator))))
	}
	for _, f := range files {
		for _, key := range settingName.FindAllString(repoFile(t, f), -1) {
			if _, known := want[key]; !known && !slices.Contains(notSettings, key) {
				t.Errorf("%s names %s, which no binary reads", f, key)
			}
		}
	}
}
