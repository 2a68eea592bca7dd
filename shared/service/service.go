// Package service is the process skeleton ingress and relay share: the structured logger (with a level that
// SIGHUP can change; errors under the key "err"), go-redis logging, the one NATS connection builder
// (ConnectNATS), the one SIGHUP reload path (ReloadOnHUP), systemd readiness notification, /healthz and /readyz
// (one body shape for both), the `healthcheck` probe used by container health checks, the loopback profiles
// (ServeDebug) and the processor governor (Procs). It holds nothing about chat, and no metric: each binary
// counts what the hooks tell it.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/config"
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

// NATSEvents is what a binary does when its NATS connection changes (count it, reopen its state). ConnectNATS logs
// the changes itself; any field may be nil.
type NATSEvents struct {
	// Connected is called on the first connection (reconnect false) and on every reconnection (true).
	Connected func(nc *nats.Conn, reconnect bool)
	// Disconnected is called when a connection is lost (not when it is closed).
	Disconnected func()
	// Closed is called once the connection is closed for good.
	Closed func()
}

// NATS connection settings of both binaries: a connection attempt gives up after natsDialTimeout, and reconnection
// waits natsRetryMin, doubling up to natsRetryMax.
const (
	natsDialTimeout = 2 * time.Second
	natsRetryMin    = 100 * time.Millisecond
	natsRetryMax    = 2 * time.Second
)

// ConnectNATS is the one way both binaries connect to NATS (c.NATSURL, with c.NATSCreds): it retries the first
// connection and reconnects forever, in the background, so a service starts while NATS is down and /readyz says
// so. name names the client to the server ("bbb-chat relay"). Connections, losses and asynchronous errors are
// logged here (the latter at most once per 10 s); ev adds what the binary does about them.
func ConnectNATS(c config.Common, name string, log *slog.Logger, ev NATSEvents) (*nats.Conn, error) {
	var lastAsync atomic.Int64 // unix nanoseconds of the last logged asynchronous error
	var heldAsync atomic.Int64 // asynchronous errors not logged since
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.Timeout(natsDialTimeout),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			return min(natsRetryMin<<min(attempts, 5), natsRetryMax)
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("NATS connected", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
			if ev.Connected != nil {
				ev.Connected(nc, false)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted())
			if ev.Connected != nil {
				ev.Connected(nc, true)
			}
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return
			}
			log.Warn("NATS disconnected, reconnecting", "err", err)
			if ev.Disconnected != nil {
				ev.Disconnected()
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			if ev.Closed != nil {
				ev.Closed()
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			now := time.Now().UnixNano()
			if last := lastAsync.Load(); now-last < int64(10*time.Second) || !lastAsync.CompareAndSwap(last, now) {
				heldAsync.Add(1)
				return
			}
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("NATS asynchronous error", "err", err, "subject", subject, "errors_before", heldAsync.Swap(0))
		}),
	}
	if c.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(c.NATSCreds))
	}
	nc, err := nats.Connect(c.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("NATS %s: %w", RedactURLs(c.NATSURL), err)
	}
	if !nc.IsConnected() {
		log.Warn("NATS not reachable yet, retrying in the background", "url", RedactURLs(c.NATSURL))
	}
	return nc, nil
}

// RedactURLs drops passwords and tokens from a comma-separated list of URLs (BBB_CHAT_NATS_URL), for logs.
func RedactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// ReloadOnHUP re-reads the configuration on every SIGHUP until ctx ends, between systemd's RELOADING=1 and
// READY=1: load reads it (from getenv), apply puts into effect what may change at run time, named by what for the
// log. A configuration that does not load or apply is refused, logged, and the running one kept.
func ReloadOnHUP[C any](ctx context.Context, getenv func(string) string, log *slog.Logger,
	load func(func(string) string) (C, error), apply func(C) error, what string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloadOn(ctx, hup, getenv, log, load, apply, what)
}

// reloadOn is ReloadOnHUP's loop, reloading on every value of hup.
func reloadOn[C any](ctx context.Context, hup <-chan os.Signal, getenv func(string) string, log *slog.Logger,
	load func(func(string) string) (C, error), apply func(C) error, what string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		Notify(getenv, "RELOADING=1")
		if c, err := load(getenv); err != nil {
			log.Error("reload refused: configuration is invalid; keeping the running one", "err", err)
		} else if err := apply(c); err != nil {
			if rn, ok := errors.AsType[*RestartNeeded](err); ok {
				log.Warn("configuration reloaded in part ("+what+"); these settings changed but take a restart, and keep their running values until then",
					"keys", strings.Join(rn.Keys, ","))
			} else {
				log.Error("reload refused; keeping the running configuration", "err", err)
			}
		} else {
			log.Info("configuration reloaded (" + what + ")")
		}
		Notify(getenv, "READY=1")
	}
}

// RestartNeeded is what a reload's apply returns when it applied what a reload may change but keys changed that
// only a restart applies (config.RestartOnly): ReloadOnHUP logs the reload as partial, naming them.
type RestartNeeded struct{ Keys []string }

func (e *RestartNeeded) Error() string {
	return "these settings take a restart: " + strings.Join(e.Keys, ", ")
}

// Reloader is apply for ReloadOnHUP that also compares the loaded configuration with the running one: when keys
// changed that a reload does not apply (config.RestartOnly), it returns *RestartNeeded after applying the rest.
func Reloader[C any](running C, apply func(C) error) func(C) error {
	return func(c C) error {
		if err := apply(c); err != nil {
			return err
		}
		if keys := config.RestartOnly(running, c); len(keys) > 0 {
			return &RestartNeeded{Keys: keys}
		}
		return nil
	}
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
