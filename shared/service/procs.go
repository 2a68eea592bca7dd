package service

import (
	"context"
	"log/slog"
	"runtime"
	"syscall"
	"time"
)

// Procs decides how many processors the Go scheduler runs a service's goroutines on, from the CPU the process
// used lately. bbb-chat's work is many small hand-offs (a Redis read, a publish, an acknowledgement, a
// callback): with every core of a BBB server available, nearly each of them wakes an idle processor that finds
// nothing to do and sleeps again, which costs more than the work itself at moderate rates. So while the
// process needs less than Up of one core it runs on one processor; once a sample shows it above, it runs on all
// (Go's default: the cores, or the container's CPU limit) until it has been below Down for DownAfter. Down is
// below Up by more than what the extra processors cost, so a steady load does not flip between the two.
//
// An operator's GOMAXPROCS takes precedence: Adapt does nothing then.
type Procs struct {
	Up, Down  float64       // cores: run on all processors at Up or more, back to one below Down
	Every     time.Duration // how often the process's CPU time is sampled
	DownAfter time.Duration // how long below Down before one processor again

	CPU  func() time.Duration // CPU time the process used so far
	Now  func() time.Time
	Set  func(one bool) // one processor, or Go's default
	Log  *slog.Logger
	wide bool // runs on all processors
	low  time.Time
}

// NewProcs returns the governor with bbb-chat's thresholds, acting on this process.
func NewProcs(log *slog.Logger) *Procs {
	return &Procs{Up: 0.5, Down: 0.35, Every: 500 * time.Millisecond, DownAfter: 10 * time.Second,
		CPU: ProcessCPU, Now: time.Now, Log: log, Set: func(one bool) {
			if one {
				runtime.GOMAXPROCS(1)
			} else {
				runtime.SetDefaultGOMAXPROCS()
			}
		}}
}

// ProcessCPU is the user and system CPU time this process used so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Adapt governs the processors until ctx ends, starting on one; on return the process runs on Go's default.
// With GOMAXPROCS set in getenv it returns at once.
func (p *Procs) Adapt(ctx context.Context, getenv func(string) string) {
	if getenv("GOMAXPROCS") != "" {
		return
	}
	p.Set(true)
	defer p.Set(false)
	t := time.NewTicker(p.Every)
	defer t.Stop()
	last, at := p.CPU(), p.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cpu, now := p.CPU(), p.Now()
		p.Sample(float64(cpu-last)/float64(now.Sub(at)), now)
		last, at = cpu, now
	}
}

// Sample takes the cores used since the last sample and switches if need be.
func (p *Procs) Sample(cores float64, now time.Time) {
	switch {
	case !p.wide && cores >= p.Up:
		p.wide = true
		p.Set(false)
		p.Log.Debug("load rising: running on all processors", "cores_used", cores)
	case p.wide && cores >= p.Down:
		p.low = time.Time{}
	case p.wide && p.low.IsZero():
		p.low = now
	case p.wide && now.Sub(p.low) >= p.DownAfter:
		p.wide = false
		p.low = time.Time{}
		p.Set(true)
		p.Log.Debug("load low: running on one processor", "cores_used", cores)
	}
}
