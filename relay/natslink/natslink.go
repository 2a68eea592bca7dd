// Package natslink owns relay's NATS: the connection to BBB_CHAT_NATS_URL and, when nothing answers there,
// BBB_CHAT_NATS_EMBEDDED is true and BBB_CHAT_NATS_REPLICAS is 1 (Embeddable), the embedded JetStream server on that
// address, with the file lock on its store directory that keeps two relays on one machine off the same files, and
// the take-over when the relay that ran it is gone. It reports the connection's state in the bbbchat_relay_nats_*
// metrics, and says at start which server and account relay joined, warning when that looks like another
// application's or another bbb-chat server's.
//
// It must not open the stream or buckets (the caller does, on the connection it hands out), must never take the
// address of a NATS server that is not a relay's, and must not stop the process when the embedded server fails
// to start: the caller decides what that means.
package natslink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/config"
	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// HostPort returns host:port of the first URL in BBB_CHAT_NATS_URL (a comma-separated list).
func HostPort(urls string) (string, error) {
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

// CanBind reports whether nothing listens on addr and relay may listen there (a local address).
func CanBind(addr string) bool {
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

// Embeddable reports whether relay may run the embedded server: BBB_CHAT_NATS_EMBEDDED is on and
// BBB_CHAT_NATS_REPLICAS is 1. More replicas mean a NATS cluster: the embedded server, a single one, could hold
// none of the buckets (nats-server refuses them), and relay starting it on the cluster node's address while that
// node is still down (a boot race) would keep the node out and the state closed for good.
func Embeddable(cfg config.Relay) bool { return cfg.NATSEmbedded && cfg.Replicas <= 1 }

// embeddedName is the server name of relay's embedded NATS server; a relay connected to a server of that name
// knows another relay runs it, and may take over when that relay is gone.
const embeddedName = "bbb-chat-relay"

// metrics are the connection's figures, exported in the registry the caller passes to Connect.
type metrics struct {
	connected   atomic.Bool
	disconnects atomic.Uint64
	reconnects  atomic.Uint64
	embedded    atomic.Bool
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{}
	sharedmetrics.FlagGauge(reg, "bbbchat_relay_nats_connected", "1 when connected to NATS.", &m.connected)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_nats_disconnects_total", "Lost NATS connections.", m.disconnects.Load)
	sharedmetrics.CounterFunc(reg, "bbbchat_relay_nats_reconnects_total", "Re-established NATS connections.", m.reconnects.Load)
	sharedmetrics.FlagGauge(reg, "bbbchat_relay_nats_embedded", "1 when this relay runs the embedded NATS server.", &m.embedded)
	return m
}

// Link is relay's NATS connection and, when relay runs it, the embedded server.
type Link struct {
	nc   *nats.Conn
	addr string
	cfg  config.Relay
	log  *slog.Logger
	m    *metrics

	server atomic.Value  // name of the NATS server last connected to
	lost   chan struct{} // signalled when the connection is lost: TakeOver looks at once

	mu       sync.Mutex
	embedded *server.Server
	unlock   func()
	closed   bool
}

// tryEmbed starts the embedded server when nothing listens on the NATS address and no other relay holds the
// store directory. started is false, with no error, when another server or relay is there first.
func (l *Link) tryEmbed() (started bool, err error) {
	if !CanBind(l.addr) {
		return false, nil
	}
	unlock, held, err := lockStore(l.cfg.NATSStore)
	if err != nil || held {
		return false, err
	}
	srv, err := startEmbedded(l.addr, l.cfg.NATSStore, l.log)
	if err != nil {
		unlock()
		if !CanBind(l.addr) {
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
	l.m.embedded.Store(true)
	return true, nil
}

// Connect connects to BBB_CHAT_NATS_URL (service.ConnectNATS), reconnecting forever. When nothing listens there
// and embedding is on, it first starts the embedded server on that address. When nothing answers and embedding is
// off, it returns a connection that keeps trying in the background (relay starts anyway and /readyz says NATS is
// missing). onConnect is called on every (re)connection. The connection's metrics are registered in reg.
func Connect(cfg config.Relay, log *slog.Logger, reg prometheus.Registerer, onConnect func()) (*Link, error) {
	addr, err := HostPort(cfg.NATSURL)
	if err != nil {
		return nil, err
	}
	m := newMetrics(reg)
	link := &Link{addr: addr, cfg: cfg, log: log, m: m, lost: make(chan struct{}, 1)}
	if cfg.NATSEmbedded && !Embeddable(cfg) {
		log.Info("not starting the embedded NATS server: it is one server and cannot keep the replicas "+
			"BBB_CHAT_NATS_REPLICAS asks for; waiting for the NATS cluster", "replicas", cfg.Replicas,
			"url", service.RedactURLs(cfg.NATSURL))
	}
	if Embeddable(cfg) {
		yieldToSurvivor(addr, cfg.NATSStore)
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
			m.connected.Store(true)
			if reconnect {
				m.reconnects.Add(1)
			}
			onConnect()
		},
		Disconnected: func() {
			m.connected.Store(false)
			m.disconnects.Add(1)
			select {
			case link.lost <- struct{}{}:
			default:
			}
		},
		Closed: func() { m.connected.Store(false) },
	})
	if err != nil {
		link.Shutdown()
		return nil, err
	}
	link.nc = nc
	if nc.IsConnected() {
		m.connected.Store(true) // the Connected hook may not have run yet
		if link.embedded == nil {
			logJoined(nc, cfg.ServerID, cfg.Replicas > 1, log)
		}
	}
	return link, nil
}

// TakeOver watches, when embedding is on and another relay runs the embedded server this relay uses, for that
// relay to go away, and then runs the embedded server itself on the same address and store, so the pair keeps
// its NATS. It never takes the address of a NATS server that is not a relay's. It looks as soon as the connection
// is lost (and every second): the sooner this relay's NATS is back, the sooner what it read from Redis meanwhile
// is in the stream, ahead of what a restarted relay publishes.
func (l *Link) TakeOver(ctx context.Context) {
	if !Embeddable(l.cfg) {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.lost:
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
		if !started {
			l.log.Debug("embedded NATS server not taken over: its address answers or its store is locked", "listen", l.addr)
		}
		if started {
			l.log.Warn("the relay that ran the embedded NATS server is gone: this relay runs it now", "listen", l.addr,
				"store", l.cfg.NATSStore)
			_ = l.nc.ForceReconnect() // now, not at the next step of the reconnect backoff
			return
		}
	}
}

// takeoverGrace is how long a starting relay waits for another relay to take the embedded server over (see
// yieldToSurvivor).
const takeoverGrace = time.Second

// yieldToSurvivor gives a relay that survived the one running the embedded server the first go at taking it over:
// when nothing answers at addr but a relay ran the server on this store before (its lock file is there), it waits
// up to takeoverGrace for a server to answer. The survivor takes over the moment its connection drops (TakeOver)
// and then stores what it alone heard meanwhile; were this relay to start the server and publish first, those
// events would land in the stream after newer ones. A first start (no lock file) does not wait.
func yieldToSurvivor(addr, store string) {
	if _, err := os.Stat(filepath.Join(store, "relay.lock")); err != nil {
		return
	}
	for deadline := time.Now().Add(takeoverGrace); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
	}
}

// Conn is the connection; it reconnects by itself for as long as the Link lives.
func (l *Link) Conn() *nats.Conn { return l.nc }

// Shutdown stops the embedded server, if relay runs one, and releases its store; call it last.
func (l *Link) Shutdown() {
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
