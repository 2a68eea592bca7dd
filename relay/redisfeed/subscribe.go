package redisfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/ratelog"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/redis/go-redis/v9"
)

// subscriber reads BBB's events from Redis: SUBSCRIBE (not PSUBSCRIBE, docs/protocol.md §1) to exactly the two
// channels akka-apps publishes chat, user and meeting events on.
//
// go-redis resubscribes by itself after a lost connection, but Redis pub/sub keeps nothing for a subscriber that
// is away: whatever was published in between is gone. The subscriber notices every such gap (the client dials
// again after having been subscribed, and the first subscription confirmation of a new connection arrives) and
// logs and counts it, so operators know that chat may be missing.
type subscriber struct {
	log      *slog.Logger
	m        *metrics
	now      func() time.Time
	channels []string
	limit    *ratelog.Limiter

	pingEvery, pongWait time.Duration

	mu        sync.Mutex
	confirmed int       // channels confirmed on the current connection
	ever      bool      // subscribed at least once
	lostAt    time.Time // when the subscribed connection was found gone
	lastSeen  time.Time // last message or confirmation
	since     time.Time // when the current subscription was confirmed on both channels; zero while not subscribed
}

func newSubscriber(log *slog.Logger, m *metrics, now func() time.Time) *subscriber {
	return &subscriber{log: log, m: m, now: now, channels: []string{bbb.ChannelFromAkka, bbb.ChannelFromAkkaChat},
		limit: ratelog.New(30*time.Second, now), pingEvery: pingEvery, pongWait: pongWait}
}

// DialHook sees every connection attempt of the subscription's client: a dial after the subscription was up
// means its connection is gone.
func (s *subscriber) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		s.mu.Lock()
		if s.ever && s.lostAt.IsZero() {
			s.lostAt = s.now()
			s.confirmed = 0
			s.m.redisSubscribed.Store(false)
			s.since = time.Time{}
			s.log.Warn("redis connection lost, resubscribing", "addr", addr)
		}
		s.mu.Unlock()
		c, err := next(ctx, network, addr)
		if err != nil {
			s.m.redisDialErrors.Add(1)
			if ok, n := s.limit.Allow("dial"); ok {
				s.log.Warn("redis unreachable, retrying", "addr", addr, "err", err, "failures_before", n)
			}
		}
		return c, err
	}
}

// ProcessHook passes commands through.
func (s *subscriber) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

// ProcessPipelineHook passes pipelines through.
func (s *subscriber) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// confirm handles a subscription confirmation. Redis numbers them per connection, so Count 1 is the first on a
// fresh connection; after an earlier subscription that is a gap.
func (s *subscriber) confirm(sub *redis.Subscription) {
	if sub.Kind != "subscribe" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if sub.Count == 1 {
		if s.ever {
			from := s.lostAt
			if from.IsZero() {
				from = s.lastSeen
			}
			s.m.redisReconnects.Add(1)
			s.m.redisGaps.Add(1)
			s.log.Warn(fmt.Sprintf("redis subscription gap: events published between %s and %s were missed",
				from.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano)),
				"from", from, "to", now, "gap", now.Sub(from).Round(time.Millisecond))
		}
		s.confirmed = 0
		s.since = time.Time{} // a fresh connection: what came before it is not heard on it
	}
	s.confirmed = max(s.confirmed, sub.Count)
	s.lastSeen = now
	if s.confirmed >= len(s.channels) {
		if !s.ever {
			s.log.Info("redis subscribed", "channels", s.channels)
		} else if !s.lostAt.IsZero() {
			s.log.Info("redis resubscribed", "channels", s.channels)
		}
		s.ever = true
		s.lostAt = time.Time{}
		if s.since.IsZero() {
			s.since = now
		}
		s.m.redisSubscribed.Store(true)
	}
}

// subscribedSince is when the current subscription began; zero while not subscribed.
func (s *subscriber) subscribedSince() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.since
}

func (s *subscriber) seen() {
	s.mu.Lock()
	s.lastSeen = s.now()
	s.mu.Unlock()
}

// RedisOptions reads BBB_CHAT_REDIS_URL into the subscription's client options.
func RedisOptions(rawURL string) (*redis.Options, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("BBB_CHAT_REDIS_URL: %w", err)
	}
	o.DialTimeout = 2 * time.Second
	o.DisableIdentity = true // no CLIENT SETINFO: BBB 2.x ships Redis versions without it
	return o, nil
}

// How the subscription notices a connection that hangs (Redis stopped, a network path gone without a reset):
// after pingEvery without a message it sends a PING, and when nothing arrives within pongWait after that, it
// drops the connection and dials again.
const (
	pingEvery = 3 * time.Second
	pongWait  = 2 * time.Second
)

// subscribe starts the subscription on its own client (so that the dial hook sees only the subscription's
// connections) and calls handle with every message's payload, in order, until the subscription is closed. Redis
// being down at start is fine: go-redis keeps dialling.
func (s *subscriber) subscribe(ctx context.Context, o *redis.Options, handle func(string)) (stop func()) {
	client := redis.NewClient(o)
	client.AddHook(s)
	ps := client.Subscribe(ctx, s.channels...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.receive(ps, handle)
	}()
	return func() {
		ps.Close()
		<-done
		client.Close()
		s.m.redisSubscribed.Store(false)
		s.mu.Lock()
		s.since = time.Time{}
		s.mu.Unlock()
	}
}

// receive reads the subscription on the calling goroutine until it is closed. It reads the connection itself
// rather than through go-redis's channels, whose reader and health check are two more goroutines to wake for
// every message.
func (s *subscriber) receive(ps *redis.PubSub, handle func(string)) {
	var (
		pinged bool // a PING went out on a quiet connection; something must arrive within pongWait
		errs   int
	)
	for {
		var (
			msg any
			err error
		)
		if pinged {
			// A deadline on the context, not a read timeout: go-redis drops a connection whose read outlives
			// the context's deadline and dials again.
			ctx, cancel := context.WithTimeout(context.Background(), s.pongWait)
			msg, err = ps.ReceiveTimeout(ctx, 0)
			cancel()
		} else {
			msg, err = ps.ReceiveTimeout(context.Background(), s.pingEvery)
		}
		if err != nil {
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			var ne net.Error
			timedOut := errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
			switch {
			case timedOut && !pinged:
				ctx, cancel := context.WithTimeout(context.Background(), s.pongWait)
				pinged = ps.Ping(ctx) == nil
				cancel()
			case timedOut:
				pinged = false // go-redis dropped the connection and dials again
				s.log.Warn("redis subscription: no answer to PING, connecting again", "waited", s.pongWait)
			default:
				pinged = false
				if errs > 0 {
					time.Sleep(100 * time.Millisecond) // go-redis is dialling again
				}
				errs++
			}
			continue
		}
		pinged, errs = false, 0
		switch v := msg.(type) {
		case *redis.Subscription:
			s.confirm(v)
		case *redis.Message:
			s.seen()
			handle(v.Payload)
		}
	}
}
