// Package testenv starts the real servers and binaries that bbb-chat's tests drive: a redis-server and a
// JetStream-enabled nats-server on free loopback ports with their data in temporary directories, and the ingress and
// relay binaries built once per test process, through internal/proc (which the benchmark and the demo use too).
// Everything it starts is stopped by t.Cleanup. It is for tests only.
package testenv

import (
	"bytes"
	"context"
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

	"github.com/bbb-chat/bbb-chat/internal/proc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// FreePort returns a loopback TCP port that was free a moment ago and that it has not returned before in this
// test process: the kernel may hand a port it just released to the next request, and two servers of one test
// given the same port would have the second fail to listen while the first answers for it.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := ports.Free()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return port
}

// ports holds the ports FreePort returned in this test process.
var ports proc.Ports

// Eventually polls cond every few milliseconds until it returns true or timeout passes, then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	if err := proc.Poll(context.Background(), timeout, 5*time.Millisecond, cond); err != nil {
		t.Fatalf("testenv: timed out after %s waiting for: %s", timeout, msg)
	}
}

// Consistently checks cond every few milliseconds for d and fails the test with msg as soon as it is false: for
// what must not happen, where only time can tell.
func Consistently(t testing.TB, d time.Duration, msg string, cond func() bool) {
	t.Helper()
	err := proc.Poll(context.Background(), d, 5*time.Millisecond, func() bool {
		if !cond() {
			t.Fatalf("testenv: within %s: %s", d, msg)
		}
		return false
	})
	if err != nil && !cond() { // Poll ends with the deadline: check once more at the end
		t.Fatalf("testenv: within %s: %s", d, msg)
	}
}

// Server is one real server process on a fixed port, which a test may stop and start again (data dir kept).
type Server struct {
	*proc.Server
	t testing.TB
}

// Start starts the server process (again) and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.Server.Start(context.Background()); err != nil {
		s.t.Fatalf("testenv: %v", err)
	}
}

// Stop kills the server (SIGKILL: a crash, not a clean shutdown) and waits for it to exit.
func (s *Server) Stop() { s.Server.Kill() }

// Restart stops and starts the server on the same port with the same data directory.
func (s *Server) Restart() { s.Stop(); s.Start() }

func startServer(t testing.TB, ps *proc.Server, err error) *Server {
	t.Helper()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	s := &Server{Server: ps, t: t}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Redis starts a real redis-server on a free port, persisting nothing. Its URL is "redis://"+Addr+"/0".
func Redis(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skipf("testenv: redis-server not installed (apt-get install redis-server): %v", err)
	}
	s, err := proc.Redis(loopback(FreePort(t)), t.TempDir())
	return startServer(t, s, err)
}

// RedisURL is the URL of a server started by Redis.
func RedisURL(s *Server) string { return proc.RedisURL(s.Server) }

// NATS starts a real JetStream-enabled nats-server on a free port, storing under a temp dir (file storage, so a
// restart keeps streams). The binary is $BBB_CHAT_NATS_SERVER, else `nats-server` built from this module's pinned
// nats-server dependency outside the source tree (see NATSServerBinary).
func NATS(t testing.TB) *Server {
	t.Helper()
	s, err := proc.NATS(NATSServerBinary(t), loopback(FreePort(t)), t.TempDir(), proc.NATSOptions{})
	return startServer(t, s, err)
}

// NATSURL is the URL of a server started by NATS.
func NATSURL(s *Server) string { return proc.NATSURL(s.Server) }

// NATSCluster starts a three-node JetStream cluster (see proc.NATSCluster) and waits until JetStream answers
// through every node and the cluster places a three-replica stream. Its URL is NATSClusterURL.
func NATSCluster(t testing.TB) []*Server {
	t.Helper()
	nodes, err := proc.NATSCluster(NATSServerBinary(t), t.TempDir(), &ports)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	out := make([]*Server, len(nodes))
	for i, n := range nodes {
		out[i] = startServer(t, n, nil)
	}
	for _, n := range out {
		nc, err := nats.Connect(NATSURL(n))
		if err != nil {
			t.Fatalf("testenv: %s: %v", n.Name, err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		Eventually(t, 30*time.Second, n.Name+" answers JetStream calls", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := js.AccountInfo(ctx)
			return err == nil
		})
		nc.Close()
	}
	waitPlacement(t, NATSClusterURL(out))
	return out
}

// waitPlacement waits until the cluster places a stream on its three nodes: each node answering JetStream calls
// is not yet all of them knowing the others ("no suitable peers for placement").
func waitPlacement(t testing.TB, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, "the cluster places a stream on three nodes", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TESTENV_PLACEMENT", Subjects: []string{"testenv.placement"},
			Replicas: 3, Storage: jetstream.MemoryStorage})
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, "TESTENV_PLACEMENT"); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// NATSClusterURL is the URL listing every node of a cluster started by NATSCluster.
func NATSClusterURL(nodes []*Server) string {
	ps := make([]*proc.Server, len(nodes))
	for i, s := range nodes {
		ps[i] = s.Server
	}
	return proc.NATSClusterURL(ps)
}

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

// Build builds the main package pkg (e.g. "./ingress", or a module path) once per test process into a directory
// outside the source tree (proc.BinDir) and returns the binary's path. Builds are cached by the go command, so
// repeated calls are cheap.
func Build(t testing.TB, pkg, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	root := RepoRoot(t)
	dir, err := proc.BinDir(root)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	out := filepath.Join(dir, name)
	stamp := out + ".pid"
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		return out
	}
	if err := proc.Build(context.Background(), root, pkg, out); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	os.WriteFile(stamp, []byte(strconv.Itoa(os.Getpid())), 0o644)
	return out
}

// NATSServerBinary returns a nats-server binary: $BBB_CHAT_NATS_SERVER if set, else one built from the module's
// pinned github.com/nats-io/nats-server/v2 (the same server relay embeds), cached outside the source tree across
// test runs.
func NATSServerBinary(t testing.TB) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	bin, err := proc.NATSServerBinary(context.Background(), RepoRoot(t), os.Getenv)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return bin
}

// Proc is a running binary under test.
type Proc = proc.Process

// StartProc runs bin with args and the environment env (only these variables plus PATH and HOME), capturing its
// output. It is killed at cleanup.
func StartProc(t testing.TB, bin string, env map[string]string, args ...string) *Proc {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	p, err := proc.Start(proc.Spec{Name: filepath.Base(bin), Bin: bin, Args: args, Env: env})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.Output())
		}
	})
	return p
}

// WaitTCP polls addr until something accepts connections there or timeout passes.
func WaitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	if err := proc.WaitTCP(context.Background(), addr, timeout); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// WaitHTTP polls url until it answers 200 or timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	if err := proc.WaitHTTP(context.Background(), url, timeout, nil); err != nil {
		t.Fatalf("testenv: %v", err)
	}
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

// SeedVar is the environment variable that replays a random schedule: a test that draws its faults or load from
// Seed logs the seed it used, and BBB_CHAT_TEST_SEED=<that seed> draws the same again.
const SeedVar = "BBB_CHAT_TEST_SEED"

// Seed is the seed of a test's random schedule: $BBB_CHAT_TEST_SEED when set, else a new one. It is logged, so that
// a failure can be re-run with the same schedule.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(SeedVar); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("testenv: %s=%q: want an unsigned integer", SeedVar, v)
		}
	}
	t.Logf("random schedule seed %d (re-run with %s=%d)", seed, SeedVar, seed)
	return seed
}
