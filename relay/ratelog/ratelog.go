// Package ratelog owns relay's rate limit on repeated log messages: a message of each kind goes through at most
// once per interval, and the ones held back are counted, so that garbage on Redis or a long outage cannot flood
// the log. It decides only whether to log; it must not log itself nor keep anything but the last time of each
// kind.
package ratelog

import (
	"sync"
	"time"
)

// Limiter lets a message of each kind through at most once per interval. It is safe for concurrent use.
type Limiter struct {
	mu       sync.Mutex
	every    time.Duration
	now      func() time.Time
	last     map[string]time.Time
	withheld map[string]int
}

// New returns a limiter letting each kind through once per every, reading the time from now.
func New(every time.Duration, now func() time.Time) *Limiter {
	return &Limiter{every: every, now: now, last: map[string]time.Time{}, withheld: map[string]int{}}
}

// Allow reports whether a message of kind key may be logged now, and how many were held back since the last one.
func (l *Limiter) Allow(key string) (ok bool, withheld int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if last, seen := l.last[key]; seen && now.Sub(last) < l.every {
		l.withheld[key]++
		return false, 0
	}
	if len(l.last) > 1000 { // keys come from small fixed sets; this only guards against a bug
		clear(l.last)
		clear(l.withheld)
	}
	l.last[key] = now
	n := l.withheld[key]
	delete(l.withheld, key)
	return true, n
}
