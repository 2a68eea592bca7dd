package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestDemo runs the README's first command for a few seconds and checks that chat flowed every way.
func TestDemo(t *testing.T) {
	root := testenv.RepoRoot(t)
	wd, _ := os.Getwd()
	os.Chdir(root)
	defer os.Chdir(wd)
	var out testenv.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := run(ctx, []string{"demo", "-duration", "6s", "-interval", "500ms"}, os.Getenv, &out, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"chat started", "signature ok", "nats     bbbchat.", "POST /api/sendChatMessage/", "→ 200"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "BAD SIGNATURE") {
		t.Errorf("a callback failed its signature check:\n%s", text)
	}
}
