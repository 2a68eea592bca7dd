package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
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
