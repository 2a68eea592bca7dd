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

	"github.com/bbb-chat/bbb-chat/relay/natslink"
	"github.com/bbb-chat/bbb-chat/relay/publish"
	"github.com/bbb-chat/bbb-chat/relay/ratelog"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/egress"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
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
	meetingCacheN  = 10000
	unknownTTL     = time.Minute
	lookupTimeout  = 250 * time.Millisecond
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

	versions, err := newVersionTracker(cfg.BBBVersion, cfg.ReleaseFile)
	if versions == nil {
		return err
	}
	if err != nil {
		log.Warn("cannot read the BBB release file, inferring the version from events", "err", err)
	}
	redisOpts, err := redisOptions(cfg.RedisURL)
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
	v, src := versions.get()
	log.Info("relay starting", "version", version, "listen", ln.Addr().String(), "bbb_version", v.String(),
		"bbb_version_source", src)

	// NATS, the embedded server if need be, and the state on top.
	keeper := newStateKeeper(stateOptions(cfg), log, m)
	pubWake := make(chan struct{}, 1)
	onConnect := func() {
		keeper.reopen()
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
	keeper.nc = nc
	// hard ends everything still running when the shutdown deadline passes; bg ends the background loops.
	hard, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hardCancel()
	bg, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer bgCancel()
	cbCtx, cbCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cbCancel()

	upd := newUpdater(log, m, keeper.get, nc.IsConnected, now, updateWorkers, updateDepth)
	upd.start(hard)
	pub := publish.New(publish.Options{
		Log: log, Conn: nc, Timeout: publishTimeout,
		Ready:       func() bool { return nc.IsConnected() && keeper.get() != nil },
		Reopen:      keeper.reopen,
		Wake:        pubWake,
		Buffer:      publishBuffer,
		Window:      publishWindow,
		MaxAttempts: publishTries,
		Done:        upd.submit,
		Retry:       backoff.Exponential{Min: 100 * time.Millisecond, Max: 2 * time.Second},
		Now:         now,
	}, m.reg)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.Run(hard) }()

	callbacks := make(chan (<-chan struct{}), 1)
	keeper.onOpen = func(s *state.Store) {
		pub.Notify()
		callbacks <- startCallbacks(cbCtx, cfg, s, log, m, live)
	}
	go keeper.run(bg)
	go link.TakeOver(bg)
	go recordVersion(bg, keeper, versions, log, now)

	ready := func(context.Context) []service.Problem {
		var missing []service.Problem
		if !m.redisSubscribed.Load() {
			missing = append(missing, service.Problem{Name: "redis", Detail: "not subscribed"})
		}
		if !nc.IsConnected() {
			missing = append(missing, service.Problem{Name: "nats", Detail: "not connected"})
		}
		if keeper.get() == nil {
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

	rd := &reader{log: log, m: m, now: now, versions: versions, cache: newMeetingCache(meetingCacheN, unknownTTL, now),
		store: keeper.get, connected: nc.IsConnected, pub: pub, limit: ratelog.New(10*time.Second, now)}
	sub := newSubscriber(log, m, now)
	stopRedis := sub.subscribe(bg, redisOpts, rd.handle)
	go service.ReloadOnHUP(bg, getenv, log, config.LoadRelay, live.apply, "log level, callback allow list")
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
	upd.close()
	upd.wait()

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

// recordVersion writes the BBB version to the meetings bucket whenever it changes, once the state is open.
func recordVersion(ctx context.Context, k *stateKeeper, t *versionTracker, log *slog.Logger, now func() time.Time) {
	select {
	case <-k.opened:
	case <-ctx.Done():
		return
	}
	recorded := ""
	for {
		retry := false
		v, src := t.get()
		if key := v.String() + "/" + src; !v.IsZero() && key != recorded {
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := k.get().SetServerVersion(octx, state.ServerVersion{Version: v.String(), Source: src, At: now().UTC()})
			cancel()
			if err == nil {
				recorded = key
				log.Info("BBB version recorded", "bbb_version", v.String(), "source", src)
			} else {
				retry = true
				log.Warn("cannot record the BBB version yet", "err", err)
			}
		}
		var wait <-chan time.Time
		if retry {
			wait = time.After(2 * time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.changed:
		case <-wait:
		}
	}
}

// reader turns each Redis message into an event for the publisher. It runs on the subscription's goroutine only.
type reader struct {
	log       *slog.Logger
	m         *metrics
	now       func() time.Time
	versions  *versionTracker
	cache     *meetingCache
	store     func() *state.Store
	connected func() bool
	pub       *publish.Publisher
	limit     *ratelog.Limiter
	seq       uint64
}

// handle decodes one Redis message and queues its event for the stream. Malformed messages are counted and
// logged (rate-limited), never fatal, and change nothing. A chat broadcast, the event relay forwards most, is
// told from the rest by its first bytes (bbb.DecodeChat) before anything else is tried.
func (r *reader) handle(msg string) {
	if e, ok := bbb.DecodeChat(msg); ok {
		r.forward(e, nil)
		return
	}
	raw := []byte(msg)
	if name, ok := bbb.SkipName(raw); ok { // most of BBB's traffic: nothing to forward
		r.m.redisEvents.inc(name)
		return
	}
	e, err := bbb.Decode(raw)
	if err != nil {
		reason := decodeReason(raw)
		r.m.decodeErrors.inc(reason)
		r.log.Debug("malformed Redis message", "reason", reason, "err", err, "bytes", len(raw))
		if ok, n := r.limit.Allow("decode-" + reason); ok {
			r.log.Warn("malformed Redis message ignored", "reason", reason, "err", truncate(err.Error(), 300),
				"bytes", len(raw), "ignored_before", n)
		}
		return
	}
	r.forward(e, raw)
}

// forward queues a decoded event for the stream. raw is the message it was decoded from (the id of an event
// other than a chat message is a hash of it); nil for a chat message.
func (r *reader) forward(e bbb.Event, raw []byte) {
	r.m.redisEvents.inc(e.Name)
	if eventType(e.Kind) == "" {
		return
	}
	v := r.versions.observe(e.Hint)
	if e.Kind == bbb.KindChatMessage {
		r.m.chatMessages.inc(v.String())
	}
	ev, ok := buildEvent(e, raw, v, r.externalID(e))
	if !ok {
		r.m.decodeErrors.inc("incomplete")
		return
	}
	payload := state.AppendEvent(make([]byte, 0, 384), ev)
	r.seq++
	it := &publish.Item{Seq: r.seq, Event: ev, Payload: payload, ReadAt: r.now()}
	if e.Meeting != nil {
		it.CreatedAt = e.Meeting.CreatedTime
	}
	r.pub.Enqueue(it)
}

// externalID returns the meeting's external id when relay knows it: from MeetingCreatedEvtMsg itself, from the
// cache, else from the meetings bucket (only while NATS is up; the reader never waits for an outage).
func (r *reader) externalID(e bbb.Event) string {
	if e.Kind == bbb.KindMeetingCreated && e.Meeting != nil {
		r.cache.put(e.MeetingID, e.Meeting.ExternalID)
		return e.Meeting.ExternalID
	}
	ext, known, cached := r.cache.get(e.MeetingID)
	if cached {
		if !known {
			r.m.unknownMeeting.Add(1)
		}
		return ext
	}
	s := r.store()
	if s == nil || !r.connected() {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	mt, err := s.MeetingByInternal(ctx, e.MeetingID)
	switch {
	case err == nil:
		r.cache.put(e.MeetingID, mt.ExternalID)
		return mt.ExternalID
	case errors.Is(err, state.ErrNotFound):
		r.cache.putUnknown(e.MeetingID)
		r.m.unknownMeeting.Add(1)
	case !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded):
		if ok, _ := r.limit.Allow("lookup"); ok {
			r.log.Warn("cannot look up the meeting's external id", "meeting", e.MeetingID, "err", err)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
