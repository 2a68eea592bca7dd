package bbb

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// citation is a reference to docs/protocol.md with its sections: "docs/protocol.md §3.3", "(docs/protocol.md §1, §3.1)",
// "docs/protocol.md §2–§5".
var citation = regexp.MustCompile(`docs/protocol\.md((?:[ ,(]*§[0-9]+(?:\.[0-9]+)?(?:–§[0-9]+(?:\.[0-9]+)?)?)*)`)

var sectionRef = regexp.MustCompile(`§([0-9]+(?:\.[0-9]+)?)`)

// heading is a numbered section of docs/protocol.md: "## 3. Chat", "### 3.2 Posting".
var heading = regexp.MustCompile(`^#{2,3} ([0-9]+(?:\.[0-9]+)?)\.? `)

// outside names notes that live outside this repository; code and docs must cite docs/protocol.md instead.
var outside = regexp.MustCompile(`bbb-protocol\.md|anchors\.md|architecture\.md|\.\./shared/`)

// TestProtocolCitations checks that every comment or document citing docs/protocol.md names a section it has, and
// that nothing cites the protocol notes of another place.
func TestProtocolCitations(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			sections[m[1]] = true
		}
	}
	if len(sections) < 10 {
		t.Fatalf("docs/protocol.md: found %d numbered sections", len(sections))
	}
	cited := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" && strings.Contains(path, "fuzz")) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".md" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(b)
		if filepath.Base(path) == "protocoldoc_test.go" {
			return nil
		}
		if m := outside.FindString(text); m != "" {
			t.Errorf("%s cites %s, which is not in this repository: cite docs/protocol.md", path, m)
		}
		for _, c := range citation.FindAllStringSubmatch(text, -1) {
			cited++
			for _, s := range sectionRef.FindAllStringSubmatch(c[1], -1) {
				if !sections[s[1]] {
					t.Errorf("%s cites docs/protocol.md §%s, which has no such section", path, s[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited == 0 {
		t.Fatal("no citation of docs/protocol.md found: is the walk looking at the repository?")
	}
}
