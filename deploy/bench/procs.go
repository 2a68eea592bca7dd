package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/service"
)

// cleanups runs what was started, in reverse order, once.
type cleanups struct {
	mu  sync.Mutex
	fns []func()
}

func (c *cleanups) add(f func()) {
	c.mu.Lock()
	c.fns = append(c.fns, f)
	c.mu.Unlock()
}

func (c *cleanups) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeAddr() (string, error) {
	p, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// waitTCP waits until something accepts connections on addr.
func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
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
		if !service.Sleep(ctx, 10*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string, timeout time.Duration, p *proc) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.tail())
		}
		if time.Now().After(deadline) {
			msg := ""
			if p != nil {
				msg = "\n" + p.tail()
			}
			return fmt.Errorf("GET %s did not answer 200 within %s%s", url, timeout, msg)
		}
		if !service.Sleep(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// proc is a child process the benchmark started and stops at the end.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	mu   sync.Mutex
	out  bytes.Buffer // last output, bounded
}

// startProc runs bin with args; env nil means the benchmark's own environment, else only PATH, HOME and env. With
// logDir set, everything the process prints is also written to logDir/<name>.log.
func startProc(name, bin, dir, logDir string, env map[string]string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close()
	var logf *os.File
	if logDir != "" {
		if logf, err = os.Create(filepath.Join(logDir, name+".log")); err != nil {
			logf = nil
		}
	}
	go func() {
		if logf != nil {
			defer logf.Close()
		}
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			if p.out.Len() > 64<<10 {
				rest := p.out.Bytes()[32<<10:]
				p.out.Reset()
				p.out.Write(rest)
			}
			p.out.Write(sc.Bytes())
			p.out.WriteByte('\n')
			p.mu.Unlock()
			if logf != nil {
				logf.Write(append(sc.Bytes(), '\n'))
			}
		}
		pr.Close()
	}()
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail is the end of what the process printed.
func (p *proc) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.out.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

// stop asks the process to end (SIGTERM), then kills it after grace.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// repoRoot finds the directory of bbb-chat's go.mod from the working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/bbb-chat/bbb-chat\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the bbb-chat repository (no go.mod of github.com/bbb-chat/bbb-chat above the working directory)")
		}
		dir = parent
	}
}

// goBuild builds the main package pkg into out.
func goBuild(ctx context.Context, root, pkg, out string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// natsServerBinary is $BBB_CHAT_NATS_SERVER, else .bin/nats-server of the repository, built from the module's
// pinned nats-server when missing.
func natsServerBinary(ctx context.Context, root string, getenv func(string) string) (string, error) {
	if p := getenv("BBB_CHAT_NATS_SERVER"); p != "" {
		return p, nil
	}
	out := filepath.Join(root, ".bin", "nats-server")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	if err := goBuild(ctx, root, "github.com/nats-io/nats-server/v2", tmp); err != nil {
		return "", err
	}
	return out, os.Rename(tmp, out)
}

// startRedis runs a redis-server on a free loopback port that persists nothing.
func startRedis(ctx context.Context, dir, logDir string) (*proc, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("redis-server not installed (apt-get install redis-server), or pass -redis URL: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return nil, "", err
	}
	p, err := startProc("redis-server", bin, rdir, logDir, nil, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", rdir)
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitTCP(ctx, addr, 20*time.Second); err != nil {
		p.stop(time.Second)
		return nil, "", fmt.Errorf("redis-server: %w\n%s", err, p.tail())
	}
	return p, "redis://" + addr + "/0", nil
}

// startNATS runs a JetStream nats-server on a free loopback port, storing in dir, with its monitoring endpoint on
// monAddr. maxConsumers > 0 or -1 sets the server's default_max_consumers per stream.
func startNATS(ctx context.Context, bin, dir, logDir, monAddr string, maxConsumers int) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	ndir := filepath.Join(dir, "nats")
	if err := os.MkdirAll(ndir, 0o700); err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	conf := fmt.Sprintf("listen: %q\nhttp: %q\njetstream {\n  store_dir: %q\n", addr, monAddr, filepath.Join(ndir, "js"))
	if maxConsumers != 0 {
		conf += fmt.Sprintf("  limits { default_max_consumers: %d }\n", maxConsumers)
	}
	conf += "}\n"
	confPath := filepath.Join(ndir, "nats.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, "", err
	}
	p, err := startProc("nats-server", bin, ndir, logDir, nil, "-c", confPath)
	if err != nil {
		return nil, "", err
	}
	if err := waitTCP(ctx, addr, 20*time.Second); err != nil {
		p.stop(time.Second)
		return nil, "", fmt.Errorf("nats-server: %w\n%s", err, p.tail())
	}
	return p, "nats://" + addr, nil
}

// procStat is what /proc says about a process: peak and current resident memory, CPU time so far.
type procStat struct {
	HWMKB  int64         // VmHWM: peak resident set
	RSSKB  int64         // VmRSS
	AnonKB int64         // RssAnon: heap, stacks (VmRSS = RssAnon + RssFile + RssShmem)
	FileKB int64         // RssFile: mapped files, mostly the binary's own pages
	CPU    time.Duration // utime + stime
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

func readProcStat(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			st.HWMKB = n
		case "VmRSS":
			st.RSSKB = n
		case "RssAnon":
			st.AnonKB = n
		case "RssFile":
			st.FileKB = n
		}
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return st, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	sy, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	st.CPU = time.Duration(ut+sy) * clockTick
	return st, nil
}

// exportRev writes the tree of a git revision into dir, to build from.
func exportRev(ctx context.Context, root, rev, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", rev)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return "", err
	}
	untar.Stdin = pipe
	var stderr bytes.Buffer
	archive.Stderr, untar.Stderr = &stderr, &stderr
	if err := untar.Start(); err != nil {
		return "", fmt.Errorf("tar: %w", err)
	}
	if err := archive.Run(); err != nil {
		untar.Wait()
		return "", fmt.Errorf("git archive %s: %w\n%s", rev, err, stderr.String())
	}
	if err := untar.Wait(); err != nil {
		return "", fmt.Errorf("tar: %w\n%s", err, stderr.String())
	}
	return dir, nil
}

// applyPatch applies a patch file to the exported tree in dir.
func applyPatch(ctx context.Context, dir, patch string) error {
	abs, err := filepath.Abs(patch)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "git", "apply", "-p1", abs)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git apply %s: %w\n%s", patch, err, b)
	}
	return nil
}
