package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/egress"
	"github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

const usage = `usage: ingress [command]

Commands:
  (none)    run the API service (configuration from BBB_CHAT_* environment variables)
  version   print the version
`

// run is the whole program; main only gives it the process's context, arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "", "serve":
		return serve(ctx, getenv, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "bbb-chat ingress %s\n", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// newLogger builds the process's logger from the configuration.
func newLogger(c config.Common, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.LoadIngress(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Common, stderr).With("service", "ingress")
	if cfg.SharedSecret == config.DefaultSecret {
		log.Warn("BBB_CHAT_SHARED_SECRET is the example value change_me: anyone who read the README can call the API; set a random secret")
	}
	reg := metrics.New()
	reg.Gauge("bbbchat_build_info", "Build information.", "version", "service").With(version, "ingress").Set(1)

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("BBB_CHAT_REDIS_URL: %w", err)
	}
	redis.SetLogger(redisLogger{log})
	rdb := redis.NewClient(ropts)
	defer rdb.Close()

	var store atomic.Pointer[state.Store]
	natsEvents := reg.Counter("bbbchat_nats_connection_events_total", "NATS disconnects and reconnects.", "event")
	nc, err := nats.Connect(cfg.NATSURL, natsOptions(cfg.Common, log, natsEvents)...)
	if err != nil {
		return fmt.Errorf("nats %s: %w", cfg.NATSURL, err)
	}
	defer nc.Close()
	var wg sync.WaitGroup
	// A checksum is valid for 2*delta+1 seconds; remember used ones a little longer than that.
	nonceTTL := max(time.Minute, time.Duration(2*cfg.TimeDelta+5)*time.Second)
	wg.Go(func() { openState(ctx, nc, cfg.Common, nonceTTL, &store, log) })

	fixed := bbb.Version{}
	if cfg.BBBVersion != "auto" {
		if fixed, err = bbb.ParseVersion(cfg.BBBVersion); err != nil {
			return fmt.Errorf("BBB_CHAT_BBB_VERSION: %w", err)
		}
	} else if v, err := bbb.ReadReleaseFile(cfg.ReleaseFile); err == nil {
		fixed = v
		log.Info("BBB version from release file", "version", v.String(), "file", cfg.ReleaseFile)
	}
	policy, err := egress.NewPolicy(cfg.CallbackAllow)
	if err != nil {
		return err
	}
	a := &api{
		egress:   policy,
		log:      log,
		cfg:      cfg,
		verify:   checksum.Verifier{Secrets: cfg.Secrets(), Delta: cfg.TimeDelta, Now: time.Now},
		store:    &store,
		rdb:      rdb,
		now:      time.Now,
		versions: &versionSource{fixed: fixed, now: time.Now},
		m:        newAPIMetrics(reg),
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("BBB_CHAT_LISTEN %s: %w", cfg.Listen, err)
	}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.MetricsListen != "" && cfg.MetricsListen != "off" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			srv.Close()
			return fmt.Errorf("BBB_CHAT_METRICS_LISTEN %s: %w", cfg.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", reg.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
		servers = append(servers, msrv)
		go func() { errc <- msrv.Serve(mln) }()
	}
	log.Info("ingress listening", "addr", ln.Addr().String(), "metrics", cfg.MetricsListen, "version", version)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
	}
	log.Info("ingress stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	wg.Wait()
	return nil
}

// natsOptions are the connection options both binaries use: reconnect forever, log and count each change.
func natsOptions(c config.Common, log *slog.Logger, events metrics.Vec) []nats.Option {
	opts := []nats.Option{
		nats.Name("bbb-chat"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			events.With("disconnect").Inc()
			log.Warn("nats disconnected", "error", errString(err))
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

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// openState opens the JetStream state, retrying until it succeeds or ctx ends.
func openState(ctx context.Context, nc *nats.Conn, c config.Common, nonceTTL time.Duration, store *atomic.Pointer[state.Store], log *slog.Logger) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := state.Open(octx, nc, state.Options{
			Replicas: c.Replicas, EventsMaxAge: c.StreamMaxAge, EventsMaxBytes: c.StreamMaxBytes, NonceTTL: nonceTTL,
		})
		cancel()
		if err == nil {
			store.Store(s)
			log.Info("state open", "nats", nc.ConnectedUrlRedacted())
			return
		}
		if attempt == 1 || attempt%20 == 0 {
			log.Warn("cannot open state in NATS JetStream yet; retrying", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// versionSource tells which BBB version to speak: the configured or release-file version, else the one relay
// inferred from events (re-read every few seconds).
type versionSource struct {
	fixed bbb.Version
	now   func() time.Time
	mu    sync.Mutex
	seen  bbb.Version
	at    time.Time
}

func (v *versionSource) get(ctx context.Context, s *state.Store) (bbb.Version, error) {
	if !v.fixed.IsZero() {
		return v.fixed, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.seen.IsZero() && v.now().Sub(v.at) < 5*time.Second {
		return v.seen, nil
	}
	sv, err := s.GetServerVersion(ctx)
	if errors.Is(err, state.ErrNotFound) {
		return bbb.Version{}, errVersionUnknown
	}
	if err != nil {
		if !v.seen.IsZero() {
			return v.seen, nil
		}
		return bbb.Version{}, fmt.Errorf("%w: %w", errNATS, err)
	}
	ver, err := bbb.ParseVersion(strings.TrimSpace(sv.Version))
	if err != nil {
		return bbb.Version{}, withDetail(errVersionUnknown, "relay recorded %q", sv.Version)
	}
	v.seen, v.at = ver, v.now()
	return ver, nil
}

// redisLogger sends go-redis's own messages (pool dial failures and the like) to the structured log.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis client", "detail", fmt.Sprintf(format, v...))
}
