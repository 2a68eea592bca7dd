// Package testenv starts the real servers and binaries that bbb-chat's tests drive: a redis-server and a
// JetStream-enabled nats-server on free loopback ports with their data in temporary directories, and the ingress and
// relay binaries built once per test process. Everything it starts is stopped by t.Cleanup. It is for tests only.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago and that it has not returned before in this
// test process: the kernel may hand a port it just released to the next request, and two servers of one test
// given the same port would have the second fail to listen while the first answers for it.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := handedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
	t.Fatal("testenv: no free port not handed out before")
	return 0
}

// handedOut holds the ports FreePort returned in this test process.
var handedOut sync.Map

// Eventually polls cond every few milliseconds until it returns true or timeout passes, then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: timed out after %s waiting for: %s", timeout, msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitTCP waits until something accepts connections on addr.
func waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Server is one real server process on a fixed port, which a test may stop and start again (data dir kept).
type Server struct {
	t    testing.TB
	name string
	bin  string
	args []string
	Addr string // host:port
	Dir  string // data directory
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts the server process (again) and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, s.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatalf("testenv: %s log: %v", s.name, err)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("testenv: start %s: %v", s.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	if err := waitTCP(s.Addr, 20*time.Second); err != nil {
		s.t.Fatalf("testenv: %s: %v\n%s", s.name, err, s.Log())
	}
}

// Stop kills the server (SIGKILL: a crash, not a clean shutdown) and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}

// Signal sends sig to the running server: SIGSTOP makes it hang with its connections open, SIGCONT wakes it.
func (s *Server) Signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Restart stops and starts the server on the same port with the same data directory.
func (s *Server) Restart() { s.Stop(); s.Start() }

// Log returns what the server printed so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, s.name+".log"))
	return string(b)
}

func newServer(t testing.TB, name, bin string, args func(port int, dir string) []string) *Server {
	t.Helper()
	port := FreePort(t)
	dir := t.TempDir()
	s := &Server{t: t, name: name, bin: bin, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir}
	s.args = args(port, dir)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Redis starts a real redis-server on a free port, persisting nothing. Its URL is "redis://"+Addr+"/0".
func Redis(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("testenv: redis-server not installed (apt-get install redis-server): %v", err)
	}
	return newServer(t, "redis", bin, func(port int, dir string) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir}
	})
}

// RedisURL is the URL of a server started by Redis.
func RedisURL(s *Server) string { return "redis://" + s.Addr + "/0" }

// NATS starts a real JetStream-enabled nats-server on a free port, storing under a temp dir (file storage, so a
// restart keeps streams). The binary is $BBB_CHAT_NATS_SERVER, else `nats-server` built from this module's pinned
// nats-server dependency into the repo's .bin directory (see NATSServerBinary).
func NATS(t testing.TB) *Server {
	t.Helper()
	bin := NATSServerBinary(t)
	return newServer(t, "nats", bin, func(port int, dir string) []string {
		return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", filepath.Join(dir, "js")}
	})
}

// NATSURL is the URL of a server started by NATS.
func NATSURL(s *Server) string { return "nats://" + s.Addr }

// RepoRoot is the directory of go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var buildMu sync.Mutex // guards concurrent builds of the same binary within one test process

// Build builds the main package pkg (e.g. "./ingress", or a module path) into the repo's .bin directory once per
// test process and returns the binary's path. Builds are cached by the go command, so repeated calls are cheap.
func Build(t testing.TB, pkg, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	root := RepoRoot(t)
	out := filepath.Join(root, ".bin", name)
	stamp := out + ".pid"
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: go build %s: %v\n%s", pkg, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	os.WriteFile(stamp, []byte(strconv.Itoa(os.Getpid())), 0o644)
	return out
}

// NATSServerBinary returns a nats-server binary: $BBB_CHAT_NATS_SERVER if set, else one built from the module's
// pinned github.com/nats-io/nats-server/v2 (the same server relay embeds), cached in .bin across test runs.
func NATSServerBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("BBB_CHAT_NATS_SERVER"); p != "" {
		return p
	}
	root := RepoRoot(t)
	out := filepath.Join(root, ".bin", "nats-server")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	return Build(t, "github.com/nats-io/nats-server/v2", "nats-server")
}

// Proc is a running binary under test.
type Proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  strings.Builder
	err  error
}

// StartProc runs bin with args and the environment env (only these variables plus PATH and HOME), capturing its
// output. It is killed at cleanup.
func StartProc(t testing.TB, bin string, env map[string]string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &Proc{t: t, cmd: cmd, done: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", bin, err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text())
			p.out.WriteByte('\n')
			p.mu.Unlock()
		}
		pr.Close()
	}()
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.Output())
		}
	})
	return p
}

// Output returns everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// Pid is the process id (for /proc/<pid>/status).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns its error (nil for exit status 0).
func (p *Proc) Wait(timeout time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitHTTP polls url until it answers 200 or timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, "GET "+url+" answers 200", func() bool {
		resp, err := httpGet(url)
		if err != nil {
			return false
		}
		return resp == 200
	})
}

// NotifySocket is a stand-in for systemd's NOTIFY_SOCKET: a datagram socket in a temp dir whose messages
// ("READY=1", "STOPPING=1"...) a test waits for with Wait.
type NotifySocket struct {
	Path  string
	t     testing.TB
	notes chan string
}

// NewNotifySocket listens on a fresh socket, closed at cleanup.
func NewNotifySocket(t testing.TB) *NotifySocket {
	t.Helper()
	n := &NotifySocket{Path: filepath.Join(t.TempDir(), "notify"), t: t, notes: make(chan string, 64)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.Path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("testenv: notify socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.notes <- string(buf[:k])
		}
	}()
	return n
}

// Wait waits up to timeout for the message want, skipping others.
func (n *NotifySocket) Wait(want string, timeout time.Duration) {
	n.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case got := <-n.notes:
			if got == want {
				return
			}
		case <-deadline:
			n.t.Fatalf("testenv: no %s on the notify socket within %s", want, timeout)
		}
	}
}

// Buffer is a bytes.Buffer safe for a run() writing to it while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Golden compares got with the golden file at path; with update (the tests' -update flag) it writes got there
// first, creating the directory.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update if on purpose, and review the diff):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
