// Package proc starts the throw-away processes that bbb-chat's tests, benchmark and demo run against: a
// redis-server and a JetStream nats-server on free loopback ports with their data in a directory of the caller's,
// and the ingress and relay binaries built outside the source tree. It is the one place that knows how to start,
// watch, stop and build them; internal/testenv wraps it for tests (testing.TB and t.Cleanup), deploy/bench and
// deploy/demo call it directly (with a context and Stop).
//
// What it keeps of each process: the output (in memory, bounded when asked, and in a log file when asked), the
// process id for /proc, and its exit. Every child is killed when the process that started it dies (on Linux), so
// an interrupted run leaves no servers behind. It must not write into the source tree: binaries go to a
// directory given by the caller or to the user's cache directory (see BinDir). It is for tests and tools only.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Spec says what to run.
type Spec struct {
	Name string // for messages and the default log file name
	Bin  string
	Args []string
	Dir  string // working directory; empty: the caller's
	// Env is the child's whole environment besides PATH and HOME; nil means the caller's environment.
	Env map[string]string
	// LogFile, when set, receives everything the process prints (appended, so a restarted server's log goes on).
	LogFile string
	// KeepBytes bounds the output kept in memory (the last KeepBytes, roughly); 0 keeps it all.
	KeepBytes int
}

// Process is a running (or exited) child.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done closes

	mu   sync.Mutex
	out  strings.Builder
	keep int
}

// Start starts the process described by s.
func Start(s Spec) (*Process, error) {
	cmd := exec.Command(s.Bin, s.Args...)
	cmd.Dir = s.Dir
	if s.Env != nil {
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		for k, v := range s.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.SysProcAttr = sysProcAttr()
	name := s.Name
	if name == "" {
		name = s.Bin
	}
	var logf *os.File
	if s.LogFile != "" {
		var err error
		if logf, err = os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return nil, fmt.Errorf("%s log: %w", name, err)
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		if logf != nil {
			logf.Close()
		}
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		if logf != nil {
			logf.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close()
	p := &Process{name: name, cmd: cmd, done: make(chan struct{}), keep: s.KeepBytes}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		p.copyOutput(pr, logf)
	}()
	go func() {
		err := cmd.Wait()
		// The output is complete once the process has exited and the pipe is drained; a child of the process
		// that kept the pipe open is not waited for long.
		t := time.NewTimer(2 * time.Second)
		select {
		case <-copied:
		case <-t.C:
			pr.Close()
			<-copied
		}
		t.Stop()
		p.err = err
		close(p.done)
	}()
	return p, nil
}

func (p *Process) copyOutput(pr *os.File, logf *os.File) {
	defer pr.Close()
	if logf != nil {
		defer logf.Close()
	}
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		p.mu.Lock()
		if p.keep > 0 && p.out.Len()+len(line) > p.keep {
			rest := p.out.String()
			rest = rest[min(len(rest), max(len(rest)/2, len(line))):]
			p.out.Reset()
			p.out.WriteString(rest)
		}
		p.out.Write(line)
		p.out.WriteByte('\n')
		p.mu.Unlock()
		if logf != nil {
			logf.Write(append(line, '\n'))
		}
	}
}

// Name is the process's name from its Spec.
func (p *Process) Name() string { return p.name }

// Pid is the process id (for /proc/<pid>/status).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is what the process printed so far (the end of it, with Spec.KeepBytes).
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Tail is the last n bytes or so of the output, for error messages.
func (p *Process) Tail(n int) string {
	s := p.Output()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the process's exit error (nil for status 0); valid once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Wait waits up to timeout for the process to exit and returns its exit error (nil for status 0).
func (p *Process) Wait(timeout time.Duration) (err error, exited bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err, true
	case <-t.C:
		return nil, false
	}
}

// Signal sends sig to the process, if it still runs.
func (p *Process) Signal(sig os.Signal) error {
	if p.Exited() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL (a crash, not a clean shutdown) and waits for the process to exit.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
}

// Stop asks the process to end (SIGINT, as Ctrl-C would), and kills it if it has not exited after grace.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	if _, ok := p.Wait(grace); !ok {
		p.Kill()
	}
}

// Poll calls cond every interval until it returns true (nil), ctx ends or timeout passes (an error).
func Poll(ctx context.Context, timeout, interval time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// WaitTCP waits until something accepts connections on addr.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	var last error
	err := Poll(ctx, timeout, 10*time.Millisecond, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			last = err
			return false
		}
		c.Close()
		return true
	})
	if err != nil {
		return fmt.Errorf("nothing listens on %s: %w (last: %v)", addr, err, last)
	}
	return nil
}

// WaitHTTP polls url until it answers 200. With p set it gives up as soon as p exits, and says what p printed.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration, p *Process) error {
	c := &http.Client{Timeout: 2 * time.Second}
	var exited bool
	err := Poll(ctx, timeout, 20*time.Millisecond, func() bool {
		if p != nil && p.Exited() {
			exited = true
			return true
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	switch {
	case exited:
		return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.Tail(4000))
	case err != nil && p != nil:
		return fmt.Errorf("GET %s did not answer 200: %w\n%s", url, err, p.Tail(4000))
	case err != nil:
		return fmt.Errorf("GET %s did not answer 200: %w", url, err)
	}
	return nil
}

// Ports hands out free loopback TCP ports, each at most once: the kernel may hand a port it just released to the
// next request, and two servers of one run given the same port would have the second fail to listen while the
// first answers for it. The zero value is ready to use.
type Ports struct {
	handedOut sync.Map
}

// Free returns a loopback TCP port that was free a moment ago and that p has not returned before.
func (p *Ports) Free() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := p.handedOut.LoadOrStore(port, true); !taken {
			return port, nil
		}
	}
	return 0, errors.New("free port: none that was not handed out before")
}

// FreeAddr is Free as "127.0.0.1:port".
func (p *Ports) FreeAddr() (string, error) {
	port, err := p.Free()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}
