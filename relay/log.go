package main

import (
	"fmt"
	"log/slog"
	"sync"
)

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
