package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProcess(t *testing.T) {
	cases := []struct {
		name     string
		script   string
		keep     int
		stop     bool
		wantOut  string
		wantCode int // -1: killed by a signal
	}{
		{"output and status", "echo one; echo two >&2; exit 3", 0, false, "one\ntwo\n", 3},
		{"bounded output keeps the end", "for i in 1 2 3 4 5 6 7 8 9; do echo line$i; done", 12, false, "line9\n", 0},
		{"stop interrupts", "trap 'exit 7' INT; echo ready; while :; do sleep 0.01; done", 0, true, "ready\n", 7},
		{"a child keeping the output open", "sleep 3 & echo started", 0, false, "started\n", 0},
		{"stop kills what ignores it", "trap '' INT; echo ready; while :; do sleep 0.01; done", 0, true, "ready\n", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "p.log")
			p, err := Start(Spec{Name: "sh", Bin: "/bin/sh", Args: []string{"-c", tc.script}, Env: map[string]string{},
				LogFile: log, KeepBytes: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Kill()
			if tc.stop {
				if err := Poll(t.Context(), 10*time.Second, 5*time.Millisecond, func() bool {
					return strings.Contains(p.Output(), "ready")
				}); err != nil {
					t.Fatal(err)
				}
				p.Stop(300 * time.Millisecond)
			}
			err, exited := p.Wait(10 * time.Second)
			if !exited {
				t.Fatal("did not exit")
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d (%v), want %d", code, err, tc.wantCode)
			}
			if got := p.Output(); !strings.HasSuffix(got, tc.wantOut) || (tc.keep > 0 && len(got) > tc.keep) {
				t.Errorf("output %q, want it to end in %q (at most %d bytes)", got, tc.wantOut, tc.keep)
			}
			if b, _ := os.ReadFile(log); !strings.HasSuffix(string(b), tc.wantOut) {
				t.Errorf("log file %q lacks %q", b, tc.wantOut)
			}
		})
	}
}

func TestServerRestartKeepsLogAndPort(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	var ports Ports
	addr, err := ports.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Redis(addr, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	first := s.Process().Pid()
	s.Kill()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Process().Pid() == first {
		t.Error("Start after Kill did not start a new process")
	}
	s.Signal(syscall.SIGSTOP)
	s.Signal(syscall.SIGCONT)
	s.Stop(5 * time.Second)
	if n := strings.Count(s.Log(), "Redis is starting"); n != 2 {
		t.Errorf("log has %d starts, want 2:\n%s", n, s.Log())
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if err := Poll(t.Context(), time.Second, time.Millisecond, func() bool { n++; return n == 3 }); err != nil || n != 3 {
		t.Errorf("Poll = %v after %d calls", err, n)
	}
	if err := Poll(t.Context(), 20*time.Millisecond, time.Millisecond, func() bool { return false }); err == nil {
		t.Error("Poll of a false condition returned nil")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Poll(ctx, time.Minute, time.Millisecond, func() bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("Poll with a cancelled context = %v", err)
	}
}

func TestPortsNeverTwice(t *testing.T) {
	var ports Ports
	seen := map[int]bool{}
	for range 300 {
		p, err := ports.Free()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

func TestPinnedVersion(t *testing.T) {
	cases := []struct{ gomod, want string }{
		{"module x\n\nrequire (\n\tgithub.com/nats-io/nats-server/v2 v2.12.1\n)\n", "v2.12.1"},
		{"module x\nrequire github.com/nats-io/nats-server/v2 v2.11.0 // indirect\n", "v2.11.0"},
		{"module x\n", "unknown"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tc.gomod), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := pinnedVersion(dir, natsServerModule); got != tc.want {
			t.Errorf("pinnedVersion(%q) = %q, want %q", tc.gomod, got, tc.want)
		}
	}
}

func TestFindRoot(t *testing.T) {
	wd, _ := os.Getwd()
	root, err := FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "proc", "proc.go")); err != nil {
		t.Errorf("FindRoot = %s: %v", root, err)
	}
	if _, err := FindRoot(t.TempDir()); err == nil {
		t.Error("FindRoot outside the repository returned no error")
	}
}
