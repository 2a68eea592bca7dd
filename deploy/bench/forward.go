package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// template is one meeting's GroupChatMessageBroadcastEvtMsg as the simulator published it for a human's message,
// cut where the message id, the text and the millisecond timestamps go, so the generator can publish new messages
// in exactly that version's shape without the simulator's per-message cost.
type template struct {
	parts [][]byte // literal, placeholder, literal, placeholder, ... literal
	kinds []byte   // for each placeholder: 'I' id, 'T' text, 'S' timestamp (ms)
	size  int
}

var thirteenDigits = regexp.MustCompile(`\b[0-9]{13}\b`)

// newTemplate cuts raw, the broadcast of a message with id and text sent at ts (ms) in meeting meetingID (whose
// creation time in the id stays as it is).
func newTemplate(raw []byte, meetingID, id, text string, ts int64) (*template, error) {
	s := string(raw)
	const keep = "\x01"
	s = strings.ReplaceAll(s, meetingID, keep)
	if strings.Count(s, `"`+id+`"`) != 1 || strings.Count(s, text) != 1 {
		return nil, fmt.Errorf("broadcast does not hold message id %q and text %q once: %s", id, text, raw)
	}
	s = strings.Replace(s, `"`+id+`"`, "\"\x00I\x00\"", 1)
	s = strings.Replace(s, text, "\x00T\x00", 1)
	s = thirteenDigits.ReplaceAllStringFunc(s, func(d string) string {
		n, _ := strconv.ParseInt(d, 10, 64)
		if n > ts-60000 && n < ts+60000 {
			return "\x00S\x00"
		}
		return d
	})
	s = strings.ReplaceAll(s, keep, meetingID)
	t := &template{}
	pieces := strings.Split(s, "\x00")
	for i, p := range pieces {
		if i%2 == 0 {
			t.parts = append(t.parts, []byte(p))
			t.size += len(p)
			continue
		}
		if len(p) != 1 {
			return nil, fmt.Errorf("bad placeholder %q", p)
		}
		t.kinds = append(t.kinds, p[0])
	}
	// The message id must be the first "id" member, which is how the receivers of the limit runs find it.
	if i := strings.Index(s, `"id":"`); i < 0 || !strings.HasPrefix(s[i+6:], "\x00I\x00") {
		return nil, fmt.Errorf("the message id is not the first id member of the broadcast: %s", raw)
	}
	return t, nil
}

// render appends a message with that id, text and timestamp.
func (t *template) render(dst []byte, id, text string, ts int64) []byte {
	for i, p := range t.parts {
		dst = append(dst, p...)
		if i < len(t.kinds) {
			switch t.kinds[i] {
			case 'I':
				dst = append(dst, id...)
			case 'T':
				dst = append(dst, text...)
			case 'S':
				dst = strconv.AppendInt(dst, ts, 10)
			}
		}
	}
	return dst
}

// messageID is "<ts>-<8 lowercase alphanumerics>" like BBB's, with the sequence number in base 36 as the suffix.
func messageID(dst []byte, ts int64, seq uint64) []byte {
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, '-')
	s := strconv.FormatUint(seq, 36)
	for i := len(s); i < 8; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// parseMessageID returns the sequence number and timestamp of an id made by messageID.
func parseMessageID(id string) (seq uint64, ts int64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	if !found || len(b) != 8 {
		return 0, 0, false
	}
	ts, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	seq, err = strconv.ParseUint(b, 36, 64)
	return seq, ts, err == nil
}

// firstID finds the first "id" member's string value in a JSON text, without decoding it.
func firstID(b []byte) string {
	i := bytes.Index(b, []byte(`"id":"`))
	if i < 0 {
		return ""
	}
	rest := b[i+6:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// tracker accounts for the messages of one phase: when each was sent, and how often each reached the callback
// receivers and the NATS subscriber.
type tracker struct {
	base    uint64
	n       int
	sentAt  []atomic.Int64 // unix ns; 0: not sent
	sentMs  []atomic.Int64 // the BBB timestamp in the message
	bridged []bool         // by sequence: the message's meeting has a bridge
	cb      []atomic.Uint32
	ns      []atomic.Uint32
	cbLat   latencies
	nsLat   latencies
	cbLast  atomic.Int64
	nsLast  atomic.Int64
	cbDup   atomic.Int64
	nsDup   atomic.Int64
	sent    atomic.Int64
}

func newTracker(base uint64, n int) *tracker {
	return &tracker{base: base, n: n, sentAt: make([]atomic.Int64, n), sentMs: make([]atomic.Int64, n),
		bridged: make([]bool, n), cb: make([]atomic.Uint32, n), ns: make([]atomic.Uint32, n)}
}

// slot returns the index of a message id of this phase, or -1.
func (t *tracker) slot(id string) int {
	seq, ts, ok := parseMessageID(id)
	if !ok || seq < t.base || seq >= t.base+uint64(t.n) {
		return -1
	}
	i := int(seq - t.base)
	if t.sentAt[i].Load() == 0 || t.sentMs[i].Load() != ts {
		return -1
	}
	return i
}

func (t *tracker) gotCallback(i int, now time.Time) {
	if t.cb[i].Add(1) > 1 {
		t.cbDup.Add(1)
		return
	}
	t.cbLat.add(now.Sub(time.Unix(0, t.sentAt[i].Load())))
	storeMax(&t.cbLast, now.UnixNano())
}

func (t *tracker) gotNATS(i int, now time.Time) {
	if t.ns[i].Add(1) > 1 {
		t.nsDup.Add(1)
		return
	}
	t.nsLat.add(now.Sub(time.Unix(0, t.sentAt[i].Load())))
	storeMax(&t.nsLast, now.UnixNano())
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// missing counts the sent messages that have not arrived (yet): at the callback receivers (bridged ones only)
// and at the NATS subscriber.
func (t *tracker) missing() (cb, ns int) {
	n := int(t.sent.Load())
	for i := 0; i < n; i++ {
		if t.bridged[i] && t.cb[i].Load() == 0 {
			cb++
		}
		if t.ns[i].Load() == 0 {
			ns++
		}
	}
	return cb, ns
}

func (t *tracker) bridgedSent() int {
	n, c := int(t.sent.Load()), 0
	for i := 0; i < n; i++ {
		if t.bridged[i] {
			c++
		}
	}
	return c
}

// receiver is the callback receivers' HTTP handler: it accounts for every callback and checks the signatures of
// a sample.
type receiver struct {
	secret   string
	cur      atomic.Pointer[tracker]
	expected []string // meeting_id expected on /hook/<i>
	warm     sync.Map // message ids of warm-up messages received
	warmN    atomic.Int64

	total      atomic.Int64
	unexpected atomic.Int64 // callbacks of messages no phase sent (echoes of ingress's posts would land here)
	misrouted  atomic.Int64
	checked    atomic.Int64
	bad        atomic.Int64
	badSample  atomic.Pointer[string]
	conns      atomic.Int64 // TCP connections accepted
	every      int64        // check the signatures of every n-th callback
}

type callbackBody struct {
	MessageID string `json:"message_id"`
	MeetingID string `json:"meeting_id"`
	Timestamp int64  `json:"timestamp"`
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n := rc.total.Add(1)
	var cb callbackBody
	if err := json.Unmarshal(body, &cb); err != nil {
		rc.fail(fmt.Sprintf("undecodable callback: %v", err))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if hook, ok := strings.CutPrefix(r.URL.Path, "/hook/"); ok {
		if i, err := strconv.Atoi(hook); err == nil && i >= 0 && i < len(rc.expected) && rc.expected[i] != cb.MeetingID {
			rc.misrouted.Add(1)
		}
	}
	if n%rc.every == 1 || rc.every == 1 {
		rc.check(r, body, now)
	}
	if t := rc.cur.Load(); t != nil {
		if i := t.slot(cb.MessageID); i >= 0 {
			t.gotCallback(i, now)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if isWarmText(body) {
		if _, seen := rc.warm.LoadOrStore(cb.MessageID, true); !seen {
			rc.warmN.Add(1)
		}
	} else {
		rc.unexpected.Add(1)
	}
	w.WriteHeader(http.StatusNoContent)
}

func isWarmText(body []byte) bool { return bytes.Contains(body, []byte(warmPrefix)) }

// check verifies both signatures of a callback as a receiver would: the original checksum and Standard Webhooks.
func (rc *receiver) check(r *http.Request, body []byte, now time.Time) {
	rc.checked.Add(1)
	v := checksum.Verifier{Secrets: []string{rc.secret}, Delta: 30, Now: func() time.Time { return now }}
	if _, _, err := v.Verify(state.CallbackMessage, body); err != nil {
		rc.fail("checksum: " + err.Error())
		return
	}
	if err := checksum.VerifyWebhook(rc.secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
		r.Header.Get("webhook-signature"), body, now, 5*time.Minute); err != nil {
		rc.fail("webhook-signature: " + err.Error())
	}
}

func (rc *receiver) fail(msg string) {
	rc.bad.Add(1)
	rc.badSample.CompareAndSwap(nil, &msg)
}

// serveReceivers starts n HTTP servers (distinct ports, so distinct hosts to relay's HTTP client) with rc.
func serveReceivers(rc *receiver, n int, cl *cleanups) ([]string, error) {
	var urls []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("receiver: %w", err)
		}
		srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second,
			ConnState: func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					rc.conns.Add(1)
				}
			}}
		go srv.Serve(ln)
		cl.add(func() { srv.Close() })
		urls = append(urls, "http://"+ln.Addr().String())
	}
	return urls, nil
}

// natsWatcher reads bbbchat.*.message with an ordered consumer, as any subscriber of docs/nats.md would.
type natsWatcher struct {
	cur        atomic.Pointer[tracker]
	total      atomic.Int64
	unexpected atomic.Int64
	sample     atomic.Pointer[[]byte] // one event payload, for the JetStream limit run
}

func (nw *natsWatcher) start(ctx context.Context, js jetstream.JetStream) (func(), error) {
	cons, err := js.OrderedConsumer(ctx, state.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{state.SubjectRoot + ".*." + state.TypeMessage},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("ordered consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		nw.total.Add(1)
		data := m.Data()
		if nw.sample.Load() == nil {
			c := bytes.Clone(data)
			nw.sample.Store(&c)
		}
		var e struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(data, &e) != nil {
			nw.unexpected.Add(1)
			return
		}
		if t := nw.cur.Load(); t != nil {
			if i := t.slot(e.ID); i >= 0 {
				t.gotNATS(i, now)
			}
		}
	}, jetstream.PullMaxMessages(1000))
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	return cc.Stop, nil
}

// pace calls send with the number of items due so that rate items per second go out over dur, in batches of at
// most batch; with rate <= 0 it sends full batches as fast as send returns. It stops after dur, after limit items
// (when > 0), or when ctx ends, and returns how many it sent and how long that took.
func pace(ctx context.Context, rate float64, dur time.Duration, limit, batch int, send func(n int) error) (int, time.Duration, error) {
	start := time.Now()
	sent := 0
	for ctx.Err() == nil {
		el := time.Since(start)
		if (dur > 0 && el >= dur) || (limit > 0 && sent >= limit) {
			break
		}
		due := batch
		if rate > 0 {
			due = int(rate*el.Seconds()) + 1 - sent
			if due <= 0 {
				next := time.Duration(float64(sent) / rate * float64(time.Second))
				service.Sleep(ctx, min(max(next-el, 200*time.Microsecond), 5*time.Millisecond))
				continue
			}
			due = min(due, batch)
		}
		if limit > 0 {
			due = min(due, limit-sent)
		}
		if err := send(due); err != nil {
			return sent, time.Since(start), err
		}
		sent += due
	}
	return sent, time.Since(start), ctx.Err()
}

// generator publishes chat messages on from-akka-apps-redis-channel as akka-apps does, round robin over the
// meetings, each from its meeting's template.
type generator struct {
	rdb      *redis.Client
	meetings []*benchMeeting
	seq      uint64 // next sequence number; used by one phase at a time
	text     string
	noise    int // other BBB events published with each chat message (-noise)
}

// noiseEvent is an event relay does not forward, of the kinds a BBB server publishes most while people talk and
// point (voice activity, cursor moves), in akka-apps' 2.7 shape, for meeting.
func noiseEvent(meetingID string, k int, ts int64) []byte {
	user := "w_" + strconv.Itoa(k%7)
	if k%2 == 0 {
		return fmt.Appendf(nil, `{"envelope":{"name":"UserTalkingVoiceEvtMsg","routing":{"sender":"bbb-apps-akka","meetingId":%q,"userId":%q},"timestamp":%d},"core":{"header":{"name":"UserTalkingVoiceEvtMsg","meetingId":%q,"userId":%q},"body":{"voiceConf":"74839","intId":%q,"voiceUserId":"%d","talking":%t}}}`,
			meetingID, user, ts, meetingID, user, user, k%7, k%4 == 0)
	}
	return fmt.Appendf(nil, `{"envelope":{"name":"SendCursorPositionEvtMsg","routing":{"sender":"bbb-apps-akka","meetingId":%q,"userId":%q},"timestamp":%d},"core":{"header":{"name":"SendCursorPositionEvtMsg","meetingId":%q,"userId":%q},"body":{"whiteboardId":"%s/1","xPercent":%d.5,"yPercent":%d.25}}}`,
		meetingID, user, ts, meetingID, user, meetingID, k%100, (k*7)%100)
}

// run publishes for one phase: paced at rate for dur, or, with limit > 0 and rate <= 0, limit messages as fast as
// Redis takes them. Every message is recorded in t before it is published.
func (g *generator) run(ctx context.Context, t *tracker, channel string, rate float64, dur time.Duration, limit int) (int, time.Duration, error) {
	if limit <= 0 || limit > t.n {
		limit = t.n
	}
	buf := make([]byte, 0, 2048)
	idb := make([]byte, 0, 32)
	return pace(ctx, rate, dur, limit, 256, func(n int) error {
		pipe := g.rdb.Pipeline()
		now := time.Now()
		ts := now.UnixMilli()
		for range n {
			seq := g.seq
			g.seq++
			i := int(seq - t.base)
			m := g.meetings[int(seq%uint64(len(g.meetings)))]
			idb = messageID(idb[:0], ts, seq)
			buf = m.tmpl.render(buf[:0], string(idb), g.text+strconv.FormatUint(seq, 10), ts)
			t.sentMs[i].Store(ts)
			t.bridged[i] = m.bridged
			t.sentAt[i].Store(now.UnixNano())
			pipe.Publish(ctx, channel, bytes.Clone(buf))
			for k := range g.noise {
				pipe.Publish(ctx, channel, noiseEvent(m.intID, int(seq)+k, ts))
			}
		}
		t.sent.Add(int64(n))
		_, err := pipe.Exec(ctx)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return nil
	})
}

// forwardResult is one forward phase.
type forwardResult struct {
	Offered       float64 // rate asked for (0: as fast as Redis takes them)
	Sent          int
	SentRate      float64 // achieved by the generator
	SendSeconds   float64
	Bridged       int
	Callbacks     int
	CallbackRate  float64
	CB            summary
	Lost          int
	Duplicates    int64
	NATS          int
	NATSRate      float64
	NS            summary
	NATSLost      int
	NATSDup       int64
	DrainSeconds  float64 // from the end of publishing to the last arrival
	RelayCPU      time.Duration
	IngressCPU    time.Duration
	NATSCPU       time.Duration
	RedisCPU      time.Duration
	BenchCPU      time.Duration
	RelayRSSAfter int64 // KB
	RelayHWM      int64 // KB
	// Every latency of the phase, for a distribution over several phases run at once (the fleet's servers).
	cbLat, nsLat *latencies
}

// forward runs one forward phase and waits for everything to arrive (or drain to pass).
func (b *bench) forward(ctx context.Context, rate float64, dur time.Duration, limit int, drain time.Duration) (forwardResult, error) {
	n := limit
	if n <= 0 {
		n = int(rate*dur.Seconds()*1.05) + 1024
	}
	t := newTracker(b.gen.seq, n)
	b.rc.cur.Store(t)
	b.nw.cur.Store(t)
	before := b.cpu()
	start := time.Now()
	sent, took, err := b.gen.run(ctx, t, channelFromAkka, rate, dur, limit)
	if err != nil && ctx.Err() == nil {
		return forwardResult{}, err
	}
	// Drain: wait until every message arrived, or drain passed.
	deadline := time.Now().Add(drain)
	for {
		cb, ns := t.missing()
		if cb == 0 && ns == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		service.Sleep(ctx, 20*time.Millisecond)
	}
	// Late duplicates show up shortly after.
	service.Sleep(ctx, 200*time.Millisecond)
	after := b.cpu()
	cbMiss, nsMiss := t.missing()
	r := forwardResult{
		Offered: rate, Sent: sent, SentRate: perSecond(sent, took), SendSeconds: round(took.Seconds()),
		Bridged: t.bridgedSent(), CB: t.cbLat.summary(), NS: t.nsLat.summary(),
		Lost: cbMiss, Duplicates: t.cbDup.Load(), NATSLost: nsMiss, NATSDup: t.nsDup.Load(),
	}
	r.Callbacks = r.CB.N
	r.NATS = r.NS.N
	r.cbLat, r.nsLat = &t.cbLat, &t.nsLat
	if last := t.cbLast.Load(); last > 0 {
		r.CallbackRate = perSecond(r.Callbacks, time.Unix(0, last).Sub(start))
		r.DrainSeconds = round(max(time.Unix(0, last).Sub(start)-took, 0).Seconds())
	}
	if last := t.nsLast.Load(); last > 0 {
		r.NATSRate = perSecond(r.NATS, time.Unix(0, last).Sub(start))
	}
	r.RelayCPU = after.relay.CPU - before.relay.CPU
	r.IngressCPU = after.ingress.CPU - before.ingress.CPU
	r.NATSCPU = after.nats.CPU - before.nats.CPU
	r.RedisCPU = after.redis.CPU - before.redis.CPU
	r.BenchCPU = after.self.CPU - before.self.CPU
	r.RelayRSSAfter, r.RelayHWM = after.relay.RSSKB, after.relay.HWMKB
	return r, nil
}
