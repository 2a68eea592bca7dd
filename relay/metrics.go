package main

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
)

// maxLabelValues bounds how many distinct label values one labeled counter keeps; further values are counted
// under "other", so garbage on Redis cannot grow /metrics without bound.
const maxLabelValues = 200

// labeled is a counter with one label.
type labeled struct {
	mu   sync.Mutex
	vals map[string]*atomic.Uint64
}

func (l *labeled) inc(v string) { l.add(v, 1) }

func (l *labeled) add(v string, n uint64) {
	l.mu.Lock()
	if l.vals == nil {
		l.vals = map[string]*atomic.Uint64{}
	}
	c, ok := l.vals[v]
	if !ok {
		if len(l.vals) >= maxLabelValues {
			v = "other"
			c = l.vals[v]
		}
		if c == nil {
			c = new(atomic.Uint64)
			l.vals[v] = c
		}
	}
	l.mu.Unlock()
	c.Add(n)
}

func (l *labeled) snapshot() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]uint64, len(l.vals))
	for k, c := range l.vals {
		out[k] = c.Load()
	}
	return out
}

// metrics holds relay's counters. It is built in run and passed down; /metrics writes it in the Prometheus text
// format by hand (no client library).
type metrics struct {
	version string

	redisEvents    labeled // by envelope name
	chatMessages   labeled // by BBB version
	decodeErrors   labeled // by reason
	published      labeled // by event type
	duplicates     labeled // by event type
	publishRetries atomic.Uint64
	publishLost    atomic.Uint64
	dropped        atomic.Uint64 // buffer full
	unflushed      atomic.Uint64 // still queued when the shutdown deadline passed
	queued         atomic.Int64  // events waiting to be published or acknowledged

	unknownMeeting atomic.Uint64

	stateUpdates labeled // by result: ok, error

	redisSubscribed atomic.Bool
	redisReconnects atomic.Uint64
	redisGaps       atomic.Uint64
	redisDialErrors atomic.Uint64

	natsConnected  atomic.Bool
	natsDisconnect atomic.Uint64
	natsReconnects atomic.Uint64
	natsEmbedded   atomic.Bool
	stateOpen      atomic.Bool

	// extra writers append further metrics (the callback deliveries); each writes complete families.
	extraMu sync.Mutex
	extra   []func(io.Writer)
}

func newMetrics(version string) *metrics { return &metrics{version: version} }

// addWriter registers fn to append its own metric families to /metrics.
func (m *metrics) addWriter(fn func(io.Writer)) {
	m.extraMu.Lock()
	m.extra = append(m.extra, fn)
	m.extraMu.Unlock()
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func family(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func writeScalar(w io.Writer, name, typ, help string, v uint64) {
	family(w, name, typ, help)
	fmt.Fprintf(w, "%s %d\n", name, v)
}

func writeLabeled(w io.Writer, name, help, label string, l *labeled) {
	family(w, name, "counter", help)
	snap := l.snapshot()
	keys := make([]string, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s{%s=\"%s\"} %d\n", name, label, sharedmetrics.EscapeLabel(k), snap[k])
	}
}

// write renders every metric in the Prometheus text exposition format.
func (m *metrics) write(w io.Writer) {
	family(w, "bbbchat_build_info", "gauge", "Build information of the running binary.")
	fmt.Fprintf(w, "bbbchat_build_info{binary=\"relay\",version=\"%s\"} 1\n", sharedmetrics.EscapeLabel(m.version))

	writeLabeled(w, "bbbchat_relay_redis_events_total", "BBB events received on Redis, by envelope name.", "name", &m.redisEvents)
	writeLabeled(w, "bbbchat_relay_chat_messages_total", "Chat messages received from BBB, by BBB version.", "bbb_version", &m.chatMessages)
	writeLabeled(w, "bbbchat_relay_decode_errors_total", "Redis messages that could not be decoded, by reason.", "reason", &m.decodeErrors)
	writeLabeled(w, "bbbchat_relay_events_published_total", "Events stored in the events stream, by type.", "type", &m.published)
	writeLabeled(w, "bbbchat_relay_events_duplicate_total", "Events the stream already had (published by another relay), by type.", "type", &m.duplicates)
	writeScalar(w, "bbbchat_relay_publish_retries_total", "counter", "Event publishes retried after an error.", m.publishRetries.Load())
	writeScalar(w, "bbbchat_relay_publish_lost_total", "counter", "Events given up after repeated publish errors.", m.publishLost.Load())
	writeScalar(w, "bbbchat_relay_events_dropped_total", "counter", "Events dropped because the publish buffer was full (NATS down or too slow).", m.dropped.Load())
	writeScalar(w, "bbbchat_relay_events_unflushed_total", "counter", "Events still unpublished when the shutdown deadline passed.", m.unflushed.Load())
	q := max(m.queued.Load(), 0)
	writeScalar(w, "bbbchat_relay_publish_queue", "gauge", "Events waiting to be published or acknowledged.", uint64(q))
	writeScalar(w, "bbbchat_relay_unknown_meeting_events_total", "counter", "Events of meetings relay has not seen created.", m.unknownMeeting.Load())
	writeLabeled(w, "bbbchat_relay_state_updates_total", "Presence, meeting and bridge updates, by result.", "result", &m.stateUpdates)

	writeScalar(w, "bbbchat_relay_redis_subscribed", "gauge", "1 when both BBB channels are subscribed.", b2u(m.redisSubscribed.Load()))
	writeScalar(w, "bbbchat_relay_redis_reconnects_total", "counter", "Redis subscriptions re-established after a lost connection.", m.redisReconnects.Load())
	writeScalar(w, "bbbchat_relay_redis_gaps_total", "counter", "Periods in which Redis events were published while relay was not subscribed.", m.redisGaps.Load())
	writeScalar(w, "bbbchat_relay_redis_dial_errors_total", "counter", "Failed connection attempts to Redis.", m.redisDialErrors.Load())

	writeScalar(w, "bbbchat_relay_nats_connected", "gauge", "1 when connected to NATS.", b2u(m.natsConnected.Load()))
	writeScalar(w, "bbbchat_relay_nats_disconnects_total", "counter", "Lost NATS connections.", m.natsDisconnect.Load())
	writeScalar(w, "bbbchat_relay_nats_reconnects_total", "counter", "Re-established NATS connections.", m.natsReconnects.Load())
	writeScalar(w, "bbbchat_relay_nats_embedded", "gauge", "1 when this relay runs the embedded NATS server.", b2u(m.natsEmbedded.Load()))
	writeScalar(w, "bbbchat_relay_state_open", "gauge", "1 when the JetStream buckets and stream are open.", b2u(m.stateOpen.Load()))

	m.extraMu.Lock()
	extra := append([]func(io.Writer){}, m.extra...)
	m.extraMu.Unlock()
	for _, fn := range extra {
		fn(w)
	}
}
