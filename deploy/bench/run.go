package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/proc"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

const (
	channelFromAkka = bbbsim.ChannelFromAkka
	channelToAkka   = bbbsim.ChannelToAkka
	chatUser        = "Chat Bridge"
	warmPrefix      = "benchwarmup"
)

type config struct {
	duration   time.Duration
	limitDur   time.Duration
	drain      time.Duration
	meetings   int
	bridges    int
	rate       float64
	sendRate   float64
	workers    int
	receivers  int
	redisURL   string
	natsURL    string
	json       bool
	sweep      bool
	scale      bool
	smoke      bool
	burst      int
	version    string
	rev        string
	patches    envFlags
	natsMaxCon int
	logDir     string
	env        envFlags
	profiles   bool
	noise      int
	sweepStart float64
	sweepP99   float64
	// confirmRate is the offered rate of the confirmed-send phase (confirm.go); 0: no such phase.
	confirmRate float64
	viewers     int     // viewers phase (viewers.go); 0: none
	viewerRate  float64 // messages per second of the viewers phase
	chart       string
	fleet       bool // the fleet phases (fleet.go) after the usual run
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each phase")
	fs.DurationVar(&c.limitDur, "limit-duration", 5*time.Second, "length of each run of the limit measurements")
	fs.DurationVar(&c.drain, "drain", 30*time.Second, "how long to wait for messages still under way after a phase")
	fs.IntVar(&c.meetings, "meetings", 100, "meetings the forwarded messages are spread over")
	fs.IntVar(&c.bridges, "bridges", -1, "meetings bridged with a callback (default: all meetings)")
	fs.Float64Var(&c.rate, "rate", 1000, "offered forward rate: BBB chat messages per second")
	fs.Float64Var(&c.sendRate, "send-rate", 2000, "offered sendChatMessage requests per second (0: no send phase)")
	fs.Float64Var(&c.confirmRate, "confirm-rate", 200, "offered sendChatMessage requests per second to a second ingress that waits for BBB to show each message (BBB_CHAT_SEND_CONFIRM_TIMEOUT=2s; 0: no such phase)")
	fs.IntVar(&c.workers, "workers", 64, "concurrent HTTP connections of the send load generator")
	fs.IntVar(&c.receivers, "receivers", 1, "callback receiver servers (distinct ports); bridges are spread over them")
	fs.StringVar(&c.redisURL, "redis", "", "use this Redis instead of starting one")
	fs.StringVar(&c.natsURL, "nats", "", "use this JetStream NATS server instead of starting one")
	fs.BoolVar(&c.json, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&c.sweep, "sweep", false, "raise the forward rate by 1.5x steps until p99 passes -sweep-p99 or anything is lost")
	fs.Float64Var(&c.sweepStart, "sweep-start", 500, "first rate of -sweep")
	fs.Float64Var(&c.sweepP99, "sweep-p99", 50, "p99 (ms) that ends -sweep")
	fs.StringVar(&c.chart, "chart", defaultChart, "where -sweep writes its chart (SVG; \"\": nowhere)")
	fs.BoolVar(&c.scale, "scale", false, "1,000 meetings, all bridged")
	fs.IntVar(&c.burst, "burst", 0, "also publish this many messages as fast as Redis takes them and wait for all")
	fs.BoolVar(&c.smoke, "smoke", false, "a quick check that everything works: 2 s phases at low rates")
	fs.IntVar(&c.natsMaxCon, "nats-max-consumers", 0, "default_max_consumers of the nats-server the benchmark starts (0: the server's default, 1,000 per stream; -1: unlimited)")
	fs.StringVar(&c.logDir, "logdir", "", "also write the output of every process started to <dir>/<name>.log")
	fs.IntVar(&c.noise, "noise", 0, "also publish this many other BBB events (voice activity, cursor moves) with each chat message, as a real server does")
	fs.BoolVar(&c.profiles, "profiles", false, "serve relay's and ingress's Go profiles (BBB_CHAT_DEBUG_LISTEN) on free loopback ports, logged at start")
	fs.Var(&c.env, "env", "KEY=VALUE for ingress and relay, e.g. GOMEMLIMIT=30MiB or GODEBUG=gctrace=1 (repeatable)")
	fs.Var(&c.patches, "patch", "apply this patch (git diff format) to the revision of -rev (default HEAD) before building, to measure a change (repeatable)")
	fs.StringVar(&c.rev, "rev", "", "build ingress and relay from this git revision (e.g. HEAD) instead of the working tree")
	fs.IntVar(&c.viewers, "viewers", 0, "also hold this many viewers of one meeting's viewer page open, and the same on a bare net/http SSE handler (see docs/performance.md)")
	fs.Float64Var(&c.viewerRate, "viewer-rate", 5, "messages per second of the -viewers phase")
	fs.BoolVar(&c.fleet, "fleet", false, "then the forward phase on a three-node NATS cluster (replicas 3) with one BBB server, then with two splitting -rate, and -send-rate calls for the second server's meetings on its ingress and through the first's (see docs/performance.md)")
	fs.StringVar(&c.version, "version", "2.7", fmt.Sprintf("BBB version the simulator plays, one of %v", bbbsim.Versions()))
	if err := fs.Parse(args[1:]); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.scale {
		if !set["meetings"] {
			c.meetings = 1000
		}
		if !set["bridges"] {
			c.bridges = c.meetings
		}
	}
	if c.smoke {
		if !set["duration"] {
			c.duration = 2 * time.Second
		}
		if !set["limit-duration"] {
			c.limitDur = time.Second
		}
		if !set["meetings"] {
			c.meetings = 5
		}
		if !set["rate"] {
			c.rate = 100
		}
		if !set["send-rate"] {
			c.sendRate = 50
		}
		if !set["confirm-rate"] {
			c.confirmRate = 20
		}
		if !set["workers"] {
			c.workers = 8
		}
		if !set["drain"] {
			c.drain = 15 * time.Second
		}
	}
	for _, kv := range c.env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return c, fmt.Errorf("-env: want KEY=VALUE, got %q", kv)
		}
	}
	if len(c.patches) > 0 && c.rev == "" {
		c.rev = "HEAD"
	}
	if c.bridges < 0 || c.bridges > c.meetings {
		c.bridges = c.meetings
	}
	switch {
	case c.meetings < 1:
		return c, errors.New("-meetings must be at least 1")
	case c.bridges < 1:
		return c, errors.New("-bridges must be at least 1 (the send phase posts into bridged meetings)")
	case c.rate <= 0 || c.sendRate < 0:
		return c, errors.New("-rate must be positive, -send-rate positive or 0")
	case c.duration <= 0 || c.limitDur <= 0:
		return c, errors.New("-duration and -limit-duration must be positive")
	case c.workers < 1 || c.receivers < 1:
		return c, errors.New("-workers and -receivers must be at least 1")
	case c.burst < 0:
		return c, errors.New("-burst must not be negative")
	case c.viewers < 0 || c.viewerRate <= 0:
		return c, errors.New("-viewers must not be negative, -viewer-rate must be positive")
	}
	return c, nil
}

// envFlags collects a repeated flag.
type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }

func (e *envFlags) Set(v string) error {
	*e = append(*e, v)
	return nil
}

// benchMeeting is one simulated meeting.
type benchMeeting struct {
	intID, extID string
	botID        string // the chat user, present so that ingress posts as a user
	viewerID     string // the human whose messages are forwarded
	bridged      bool
	tmpl         *template
	warmID       string // the id of its warm-up message
}

// bench is one run: what it started and what it measures with.
type bench struct {
	cfg        config
	log        io.Writer
	runID      string
	secret     string
	cbSecret   string
	redisOpts  *redis.Options
	rdb        *redis.Client
	natsURL    string
	natsMon    string // monitoring endpoint of the nats-server the benchmark started
	nc         *nats.Conn
	js         jetstream.JetStream
	sim        *bbbsim.Sim
	ports      proc.Ports
	redisProc  *proc.Process
	natsProc   *proc.Process
	relay      *proc.Process
	ingress    *proc.Process
	ingressURL string
	confirmURL string // the ingress that waits for BBB's confirmation (confirm.go), "" when none
	relayURL   string
	ingressBin string // the binaries under test: built by setup unless set before
	relayBin   string
	meetings   []*benchMeeting
	rc         *receiver
	nw         *natsWatcher
	gen        *generator
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// cpuSnap is /proc of every process of the run at one moment.
type cpuSnap struct{ relay, ingress, nats, redis, self procStat }

func (b *bench) cpu() cpuSnap {
	var s cpuSnap
	read := func(p *proc.Process) procStat {
		if p == nil || p.Exited() {
			return procStat{}
		}
		st, _ := readProcStat(p.Pid())
		return st
	}
	s.relay, s.ingress, s.nats, s.redis = read(b.relay), read(b.ingress), read(b.natsProc), read(b.redisProc)
	s.self, _ = readProcStat(os.Getpid())
	return s
}

// sampleRSS appends relay's and ingress's resident memory (MB) to relay and ingress every step until the returned
// function is called.
func (b *bench) sampleRSS(step time.Duration, relay, ingress *[]float64) (stop func()) {
	step = max(step, time.Second)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(step)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				s := b.cpu()
				*relay = append(*relay, mb(s.relay.RSSKB))
				*ingress = append(*ingress, mb(s.ingress.RSSKB))
			}
		}
	}()
	return func() { close(quit); <-done }
}

func (b *bench) bridgedMeetings() []*benchMeeting { return b.meetings[:b.cfg.bridges] }

func randomHex(n int) string {
	p := make([]byte, n)
	rand.Read(p)
	return hex.EncodeToString(p)
}

// run is the whole program; main only adds the signals, the real environment and the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 3 && args[1] == "bare-sse" {
		return bareSSE(ctx, args[2]) // the viewers phase's floor, started by the benchmark itself
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// Bound the whole run: setup, every phase with its drain, the limits, and some slack.
	phases := 2 + 2*3 // forward, send, three limits twice
	if cfg.sweep {
		phases += 12
	}
	if cfg.viewers > 0 {
		phases += 2
	}
	drains := 4
	if cfg.fleet {
		phases, drains = phases+4, drains+4
	}
	budget := time.Duration(phases)*(cfg.duration+cfg.limitDur) + time.Duration(drains)*cfg.drain + 10*time.Minute
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	b := &bench{cfg: cfg, log: stderr, runID: randomHex(4), secret: "bench-" + randomHex(16),
		cbSecret: "bench-callback-" + randomHex(16)}
	var cl cleanups
	defer cl.run()
	if err := b.setup(ctx, getenv, &cl); err != nil {
		return err
	}
	res, err := b.measure(ctx)
	if err != nil {
		return err
	}
	if cfg.fleet {
		if res.Fleet, err = b.runFleet(ctx, getenv, cl.run, res); err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
	}
	if res.Sweep != nil && cfg.chart != "" {
		if err := writeChartFile(cfg.chart, *res.Sweep, sweepLimits(res), cfg.sweepP99); err != nil {
			return err
		}
		b.logf("sweep chart written to %s", cfg.chart)
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printTable(stdout, res)
	return nil
}

// logFile is where the process name's output goes: -logs DIR/<name>.log, else inside the run's temporary dir.
func (b *bench) logFile(dir, name string) string {
	if b.cfg.logDir != "" {
		return filepath.Join(b.cfg.logDir, name+".log")
	}
	return filepath.Join(dir, name+".log")
}

// startBinary starts ingress or relay with only env (and PATH, HOME) for environment.
func (b *bench) startBinary(name, bin, dir string, env map[string]string) (*proc.Process, error) {
	return proc.Start(proc.Spec{Name: name, Bin: bin, Dir: dir, Env: env, LogFile: b.logFile(dir, name),
		KeepBytes: 64 << 10})
}

// startRedis runs a redis-server on a free loopback port that persists nothing.
func (b *bench) startRedis(ctx context.Context, dir string) (*proc.Server, error) {
	addr, err := b.ports.FreeAddr()
	if err != nil {
		return nil, err
	}
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return nil, err
	}
	s, err := proc.Redis(addr, rdir)
	if err != nil {
		return nil, fmt.Errorf("%w, or pass -redis URL", err)
	}
	s.LogFile = b.logFile(dir, "redis-server")
	return s, s.Start(ctx)
}

// startNATS runs a JetStream nats-server on a free loopback port, with its monitoring endpoint (returned) and the
// -nats-max-consumers limit.
func (b *bench) startNATS(ctx context.Context, root, dir string, getenv func(string) string) (*proc.Server, string, error) {
	bin, err := proc.NATSServerBinary(ctx, root, getenv)
	if err != nil {
		return nil, "", err
	}
	addr, err := b.ports.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	mon, err := b.ports.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	ndir := filepath.Join(dir, "nats")
	if err := os.MkdirAll(ndir, 0o700); err != nil {
		return nil, "", err
	}
	s, err := proc.NATS(bin, addr, ndir, proc.NATSOptions{Monitor: mon, MaxConsumers: b.cfg.natsMaxCon})
	if err != nil {
		return nil, "", err
	}
	s.LogFile = b.logFile(dir, "nats-server")
	return s, mon, s.Start(ctx)
}

// setup starts everything and waits until every bridge delivers.
func (b *bench) setup(ctx context.Context, getenv func(string) string, cl *cleanups) error {
	cfg := b.cfg
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := proc.FindRoot(wd)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bbb-chat-bench-")
	if err != nil {
		return err
	}
	cl.add(func() { os.RemoveAll(dir) })

	src := root
	if cfg.rev != "" {
		if src, err = exportRev(ctx, root, cfg.rev, filepath.Join(dir, "src")); err != nil {
			return err
		}
		for _, p := range cfg.patches {
			if err := applyPatch(ctx, src, p); err != nil {
				return err
			}
		}
	}
	// Build the binaries while the servers start (unless given: the fleet's servers run the first run's).
	var wg sync.WaitGroup
	var buildErr [2]error
	if b.ingressBin == "" {
		b.ingressBin, b.relayBin = filepath.Join(dir, "ingress"), filepath.Join(dir, "relay")
		wg.Go(func() { buildErr[0] = proc.Build(ctx, src, "./ingress", b.ingressBin) })
		wg.Go(func() { buildErr[1] = proc.Build(ctx, src, "./relay", b.relayBin) })
	}
	ingressBin, relayBin := b.ingressBin, b.relayBin

	redisURL := cfg.redisURL
	if redisURL == "" {
		s, err := b.startRedis(ctx, dir)
		if err != nil {
			wg.Wait()
			return err
		}
		cl.add(func() { s.Stop(2 * time.Second) })
		b.redisProc, redisURL = s.Process(), proc.RedisURL(s)
	}
	b.natsURL = cfg.natsURL
	if b.natsURL == "" {
		s, mon, err := b.startNATS(ctx, root, dir, getenv)
		if err != nil {
			wg.Wait()
			return err
		}
		cl.add(func() { s.Stop(5 * time.Second) })
		b.natsProc, b.natsURL, b.natsMon = s.Process(), proc.NATSURL(s), "http://"+mon
	}
	wg.Wait()
	if err := errors.Join(buildErr[:]...); err != nil {
		return err
	}
	if b.redisOpts, err = redis.ParseURL(redisURL); err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	b.redisOpts.PoolSize = 64
	b.rdb = redis.NewClient(b.redisOpts)
	cl.add(func() { b.rdb.Close() })
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", redisURL, err)
	}

	// relay first: it must see the meetings created and the users join.
	common := map[string]string{
		"BBB_CHAT_REDIS_URL":      redisURL,
		"BBB_CHAT_NATS_URL":       b.natsURL,
		"BBB_CHAT_NATS_EMBEDDED":  "false",
		"BBB_CHAT_BBB_VERSION":    cfg.version,
		"BBB_CHAT_CALLBACK_ALLOW": "127.0.0.0/8",
		"BBB_CHAT_LOG_LEVEL":      "warn",
		"BBB_CHAT_SHARED_SECRET":  b.secret,
	}
	env := func(extra ...string) map[string]string {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		for _, kv := range cfg.env {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	relayAddr, err := b.ports.FreeAddr()
	if err != nil {
		return err
	}
	profiles := map[string]string{"relay": "", "ingress": ""}
	if cfg.profiles {
		for name := range profiles {
			if profiles[name], err = b.ports.FreeAddr(); err != nil {
				return err
			}
			b.logf("profiles of %s: go tool pprof http://%s/debug/pprof/profile", name, profiles[name])
		}
	}
	b.relayURL = "http://" + relayAddr
	if b.relay, err = b.startBinary("relay", relayBin, dir, env("BBB_CHAT_RELAY_LISTEN", relayAddr,
		"BBB_CHAT_NATS_STORE", filepath.Join(dir, "relay-nats"), "BBB_CHAT_DEBUG_LISTEN", profiles["relay"])); err != nil {
		return err
	}
	cl.add(func() { b.relay.Stop(20 * time.Second) })
	if err := proc.WaitHTTP(ctx, b.relayURL+"/readyz", 60*time.Second, b.relay); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	apiAddr, err := b.ports.FreeAddr()
	if err != nil {
		return err
	}
	metricsAddr, err := b.ports.FreeAddr()
	if err != nil {
		return err
	}
	b.ingressURL = "http://" + apiAddr
	// The send phase measures ingress as it was before it waited for BBB's confirmation; the confirmed-send phase
	// has an ingress of its own.
	if b.ingress, err = b.startBinary("ingress", ingressBin, dir, env("BBB_CHAT_LISTEN", apiAddr,
		"BBB_CHAT_METRICS_LISTEN", metricsAddr, "BBB_CHAT_MAX_BRIDGES", strconv.Itoa(max(10000, 2*cfg.bridges)),
		"BBB_CHAT_DEBUG_LISTEN", profiles["ingress"], "BBB_CHAT_VIEWER_MAX_STREAMS_PER_ADDRESS", "0",
		"BBB_CHAT_SEND_CONFIRM_TIMEOUT", "0")); err != nil {
		return err
	}
	cl.add(func() { b.ingress.Stop(15 * time.Second) })
	if err := proc.WaitHTTP(ctx, b.ingressURL+"/readyz", 60*time.Second, b.ingress); err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	if cfg.confirmRate > 0 {
		if err := b.startConfirmIngress(ctx, ingressBin, dir, env, cl); err != nil {
			return err
		}
	}

	if b.nc, err = nats.Connect(b.natsURL, nats.Name("bbb-chat bench")); err != nil {
		return fmt.Errorf("nats %s: %w", b.natsURL, err)
	}
	cl.add(b.nc.Close)
	// The benchmark reads the state as any NATS client would; it never defines the stream or the buckets, which
	// would override what the binaries under test define.
	if b.js, err = jetstream.New(b.nc); err != nil {
		return err
	}
	if b.sim, err = bbbsim.Start(ctx, b.rdb, bbbsim.Options{Version: cfg.version}); err != nil {
		return err
	}
	cl.add(func() { b.sim.Close() })

	// The broadcasts of the warm-up messages become the generator's templates.
	capture := redis.NewClient(b.redisOpts)
	cl.add(func() { capture.Close() })
	cps := capture.Subscribe(ctx, channelFromAkka)
	if _, err := cps.Receive(ctx); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	var capMu sync.Mutex
	captured := map[string][]byte{}
	capDone := make(chan struct{})
	go func() {
		defer close(capDone)
		for m := range cps.Channel(redis.WithChannelSize(10000)) {
			if !strings.Contains(m.Payload, `"GroupChatMessageBroadcastEvtMsg"`) {
				continue
			}
			capMu.Lock()
			captured[firstID([]byte(m.Payload))] = []byte(m.Payload)
			capMu.Unlock()
		}
	}()

	b.logf("creating %d meetings (BBB %s), %d bridged", cfg.meetings, cfg.version, cfg.bridges)
	for i := range cfg.meetings {
		m, err := b.sim.CreateMeeting(ctx, "bench-"+b.runID+"-"+strconv.Itoa(i), "Bench "+strconv.Itoa(i))
		if err != nil {
			return err
		}
		bm := &benchMeeting{intID: m.IntID, extID: m.ExtID, bridged: i < cfg.bridges}
		if bm.botID, err = b.sim.Join(ctx, m.IntID, chatUser, bbbsim.RoleViewer); err != nil {
			return err
		}
		if bm.viewerID, err = b.sim.Join(ctx, m.IntID, "Viewer "+strconv.Itoa(i), bbbsim.RoleViewer); err != nil {
			return err
		}
		b.meetings = append(b.meetings, bm)
	}
	receivers := cfg.receivers
	b.rc = &receiver{secret: b.cbSecret, every: 64, expected: make([]string, cfg.bridges)}
	urls, err := serveReceivers(b.rc, receivers, cl)
	if err != nil {
		return err
	}
	b.nw = &natsWatcher{}
	stopWatch, err := b.nw.start(ctx, b.js)
	if err != nil {
		return err
	}
	cl.add(stopWatch)

	b.logf("starting %d chats with callbacks", cfg.bridges)
	client := newHTTPClient(16)
	var (
		next     atomic.Int64
		startErr atomic.Pointer[error]
	)
	var swg sync.WaitGroup
	for range 4 {
		swg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.bridges || startErr.Load() != nil {
					return
				}
				if i > 0 && i%200 == 0 {
					b.logf("%d chats started", i)
				}
				m := b.meetings[i]
				b.rc.expected[i] = m.intID
				if err := b.startChat(ctx, client, m, urls[i%len(urls)]+"/hook/"+strconv.Itoa(i)); err != nil {
					startErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	swg.Wait()
	if p := startErr.Load(); p != nil {
		return *p
	}
	// Relay records the chat user's presence; ingress needs it to post as the user.
	deadline := time.Now().Add(60*time.Second + time.Duration(cfg.bridges)*20*time.Millisecond)
	for _, m := range b.bridgedMeetings() {
		for !b.chatUserPresent(ctx, client, m) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("relay did not record the chat user of %s\n%s", m.intID, b.relay.Tail(4000))
			}
			service.Sleep(ctx, 50*time.Millisecond)
		}
	}
	client.CloseIdleConnections()
	if cfg.natsURL != "" {
		// A shared NATS keeps bridges: end ours, so that no callback of this run outlives it.
		cl.add(func() { b.endChats() })
	}

	b.logf("warming up: one message per meeting")
	for i, m := range b.meetings {
		text := warmPrefix + strconv.Itoa(i)
		c, err := b.sim.Say(ctx, m.intID, m.viewerID, text)
		if err != nil {
			return fmt.Errorf("warm-up message: %w", err)
		}
		m.warmID = c.ID
		var raw []byte
		for wait := time.Now().Add(10 * time.Second); raw == nil; {
			capMu.Lock()
			raw = captured[c.ID]
			capMu.Unlock()
			if raw == nil {
				if time.Now().After(wait) || !service.Sleep(ctx, 2*time.Millisecond) {
					return fmt.Errorf("the broadcast of warm-up message %s did not show on Redis", c.ID)
				}
			}
		}
		if m.tmpl, err = newTemplate(raw, m.intID, c.ID, c.Message, c.Timestamp); err != nil {
			return err
		}
	}
	cps.Close()
	<-capDone
	deadline = time.Now().Add(60*time.Second + time.Duration(cfg.bridges)*50*time.Millisecond)
	for b.rc.warmN.Load() < int64(cfg.bridges) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			for _, m := range b.bridgedMeetings() {
				if _, ok := b.rc.warm.Load(m.warmID); !ok {
					b.logf("no warm-up callback of %s: %s", m.intID, b.consumerState(ctx, m))
				}
			}
			return fmt.Errorf("only %d of %d bridges delivered their warm-up message\n%s", b.rc.warmN.Load(),
				cfg.bridges, b.relay.Tail(4000))
		}
		service.Sleep(ctx, 20*time.Millisecond)
	}
	pids := fmt.Sprintf("relay %d, ingress %d", b.relay.Pid(), b.ingress.Pid())
	if b.natsProc != nil {
		pids += fmt.Sprintf(", nats-server %d", b.natsProc.Pid())
	}
	if b.redisProc != nil {
		pids += fmt.Sprintf(", redis-server %d", b.redisProc.Pid())
	}
	b.logf("ready; pids: %s, bench %d", pids, os.Getpid())
	b.gen = &generator{rdb: b.rdb, meetings: b.meetings, seq: 1, text: "bench message from a viewer, number ",
		noise: cfg.noise}
	return nil
}

// startChat opens a meeting's chat with a callback to uri. A 503 (NATS busy) is tried again, as the API asks; a
// 409 after such a retry means the earlier attempt did go through.
func (b *bench) startChat(ctx context.Context, c *http.Client, m *benchMeeting, uri string) error {
	retry := backoff.Exponential{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 1; ; attempt++ {
		wait := retry.Delay(attempt)
		body := sign("startChatForMeeting", []pyjson.Member{
			{Key: "meeting_id", Value: pyjson.String(m.intID)},
			{Key: "chat_user", Value: pyjson.String(chatUser)},
			{Key: "callback_uri", Value: pyjson.String(uri)},
			{Key: "callback_secret", Value: pyjson.String(b.cbSecret)},
			{Key: "nonce", Value: pyjson.String(randomHex(8))},
		}, b.secret, time.Now().Unix())
		err := postOK(ctx, c, b.ingressURL+"/api/startChatForMeeting", body)
		var he *httpError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &he) && he.status == http.StatusConflict && attempt > 1:
			return nil
		case errors.As(err, &he) && he.status == http.StatusServiceUnavailable && attempt < 6:
			b.logf("startChatForMeeting %s: %v; trying again in %s", m.intID, err, wait)
			if !service.Sleep(ctx, wait) {
				return ctx.Err()
			}
		default:
			hint := ""
			if strings.Contains(b.ingress.Tail(4000), "maximum consumers limit reached") {
				hint = "\n(the stream reached nats-server's limit of consumers per stream, 1,000 by default: each " +
					"bridge with a callback is one, each subscriber another; see -nats-max-consumers)"
			}
			return fmt.Errorf("startChatForMeeting %s: %w%s\ningress:\n%s", m.intID, err, hint, b.ingress.Tail(4000))
		}
	}
}

// chatUserPresent asks ingress (getChatInfo) whether the chat user of a bridged meeting is present.
func (b *bench) chatUserPresent(ctx context.Context, c *http.Client, m *benchMeeting) bool {
	body := sign("getChatInfo", []pyjson.Member{
		{Key: "meeting_id", Value: pyjson.String(m.intID)},
		{Key: "nonce", Value: pyjson.String(randomHex(8))},
	}, b.secret, time.Now().Unix())
	rb, err := postJSON(ctx, c, b.ingressURL+"/api/getChatInfo", body)
	if err != nil {
		return false
	}
	var info struct {
		Present bool `json:"chat_user_present"`
	}
	return json.Unmarshal(rb, &info) == nil && info.Present
}

// httpError is an answer other than 200.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d %s", e.status, e.body) }

// postOK posts body and wants 200 with success true.
func postOK(ctx context.Context, c *http.Client, url string, body []byte) error {
	_, err := postJSON(ctx, c, url, body)
	return err
}

// postJSON posts body and returns the answer of a 200.
func postJSON(ctx context.Context, c *http.Client, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, &httpError{resp.StatusCode, strings.TrimSpace(string(rb))}
	}
	return rb, nil
}

// endChats ends the run's chats (best effort, bounded).
func (b *bench) endChats() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newHTTPClient(8)
	for _, m := range b.bridgedMeetings() {
		body := sign("endChatForMeeting", []pyjson.Member{
			{Key: "meeting_id", Value: pyjson.String(m.intID)},
			{Key: "nonce", Value: pyjson.String(randomHex(8))},
		}, b.secret, time.Now().Unix())
		if postOK(ctx, c, b.ingressURL+"/api/endChatForMeeting", body) != nil && ctx.Err() != nil {
			return
		}
	}
}

// result is the report; -json prints it as it is.
type result struct {
	Version   string  `json:"bbb_version"`
	Meetings  int     `json:"meetings"`
	Bridges   int     `json:"bridges"`
	Duration  float64 `json:"phase_seconds"`
	Cores     int     `json:"cores"`
	Receivers int     `json:"callback_receivers"`

	ForwardOffered    float64 `json:"forward_offered_rate"`
	ForwardSent       int     `json:"forward_sent"`
	ForwardSentRate   float64 `json:"forward_sent_rate"`
	ForwardRate       float64 `json:"forward_rate"`
	ForwardP50        float64 `json:"forward_p50_ms"`
	ForwardP99        float64 `json:"forward_p99_ms"`
	ForwardMax        float64 `json:"forward_max_ms"`
	ForwardLost       int     `json:"forward_lost"`
	ForwardDup        int64   `json:"forward_duplicates"`
	ForwardDrain      float64 `json:"forward_drain_s"`
	NATSRate          float64 `json:"nats_rate"`
	NATSP50           float64 `json:"nats_p50_ms"`
	NATSP99           float64 `json:"nats_p99_ms"`
	NATSMax           float64 `json:"nats_max_ms"`
	NATSLost          int     `json:"nats_lost"`
	NATSDup           int64   `json:"nats_duplicates"`
	CallbackConns     int64   `json:"callback_connections"`
	CallbacksChecked  int64   `json:"callback_signatures_checked"`
	CallbacksBad      int64   `json:"callback_signatures_bad"`
	CallbackBadSample string  `json:"callback_bad_sample,omitempty"`
	CallbackMisrouted int64   `json:"callback_misrouted"`
	CallbackUnexp     int64   `json:"callback_unexpected"`

	SendOffered   float64 `json:"send_offered_rate"`
	SendRequests  int     `json:"send_requests"`
	SendRate      float64 `json:"send_rate"`
	SendP50       float64 `json:"send_p50_ms"`
	SendP99       float64 `json:"send_p99_ms"`
	SendMax       float64 `json:"send_max_ms"`
	SendSchedP99  float64 `json:"send_p99_from_schedule_ms"`
	SendErrors    int     `json:"send_errors"`
	SendErrorEx   string  `json:"send_error_sample,omitempty"`
	SendShed      int     `json:"send_shed"`
	SendOnRedis   int     `json:"send_on_redis"`
	SendInChat    int     `json:"send_in_bbb_chat"`
	SendLost      int     `json:"send_lost"`
	SendRedisP99  float64 `json:"send_redis_p99_ms"`
	SendDropBBB   int     `json:"send_dropped_by_bbb"`
	SendEchoDrain float64 `json:"send_echo_drain_s"`

	confirmFields

	IngressRSS  float64 `json:"ingress_rss_mb"`
	RelayRSS    float64 `json:"relay_rss_mb"`
	NATSRSS     float64 `json:"nats_server_rss_mb,omitempty"`
	RelayAnon   float64 `json:"relay_rss_anon_mb"`
	RelayFile   float64 `json:"relay_rss_file_mb"`
	IngressAnon float64 `json:"ingress_rss_anon_mb"`
	IngressFile float64 `json:"ingress_rss_file_mb"`
	// CPU while nothing happens (every chat started, no message), in milliseconds per second: busy polling?
	IdleRelayCPU   float64 `json:"idle_relay_cpu_ms_per_s"`
	IdleIngressCPU float64 `json:"idle_ingress_cpu_ms_per_s"`
	IdleNATSCPU    float64 `json:"idle_nats_server_cpu_ms_per_s,omitempty"`
	// Resident memory during the forward phase, at every tenth of it: flat, or growing?
	RelayRSSSamples   []float64 `json:"relay_rss_samples_mb"`
	IngressRSSSamples []float64 `json:"ingress_rss_samples_mb"`
	// The same during the send phase.
	RelayRSSSendSamples   []float64 `json:"relay_rss_send_samples_mb,omitempty"`
	IngressRSSSendSamples []float64 `json:"ingress_rss_send_samples_mb,omitempty"`
	CPUPer1k              float64   `json:"cpu_s_per_1k"`
	RelayCPUPer1k         float64   `json:"relay_cpu_s_per_1k"`
	NATSCPUPer1k          float64   `json:"nats_server_cpu_s_per_1k_forwarded,omitempty"`
	IngressPer1k          float64   `json:"ingress_cpu_s_per_1k_sends"`
	RelayNATSFwd          float64   `json:"relay_nats_msgs_per_forward,omitempty"`
	RelayNATSSend         float64   `json:"relay_nats_msgs_per_send,omitempty"`
	IngressNATS           float64   `json:"ingress_nats_msgs_per_send,omitempty"`
	NATSPer1kSends        float64   `json:"nats_server_cpu_s_per_1k_sends,omitempty"`
	RelayPer1kSend        float64   `json:"relay_cpu_s_per_1k_sends"`
	BenchCPUShare         float64   `json:"bench_cpu_share_forward"`

	LimitRedis        float64 `json:"limit_redis_rate"`
	LimitRedisP99     float64 `json:"limit_redis_p99_ms"`
	LimitRedisLost    int     `json:"limit_redis_lost"`
	LimitJetStream    float64 `json:"limit_jetstream_rate"`
	LimitJetStreamP99 float64 `json:"limit_jetstream_p99_ms"`
	LimitJetStreamL   int     `json:"limit_jetstream_lost"`
	LimitHTTP         float64 `json:"limit_http_rate"`
	LimitHTTPP99      float64 `json:"limit_http_p99_ms"`

	ForwardVsRedis     float64 `json:"ratio_forward_to_redis"`
	ForwardVsJetStream float64 `json:"ratio_forward_to_jetstream"`
	SendVsHTTP         float64 `json:"ratio_send_to_http"`

	Burst *burstResult `json:"burst,omitempty"`
	Sweep *sweepResult `json:"sweep,omitempty"`
	// Viewers is the -viewers phase, ingress's viewer page beside a bare net/http SSE handler.
	Viewers *viewerResult `json:"viewers,omitempty"`
	// Fleet is the -fleet phases, beside this run's one-node figures.
	Fleet *fleetResult `json:"fleet,omitempty"`
}

type burstResult struct {
	Messages        int     `json:"messages"`
	PublishSeconds  float64 `json:"publish_s"`
	PublishRate     float64 `json:"publish_rate"`
	DeliverSeconds  float64 `json:"all_delivered_s"`
	CallbackRate    float64 `json:"callback_rate"`
	Lost            int     `json:"lost"`
	NATSLost        int     `json:"nats_lost"`
	Duplicates      int64   `json:"duplicates"`
	P99             float64 `json:"p99_ms"`
	Max             float64 `json:"max_ms"`
	RelayRSSBefore  float64 `json:"relay_rss_before_mb"`
	RelayRSSAfter   float64 `json:"relay_rss_after_mb"`
	RelayPeakRSS    float64 `json:"relay_peak_rss_mb"`
	RelayDropped    string  `json:"relay_dropped_metric,omitempty"`
	RelayCPUPer1k   float64 `json:"relay_cpu_s_per_1k"`
	NATSServerPeak  float64 `json:"nats_server_peak_rss_mb,omitempty"`
	DeliveredInTime bool    `json:"all_delivered"`
}

type sweepStep struct {
	Offered  float64 `json:"offered"`
	Sent     float64 `json:"sent_rate"`
	Rate     float64 `json:"forward_rate"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Lost     int     `json:"lost"`
	NATSLost int     `json:"nats_lost"`
	NATSP99  float64 `json:"nats_p99_ms"`
	CPUPer1k float64 `json:"relay_cpu_s_per_1k"`
	Pass     bool    `json:"pass"`
}

type sweepResult struct {
	Steps []sweepStep `json:"steps"`
	Knee  float64     `json:"knee_rate"`
	Why   string      `json:"stopped_because"`
}

func mb(kb int64) float64 { return round(float64(kb) / 1024) }

func per1k(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return round(d.Seconds() / float64(n) * 1000)
}

// measure runs the phases.
func (b *bench) measure(ctx context.Context) (result, error) {
	cfg := b.cfg
	r := result{Version: cfg.version, Meetings: cfg.meetings, Bridges: cfg.bridges, Duration: cfg.duration.Seconds(),
		Cores: runtime.NumCPU(), Receivers: cfg.receivers}

	idle := min(cfg.duration, 10*time.Second)
	b.logf("idle: %s", idle)
	i0 := b.cpu()
	if !service.Sleep(ctx, idle) {
		return r, ctx.Err()
	}
	i1 := b.cpu()
	perSec := func(a, b procStat) float64 { return round(float64((b.CPU - a.CPU).Milliseconds()) / idle.Seconds()) }
	r.IdleRelayCPU, r.IdleIngressCPU = perSec(i0.relay, i1.relay), perSec(i0.ingress, i1.ingress)
	if b.natsProc != nil {
		r.IdleNATSCPU = perSec(i0.nats, i1.nats)
	}

	b.logf("forward: %g messages/s for %s", cfg.rate, cfg.duration)
	conns0, checked0 := b.rc.conns.Load(), b.rc.checked.Load()
	nm0 := b.natsMsgs()
	stopSampling := b.sampleRSS(cfg.duration/10, &r.RelayRSSSamples, &r.IngressRSSSamples)
	f, err := b.forward(ctx, cfg.rate, cfg.duration, 0, cfg.drain)
	stopSampling()
	if err != nil {
		return r, fmt.Errorf("forward: %w", err)
	}
	nm1 := b.natsMsgs()
	r.RelayNATSFwd = perMsg(nm0, nm1, "bbb-chat relay", f.Sent)
	if f.Lost > 0 {
		b.diagnose(ctx)
	}
	r.ForwardOffered, r.ForwardSent, r.ForwardSentRate = cfg.rate, f.Sent, f.SentRate
	r.ForwardRate, r.ForwardP50, r.ForwardP99, r.ForwardMax = f.CallbackRate, f.CB.P50, f.CB.P99, f.CB.Max
	r.ForwardLost, r.ForwardDup, r.ForwardDrain = f.Lost, f.Duplicates, f.DrainSeconds
	r.NATSRate, r.NATSP50, r.NATSP99, r.NATSMax = f.NATSRate, f.NS.P50, f.NS.P99, f.NS.Max
	r.NATSLost, r.NATSDup = f.NATSLost, f.NATSDup
	r.CallbackConns = b.rc.conns.Load() - conns0
	r.CallbacksChecked = b.rc.checked.Load() - checked0
	r.RelayCPUPer1k = per1k(f.RelayCPU, f.Sent)
	r.CPUPer1k = r.RelayCPUPer1k
	if b.natsProc != nil {
		r.NATSCPUPer1k = per1k(f.NATSCPU, f.Sent)
	}
	if total := f.RelayCPU + f.NATSCPU + f.RedisCPU + f.BenchCPU + f.IngressCPU; total > 0 {
		r.BenchCPUShare = round(f.BenchCPU.Seconds() / total.Seconds())
	}

	if cfg.sendRate > 0 {
		b.logf("send: %g requests/s for %s", cfg.sendRate, cfg.duration)
		stopSampling := b.sampleRSS(cfg.duration/10, &r.RelayRSSSendSamples, &r.IngressRSSSendSamples)
		s, err := b.send(ctx, cfg.sendRate, cfg.duration)
		stopSampling()
		if err != nil {
			return r, fmt.Errorf("send: %w", err)
		}
		nm2 := b.natsMsgs()
		r.RelayNATSSend = perMsg(nm1, nm2, "bbb-chat relay", s.OK)
		r.IngressNATS = perMsg(nm1, nm2, "bbb-chat ingress", s.OK)
		r.SendOffered, r.SendRequests, r.SendRate = cfg.sendRate, s.Requests, s.Rate
		r.SendP50, r.SendP99, r.SendMax, r.SendSchedP99 = s.Lat.P50, s.Lat.P99, s.Lat.Max, s.Sched.P99
		r.SendErrors, r.SendErrorEx, r.SendShed = s.Errors, s.ErrSample, s.Shed
		r.SendOnRedis, r.SendLost, r.SendRedisP99, r.SendDropBBB = s.OnRedis, s.Lost, s.Redis.P99, s.DroppedBBB
		r.SendEchoDrain, r.SendInChat = s.EchoDrain, s.InChat
		r.IngressPer1k = per1k(s.IngressCPU, s.OK)
		r.RelayPer1kSend = per1k(s.RelayCPU, s.OK)
		if b.natsProc != nil {
			r.NATSPer1kSends = per1k(s.NATSCPU, s.OK)
		}
	} else {
		b.logf("send: skipped (-send-rate 0)")
	}
	if cfg.confirmRate > 0 {
		b.logf("confirmed send: %g requests/s for %s", cfg.confirmRate, cfg.duration)
		if err := b.sendConfirmed(ctx, cfg.confirmRate, cfg.duration, &r.confirmFields); err != nil {
			return r, fmt.Errorf("confirmed send: %w", err)
		}
	}
	snap := b.cpu()
	r.IngressRSS, r.RelayRSS = mb(snap.ingress.HWMKB), mb(snap.relay.HWMKB)
	r.RelayAnon, r.RelayFile = mb(snap.relay.AnonKB), mb(snap.relay.FileKB)
	r.IngressAnon, r.IngressFile = mb(snap.ingress.AnonKB), mb(snap.ingress.FileKB)
	if b.natsProc != nil {
		r.NATSRSS = mb(snap.nats.HWMKB)
	}

	b.logf("limits: Redis pub/sub, JetStream, HTTP (%s each)", cfg.limitDur)
	lr, err := b.limitRedis(ctx, cfg.rate, cfg.limitDur)
	if err != nil {
		return r, fmt.Errorf("redis limit: %w", err)
	}
	r.LimitRedis, r.LimitRedisP99, r.LimitRedisLost = lr.Rate, lr.Paced.P99, lr.Lost
	lj, err := b.limitJetStream(ctx, cfg.rate, cfg.limitDur)
	if err != nil {
		return r, fmt.Errorf("jetstream limit: %w", err)
	}
	r.LimitJetStream, r.LimitJetStreamP99, r.LimitJetStreamL = lj.Rate, lj.Paced.P99, lj.Lost
	lh, err := b.limitHTTP(ctx, max(cfg.sendRate, 1000), cfg.limitDur)
	if err != nil {
		return r, fmt.Errorf("http limit: %w", err)
	}
	r.LimitHTTP, r.LimitHTTPP99 = lh.Rate, lh.Paced.P99
	r.ForwardVsRedis = ratio(r.ForwardRate, r.LimitRedis)
	r.ForwardVsJetStream = ratio(r.ForwardRate, r.LimitJetStream)
	r.SendVsHTTP = ratio(r.SendRate, r.LimitHTTP)

	if cfg.burst > 0 {
		b.logf("burst: %d messages as fast as Redis takes them", cfg.burst)
		br, err := b.runBurst(ctx)
		if err != nil {
			return r, fmt.Errorf("burst: %w", err)
		}
		r.Burst = &br
	}
	if cfg.sweep {
		sr, err := b.runSweep(ctx)
		if err != nil {
			return r, fmt.Errorf("sweep: %w", err)
		}
		r.Sweep = &sr
	}
	if cfg.viewers > 0 {
		if r.Viewers, err = b.viewers(ctx); err != nil {
			return r, fmt.Errorf("viewers: %w", err)
		}
	}
	if p := b.rc.badSample.Load(); p != nil {
		r.CallbackBadSample = *p
	}
	r.CallbacksBad, r.CallbackMisrouted, r.CallbackUnexp = b.rc.bad.Load(), b.rc.misrouted.Load(), b.rc.unexpected.Load()
	return r, nil
}

func (b *bench) runBurst(ctx context.Context) (burstResult, error) {
	before := b.cpu()
	drain := max(b.cfg.drain, 120*time.Second)
	f, err := b.forward(ctx, 0, 0, b.cfg.burst, drain)
	if err != nil {
		return burstResult{}, err
	}
	after := b.cpu()
	br := burstResult{Messages: f.Sent, PublishSeconds: f.SendSeconds, PublishRate: f.SentRate,
		CallbackRate: f.CallbackRate, Lost: f.Lost, NATSLost: f.NATSLost, Duplicates: f.Duplicates,
		P99: f.CB.P99, Max: f.CB.Max, RelayRSSBefore: mb(before.relay.RSSKB), RelayRSSAfter: mb(after.relay.RSSKB),
		RelayPeakRSS: mb(after.relay.HWMKB), RelayCPUPer1k: per1k(f.RelayCPU, f.Sent),
		DeliveredInTime: f.Lost == 0 && f.NATSLost == 0}
	br.DeliverSeconds = round(f.SendSeconds + f.DrainSeconds)
	if b.natsProc != nil {
		br.NATSServerPeak = mb(after.nats.HWMKB)
	}
	br.RelayDropped = b.relayMetric("bbbchat_relay_events_dropped_total")
	return br, nil
}

// diagnose logs the state of the first bridges' callback consumers, and relay's last words, after a loss.
func (b *bench) diagnose(ctx context.Context) {
	for _, m := range b.meetings[:min(3, b.cfg.bridges)] {
		b.logf("consumer of %s: %s", m.intID, b.consumerState(ctx, m))
	}
	b.logf("relay: callbacks delivered %s, skipped %s, in flight %s, workers %s; log:\n%s",
		b.relayMetric("bbbchat_relay_callbacks_delivered_total"), b.relayMetric("bbbchat_relay_callbacks_skipped_total"),
		b.relayMetric("bbbchat_relay_callbacks_in_flight"), b.relayMetric("bbbchat_relay_callback_workers"), b.relay.Tail(4000))
}

// consumerState says where a bridge's callback consumer stands, and whether a relay is subscribed to it.
func (b *bench) consumerState(ctx context.Context, m *benchMeeting) string {
	c, err := b.js.PushConsumer(ctx, state.StreamEvents, bridge.ConsumerName(m.intID))
	if err != nil {
		return err.Error()
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("pending %d, ack pending %d, redelivered %d, push bound %v, delivered seq %d, created %s",
		info.NumPending, info.NumAckPending, info.NumRedelivered, info.PushBound, info.Delivered.Stream,
		info.Created.Format(time.RFC3339Nano))
}

// natsMsgs sums, per client name, the messages the nats-server exchanged with the connections open now (what they
// published plus what was delivered to them); nil when the benchmark did not start the server.
func (b *bench) natsMsgs() map[string]int64 {
	if b.natsMon == "" {
		return nil
	}
	resp, err := http.Get(b.natsMon + "/connz?limit=100000")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var cz struct {
		Conns []struct {
			Name    string `json:"name"`
			InMsgs  int64  `json:"in_msgs"`
			OutMsgs int64  `json:"out_msgs"`
		} `json:"connections"`
	}
	if json.NewDecoder(resp.Body).Decode(&cz) != nil {
		return nil
	}
	out := map[string]int64{}
	for _, c := range cz.Conns {
		out[c.Name] += c.InMsgs + c.OutMsgs
	}
	return out
}

// perMsg is the growth of a client's NATS messages between two natsMsgs, per item.
func perMsg(before, after map[string]int64, name string, n int) float64 {
	if before == nil || after == nil || n == 0 {
		return 0
	}
	return round(float64(after[name]-before[name]) / float64(n))
}

// relayMetric reads one unlabelled value from relay's /metrics.
func (b *bench) relayMetric(name string) string {
	resp, err := http.Get(b.relayURL + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

func (b *bench) runSweep(ctx context.Context) (sweepResult, error) {
	var sr sweepResult
	for rate, i := b.cfg.sweepStart, 0; i < 12 && ctx.Err() == nil; rate, i = rate*1.5, i+1 {
		rate = float64(int(rate))
		b.logf("sweep: %g messages/s", rate)
		f, err := b.forward(ctx, rate, b.cfg.duration, 0, b.cfg.drain)
		if err != nil {
			return sr, err
		}
		st := sweepStep{Offered: rate, Sent: f.SentRate, Rate: f.CallbackRate, P50: f.CB.P50, P99: f.CB.P99,
			Lost: f.Lost, NATSLost: f.NATSLost, NATSP99: f.NS.P99, CPUPer1k: per1k(f.RelayCPU, f.Sent)}
		switch {
		case f.Lost > 0 || f.NATSLost > 0:
			sr.Why = fmt.Sprintf("%d callbacks and %d NATS messages lost at %g/s", f.Lost, f.NATSLost, rate)
		case f.CB.P99 > b.cfg.sweepP99:
			sr.Why = fmt.Sprintf("callback p99 %.1f ms > %g ms at %g/s", f.CB.P99, b.cfg.sweepP99, rate)
		case f.SentRate < 0.9*rate:
			sr.Why = fmt.Sprintf("the generator reached only %.0f of %g/s", f.SentRate, rate)
		default:
			st.Pass = true
			sr.Knee = rate
		}
		sr.Steps = append(sr.Steps, st)
		if !st.Pass {
			break
		}
	}
	if sr.Why == "" {
		sr.Why = "no step failed"
	}
	return sr, nil
}

func printTable(w io.Writer, r result) {
	fmt.Fprintf(w, "bbb-chat benchmark: BBB %s, %d meetings, %d bridged, %g s phases, %d cores\n\n", r.Version,
		r.Meetings, r.Bridges, r.Duration, r.Cores)
	fmt.Fprintf(w, "%-34s %12s %12s %12s\n", "", "bbb-chat", "limit", "ratio")
	row := func(name string, v, limit float64, unit string) {
		if limit > 0 {
			fmt.Fprintf(w, "%-34s %12s %12s %12.2f\n", name, num(v)+unit, num(limit)+unit, v/limit)
		} else {
			fmt.Fprintf(w, "%-34s %12s\n", name, num(v)+unit)
		}
	}
	fmt.Fprintf(w, "forward (offered %g/s, sent %g/s)\n", r.ForwardOffered, r.ForwardSentRate)
	row("  callbacks/s", r.ForwardRate, r.LimitRedis, "")
	row("  callbacks/s vs JetStream", r.ForwardRate, r.LimitJetStream, "")
	row("  callback p50 ms", r.ForwardP50, 0, "")
	row("  callback p99 ms (limit: pub/sub)", r.ForwardP99, r.LimitRedisP99, "")
	row("  callback max ms", r.ForwardMax, 0, "")
	fmt.Fprintf(w, "  lost %d, duplicates %d, signatures checked %d bad %d, new TCP connections %d\n",
		r.ForwardLost, r.ForwardDup, r.CallbacksChecked, r.CallbacksBad, r.CallbackConns)
	row("  NATS subscriber msgs/s", r.NATSRate, r.LimitJetStream, "")
	row("  NATS p99 ms (limit: JetStream)", r.NATSP99, r.LimitJetStreamP99, "")
	fmt.Fprintf(w, "  NATS lost %d, duplicates %d\n", r.NATSLost, r.NATSDup)
	fmt.Fprintf(w, "send (offered %g/s)\n", r.SendOffered)
	row("  requests/s", r.SendRate, r.LimitHTTP, "")
	row("  p50 ms", r.SendP50, 0, "")
	row("  p99 ms (limit: 204 handler)", r.SendP99, r.LimitHTTPP99, "")
	fmt.Fprintf(w, "  errors %d, shed %d, on Redis %d, lost %d, dropped by BBB %d, relay skipped the echoes %.1f s after the last answer\n",
		r.SendErrors, r.SendShed, r.SendOnRedis, r.SendLost, r.SendDropBBB, r.SendEchoDrain)
	if r.SendErrorEx != "" {
		fmt.Fprintf(w, "  first error: %s\n", r.SendErrorEx)
	}
	r.confirmFields.print(w, row)
	fmt.Fprintf(w, "resources\n")
	fmt.Fprintf(w, "  peak RSS: ingress %.1f MB, relay %.1f MB, nats-server %.1f MB (now: ingress %.1f anon + %.1f file, relay %.1f anon + %.1f file)\n",
		r.IngressRSS, r.RelayRSS, r.NATSRSS, r.IngressAnon, r.IngressFile, r.RelayAnon, r.RelayFile)
	fmt.Fprintf(w, "  idle CPU (ms per s): relay %g, ingress %g, nats-server %g\n", r.IdleRelayCPU, r.IdleIngressCPU, r.IdleNATSCPU)
	if len(r.RelayRSSSamples) > 1 {
		fmt.Fprintf(w, "  RSS during forward (MB): relay %v, ingress %v\n", r.RelayRSSSamples, r.IngressRSSSamples)
		fmt.Fprintf(w, "  RSS during send (MB): relay %v, ingress %v\n", r.RelayRSSSendSamples, r.IngressRSSSendSamples)
	}
	fmt.Fprintf(w, "  CPU s per 1,000: relay %.3f per forwarded, nats-server %.3f per forwarded, ingress %.3f per send, nats-server %.3f per send\n",
		r.RelayCPUPer1k, r.NATSCPUPer1k, r.IngressPer1k, r.NATSPer1kSends)
	fmt.Fprintf(w, "  NATS messages: relay %.1f per forwarded, relay %.1f and ingress %.1f per send\n", r.RelayNATSFwd,
		r.RelayNATSSend, r.IngressNATS)
	if br := r.Burst; br != nil {
		fmt.Fprintf(w, "burst of %d: published in %.2f s (%g/s), all delivered after %.2f s (%g callbacks/s), lost %d, NATS lost %d, relay RSS %.1f → %.1f MB (peak %.1f)\n",
			br.Messages, br.PublishSeconds, br.PublishRate, br.DeliverSeconds, br.CallbackRate, br.Lost, br.NATSLost,
			br.RelayRSSBefore, br.RelayRSSAfter, br.RelayPeakRSS)
	}
	if v := r.Viewers; v != nil {
		fmt.Fprintf(w, "viewers: %d of one meeting, %d messages at %g/s\n", v.Viewers, v.Messages, v.Rate)
		fmt.Fprintf(w, "  %-26s %12s %12s %12s\n", "", "ingress", "bare SSE", "ratio")
		fmt.Fprintf(w, "  %-26s %12d %12d\n", "connected", v.Connected, v.BareConnected)
		fmt.Fprintf(w, "  %-26s %12.1f %12.1f %12.2f\n", "p50 ms", v.P50, v.BareP50, ratio(v.P50, v.BareP50))
		fmt.Fprintf(w, "  %-26s %12.1f %12.1f %12.2f\n", "p99 ms", v.P99, v.BareP99, ratio(v.P99, v.BareP99))
		fmt.Fprintf(w, "  %-26s %12d %12d\n", "lost", v.Lost, v.BareLost)
		fmt.Fprintf(w, "  %-26s %12.1f %12.1f %12.2f\n", "peak RSS MB", v.IngressRSS, v.BareRSS, v.RSSRatio)
		fmt.Fprintf(w, "  %-26s %12.2f %12.2f\n", "CPU s", v.IngressCPU, v.BareCPU)
	}
	if r.Fleet != nil {
		printFleet(w, r.Fleet)
	}
	if sw := r.Sweep; sw != nil {
		fmt.Fprintf(w, "sweep\n  %10s %10s %10s %10s %10s %6s %10s\n", "offered", "sent", "callbacks", "p50 ms", "p99 ms", "lost", "cpu/1k")
		for _, s := range sw.Steps {
			fmt.Fprintf(w, "  %10g %10g %10g %10.1f %10.1f %6d %10.3f\n", s.Offered, s.Sent, s.Rate, s.P50, s.P99, s.Lost, s.CPUPer1k)
		}
		fmt.Fprintf(w, "  knee: %g messages/s (%s)\n", sw.Knee, sw.Why)
	}
}

func num(f float64) string {
	if f >= 100 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}
