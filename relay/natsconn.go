package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/ratelog"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// natsHostPort returns host:port of the first URL in BBB_CHAT_NATS_URL (a comma-separated list).
func natsHostPort(urls string) (string, error) {
	first := strings.TrimSpace(strings.Split(urls, ",")[0])
	if !strings.Contains(first, "://") {
		first = "nats://" + first
	}
	u, err := url.Parse(first)
	if err != nil {
		return "", fmt.Errorf("BBB_CHAT_NATS_URL: %w", err)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", fmt.Errorf("BBB_CHAT_NATS_URL %q: no host", service.RedactURLs(urls))
	}
	if port == "" {
		port = "4222"
	}
	return net.JoinHostPort(host, port), nil
}

// canBind reports whether nothing listens on addr and relay may listen there (a local address).
func canBind(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// startEmbedded runs a JetStream-enabled NATS server in this process on addr, storing under storeDir. It fails
// when it cannot listen there (another relay got there first) or JetStream cannot start.
func startEmbedded(addr, storeDir string, log *slog.Logger) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("NATS port %q: %w", portStr, err)
	}
	opts := &server.Options{
		ServerName: embeddedName,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	nl := &natsLogger{log: log.With("component", "nats-server")}
	srv.SetLoggerV2(nl, false, false, false)
	srv.Start()
	if f := nl.fatalErrors(); len(f) > 0 {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded NATS: %s", strings.Join(f, "; "))
	}
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		if f := nl.fatalErrors(); len(f) > 0 {
			return nil, fmt.Errorf("embedded NATS: %s", strings.Join(f, "; "))
		}
		return nil, errors.New("embedded NATS: not ready for connections after 15s")
	}
	return srv, nil
}

// embeddedName is the server name of relay's embedded NATS server; a relay connected to a server of that name
// knows another relay runs it, and may take over when that relay is gone.
const embeddedName = "bbb-chat-relay"

// natsLink is relay's NATS connection and, when relay runs it, the embedded server.
type natsLink struct {
	nc   *nats.Conn
	addr string
	cfg  config.Relay
	log  *slog.Logger
	m    *metrics

	server atomic.Value // name of the NATS server last connected to

	mu       sync.Mutex
	embedded *server.Server
	unlock   func()
	closed   bool
}

// tryEmbed starts the embedded server when nothing listens on the NATS address and no other relay holds the
// store directory. started is false, with no error, when another server or relay is there first.
func (l *natsLink) tryEmbed() (started bool, err error) {
	if !canBind(l.addr) {
		return false, nil
	}
	unlock, held, err := lockStore(l.cfg.NATSStore)
	if err != nil || held {
		return false, err
	}
	srv, err := startEmbedded(l.addr, l.cfg.NATSStore, l.log)
	if err != nil {
		unlock()
		if !canBind(l.addr) {
			return false, nil // another server took the address meanwhile
		}
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
		return false, nil
	}
	l.embedded, l.unlock = srv, unlock
	l.m.natsEmbedded.Store(true)
	return true, nil
}

// connectNATS connects to BBB_CHAT_NATS_URL (service.ConnectNATS), reconnecting forever. When nothing listens there
// and embedding is on, it first starts the embedded server on that address. When nothing answers and embedding is
// off, it returns a connection that keeps trying in the background (relay starts anyway and /readyz says NATS is
// missing). onConnect is called on every (re)connection.
func connectNATS(cfg config.Relay, log *slog.Logger, m *metrics, onConnect func()) (*natsLink, error) {
	addr, err := natsHostPort(cfg.NATSURL)
	if err != nil {
		return nil, err
	}
	link := &natsLink{addr: addr, cfg: cfg, log: log, m: m}
	if cfg.NATSEmbedded {
		started, err := link.tryEmbed()
		if err != nil {
			return nil, err
		}
		if started {
			log.Info("no NATS server answered: started the embedded NATS JetStream server", "listen", addr,
				"store", cfg.NATSStore)
		}
	}
	nc, err := service.ConnectNATS(cfg.Common, "bbb-chat relay", log, service.NATSEvents{
		Connected: func(nc *nats.Conn, reconnect bool) {
			link.server.Store(nc.ConnectedServerName())
			m.natsConnected.Store(true)
			if reconnect {
				m.natsReconnects.Add(1)
			}
			onConnect()
		},
		Disconnected: func() {
			m.natsConnected.Store(false)
			m.natsDisconnect.Add(1)
		},
		Closed: func() { m.natsConnected.Store(false) },
	})
	if err != nil {
		link.shutdown()
		return nil, err
	}
	link.nc = nc
	if nc.IsConnected() {
		m.natsConnected.Store(true) // the Connected hook may not have run yet
	}
	return link, nil
}

// takeOver watches, when embedding is on and another relay runs the embedded server this relay uses, for that
// relay to go away, and then runs the embedded server itself on the same address and store, so the pair keeps
// its NATS. It never takes the address of a NATS server that is not a relay's.
func (l *natsLink) takeOver(ctx context.Context) {
	if !l.cfg.NATSEmbedded {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		running := l.embedded != nil
		l.mu.Unlock()
		if running {
			return
		}
		if name, _ := l.server.Load().(string); l.nc.IsConnected() || name != embeddedName {
			continue
		}
		started, err := l.tryEmbed()
		if err != nil {
			l.log.Warn("cannot take over the embedded NATS server", "err", err)
			continue
		}
		if started {
			l.log.Warn("the relay that ran the embedded NATS server is gone: this relay runs it now", "listen", l.addr,
				"store", l.cfg.NATSStore)
			return
		}
	}
}

// shutdown stops the embedded server, if relay runs one, and releases its store; call it last.
func (l *natsLink) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.embedded != nil {
		l.embedded.Shutdown()
		l.embedded.WaitForShutdown()
		l.embedded = nil
		l.unlock()
	}
}

// stateKeeper opens the state (buckets and stream) as soon as NATS answers, and opens it again whenever asked
// (after a reconnection, or when the stream did not answer), so a NATS server that lost its data gets the
// definitions back. It never gives up.
type stateKeeper struct {
	nc     *nats.Conn
	opts   state.Options
	log    *slog.Logger
	m      *metrics
	store  atomic.Pointer[state.Store]
	kick   chan struct{}
	opened chan struct{} // closed at the first successful open
	onOpen func(*state.Store)
}

// newStateKeeper returns a keeper; set nc before run.
func newStateKeeper(o state.Options, log *slog.Logger, m *metrics) *stateKeeper {
	return &stateKeeper{opts: o, log: log, m: m, kick: make(chan struct{}, 1), opened: make(chan struct{})}
}

// get returns the store, nil until it was opened.
func (k *stateKeeper) get() *state.Store { return k.store.Load() }

// reopen asks for the definitions to be applied again.
func (k *stateKeeper) reopen() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

func (k *stateKeeper) run(ctx context.Context) {
	limit := ratelog.New(30*time.Second, time.Now)
	for {
		retry := backoff.Exponential{Min: 250 * time.Millisecond, Max: 5 * time.Second}.Start()
		for {
			if ctx.Err() != nil {
				return
			}
			if k.nc.IsConnected() {
				octx, cancel := context.WithTimeout(ctx, 10*time.Second)
				s, err := state.Open(octx, k.nc, k.opts)
				cancel()
				if err == nil {
					k.m.stateOpen.Store(true)
					if k.store.CompareAndSwap(nil, s) {
						k.log.Info("state open", "stream", state.StreamEvents)
						close(k.opened)
						if k.onOpen != nil {
							k.onOpen(s)
						}
					}
					break
				}
				if ok, n := limit.Allow("open"); ok && ctx.Err() == nil {
					k.log.Warn("cannot open the JetStream state yet, retrying", "err", err, "failures_before", n)
				}
			}
			if !service.Sleep(ctx, retry.Next()) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-k.kick:
		}
	}
}
