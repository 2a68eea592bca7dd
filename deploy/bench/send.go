package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/redis/go-redis/v9"
)

// newHTTPClient is the load generator's client: keep-alive, one connection per worker.
func newHTTPClient(workers int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        workers * 2,
			MaxIdleConnsPerHost: workers * 2,
			MaxConnsPerHost:     workers,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// httpResult is one run of the HTTP load generator.
type httpResult struct {
	Offered   float64
	Requests  int
	OK        int
	Errors    int
	ErrSample string
	Shed      int // not sent: every worker was busy and the queue full
	Rate      float64
	Lat       summary // request written to answer read
	Sched     summary // from when the request was due (includes waiting for a free worker)
	Seconds   float64
}

type httpToken struct {
	seq uint64
	due time.Time
}

// loadHTTP sends requests made by mk from workers goroutines: paced at rate for dur (open loop: a request that
// finds every worker busy waits in a short queue, or is shed), or with rate <= 0 as fast as the workers go (closed
// loop). ok says whether an answer counts as a success.
func loadHTTP(ctx context.Context, client *http.Client, workers int, rate float64, dur time.Duration,
	mk func(seq uint64) (string, []byte), ok func(status int, body []byte) bool, started func(seq uint64, at time.Time),
	answered func(seq uint64)) httpResult {
	var (
		lat, sched latencies
		okN, errN  atomic.Int64
		reqN       atomic.Int64
		errSample  atomic.Pointer[string]
		lastDone   atomic.Int64
		seq        atomic.Uint64
	)
	start := time.Now()
	do := func(tk httpToken) {
		url, body := mk(tk.seq)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			panic(err) // the benchmark's own URL: cannot happen
		}
		t0 := time.Now()
		if started != nil {
			started(tk.seq, t0)
		}
		reqN.Add(1)
		resp, err := client.Do(req)
		var rb []byte
		status := 0
		if err == nil {
			rb, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
		now := time.Now()
		if err == nil && ok(status, rb) {
			okN.Add(1)
			lat.add(now.Sub(t0))
			sched.add(now.Sub(tk.due))
			storeMax(&lastDone, now.UnixNano())
			if answered != nil {
				answered(tk.seq)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		errN.Add(1)
		msg := fmt.Sprintf("HTTP %d %s", status, bytes.TrimSpace(rb))
		if err != nil {
			msg = err.Error()
		}
		errSample.CompareAndSwap(nil, &msg)
	}
	var wg sync.WaitGroup
	shed := 0
	if rate > 0 {
		tokens := make(chan httpToken, workers*2)
		for range workers {
			wg.Go(func() {
				for tk := range tokens {
					do(tk)
				}
			})
		}
		pace(ctx, rate, dur, 0, 64, func(n int) error {
			now := time.Now()
			for range n {
				select {
				case tokens <- httpToken{seq: seq.Add(1) - 1, due: now}:
				default:
					shed++
				}
			}
			return nil
		})
		close(tokens)
	} else {
		stop := time.Now().Add(dur)
		for range workers {
			wg.Go(func() {
				for ctx.Err() == nil && time.Now().Before(stop) {
					do(httpToken{seq: seq.Add(1) - 1, due: time.Now()})
				}
			})
		}
	}
	wg.Wait()
	r := httpResult{Offered: rate, Requests: int(reqN.Load()), OK: int(okN.Load()), Errors: int(errN.Load()),
		Shed: shed, Lat: lat.summary(), Sched: sched.summary()}
	if p := errSample.Load(); p != nil {
		r.ErrSample = *p
	}
	if last := lastDone.Load(); last > 0 {
		el := time.Unix(0, last).Sub(start)
		r.Rate = perSecond(r.OK, el)
		r.Seconds = round(el.Seconds())
	}
	return r
}

// sendResult is the send phase: the HTTP side and what reached BBB's Redis.
type sendResult struct {
	httpResult
	OnRedis    int
	Lost       int     // answered 200 but neither seen on to-akka-apps-redis-channel nor in BBB's chat
	InChat     int     // accepted into the meetings' chats by the simulator
	Redis      summary // request start to SendGroupChatMessageMsg on Redis
	DroppedBBB int     // refused by the simulator's strict akka checks
	EchoDrain  float64 // seconds after the last answer until relay had skipped every echo
	IngressCPU time.Duration
	RelayCPU   time.Duration
	NATSCPU    time.Duration
	BenchCPU   time.Duration
}

const sendMarker = "bsq"

// send runs the send phase: signed sendChatMessage calls into ingress, which must publish each on Redis.
func (b *bench) send(ctx context.Context, rate float64, dur time.Duration) (sendResult, error) {
	n := int(rate*dur.Seconds()*1.1) + 1024
	startAt := make([]atomic.Int64, n)
	answered := make([]atomic.Bool, n)
	seen := make([]atomic.Uint32, n)
	var redisLat latencies
	var onRedis atomic.Int64

	ps := b.rdb.Subscribe(ctx, channelToAkka)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return sendResult{}, fmt.Errorf("subscribe %s: %w", channelToAkka, err)
	}
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for m := range ps.Channel(redis.WithChannelSize(100000)) {
			now := time.Now()
			s, ok := markerSeq(m.Payload)
			if !ok || s >= n {
				continue
			}
			if seen[s].Add(1) == 1 {
				onRedis.Add(1)
				if t0 := startAt[s].Load(); t0 > 0 {
					redisLat.add(now.Sub(time.Unix(0, t0)))
				}
			}
		}
	}()
	dropsBefore := len(b.sim.Dropped())
	skipped0f, _ := strconv.ParseFloat(b.relayMetric("bbbchat_relay_callbacks_skipped_total"), 64)
	skipped0 := int(skipped0f)
	client := newHTTPClient(b.cfg.workers)
	defer client.CloseIdleConnections()
	before := b.cpu()
	res := loadHTTP(ctx, client, b.cfg.workers, rate, dur,
		b.sendBody,
		func(status int, body []byte) bool {
			return status == http.StatusOK && bytes.Contains(body, []byte(`"via":"user"`))
		},
		func(seq uint64, at time.Time) {
			if int(seq) < n {
				startAt[seq].Store(at.UnixNano())
			}
		},
		func(seq uint64) {
			if int(seq) < n {
				answered[seq].Store(true)
			}
		})
	// Wait for the publishes to show on Redis.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && int(onRedis.Load()) < res.OK && ctx.Err() == nil {
		service.Sleep(ctx, 20*time.Millisecond)
	}
	// Each post comes back from BBB as a chat message, which relay stores and each bridge's callback worker
	// recognises as its own echo and skips: wait for relay to have digested them all, so that the CPU counted
	// is the whole cost of a send and the next phase starts on a quiet machine.
	echoStart := time.Now()
	deadline = echoStart.Add(b.cfg.drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if n, err := strconv.ParseFloat(b.relayMetric("bbbchat_relay_callbacks_skipped_total"), 64); err == nil &&
			int(n)-skipped0 >= int(onRedis.Load()) {
			break
		}
		service.Sleep(ctx, 20*time.Millisecond)
	}
	echoDrain := time.Since(echoStart)
	after := b.cpu()
	ps.Close()
	<-subDone
	r := sendResult{httpResult: res, OnRedis: int(onRedis.Load()), Redis: redisLat.summary(),
		DroppedBBB: len(b.sim.Dropped()) - dropsBefore, EchoDrain: round(echoDrain.Seconds())}
	// What BBB accepted: the simulator's chats, which it read from Redis on its own connection.
	inChat := make([]bool, n)
	for _, m := range b.bridgedMeetings() {
		for _, c := range b.sim.Chat(m.intID) {
			if s, ok := markerSeq(c.Message); ok && s < n {
				if !inChat[s] {
					r.InChat++
				}
				inChat[s] = true
			}
		}
	}
	for i := range n {
		if answered[i].Load() && seen[i].Load() == 0 && !inChat[i] {
			r.Lost++
		}
	}
	r.IngressCPU = after.ingress.CPU - before.ingress.CPU
	r.RelayCPU = after.relay.CPU - before.relay.CPU
	r.NATSCPU = after.nats.CPU - before.nats.CPU
	r.BenchCPU = after.self.CPU - before.self.CPU
	return r, nil
}

// markerSeq finds the sequence number a send put into its message text.
func markerSeq(text string) (int, bool) {
	i := strings.Index(text, sendMarker)
	if i < 0 {
		return 0, false
	}
	j := i + len(sendMarker)
	k := j
	for k < len(text) && text[k] >= '0' && text[k] <= '9' {
		k++
	}
	s, err := strconv.Atoi(text[j:k])
	return s, err == nil && s >= 0
}

// sendBody is the seq-th sendChatMessage call: its URL and signed body, with a nonce that makes its checksum unique.
// The calls go round robin over the bridged meetings.
func (b *bench) sendBody(seq uint64) (string, []byte) {
	m := b.meetings[int(seq%uint64(b.cfg.bridges))]
	ms := []pyjson.Member{
		{Key: "user_name", Value: pyjson.String("Viewer " + strconv.FormatUint(seq%1000, 10))},
		{Key: "message", Value: pyjson.String("hello from the stream " + sendMarker + strconv.FormatUint(seq, 10) +
			" and a few more words to make it a realistic line")},
		{Key: "nonce", Value: pyjson.String(b.runID + "-" + strconv.FormatUint(seq, 10))},
	}
	return b.ingressURL + "/api/sendChatMessage/" + m.intID, sign("sendChatMessage", ms, b.secret, time.Now().Unix())
}

// sign returns the body the original's README client sends: json.dumps of the params with the checksum last.
func sign(call string, members []pyjson.Member, secret string, unix int64) []byte {
	sum := checksum.Sign(call, pyjson.Dumps(pyjson.Object(members...)), secret, unix)
	return pyjson.Dumps(pyjson.Object(append(members, pyjson.Member{Key: "checksum", Value: pyjson.String(sum)})...))
}
