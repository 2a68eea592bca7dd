package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// firstHourBlocks are the shell blocks of docs/api.md's "First hour" section, in order.
func firstHourBlocks(t *testing.T, root string) []string {
	md, err := os.ReadFile(filepath.Join(root, "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(md), "\n## First hour")
	if !ok {
		t.Fatal(`docs/api.md has no "## First hour" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		var lines []string
		for l := range strings.Lines(m[1]) {
			lines = append(lines, strings.TrimPrefix(l, "   "))
		}
		blocks = append(blocks, strings.Join(lines, ""))
	}
	return blocks
}

// TestFirstHour follows docs/api.md's "First hour" as written: the demo runs (block 1, here in the test's
// process), then the other blocks run in one shell in the repository, and each step shows what the text says it
// shows. Only the receiver's port is replaced by a free one.
func TestFirstHour(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	root := testenv.RepoRoot(t)
	blocks := firstHourBlocks(t, root)
	if len(blocks) < 3 || strings.TrimSpace(blocks[0]) != "go run ./deploy/demo" {
		t.Fatalf("the first hour should start with go run ./deploy/demo; blocks: %q", blocks)
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var demoOut testenv.Buffer
	demoCtx, stopDemo := context.WithCancel(ctx)
	done := make(chan error, 1)
	wd, _ := os.Getwd()
	os.Chdir(root)
	defer os.Chdir(wd)
	go func() {
		done <- run(demoCtx, []string{"demo", "-interval", "1s", "-env-file", filepath.Join(tmp, "bbb-chat-demo.env")}, os.Getenv, &demoOut, &demoOut)
	}()
	defer func() {
		stopDemo()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	testenv.Eventually(t, 2*time.Minute, "the demo starts the chat and writes its env file", func() bool {
		_, err := os.Stat(filepath.Join(tmp, "bbb-chat-demo.env"))
		return err == nil
	})

	port := strconv.Itoa(testenv.FreePort(t))
	script := strings.ReplaceAll(strings.Join(blocks[1:], "\n"), "8089", port)
	cmd := exec.CommandContext(ctx, "bash", "-euc", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the first hour's commands: %v\n%s\ndemo:\n%s", err, out, demoOut.String())
	}
	text := string(out)
	for _, want := range []string{
		`"success":true,"message":"Chat was started"`, // step 3
		"Alice: ", // step 3: the receiver printed a callback it checked
		`"success":true,"message":"Message sent successfully"`, // step 4
		`"delivered":`,                // step 4: getChatInfo
		"It is right for a time 1",    // step 5: 10 or 11 s, as the run took
		"s behind the server's clock", // step 5
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the first hour's output lacks %q:\n%s", want, text)
		}
	}
	testenv.Eventually(t, 10*time.Second, "BBB shows the post", func() bool {
		return strings.Contains(demoOut.String(), "Ann: Hello from my first hour")
	})
}
