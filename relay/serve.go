package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/coverage"
	"github.com/bbb-chat/bbb-chat/relay/keep"
	"github.com/bbb-chat/bbb-chat/relay/natslink"
	"github.com/bbb-chat/bbb-chat/relay/publish"
	"github.com/bbb-chat/bbb-chat/relay/redisfeed"
	"github.com/bbb-chat/bbb-chat/relay/transcript"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/egress"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/redis/go-redis/v9"
)

// Sizes of relay's in-memory queues.
const (
	publishBuffer  = 50000 // events waiting for NATS (a burst, an outage); beyond this they are dropped: Redis cannot be paused
	publishWindow  = 512   // asynchronous publishes awaiting their acknowledgement
	publishTimeout = 5 * time.Second
	publishTries   = 3 // attempts for an event the stream refuses
	updateWorkers  = 4
	updateDepth    = 1024
)

func serveCmd(ctx context.Context, env cmdEnv) error {
	if len(env.args) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", env.args)
	}
	cfg, err := config.LoadRelay(env.getenv)
	if err != nil {
		return err
	}
	live := &reloadable{level: new(slog.LevelVar)}
	if err := live.apply(cfg); err != nil {
		return err
	}
	log := service.NewLogger(env.stderr, cfg.LogFormat, live.level)
	redis.SetLogger(service.RedisLogger{Log: log})
	return serve(ctx, cfg, log, live, env.getenv)
}

// reloadable is what SIGHUP may change while relay runs.
type reloadable struct {
	level  *slog.LevelVar
	egress atomic.Pointer[egress.Policy]
}

func (r *reloadable) apply(cfg config.Relay) error {
	policy, err := egress.NewPolicy(cfg.CallbackAllow)
	if err != nil {
		return err
	}
	r.level.Set(service.ParseLevel(cfg.LogLevel))
	r.egress.Store(&policy)
	return nil
}

// serve runs relay until ctx ends, then shuts down in order: stop reading Redis, flush the events not yet in the
// stream, finish the state updates, stop HTTP, let callback deliveries drain, close NATS, stop the embedded NATS
// server. The whole shutdown takes at most cfg.ShutdownTimeout (plus closing connections).
func serve(ctx context.Context, cfg config.Relay, log *slog.Logger, live *reloadable, getenv func(string) string) error {
	now := time.Now
	m := newMetrics(version)

	versions, err := redisfeed.NewVersions(cfg.BBBVersion, cfg.ReleaseFile)
	if versions == nil {
		return err
	}
	if err != nil {
		log.Warn("cannot read the BBB release file, inferring the version from events", "err", err)
	}
	redisOpts, err := redisfeed.RedisOptions(cfg.RedisURL)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("BBB_CHAT_RELAY_LISTEN: %w", err)
	}
	defer ln.Close()
	if err := service.ServeDebug(ctx, cfg.DebugListen, log); err != nil {
		return err
	}
	go service.NewProcs(log).Adapt(ctx, getenv)
	v, src := versions.Get()
	log.Info("relay starting", "version", version, "listen", ln.Addr().String(), "bbb_version", v.String(),
		"bbb_version_source", src)

	// NATS, the embedded server if need be, and the state on top.
	keeper := keep.NewKeeper(keep.StateOptions(cfg), log, m.reg)
	pubWake := make(chan struct{}, 1)
	onConnect := func() {
		keeper.Reopen()
		select {
		case pubWake <- struct{}{}:
		default:
		}
	}
	link, err := natslink.Connect(cfg, log, m.reg, onConnect)
	if err != nil {
		return err
	}
	defer link.Shutdown()
	nc := link.Conn()
	// hard ends everything still running when the shutdown deadline passes; bg ends the background loops.
	hard, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hardCancel()
	bg, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer bgCancel()
	cbCtx, cbCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cbCancel()

	upd := keep.NewUpdater(keep.UpdaterOptions{Log: log, Now: now, Store: keeper.Store, Ready: nc.IsConnected,
		Workers: updateWorkers, Depth: updateDepth}, m.reg)
	upd.Start(hard)
	pub := publish.New(publish.Options{
		Log: log, Conn: nc, Timeout: publishTimeout,
		Ready:       func() bool { return nc.IsConnected() && keeper.Store() != nil },
		Reopen:      keeper.Reopen,
		Wake:        pubWake,
		Buffer:      publishBuffer,
		Window:      publishWindow,
		MaxAttempts: publishTries,
		Done:        upd.Submit,
		Retry:       backoff.Exponential{Min: 100 * time.Millisecond, Max: 2 * time.Second},
		Now:         now,
	}, m.reg)
	feed := redisfeed.New(redisfeed.Options{Log: log, Now: now, Versions: versions, Store: keeper.Store,
		Connected: nc.IsConnected, Enqueue: pub.Enqueue, Server: cfg.ServerID}, m.reg)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.Run(hard) }()

	callbacks := make(chan (<-chan struct{}), 1)
	onOpen := func(s *state.Store) {
		pub.Notify()
		callbacks <- startCallbacks(cbCtx, cfg, s, log, m, live)
		go transcript.Run(bg, s, transcript.Options{Log: log.With("component", "transcript"),
			MaxAge: cfg.TranscriptMaxAge, Replicas: cfg.Replicas})
	}
	go keeper.Run(bg, nc, onOpen)
	go link.TakeOver(bg)
	go keep.RecordVersion(bg, keeper, cfg.ServerID, versions, log, now)

	ready := func(context.Context) []service.Problem {
		var missing []service.Problem
		if !feed.Subscribed() {
			missing = append(missing, service.Problem{Name: "redis", Detail: "not subscribed"})
		}
		if !nc.IsConnected() {
			missing = append(missing, service.Problem{Name: "nats", Detail: "not connected"})
		}
		if keeper.Store() == nil {
			missing = append(missing, service.Problem{Name: "state", Detail: "not open"})
		}
		return missing
	}
	srv := newServer(newHandler(m, ready))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "err", err)
		}
	}()

	stopRedis := feed.Subscribe(bg, redisOpts)
	go coverage.New(coverage.Options{Log: log, Now: now, Server: cfg.ServerID, Store: keeper.Store,
		Since: feed.SubscribedSince}, m.reg).Run(bg)
	go service.ReloadOnHUP(bg, getenv, log, config.LoadRelay, service.Reloader(cfg, live.apply), config.ReloadedText(cfg))
	// Ready for systemd once Redis is subscribed, so that a restart of one relay after the other (the units'
	// rolling restart and upgrade) never leaves BBB unheard; but not stuck when Redis is down: relay runs anyway.
	waitSubscribed(ctx, feed.Subscribed, readyWait)
	if err := service.Notify(getenv, "READY=1"); err != nil {
		log.Warn("cannot tell systemd we are ready", "err", err)
	}

	<-ctx.Done()
	service.Notify(getenv, "STOPPING=1")
	log.Info("relay stopping", "timeout", cfg.ShutdownTimeout)
	deadline := time.AfterFunc(cfg.ShutdownTimeout, hardCancel)
	defer deadline.Stop()
	cbCancel() // callback deliveries drain in parallel with the steps below

	stopRedis()
	pub.Close() // the reader has stopped: nothing else sends
	<-pubDone
	upd.Close()
	upd.Wait()

	if err := srv.Shutdown(hard); err != nil {
		srv.Close()
	}
	select {
	case done := <-callbacks:
		select {
		case <-done:
		case <-hard.Done():
			log.Warn("callback deliveries did not drain before the shutdown deadline")
		}
	default: // never started: the state was not open
	}
	bgCancel()
	if nc.IsConnected() {
		if err := nc.FlushTimeout(time.Second); err != nil {
			log.Warn("NATS flush at shutdown", "err", err)
		}
	}
	nc.Close()
	link.Shutdown()
	log.Info("relay stopped")
	return nil
}

// readyWait bounds how long relay waits for its Redis subscription before it tells systemd it is ready.
const readyWait = 20 * time.Second

// waitSubscribed waits until subscribed reports true, at most max, or ctx ends.
func waitSubscribed(ctx context.Context, subscribed func() bool, max time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	for !subscribed() && service.Sleep(ctx, 20*time.Millisecond) {
	}
}
