package main

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// logLimiter lets a message of each kind through at most once per interval and counts what it held back, so
// that garbage on Redis or a long outage cannot flood the log.
type logLimiter struct {
	mu       sync.Mutex
	every    time.Duration
	now      func() time.Time
	last     map[string]time.Time
	withheld map[string]int
}

func newLogLimiter(every time.Duration, now func() time.Time) *logLimiter {
	return &logLimiter{every: every, now: now, last: map[string]time.Time{}, withheld: map[string]int{}}
}

// allow reports whether a message of kind key may be logged now, and how many were held back since the last one.
func (l *logLimiter) allow(key string) (ok bool, withheld int) {
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

// natsLogger passes the embedded NATS server's log to slog. Fatalf must not exit the process (the server's own
// logger would): relay decides what a failed start means.
type natsLogger struct {
	log   *slog.Logger
	mu    sync.Mutex
	fatal []string
}

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(string, ...any)           {}
func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.fatal = append(l.fatal, msg)
	l.mu.Unlock()
	l.log.Error(msg)
}

func (l *natsLogger) fatalErrors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.fatal...)
}
