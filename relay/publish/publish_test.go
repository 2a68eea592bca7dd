package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   string
		header nats.Header
		want   Result
		err    string
	}{
		{"stored", `{"stream":"BBBCHAT_EVENTS","seq":42}`, nil, Stored, ""},
		{"stored in a domain", `{"stream":"BBBCHAT_EVENTS","domain":"hub","seq":42}`, nil, Stored, ""},
		{"duplicate", `{"stream":"BBBCHAT_EVENTS","seq":42,"duplicate": true}`, nil, Duplicate, ""},
		{"duplicate, no space", `{"stream":"BBBCHAT_EVENTS","seq":42,"duplicate":true}`, nil, Duplicate, ""},
		{"not a duplicate", `{"stream":"BBBCHAT_EVENTS","seq":42,"duplicate": false}`, nil, Stored, ""},
		{"pretty", "{ \"stream\" : \"BBBCHAT_EVENTS\" ,\n \"seq\" : 42 }\n", nil, Stored, ""},
		{"other keys", `{"stream":"BBBCHAT_EVENTS","seq":42,"duplicate":true,"batch":"b1","count":3}`, nil, Duplicate, ""},
		{"key in another case", `{"stream":"BBBCHAT_EVENTS","seq":42,"Duplicate":true}`, nil, Duplicate, ""},
		{"key escaped", `{"stream":"BBBCHAT_EVENTS","seq":42,"\u0064uplicate":true}`, nil, Duplicate, ""},
		{"key repeated, the last counts", `{"stream":"BBBCHAT_EVENTS","seq":42,"duplicate":true,"duplicate":false}`, nil, Stored, ""},
		{"duplicate mentioned in a value", `{"stream":"x\"duplicate\": true","seq":42}`, nil, Stored, ""},
		{"refused", `{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"BBBCHAT_EVENTS","seq":0}`, nil, 0, "message size exceeds maximum allowed"},
		{"unavailable", `{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}`, nil, 0, "temporarily unavailable"},
		{"error in another case", `{"stream":"X","seq":0,"Error":{"code":400,"description":"refused"}}`, nil, 0, "refused"},
		{"error key escaped", `{"stream":"X","seq":0,"\u0065rror":{"code":400,"description":"refused"}}`, nil, 0, "refused"},
		{"error null", `{"stream":"X","seq":1,"error":null}`, nil, Stored, ""},
		{"no stream", ``, nats.Header{"Status": []string{"503"}}, 0, jetstream.ErrNoStreamResponse.Error()},
		{"empty", ``, nil, 0, jetstream.ErrInvalidJSAck.Error()},
		{"stream name empty", `{"stream":"","seq":42}`, nil, 0, jetstream.ErrInvalidJSAck.Error()},
		{"not an ack", `{"type":"io.nats.jetstream.api.v1.pub_ack"}`, nil, 0, jetstream.ErrInvalidJSAck.Error()},
		{"null", `null`, nil, 0, jetstream.ErrInvalidJSAck.Error()},
		{"broken error", `{"error":`, nil, 0, jetstream.ErrInvalidJSAck.Error()},
		{"trailing garbage", `{"stream":"X","seq":42}x`, nil, 0, jetstream.ErrInvalidJSAck.Error()},
		{"seq with a leading zero", `{"stream":"X","seq":042}`, nil, 0, jetstream.ErrInvalidJSAck.Error()},
		{"seq beyond uint64", `{"stream":"X","seq":18446744073709551616}`, nil, 0, jetstream.ErrInvalidJSAck.Error()},
		{"domain not a string", `{"stream":"X","domain":1,"seq":42}`, nil, 0, jetstream.ErrInvalidJSAck.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := parseAck(&nats.Msg{Data: []byte(tc.data), Header: tc.header})
			if tc.err == "" {
				if err != nil || res != tc.want {
					t.Fatalf("parseAck = %v, %v; want %v", res, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("parseAck error = %v, want one saying %q", err, tc.err)
			}
		})
	}
}

func TestIsTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"JetStream unavailable", &jetstream.APIError{Code: 503}, true},
		{"JetStream request timeout", &jetstream.APIError{Code: 408}, true},
		{"refused", &jetstream.APIError{Code: 400, Description: "message size exceeds maximum allowed"}, false},
		{"no stream", jetstream.ErrNoStreamResponse, true},
		{"acknowledgement timed out", errPublishTimeout, true},
		{"disconnected", nats.ErrDisconnected, true},
		{"wrapped", fmt.Errorf("publish: %w", nats.ErrConnectionClosed), true},
		{"invalid acknowledgement", jetstream.ErrInvalidJSAck, false},
		{"reconnect buffer full", nats.ErrReconnectBufExceeded, true},
		{"stopping", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isTransient(tc.err); got != tc.want {
				t.Fatalf("isTransient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// pubWorld is a publisher on a real nats-server with a stream like relay's, recording how each event settled.
type pubWorld struct {
	ns       *testenv.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	p        *Publisher
	m        *metrics
	reopened chan struct{}
	seq      uint64 // of the last event sent
	mu       sync.Mutex
	results  map[string]Result
	order    []string // ids in the order they settled
}

func newPubWorld(t *testing.T, maxMsgSize int32) *pubWorld {
	t.Helper()
	w := &pubWorld{ns: testenv.NATS(t), reopened: make(chan struct{}, 100), results: map[string]Result{}}
	nc, err := nats.Connect(testenv.NATSURL(w.ns), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w.nc = nc
	w.js, _ = jetstream.New(nc)
	w.createStream(t, maxMsgSize)
	w.p = New(Options{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Conn: nc,
		Timeout: 500 * time.Millisecond, Ready: nc.IsConnected,
		Reopen: func() {
			select {
			case w.reopened <- struct{}{}:
			default:
			}
		},
		Buffer: 1000, Window: 8, MaxAttempts: 3,
		Done: func(_ context.Context, it *Item, res Result) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.results[it.Event.ID] = res
			w.order = append(w.order, it.Event.ID)
		},
		Retry: backoff.Exponential{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Now:   time.Now,
	}, prometheus.NewRegistry())
	w.m = w.p.m
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *pubWorld) createStream(t *testing.T, maxMsgSize int32) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "stream created", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := w.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{state.SubjectRoot + ".>"},
			Duplicates: time.Minute, MaxMsgSize: maxMsgSize})
		return err == nil
	})
}

func (w *pubWorld) send(id string, size int) {
	w.seq++
	ev := state.Event{Type: state.TypeMessage, ID: id, MeetingID: "m1", Text: id}
	w.p.Enqueue(&Item{Seq: w.seq, Event: ev, Payload: make([]byte, size)})
}

// settled waits until n events settled and returns their ids in settling order.
func (w *pubWorld) settled(t *testing.T, n int) []string {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("%d events settled", n), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.order) >= n
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.order...)
}

// stored returns the ids in the stream, in stream order.
func (w *pubWorld) stored(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := w.js.OrderedConsumer(ctx, "EVENTS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for n := s.CachedInfo().State.Msgs; uint64(len(got)) < n; { // the ordered consumer starts at the first
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Headers().Get(jetstream.MsgIDHeader))
	}
	return got
}

func ids(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprint(prefix, i))
	}
	return out
}

// Events go into the stream once each, in the order they came, through a nats-server that hangs (acknowledgements
// time out, the publishes are sent again), a stream that is gone (the publisher asks for it to be made again) and
// events sent twice (duplicates, told apart); an event the stream refuses is given up after its attempts.
func TestPublisherThroughFaults(t *testing.T) {
	t.Parallel()
	w := newPubWorld(t, 4096)
	for _, id := range ids("a", 50) {
		w.send(id, 100)
	}
	if got := w.settled(t, 50); fmt.Sprint(got) != fmt.Sprint(ids("a", 50)) {
		t.Fatalf("settled out of order: %v", got)
	}

	// nats-server hangs with the publishes in flight: they time out, and go in once each when it wakes.
	w.ns.Signal(syscall.SIGSTOP)
	for _, id := range ids("b", 20) {
		w.send(id, 100)
	}
	testenv.Eventually(t, 10*time.Second, "a publish timed out and is retried", func() bool {
		return w.m.publishRetries.Load() > 0
	})
	w.ns.Signal(syscall.SIGCONT)
	w.settled(t, 70)
	if s, want := w.stored(t), append(ids("a", 50), ids("b", 20)...); fmt.Sprint(s) != fmt.Sprint(want) {
		t.Fatalf("stream after the hang holds %v, want %v", s, want)
	}

	// The same events again: duplicates.
	for _, id := range ids("a", 5) {
		w.send(id, 100)
	}
	w.settled(t, 75)

	// The stream is gone: the publisher asks for it and sends again once it is back.
	if err := w.js.DeleteStream(t.Context(), "EVENTS"); err != nil {
		t.Fatal(err)
	}
	w.send("c0", 100)
	select {
	case <-w.reopened:
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher did not ask for the stream after it was gone")
	}
	w.createStream(t, 4096)
	w.settled(t, 76)

	// Refused (larger than the stream takes): given up after its attempts; the next event goes on.
	w.send("big", 8192)
	w.send("c1", 100)
	got := w.settled(t, 78)

	w.mu.Lock()
	res := w.results
	w.mu.Unlock()
	for _, id := range ids("a", 50)[5:] {
		if res[id] != Stored {
			t.Errorf("%s: %v", id, res[id])
		}
	}
	for _, id := range ids("b", 20) { // stored late, then its retry a duplicate, or stored by its retry
		if res[id] != Stored && res[id] != Duplicate {
			t.Errorf("%s: %v", id, res[id])
		}
	}
	for _, id := range ids("a", 5) {
		if res[id] != Duplicate {
			t.Errorf("%s sent again: %v, want a duplicate", id, res[id])
		}
	}
	if res["big"] != Lost || res["c0"] != Stored || res["c1"] != Stored {
		t.Errorf("big %v, c0 %v, c1 %v", res["big"], res["c0"], res["c1"])
	}
	if fmt.Sprint(got[50:70]) != fmt.Sprint(ids("b", 20)) {
		t.Errorf("settled after the hang: %v", got[50:70])
	}
	if s := w.stored(t); fmt.Sprint(s) != fmt.Sprint([]string{"c0", "c1"}) {
		t.Errorf("stream after it was made again holds %v, want [c0 c1]", s)
	}
	if n := w.m.publishLost.Load(); n != 1 {
		t.Errorf("lost = %d, want 1", n)
	}
}

// libraryVerdict is how nats.go reads an answer to a publish (jetstream's handling of an asynchronous publish's
// reply): no answer from a stream, not an acknowledgement, the stream's error, or stored / a duplicate. It decodes
// with encoding/json into nats.go's PubAck and a struct of its own mirroring the JetStream API response around it.
func libraryVerdict(m *nats.Msg) (Result, error) {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return 0, jetstream.ErrNoStreamResponse
	}
	var a struct {
		Type  string `json:"type"`
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     uint16 `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		*jetstream.PubAck
	}
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return 0, jetstream.ErrInvalidJSAck
	}
	if a.Error != nil {
		return 0, &jetstream.APIError{Code: a.Error.Code, ErrorCode: jetstream.ErrorCode(a.Error.ErrCode),
			Description: a.Error.Description}
	}
	if a.PubAck == nil || a.Stream == "" {
		return 0, jetstream.ErrInvalidJSAck
	}
	if a.Duplicate {
		return Duplicate, nil
	}
	return Stored, nil
}

// libraryVerdict is nats.go's verdict: a stand-in stream answers publishes made with nats.go's asynchronous
// publish with the answers FuzzParseAck starts from and a few more, and what nats.go makes of each is what
// libraryVerdict and parseAck say.
func TestLibraryVerdict(t *testing.T) {
	t.Parallel()
	answers := append(parseAckSeeds(), `{"stream":"X","seq":1,"ſtream":"Y"}`, `{"stream":"X","seq":1.5}`,
		`{"stream":"X","seq":1,"val":2}`, `{"type":1,"stream":"X","seq":1}`, `{"stream":"X","seq":1,"error":{"err_code":70000}}`,
		`{"stream":"X","seq":1,"error":{}}`, `{"stream":"X","seq":1} `, `{"stream":"X","seq":1}{}`, `"x"`, `{"stream":null,"seq":1}`)
	ns := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	answer := map[string][]byte{}
	sub, err := nc.Subscribe("answer.*", func(m *nats.Msg) {
		mu.Lock()
		data := answer[m.Subject]
		mu.Unlock()
		_ = m.Respond(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range answers {
		subject := fmt.Sprint("answer.", i)
		mu.Lock()
		answer[subject] = []byte(data)
		mu.Unlock()
		paf, err := js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: []byte("event")})
		if err != nil {
			t.Fatal(err)
		}
		var (
			libRes Result
			libErr error
		)
		select {
		case ack := <-paf.Ok():
			libRes = Stored
			if ack.Duplicate {
				libRes = Duplicate
			}
		case libErr = <-paf.Err():
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: nats.go gave no verdict", data)
		}
		m := &nats.Msg{Data: []byte(data)}
		for name, verdict := range map[string]func(*nats.Msg) (Result, error){"libraryVerdict": libraryVerdict, "parseAck": parseAck} {
			res, err := verdict(m)
			if fmt.Sprint(res, err) != fmt.Sprint(libRes, libErr) {
				t.Errorf("%q: %s says %v, %v; nats.go says %v, %v", data, name, res, err, libRes, libErr)
			}
		}
	}
}

func parseAckSeeds() []string {
	return []string{
		`{"stream":"BBBCHAT_EVENTS","seq":42}`,
		`{"stream":"BBBCHAT_EVENTS","domain":"hub","seq":42}`,
		`{"stream":"BBBCHAT_EVENTS","seq":42,"duplicate": true}`,
		`{"stream":"BBBCHAT_EVENTS","seq":42,"duplicate": true,"batch":"b1","count":3}`,
		`{"stream":"BBBCHAT_EVENTS","seq":42,"Duplicate":true}`,
		`{"stream":"BBBCHAT_EVENTS","seq":42,"duplicate":true,"duplicate":false}`,
		`{"stream":"BBBCHAT_EVENTS","seq":42,"\u0065rror":{"code":400}}`,
		`{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"BBBCHAT_EVENTS","seq":0}`,
		`{"error":{"code":503,"err_code":10008,"description":"unavailable"}}`,
		`{"error":null,"stream":"X","seq":1}`,
		`{"stream":"","seq":1}`, `{"stream":"X","seq":01}`, `{"type":"io.nats.jetstream.api.v1.pub_ack"}`,
		``, `{"error":`, `null`, `[]`,
	}
}

// FuzzParseAck is differential against the library: whatever comes back on the reply subject, parseAck's verdict
// (stored, duplicate, the stream's error or not an acknowledgement) is the one nats.go's own types give the
// answer, so the hand parser never takes an error for a stored event, a duplicate for a new one, or the reverse.
func FuzzParseAck(f *testing.F) {
	for _, s := range parseAckSeeds() {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(nil), true)
	f.Fuzz(func(t *testing.T, data []byte, noResponders bool) {
		m := &nats.Msg{Data: data}
		if noResponders {
			m.Header = nats.Header{"Status": []string{"503"}}
		}
		res, err := parseAck(m)
		if err == nil && res != Stored && res != Duplicate {
			t.Fatalf("parseAck(%q) = %v with no error", data, res)
		}
		wantRes, wantErr := libraryVerdict(m)
		// On any input, JSON or not (nats.go takes what is not JSON for no acknowledgement, so must parseAck).
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("%q (valid JSON: %v): parseAck says %v, %v; nats.go's types say %v, %v", data, json.Valid(data),
				res, err, wantRes, wantErr)
		case err == nil && res != wantRes:
			t.Fatalf("%q: parseAck says %v, nats.go's types say %v", data, res, wantRes)
		case err != nil:
			var got, want *jetstream.APIError
			if errors.As(err, &got) != errors.As(wantErr, &want) {
				t.Fatalf("%q: parseAck's error %v, nats.go's types' %v", data, err, wantErr)
			}
			if got != nil && *got != *want {
				t.Fatalf("%q: parseAck's stream error %+v, nats.go's types' %+v", data, *got, *want)
			}
			if got == nil && !errors.Is(err, wantErr) {
				t.Fatalf("%q: parseAck's error %v, nats.go's types' %v", data, err, wantErr)
			}
		}
	})
}
