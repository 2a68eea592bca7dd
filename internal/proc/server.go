package proc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is one server process on a fixed port with its data in Dir, which may be stopped and started again (same
// port, same data). Its output goes to LogFile, across restarts.
type Server struct {
	Name    string
	Addr    string // 127.0.0.1:port
	Dir     string // data directory
	LogFile string // Dir/<name>.log unless set before Start

	bin  string
	args []string

	mu sync.Mutex
	p  *Process
}

// NewServer describes a server; Start starts it.
func NewServer(name, bin, addr, dir string, args ...string) *Server {
	return &Server{Name: name, Addr: addr, Dir: dir, LogFile: filepath.Join(dir, name+".log"), bin: bin, args: args}
}

// Start starts the server (if it does not run) and waits until it accepts connections.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.Exited() {
		return nil
	}
	p, err := Start(Spec{Name: s.Name, Bin: s.bin, Args: s.args, Dir: s.Dir, LogFile: s.LogFile, KeepBytes: 64 << 10})
	if err != nil {
		return err
	}
	s.p = p
	if err := WaitTCP(ctx, s.Addr, 20*time.Second); err != nil {
		p.Kill()
		return fmt.Errorf("%s: %w\n%s", s.Name, err, p.Tail(4000))
	}
	return nil
}

// Kill kills the server (SIGKILL: a crash, not a clean shutdown) and waits for it to exit.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		s.p.Kill()
	}
}

// Stop asks the server to end, and kills it after grace.
func (s *Server) Stop(grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		s.p.Stop(grace)
	}
}

// Signal sends sig to the running server: SIGSTOP makes it hang with its connections open, SIGCONT wakes it.
func (s *Server) Signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		_ = s.p.Signal(sig)
	}
}

// Process is the current (or last) process of the server, nil before Start.
func (s *Server) Process() *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

// Log returns what the server printed so far, across restarts.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogFile)
	return string(b)
}

// Redis describes a redis-server on addr that persists nothing and keeps its files in dir; Start starts it. Its
// URL is RedisURL.
func Redis(addr, dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not installed (apt-get install redis-server): %w", err)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	return NewServer("redis", bin, addr, dir, "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir), nil
}

// RedisURL is the URL of a server from Redis.
func RedisURL(s *Server) string { return "redis://" + s.Addr + "/0" }

// NATSOptions are what a test or the benchmark may set on a nats-server besides its address.
type NATSOptions struct {
	// Monitor, when set, is the address of the server's HTTP monitoring endpoint.
	Monitor string
	// MaxConsumers, when not 0, is the JetStream default_max_consumers per stream (-1: unlimited).
	MaxConsumers int
}

// NATS describes a JetStream nats-server (the binary bin, see NATSServerBinary) on addr, storing under dir/js in
// files, so that a restart keeps streams; Start starts it. Its URL is NATSURL.
func NATS(bin, addr, dir string, o NATSOptions) (*Server, error) {
	conf := fmt.Sprintf("listen: %q\n", addr)
	if o.Monitor != "" {
		conf += fmt.Sprintf("http: %q\n", o.Monitor)
	}
	conf += fmt.Sprintf("jetstream {\n  store_dir: %q\n", filepath.Join(dir, "js"))
	if o.MaxConsumers != 0 {
		conf += "  limits { default_max_consumers: " + strconv.Itoa(o.MaxConsumers) + " }\n"
	}
	conf += "}\n"
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return NewServer("nats", bin, addr, dir, "-c", path), nil
}

// NATSURL is the URL of a server from NATS.
func NATSURL(s *Server) string { return "nats://" + s.Addr }

// NATSCluster describes a three-node JetStream cluster of the nats-server bin on free ports from ports, node i
// storing under dir/n<i>; the caller starts the nodes (any order: they find each other by their routes). A client
// given NATSClusterURL may use any node; JetStream answers once the nodes have elected a leader.
func NATSCluster(bin, dir string, ports *Ports) ([]*Server, error) {
	const n = 3
	var client, route [n]string
	for i := range n {
		var err error
		if client[i], err = ports.FreeAddr(); err != nil {
			return nil, err
		}
		if route[i], err = ports.FreeAddr(); err != nil {
			return nil, err
		}
	}
	nodes := make([]*Server, n)
	for i := range n {
		ndir := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		if err := os.MkdirAll(ndir, 0o700); err != nil {
			return nil, err
		}
		var routes []string
		for j := range n {
			if j != i {
				routes = append(routes, strconv.Quote("nats-route://"+route[j]))
			}
		}
		conf := fmt.Sprintf("server_name: \"n%d\"\nlisten: %q\njetstream {\n  store_dir: %q\n}\n"+
			"cluster {\n  name: \"bbbchat\"\n  listen: %q\n  routes: [%s]\n}\n",
			i+1, client[i], filepath.Join(ndir, "js"), route[i], strings.Join(routes, ", "))
		path := filepath.Join(ndir, "nats.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		nodes[i] = NewServer(fmt.Sprintf("nats-n%d", i+1), bin, client[i], ndir, "-c", path)
	}
	return nodes, nil
}

// NATSClusterURL is the URL listing every node of a cluster from NATSCluster.
func NATSClusterURL(nodes []*Server) string {
	urls := make([]string, len(nodes))
	for i, s := range nodes {
		urls[i] = NATSURL(s)
	}
	return strings.Join(urls, ",")
}
