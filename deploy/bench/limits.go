package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// limitResult is what the bare parts do under the same load generator: the rate they sustain as fast as the
// generator goes, and their latency at the rate the product was offered.
type limitResult struct {
	Rate      float64 // as fast as the generator goes
	Lost      int     // in the as-fast-as-possible run
	PacedRate float64 // at the product's offered rate
	Paced     summary
}

// limitCap bounds the messages of one as-fast-as-possible run (the tracker's memory: about 25 bytes each).
const limitCap = 1 << 20

// limitRedis publishes the forward phase's messages with the same generator on a channel of its own and reads them
// with a plain go-redis subscriber.
func (b *bench) limitRedis(ctx context.Context, offered float64, dur time.Duration) (limitResult, error) {
	const channel = "bbbchat-bench-limit"
	sub := redis.NewClient(b.redisOpts)
	defer sub.Close()
	ps := sub.Subscribe(ctx, channel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return limitResult{}, fmt.Errorf("subscribe: %w", err)
	}
	var cur atomicTracker
	go func() {
		for m := range ps.Channel(redis.WithChannelSize(4096)) {
			now := time.Now()
			if t := cur.Load(); t != nil {
				if i := t.slot(firstID([]byte(m.Payload))); i >= 0 {
					t.gotNATS(i, now)
				}
			}
		}
	}()
	one := func(rate float64, n int) (*tracker, int, time.Time, error) {
		t := newTracker(b.gen.seq, n)
		cur.Store(t)
		start := time.Now()
		sent, _, err := b.gen.run(ctx, t, channel, rate, dur, n)
		if err != nil {
			return nil, 0, start, err
		}
		waitMissing(ctx, t, 5*time.Second)
		return t, sent, start, nil
	}
	return pacedThenFlatOut(offered, dur, one)
}

// limitRun runs one limit measurement at rate (0: as fast as it goes) for at most n messages and returns its
// tracker, the messages sent and when it started.
type limitRun func(rate float64, n int) (*tracker, int, time.Time, error)

// pacedThenFlatOut measures a limit at the offered rate (its latency floor) when offered > 0, then as fast as the
// generator goes (its rate ceiling).
func pacedThenFlatOut(offered float64, dur time.Duration, one limitRun) (limitResult, error) {
	var r limitResult
	if offered > 0 {
		t, _, start, err := one(offered, int(offered*dur.Seconds()*1.05)+1024)
		if err != nil {
			return r, err
		}
		r.Paced = t.nsLat.summary()
		r.PacedRate = perSecond(r.Paced.N, time.Unix(0, t.nsLast.Load()).Sub(start))
	}
	t, sent, start, err := one(0, limitCap)
	if err != nil {
		return r, err
	}
	_, r.Lost = t.missing()
	r.Rate = perSecond(sent-r.Lost, time.Unix(0, t.nsLast.Load()).Sub(start))
	return r, nil
}

func waitMissing(ctx context.Context, t *tracker, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, ns := t.missing(); ns == 0 {
			return
		}
		service.Sleep(ctx, 20*time.Millisecond)
	}
}

// limitJetStream publishes event-sized messages into a stream like the events stream, asynchronously with
// message ids and a window as relay does, and reads them with an ordered consumer.
func (b *bench) limitJetStream(ctx context.Context, offered float64, dur time.Duration) (limitResult, error) {
	const stream = "BBBCHAT_BENCH_LIMIT"
	const window = 512 // relay's publishWindow
	pubNC, err := nats.Connect(b.natsURL, nats.Name("bbb-chat bench limit publisher"))
	if err != nil {
		return limitResult{}, err
	}
	defer pubNC.Close()
	subNC, err := nats.Connect(b.natsURL, nats.Name("bbb-chat bench limit subscriber"))
	if err != nil {
		return limitResult{}, err
	}
	defer subNC.Close()
	js, err := jetstream.New(pubNC, jetstream.WithPublishAsyncMaxPending(1024),
		jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		return limitResult{}, err
	}
	sjs, err := jetstream.New(subNC)
	if err != nil {
		return limitResult{}, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{"bbbchat-bench-limit.>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, Duplicates: 2 * time.Minute, MaxBytes: 1 << 30, Discard: jetstream.DiscardOld,
	}); err != nil {
		return limitResult{}, fmt.Errorf("limit stream: %w", err)
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), stream)

	sample := []byte(`{"type":"message","id":"X","meeting_id":"0000000000000000000000000000000000000000-1700000000000","external_meeting_id":"bench","timestamp":1700000000000,"bbb_version":"2.7","chat_id":"MAIN-PUBLIC-GROUP-CHAT","message_id":"X","sender_id":"w_000000000000","sender_name":"Viewer 1","sender_role":"VIEWER","text":"bench message from a viewer, number 1","correlation_id":"w_000000000000-1700000000000"}`)
	if p := b.nw.sample.Load(); p != nil {
		sample = *p
	}
	i := bytes.Index(sample, []byte(`"id":"`))
	j := i + 6 + bytes.IndexByte(sample[i+6:], '"')
	prefix, suffix := sample[:i+6], sample[j:]

	var cur atomicTracker
	cons, err := sjs.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return limitResult{}, err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		if t := cur.Load(); t != nil {
			if i := t.slot(firstID(m.Data())); i >= 0 {
				t.gotNATS(i, now)
			}
		}
	}, jetstream.PullMaxMessages(1000))
	if err != nil {
		return limitResult{}, err
	}
	defer cc.Stop()

	subjects := make([]string, len(b.meetings))
	for k, m := range b.meetings {
		subjects[k] = "bbbchat-bench-limit." + state.Key(m.intID) + ".message"
	}
	one := func(rate float64, n int) (*tracker, int, time.Time, error) {
		t := newTracker(b.gen.seq, n)
		cur.Store(t)
		start := time.Now()
		buf := make([]byte, 0, 1024)
		idb := make([]byte, 0, 32)
		var inflight []jetstream.PubAckFuture
		sent, _, err := pace(ctx, rate, dur, n, 256, func(k int) error {
			now := time.Now()
			ts := now.UnixMilli()
			for range k {
				seq := b.gen.seq
				b.gen.seq++
				x := int(seq - t.base)
				idb = messageID(idb[:0], ts, seq)
				buf = append(append(append(buf[:0], prefix...), idb...), suffix...)
				t.sentMs[x].Store(ts)
				t.sentAt[x].Store(now.UnixNano())
				t.sent.Add(1)
				msg := &nats.Msg{Subject: subjects[int(seq%uint64(len(subjects)))], Data: bytes.Clone(buf)}
				// As relay does: at most window publishes await their acknowledgement, settled oldest first.
				for len(inflight) >= window {
					select {
					case <-inflight[0].Ok():
					case err := <-inflight[0].Err():
						return fmt.Errorf("publish: %w", err)
					case <-ctx.Done():
						return ctx.Err()
					}
					inflight = inflight[1:]
				}
				fut, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(string(idb)))
				if err != nil {
					return fmt.Errorf("publish: %w", err)
				}
				inflight = append(inflight, fut)
			}
			return nil
		})
		if err != nil {
			return nil, 0, start, err
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(10 * time.Second):
		}
		waitMissing(ctx, t, 5*time.Second)
		return t, sent, start, nil
	}
	return pacedThenFlatOut(offered, dur, one)
}

// limitHTTP runs the send phase's HTTP load generator, with the same signed bodies, against a handler that only
// reads the body and answers 204.
func (b *bench) limitHTTP(ctx context.Context, offered float64, dur time.Duration) (limitResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return limitResult{}, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/api/sendChatMessage/"
	client := newHTTPClient(b.cfg.workers)
	defer client.CloseIdleConnections()
	mk := func(seq uint64) (string, []byte) {
		_, body := b.sendBody(seq)
		return url + b.meetings[0].intID, body
	}
	ok := func(status int, _ []byte) bool { return status == http.StatusNoContent }
	var r limitResult
	if offered > 0 {
		p := loadHTTP(ctx, client, b.cfg.workers, offered, dur, mk, ok, nil, nil)
		r.Paced, r.PacedRate = p.Lat, p.Rate
	}
	p := loadHTTP(ctx, client, b.cfg.workers, 0, dur, mk, ok, nil, nil)
	r.Rate, r.Lost = p.Rate, p.Errors
	return r, nil
}

// atomicTracker points at the tracker of the run under way.
type atomicTracker = atomic.Pointer[tracker]
