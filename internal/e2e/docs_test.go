package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

var (
	shellBlock = regexp.MustCompile("(?s)```(?:sh|bash|shell)\n(.*?)```")
	shellUse   = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
	shellSet   = regexp.MustCompile(`(?m)(?:^|[\s;(])(?:export\s+|local\s+)?([A-Za-z_][A-Za-z0-9_]*)=`)
	shellFor   = regexp.MustCompile(`\b(?:for|read)\s+(?:-r\s+)?([A-Za-z_][A-Za-z0-9_]*)`)
	// shellSources is a sourced file with a comment naming what it sets: . file  # sets A, B and C
	shellSources = regexp.MustCompile(`(?m)^\s*\. .*# sets (.*)$`)
	shellName    = regexp.MustCompile(`\b[A-Z_][A-Z0-9_]*\b`)
)

// sectionOf is the last "## " heading of text.
func sectionOf(text string) string {
	i := strings.LastIndex(text, "\n## ")
	if i < 0 {
		return ""
	}
	title, _, _ := strings.Cut(text[i+4:], "\n")
	return title
}

// TestShellExamplesRunnable: every shell example in the README and docs/ defines the variables it uses (or uses only
// the shell's own), and none uses a command that fails outside a terminal.
func TestShellExamplesRunnable(t *testing.T) {
	root := testenv.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"), filepath.Join(root, "deploy", "ansible", "README.md"))
	shellOwn := []string{"HOME", "PATH", "USER", "PWD", "PPID", "RANDOM", "TMPDIR"}
	interactive := []string{"nats stream view"} // pages, and refuses to run without a terminal
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		// The blocks of one section run in one shell, one after the other (docs/api.md's "First hour"): what an
		// earlier one sets, a later one may use. A sourced file says what it sets in a "# sets A, B" comment.
		set := map[string]bool{}
		section := ""
		for _, m := range shellBlock.FindAllStringSubmatchIndex(string(b), -1) {
			block := string(b[m[2]:m[3]])
			line := strings.Count(string(b[:m[0]]), "\n") + 1
			if sec := sectionOf(string(b[:m[0]])); sec != section {
				section, set = sec, map[string]bool{}
			}
			for _, s := range shellSet.FindAllStringSubmatch(block, -1) {
				set[s[1]] = true
			}
			for _, s := range shellFor.FindAllStringSubmatch(block, -1) {
				set[s[1]] = true
			}
			for _, s := range shellSources.FindAllStringSubmatch(block, -1) {
				for _, v := range shellName.FindAllString(s[1], -1) {
					set[v] = true
				}
			}
			for _, u := range shellUse.FindAllStringSubmatch(block, -1) {
				if !set[u[1]] && !slices.Contains(shellOwn, u[1]) {
					t.Errorf("%s:%d: the example uses $%s without setting it", rel, line, u[1])
				}
			}
			for _, cmd := range interactive {
				if strings.Contains(block, cmd) {
					t.Errorf("%s:%d: %q needs a terminal; use a command that works in a script", rel, line, cmd)
				}
			}
		}
	}
}
