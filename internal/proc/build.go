package proc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Module is bbb-chat's module path, as go.mod declares it.
const Module = "github.com/bbb-chat/bbb-chat"

// natsServerModule is the nats-server that go.mod pins (the one relay embeds), built when no binary is given.
const natsServerModule = "github.com/nats-io/nats-server/v2"

// FindRoot finds the directory of bbb-chat's go.mod from dir upwards.
func FindRoot(dir string) (string, error) {
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+Module+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the bbb-chat repository (no go.mod of " + Module + " above the working directory)")
		}
		dir = parent
	}
}

// BinDir is where binaries built for the checkout at root are kept between runs: under the user's cache directory
// (or the temp directory without one), never in the source tree. It is created if missing.
func BinDir(root string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = filepath.Join(os.TempDir(), fmt.Sprintf("bbb-chat-cache-%d", os.Getuid()))
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(base, "bbb-chat", "bin", hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// Build builds the main package pkg (e.g. "./relay", or a module path) of the module at src into out. It builds
// next to out and renames, so that a process running an older out, or another build of the same out, is not
// disturbed.
func Build(ctx context.Context, src, pkg, out string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, pkg)
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return os.Rename(tmp, out)
}

// NATSServerBinary is a nats-server binary: $BBB_CHAT_NATS_SERVER (through getenv) when set, else the one go.mod
// pins, built once into BinDir under a name carrying its version.
func NATSServerBinary(ctx context.Context, root string, getenv func(string) string) (string, error) {
	if p := getenv("BBB_CHAT_NATS_SERVER"); p != "" {
		return p, nil
	}
	dir, err := BinDir(root)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "nats-server-"+pinnedVersion(root, natsServerModule))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := Build(ctx, root, natsServerModule, out); err != nil {
		return "", err
	}
	return out, nil
}

// pinnedVersion is the version go.mod at root requires of module, or "unknown".
func pinnedVersion(root, module string) string {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	return "unknown"
}
