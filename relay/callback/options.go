package callback

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// Options configures a Manager. Only Store is required.
type Options struct {
	Store *state.Store
	// Cache, when set, answers the echo check's presence lookup without a NATS round trip per message.
	Cache *state.Cache

	// Client sends the callbacks. nil: a client of its own that follows no redirect and gives up after Timeout.
	// A client given here must not follow redirects either (CheckRedirect returning http.ErrUseLastResponse).
	Client *http.Client
	// Timeout bounds one attempt, from connecting to reading the answer (default 10s). The consumer's AckWait is
	// bridge.AckWait(Timeout), Timeout + 5s.
	Timeout time.Duration
	// Schedule is the wait before each retry (default DefaultSchedule: 5s, 5m, 30m, 2h, 5h, 10h, 10h, about a
	// day). After the last step the delivery is given up.
	Schedule []time.Duration
	// Jitter spreads each wait by ±Jitter of itself (default 0.2; negative: none).
	Jitter float64
	// MaxRetryAfter caps a receiver's Retry-After (default 24h).
	MaxRetryAfter time.Duration
	// ProbeInterval is how often a receiver that callbacks wait for is sent a test event, to send them as soon as
	// it answers (see prober; default 5s; negative: never, the waiting callbacks wait out the schedule).
	ProbeInterval time.Duration

	Now  func() time.Time // clock (default time.Now)
	Rand func() float64   // randomness in [0,1) for the jitter (default math/rand/v2)
	Log  *slog.Logger     // default: discard

	UserAgent string // User-Agent of the POSTs, "bbb-chat/<version>" (default "bbb-chat")

	// CheckURL, when set, is what relay answers startChatForMeeting's check of a callback URI with
	// (bridge.Lifecycle.CheckTarget): the allow list relay delivers with, the URI's host resolved from here.
	CheckURL func(ctx context.Context, rawURL string) error
	// CheckTarget, when set, is asked before every attempt whether the callback URL may be called (SSRF guard).
	// An error counts as a failed attempt.
	CheckTarget func(ctx context.Context, rawURL string) error
	// IsEcho, when set, is asked about every public message that the built-in echo rules let through; true skips
	// it (see the package documentation).
	IsEcho func(state.Event, state.Bridge) bool

	// Metrics receives the counters; nil: the Manager makes its own (see Manager.Metrics).
	Metrics *Metrics
	// AttemptDone, when set, is told the outcome ("2xx", "3xx", "4xx", "5xx" or "error") and the time of every
	// callback HTTP attempt, for the latency histogram.
	AttemptDone func(outcome string, took time.Duration)
}

// Metrics are the Manager's counters, for relay's /metrics. All fields are safe to read at any time.
type Metrics struct {
	Delivered atomic.Uint64 // callbacks answered 2xx
	Retried   atomic.Uint64 // failed attempts that were scheduled again
	Failed    atomic.Uint64 // deliveries given up after the schedule (kept as FailedDelivery)
	Gone      atomic.Uint64 // receivers that answered 410 Gone
	Skipped   atomic.Uint64 // events not sent: echoes, private chats, kinds the bridge did not ask for
	Malformed atomic.Uint64 // events not sent because relay cannot have published them (also counted in Skipped)
	InFlight  atomic.Int64  // HTTP attempts under way
	Workers   atomic.Int64  // bridges this process is delivering for
	// OldestPendingMillis is the age (stream time to now) of the oldest event a worker of this process holds and
	// has not delivered or given up yet, in milliseconds; 0 when none. Updated every second.
	OldestPendingMillis atomic.Int64
}

// OldestPending returns OldestPendingMillis as a duration.
func (m *Metrics) OldestPending() time.Duration {
	return time.Duration(m.OldestPendingMillis.Load()) * time.Millisecond
}

const (
	defaultTimeout       = 10 * time.Second
	defaultJitter        = 0.2
	defaultMaxRetryAfter = 24 * time.Hour
	defaultProbeInterval = 5 * time.Second
	statsInterval        = time.Second
	// checkInterval is how often (±20%) a worker makes sure its consumer still exists when NATS did not
	// reconnect in between (someone deleted it).
	checkInterval = time.Minute
	// inboxSize is how many pushed events a worker holds: one at a time, and a redelivery.
	inboxSize = 8
	// pushedBuffer is how many pushed events wait for the dispatcher: at most one per bridge, and redeliveries.
	pushedBuffer    = 16384
	maxResponseRead = 4 << 10
)

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule()
	}
	if o.Jitter == 0 {
		o.Jitter = defaultJitter
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = defaultProbeInterval
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = defaultMaxRetryAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.UserAgent == "" {
		o.UserAgent = "bbb-chat"
	}
	if o.Metrics == nil {
		o.Metrics = new(Metrics)
	}
	if o.Client == nil {
		o.Client = NewClient(o.Timeout)
	}
	return o
}

// NewClient returns the HTTP client a Manager uses by default: it follows no redirect (a 3xx is the answer, and
// counts as a failure), gives up after timeout, and keeps a few idle connections per receiver.
func NewClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DialContext:       (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2: true,
		MaxIdleConns:      1024,
		// One receiver often takes the callbacks of every meeting (a Matrix or Mattermost bridge): keep a
		// connection per busy bridge alive instead of dialling one per delivery.
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
