package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/ingress/bbbapi"
	"github.com/bbb-chat/bbb-chat/ingress/viewer"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/egress"
	"github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// explainRate is how many refused checksums a second are explained (docs/security.md: each costs up to
// checksum.ExplainCost hashes, about a millisecond of CPU).
const explainRate = 20

const usage = `usage: ingress [command]

Commands:
  (none)          run the API service (configuration from BBB_CHAT_* environment variables)
  check           check the configuration and what it points at, line by line; exit status 1 if anything fails
  call ENDPOINT [key=value | key:=json]... [--print-curl] [--url URL]
                  sign and send one API call with this server's secret, print the answer
                  (e.g. ingress call sendChatMessage/<meeting_id> user_name=Ann message=Hi)
  healthcheck     exit 0 if the running service answers /healthz (for container health checks)
  version         print the version
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
	case "check":
		return check(ctx, getenv, stdout)
	case "call":
		return callCmd(ctx, args[2:], getenv, stdout, time.Now)
	case "healthcheck":
		cfg, err := config.LoadIngress(getenv)
		if err != nil {
			return err
		}
		return service.HealthCheck(ctx, cfg.Listen)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "bbb-chat ingress %s\n", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", service.ErrUsage, cmd)
	}
}

// Limits of the API's HTTP server. A client that dribbles its headers is cut off after readHeaderTimeout, one that
// dribbles its body after readTimeout (with a 408); an idle keep-alive connection is closed after idleTimeout.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 90 * time.Second
	maxHeaderBytes    = 16 << 10  // larger request headers get a JSON 431 (limitHeaders)
	hardHeaderBytes   = 256 << 10 // beyond this net/http itself answers 431, in plain text
)

// reloadable is what SIGHUP may change while the service runs.
type reloadable struct {
	level    *slog.LevelVar
	template atomic.Pointer[string]
	egress   atomic.Pointer[egress.Policy]
	// verify holds the accepted shared secrets (current and old), so a rotation needs no restart. Its time window
	// stays the one ingress started with: the used-checksum bucket's TTL was sized for it.
	verify atomic.Pointer[checksum.Verifier]
	delta  int64
	viewer atomic.Pointer[viewer.Settings]
}

func (r *reloadable) apply(cfg config.Ingress) error {
	if err := bbb.ValidateTemplate(cfg.MessageTemplate); err != nil {
		return fmt.Errorf("BBB_CHAT_MESSAGE_TEMPLATE: %w", err)
	}
	policy, err := egress.NewPolicy(cfg.CallbackAllow)
	if err != nil {
		return err
	}
	vs, err := viewerSettings(cfg)
	if err != nil {
		return err
	}
	if r.verify.Load() == nil {
		r.delta = cfg.TimeDelta
	}
	v := checksum.Verifier{Secrets: cfg.Secrets(), Delta: r.delta, Now: time.Now}
	if old := r.verify.Load(); old != nil {
		v.Retired = retiredSecrets(old, v.Secrets)
	}
	r.verify.Store(&v)
	r.level.Set(service.ParseLevel(cfg.LogLevel))
	tmpl := cfg.MessageTemplate
	r.template.Store(&tmpl)
	r.egress.Store(&policy)
	r.viewer.Store(vs)
	return nil
}

// retiredSecrets are the secrets old accepted or had retired that secrets no longer holds, newest first, at most
// checksum.MaxRetired: a client still signing with one is told so (checksum.ReasonRetiredSecret).
func retiredSecrets(old *checksum.Verifier, secrets []string) []string {
	var out []string
	for _, s := range append(slices.Clone(old.Secrets), old.Retired...) {
		if s != "" && !slices.Contains(secrets, s) && !slices.Contains(out, s) && len(out) < checksum.MaxRetired {
			out = append(out, s)
		}
	}
	return out
}

func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.LoadIngress(getenv)
	if err != nil {
		return err
	}
	rl := &reloadable{level: new(slog.LevelVar)}
	if err := rl.apply(cfg); err != nil {
		return err
	}
	log := service.NewLogger(stderr, cfg.LogFormat, rl.level).With("service", "ingress")
	if cfg.SharedSecret == config.DefaultSecret {
		log.Warn("BBB_CHAT_SHARED_SECRET is the example value change_me: anyone who read the README can call the API; set a random secret")
	}
	reg := metrics.NewRegistry("ingress", version)

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("BBB_CHAT_REDIS_URL: %w", err)
	}
	redis.SetLogger(service.RedisLogger{Log: log})
	rdb := redis.NewClient(ropts)
	defer rdb.Close()

	var store atomic.Pointer[state.Store]
	var openErr atomic.Value // the last error of openState, for the API's answers until the state is open
	var cache atomic.Pointer[state.Cache]
	natsEvents := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bbbchat_nats_connection_events_total", Help: "NATS disconnects and reconnects.",
	}, []string{"event"})
	natsEvents.WithLabelValues("disconnect")
	natsEvents.WithLabelValues("reconnect")
	reg.MustRegister(natsEvents)
	nc, err := service.ConnectNATS(cfg.Common, "bbb-chat ingress", log, service.NATSEvents{
		Connected: func(_ *nats.Conn, reconnect bool) {
			if reconnect {
				natsEvents.WithLabelValues("reconnect").Inc()
			}
		},
		Disconnected: func() { natsEvents.WithLabelValues("disconnect").Inc() },
	})
	if err != nil {
		return err
	}
	defer nc.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		if s := openState(ctx, nc, stateOptions(cfg), &store, &openErr, log); s != nil {
			cache.Store(s.StartCache(ctx))
		}
	})

	fixed, err := fixedVersion(cfg)
	if err != nil {
		return err
	}
	if !fixed.IsZero() {
		log.Info("BBB version", "version", fixed.String())
	}
	var confirm *confirmer
	if cfg.SendConfirmTimeout > 0 {
		c, unsubscribe, err := newConfirmer(nc, rand.Uint64(), reg)
		if err != nil {
			return err
		}
		defer unsubscribe()
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			log.Warn("NATS did not confirm the chat message subscription yet; sendChatMessage may answer unconfirmed until it does", "err", err)
		}
		confirm = c
	}
	a := &api{
		log:      log,
		cfg:      cfg,
		store:    &store,
		openErr:  &openErr,
		cache:    &cache,
		rdb:      rdb,
		now:      time.Now,
		versions: &versionSource{fixed: fixed, server: cfg.ServerID, now: time.Now},
		live:     rl,
		bbbAPI:   bbbAPIClient(cfg),
		m:        newAPIMetrics(reg),
		explain:  rate.NewLimiter(explainRate, explainRate),
		confirm:  confirm,
	}
	a.fleet = newFleet(nc, cfg.ServerID)
	stopFleet, err := a.serveFleet()
	if err != nil {
		return err
	}
	defer stopFleet()
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    hardHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	srv.RegisterOnShutdown(a.viewerPage.Close)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("BBB_CHAT_LISTEN %s: %w", cfg.Listen, err)
	}
	if err := service.ServeDebug(ctx, cfg.DebugListen, log); err != nil {
		ln.Close()
		return err
	}
	go service.NewProcs(log).Adapt(ctx, getenv)
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
		mux.Handle("GET /metrics", metrics.Handler(reg))
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
		servers = append(servers, msrv)
		go func() { errc <- msrv.Serve(mln) }()
	}
	log.Info("ingress listening", "addr", ln.Addr().String(), "metrics", cfg.MetricsListen, "version", version)
	if err := service.Notify(getenv, "READY=1"); err != nil {
		log.Warn("cannot tell systemd we are ready", "err", err)
	}

	hupCtx, stopHUP := context.WithCancel(ctx)
	defer stopHUP()
	go service.ReloadOnHUP(hupCtx, getenv, log, config.LoadIngress, service.Reloader(cfg, rl.apply),
		config.ReloadedText(cfg))
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err := <-errc:
			if !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
		}
	}
	log.Info("ingress stopping")
	service.Notify(getenv, "STOPPING=1")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	wg.Wait()
	return nil
}

// fixedVersion is the BBB version from the configuration or BBB's release file; zero when it must be inferred.
func fixedVersion(cfg config.Ingress) (bbb.Version, error) {
	if cfg.BBBVersion != "auto" {
		v, err := bbb.ParseVersion(cfg.BBBVersion)
		if err != nil {
			return v, fmt.Errorf("BBB_CHAT_BBB_VERSION: %w", err)
		}
		return v, nil
	}
	if v, err := bbb.ReadReleaseFile(cfg.ReleaseFile); err == nil {
		return v, nil
	}
	return bbb.Version{}, nil
}

// bbbAPIClient is BBB's API as configured, else as bbb-web's properties files say.
func bbbAPIClient(cfg config.Ingress) bbbapi.Client {
	c := bbbapi.Client{URL: cfg.BBBURL, Secret: cfg.BBBSecret, Algorithm: cfg.BBBChecksum}
	if c.Configured() {
		return c
	}
	if p, err := bbbapi.FromProperties(cfg.BBBProperties, cfg.BBBPropertiesOverride); err == nil {
		p.Algorithm = cfg.BBBChecksum
		return p
	}
	return bbbapi.Client{}
}

// openState opens the JetStream state, retrying until it succeeds or ctx ends; lastErr holds the last failure's
// error, for the API's answers meanwhile (stateopen.go).
func openState(ctx context.Context, nc *nats.Conn, o state.Options, store *atomic.Pointer[state.Store],
	lastErr *atomic.Value, log *slog.Logger) *state.Store {
	retry := backoff.Exponential{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 1; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := state.Open(octx, nc, o)
		cancel()
		if err == nil {
			store.Store(s)
			log.Info("state open", "nats", nc.ConnectedUrlRedacted())
			return s
		}
		lastErr.Store(err)
		if attempt == 1 || attempt%20 == 0 {
			log.Warn("cannot open state in NATS JetStream yet; retrying", "err", err)
		}
		if !service.Sleep(ctx, retry.Delay(attempt)) {
			return nil
		}
	}
}

// versionSource tells which BBB version to speak: the configured or release-file version, else the one relay
// inferred from events (re-read every few seconds), under this server's id (BBB_CHAT_SERVER_ID).
type versionSource struct {
	fixed  bbb.Version
	server string
	now    func() time.Time
	mu     sync.Mutex
	seen   bbb.Version
	at     time.Time
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
	sv, err := s.GetServerVersion(ctx, v.server)
	if errors.Is(err, state.ErrNotFound) {
		return bbb.Version{}, errVersionUnknown
	}
	if err != nil {
		if !v.seen.IsZero() {
			return v.seen, nil
		}
		return bbb.Version{}, err
	}
	ver, err := bbb.ParseVersion(strings.TrimSpace(sv.Version))
	if err != nil {
		return bbb.Version{}, withDetail(errVersionUnknown, "relay recorded %q", sv.Version)
	}
	v.seen, v.at = ver, v.now()
	return ver, nil
}
