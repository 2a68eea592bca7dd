package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/proc"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/service"
)

// The viewers phase (-viewers N): N viewers of one meeting's viewer page (ingress/viewer) hold its live updates open
// while the meeting's chat gets -viewer-rate messages per second; each viewer times every message from the moment
// BBB was asked to post it. In the same run, a bare net/http Server-Sent Events handler (this program started again
// as `bench bare-sse ADDR`) gets the same viewers and the same messages, posted to it directly: its figures are the
// floor that ingress's are read against (docs/performance.md).

// viewerResult is the phase's outcome; the bare handler's figures are beside ingress's.
type viewerResult struct {
	Viewers    int     `json:"viewers"`
	Rate       float64 `json:"messages_per_s"`
	Messages   int     `json:"messages"`
	Connected  int64   `json:"viewers_connected"`
	P50        float64 `json:"viewers_p50_ms"`
	P99        float64 `json:"viewers_p99_ms"`
	Max        float64 `json:"viewers_max_ms"`
	Lost       int64   `json:"viewers_lost"`
	IngressRSS float64 `json:"ingress_rss_mb"` // peak during the phase, sampled every second
	IngressCPU float64 `json:"ingress_cpu_s"`

	BareConnected int64   `json:"bare_viewers_connected"`
	BareP50       float64 `json:"bare_viewers_p50_ms"`
	BareP99       float64 `json:"bare_viewers_p99_ms"`
	BareMax       float64 `json:"bare_viewers_max_ms"`
	BareLost      int64   `json:"bare_viewers_lost"`
	BareRSS       float64 `json:"bare_rss_mb"`
	BareCPU       float64 `json:"bare_cpu_s"`
	RSSRatio      float64 `json:"ingress_to_bare_rss"`
}

// viewerPrefix marks the phase's messages; the number after it indexes sentAt.
const viewerPrefix = "vbench "

// viewerRun is one side's (ingress's or the bare handler's) viewers and what they saw.
type viewerRun struct {
	connected atomic.Int64
	got       atomic.Int64
	lat       latencies
	sentAt    []atomic.Int64 // Unix ns when message k was sent
}

// viewers runs the phase against ingress and against the bare handler, one after the other.
func (b *bench) viewers(ctx context.Context) (*viewerResult, error) {
	cfg := b.cfg
	n := int(cfg.viewerRate * cfg.duration.Seconds())
	res := &viewerResult{Viewers: cfg.viewers, Rate: cfg.viewerRate, Messages: n}
	m := b.meetings[0]

	// The bare handler first: it is the floor.
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := b.ports.FreeAddr()
	if err != nil {
		return nil, err
	}
	bareEnv := map[string]string{}
	if cfg.profiles {
		// Its profiles as ingress's, to read the two side by side (docs/performance.md).
		if bareEnv["BBB_CHAT_DEBUG_LISTEN"], err = b.ports.FreeAddr(); err != nil {
			return nil, err
		}
		b.logf("profiles of bare-sse: go tool pprof http://%s/debug/pprof/heap", bareEnv["BBB_CHAT_DEBUG_LISTEN"])
	}
	bare, err := proc.Start(proc.Spec{Name: "bare-sse", Bin: exe, Args: []string{"bare-sse", addr}, Env: bareEnv,
		KeepBytes: 16 << 10})
	if err != nil {
		return nil, err
	}
	defer bare.Stop(5 * time.Second)
	if err := proc.WaitHTTP(ctx, "http://"+addr+"/healthz", 30*time.Second, bare); err != nil {
		return nil, fmt.Errorf("bare-sse: %w", err)
	}
	pub := newHTTPClient(4)
	b.logf("viewers: %d on a bare net/http SSE handler, %g messages/s for %s", cfg.viewers, cfg.viewerRate, cfg.duration)
	br, rss, cpu, err := b.viewerPhase(ctx, "http://"+addr+"/events", bare.Pid(), n, func(k int, text string) error {
		return postOK(ctx, pub, "http://"+addr+"/publish", []byte(text))
	})
	if err != nil {
		return nil, fmt.Errorf("bare handler: %w", err)
	}
	s := br.lat.summary()
	res.BareConnected, res.BareP50, res.BareP99, res.BareMax = br.connected.Load(), s.P50, s.P99, s.Max
	res.BareLost, res.BareRSS, res.BareCPU = int64(cfg.viewers*n)-br.got.Load(), rss, cpu
	bare.Stop(5 * time.Second)

	// Then ingress: a read-only link to the first meeting, whose messages BBB posts as a participant's.
	body := sign("createViewerLink", []pyjson.Member{
		{Key: "meeting_id", Value: pyjson.String(m.intID)},
		{Key: "can_post", Value: pyjson.Bool(false)},
		{Key: "nonce", Value: pyjson.String(randomHex(8))},
	}, b.secret, time.Now().Unix())
	raw, err := postJSON(ctx, pub, b.ingressURL+"/api/createViewerLink", body)
	if err != nil {
		return nil, fmt.Errorf("createViewerLink: %w", err)
	}
	var link struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &link); err != nil || link.Token == "" {
		return nil, fmt.Errorf("createViewerLink answered %s", raw)
	}
	b.logf("viewers: %d on ingress's viewer page, %g messages/s for %s", cfg.viewers, cfg.viewerRate, cfg.duration)
	ir, rss, cpu, err := b.viewerPhase(ctx, b.ingressURL+"/chat/"+link.Token+"/events", b.ingress.Pid(), n,
		func(k int, text string) error {
			_, err := b.sim.Say(ctx, m.intID, m.viewerID, text)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("ingress: %w", err)
	}
	s = ir.lat.summary()
	res.Connected, res.P50, res.P99, res.Max = ir.connected.Load(), s.P50, s.P99, s.Max
	res.Lost, res.IngressRSS, res.IngressCPU = int64(cfg.viewers*n)-ir.got.Load(), rss, cpu
	res.RSSRatio = ratio(res.IngressRSS, res.BareRSS)
	return res, nil
}

// viewerPhase connects the viewers to url, sends n messages at the phase's rate with send, waits until every
// viewer has them all (or the drain time passes), and returns what the viewers saw with the server's (pid) peak
// resident memory (MB) and CPU (s) during the phase.
func (b *bench) viewerPhase(ctx context.Context, url string, pid, n int, send func(k int, text string) error) (*viewerRun, float64, float64, error) {
	cfg := b.cfg
	vr := &viewerRun{sentAt: make([]atomic.Int64, n)}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxConnsPerHost:     0,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}}
	defer client.CloseIdleConnections()

	cpu0, _ := readProcStat(pid)
	var peakKB atomic.Int64
	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if st, err := readProcStat(pid); err == nil && st.RSSKB > peakKB.Load() {
				peakKB.Store(st.RSSKB)
			}
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
		}
	}()
	finish := func() (float64, float64) {
		close(stopRSS)
		<-rssDone
		cpu1, _ := readProcStat(pid)
		return mb(peakKB.Load()), round((cpu1.CPU - cpu0.CPU).Seconds())
	}

	// Connect, 100 at a time, and wait until every viewer's stream is open (or 60 s pass).
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for range cfg.viewers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			finish()
			return nil, 0, 0, ctx.Err()
		}
		wg.Go(func() { vr.watch(pctx, client, url, n, sem) })
	}
	deadline := time.Now().Add(60 * time.Second)
	for vr.connected.Load() < int64(cfg.viewers) && time.Now().Before(deadline) && service.Sleep(ctx, 50*time.Millisecond) {
	}
	b.logf("viewers: %d of %d connected", vr.connected.Load(), cfg.viewers)

	every := time.Duration(float64(time.Second) / cfg.viewerRate)
	start := time.Now()
	for k := range n {
		if !service.Sleep(ctx, time.Until(start.Add(time.Duration(k)*every))) {
			break
		}
		vr.sentAt[k].Store(time.Now().UnixNano())
		if err := send(k, viewerPrefix+strconv.Itoa(k)); err != nil {
			b.logf("viewers: message %d not sent: %v", k, err)
		}
	}
	want := vr.connected.Load() * int64(n)
	deadline = time.Now().Add(cfg.drain)
	for vr.got.Load() < want && time.Now().Before(deadline) && service.Sleep(ctx, 50*time.Millisecond) {
	}
	cancel()
	wg.Wait()
	rss, cpu := finish()
	return vr, rss, cpu, ctx.Err()
}

// watch is one viewer: it opens the event stream, counts as connected once the stream answers, and times every
// phase message it gets, until ctx ends. It gives its connection slot back (sem) once connected or failed.
func (vr *viewerRun) watch(ctx context.Context, client *http.Client, url string, n int, sem <-chan struct{}) {
	released := false
	release := func() {
		if !released {
			released = true
			<-sem
		}
	}
	defer release()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return
	}
	vr.connected.Add(1)
	release()
	seen := make([]bool, n)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, viewerPrefix)
		if !strings.HasPrefix(line, "data:") || i < 0 {
			continue
		}
		now := time.Now().UnixNano()
		digits := line[i+len(viewerPrefix):]
		end := 0
		for end < len(digits) && digits[end] >= '0' && digits[end] <= '9' {
			end++
		}
		k, err := strconv.Atoi(digits[:end])
		if err != nil || k < 0 || k >= n || seen[k] {
			continue
		}
		seen[k] = true
		vr.got.Add(1)
		if at := vr.sentAt[k].Load(); at > 0 {
			vr.lat.add(time.Duration(now - at))
		}
	}
}

// bareSSE is `bench bare-sse ADDR`: the least a Go program does to fan messages out to Server-Sent Events
// clients with net/http. POST /publish sends its body to every client of GET /events.
func bareSSE(ctx context.Context, addr string) error {
	// Profiles only when the benchmark asks (-profiles), on another port: the handler itself stays bare.
	if err := service.ServeDebug(ctx, os.Getenv("BBB_CHAT_DEBUG_LISTEN"), slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		clients = map[chan []byte]struct{}{}
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		ch := make(chan []byte, 64)
		mu.Lock()
		clients[ch] = struct{}{}
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(clients, ch)
			mu.Unlock()
		}()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		rc.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case f := <-ch:
				if _, err := w.Write(f); err != nil || rc.Flush() != nil {
					return
				}
			}
		}
	})
	var seq atomic.Uint64
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		data, _ := json.Marshal(map[string]string{"type": "message", "text": string(body)})
		f := fmt.Appendf(nil, "id: %d\nevent: message\ndata: %s\n\n", seq.Add(1), data)
		mu.Lock()
		for ch := range clients {
			select {
			case ch <- f:
			default: // a client 64 messages behind loses this one
			}
		}
		mu.Unlock()
		w.Write([]byte(`{"success":true}`))
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}
