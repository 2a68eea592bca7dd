// Package service is the process plumbing ingress and relay share: the structured logger (with a level that
// SIGHUP can change), go-redis and NATS logging and connection options, systemd readiness notification, the
// `healthcheck` probe used by container health checks and the loopback profiles (ServeDebug). It holds nothing
// about chat.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// NewLogger builds a process's logger: text or JSON on w, at the level held by level (change it at run time with
// level.Set).
func NewLogger(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ParseLevel reads BBB_CHAT_LOG_LEVEL's value (debug, info, warn, error); anything else is info.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// RedisLogger sends go-redis's own messages (pool dial failures and the like) to the structured log at debug
// level: the services log connection problems themselves, once, with context.
type RedisLogger struct{ Log *slog.Logger }

// Printf implements go-redis's logging interface.
func (l RedisLogger) Printf(_ context.Context, format string, v ...any) {
	l.Log.Debug("redis client", "detail", fmt.Sprintf(format, v...))
}

// NATSOptions are the connection options both binaries use: reconnect forever with jitter, log and count each
// disconnect and reconnect in events (label "event").
func NATSOptions(c config.Common, name string, log *slog.Logger, events metrics.Vec) []nats.Option {
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			events.With("disconnect").Inc()
			if err != nil {
				log.Warn("nats disconnected", "error", err.Error())
			} else {
				log.Warn("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			events.With("reconnect").Inc()
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	}
	if c.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(c.NATSCreds))
	}
	return opts
}

// Notify sends a state line to systemd ("READY=1", "STOPPING=1", "RELOADING=1") when NOTIFY_SOCKET is set
// (Type=notify units); without it, it does nothing.
func Notify(getenv func(string) string, state string) error {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// HealthCheck GETs http://<listen>/healthz and returns nil on 200: the `healthcheck` subcommand of both
// binaries, for container health checks in images without curl.
func HealthCheck(ctx context.Context, listen string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", req.URL, resp.Status)
	}
	return nil
}

// Checks collects the lines of a `check` subcommand: what is right and what is wrong, one line each.
type Checks struct {
	W      io.Writer
	failed int
}

// OK prints a passing line.
func (c *Checks) OK(format string, args ...any) {
	fmt.Fprintf(c.W, "ok    %s\n", fmt.Sprintf(format, args...))
}

// Warn prints a warning line (does not fail the check).
func (c *Checks) Warn(format string, args ...any) {
	fmt.Fprintf(c.W, "warn  %s\n", fmt.Sprintf(format, args...))
}

// Fail prints a failing line.
func (c *Checks) Fail(format string, args ...any) {
	c.failed++
	fmt.Fprintf(c.W, "FAIL  %s\n", fmt.Sprintf(format, args...))
}

// Err is nil when nothing failed, for the exit status.
func (c *Checks) Err() error {
	if c.failed == 0 {
		return nil
	}
	return fmt.Errorf("%d check(s) failed", c.failed)
}

// ErrUsage marks a command-line mistake.
var ErrUsage = errors.New("usage")

// CheckRedis adds the lines about BBB's Redis to a `check`: reachable, and BBB (akka-apps) listening on
// the channel requests go to (toAkka).
func CheckRedis(ctx context.Context, c *Checks, redisURL, toAkka string) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		c.Fail("BBB_CHAT_REDIS_URL: %v", err)
		return
	}
	opts.MaxRetries, opts.DialTimeout = 1, 2*time.Second
	redis.SetLogger(RedisLogger{Log: slog.New(slog.DiscardHandler)})
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		c.Fail("Redis at %s unreachable: %v", opts.Addr, err)
	} else if n, err := rdb.PubSubNumSub(ctx, toAkka).Result(); err == nil && n[toAkka] == 0 {
		c.Warn("Redis at %s answers, but nobody listens on %s: is BBB (akka-apps) running?", opts.Addr, toAkka)
	} else {
		c.OK("Redis at %s answers and BBB listens", opts.Addr)
	}
}

// CheckListen adds the line about a service's listen address to a `check`: free, or already served by the
// service itself (its /healthz answers).
func CheckListen(ctx context.Context, c *Checks, setting, addr, service string) {
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		c.OK("%s %s is free", setting, addr)
	} else if HealthCheck(ctx, addr) == nil {
		c.OK("%s answers on %s", service, addr)
	} else {
		c.Fail("%s %s is taken by something else: %v", setting, addr, err)
	}
}

// Sleep waits d or until ctx ends; false when ctx ended first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
