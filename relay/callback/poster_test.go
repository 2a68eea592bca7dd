package callback

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// countingServer answers with handler and counts requests and connections opened and closed.
type countingServer struct {
	*httptest.Server
	requests, opened, closed atomic.Int64
}

func newCountingServer(t *testing.T, tls bool, handler http.HandlerFunc, configure ...func(*http.Server)) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		io.Copy(io.Discard, r.Body)
		handler(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	for _, f := range configure {
		f(s.Config)
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func postOnce(t *testing.T, p *poster, url string, timeout time.Duration) (reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", "1-m")
	if !p.handles(req) {
		t.Fatalf("poster does not handle %s", url)
	}
	return p.post(ctx, time.Now().Add(timeout), req, []byte(`{"message":"hi"}`), 0)
}

func TestPosterKeepsConnections(t *testing.T) {
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Webhook-Id") != "1-m" || r.ContentLength != 16 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTeapot)
	})
	p := newPoster(NewClient(time.Second).Transport.(*http.Transport))
	defer p.closeIdle()
	for range 20 {
		a, err := postOnce(t, p, s.URL+"/hook?token=x", time.Second)
		if err != nil || a.status != http.StatusTeapot || a.retryAfter != "7" {
			t.Fatalf("reply %+v, %v", a, err)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Fatalf("%d connections for 20 callbacks, want 1", n)
	}
}

// A connection the receiver closed while it was idle is noticed before use: the callback goes out once, on a
// new connection.
func TestPosterIdleConnectionClosed(t *testing.T) {
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		func(c *http.Server) { c.IdleTimeout = 50 * time.Millisecond })
	p := newPoster(NewClient(time.Second).Transport.(*http.Transport))
	defer p.closeIdle()
	if a, err := postOnce(t, p, s.URL, time.Second); err != nil || a.status != http.StatusNoContent {
		t.Fatalf("first: %+v, %v", a, err)
	}
	testenv.Eventually(t, 5*time.Second, "the receiver closes the idle connection", func() bool { return s.closed.Load() == 1 })
	if a, err := postOnce(t, p, s.URL, time.Second); err != nil || a.status != http.StatusNoContent {
		t.Fatalf("after the close: %+v, %v", a, err)
	}
	if n := s.requests.Load(); n != 2 {
		t.Fatalf("%d requests for 2 callbacks", n)
	}
}

// A large reply body is not read to its end: the connection is dropped instead of reused.
func TestPosterLargeReply(t *testing.T) {
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	})
	p := newPoster(NewClient(time.Second).Transport.(*http.Transport))
	defer p.closeIdle()
	for range 3 {
		if a, err := postOnce(t, p, s.URL, time.Second); err != nil || a.status != http.StatusOK {
			t.Fatalf("reply %+v, %v", a, err)
		}
	}
	if n := s.opened.Load(); n != 3 {
		t.Fatalf("%d connections, want one per callback", n)
	}
}

func TestPosterTLS(t *testing.T) {
	s := newCountingServer(t, true, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) },
		func(c *http.Server) { c.ErrorLog = log.New(io.Discard, "", 0) })
	tr := NewClient(time.Second).Transport.(*http.Transport)
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	p := newPoster(tr)
	defer p.closeIdle()
	for range 3 {
		if a, err := postOnce(t, p, s.URL, 2*time.Second); err != nil || a.status != http.StatusOK {
			t.Fatalf("reply %+v, %v", a, err)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Fatalf("%d TLS connections for 3 callbacks", n)
	}
	// Without the receiver's certificate the handshake fails.
	p2 := newPoster(NewClient(time.Second).Transport.(*http.Transport))
	if _, err := postOnce(t, p2, s.URL, 2*time.Second); err == nil {
		t.Fatal("an unknown certificate was accepted")
	}
}

func TestPosterTimeout(t *testing.T) {
	release := make(chan struct{})
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	p := newPoster(NewClient(time.Second).Transport.(*http.Transport))
	defer p.closeIdle()
	start := time.Now()
	_, err := postOnce(t, p, s.URL, 200*time.Millisecond)
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("a hanging receiver: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("gave up after %s", d)
	}
}

// abort (relay's drain timeout) cuts a post under way short at once, and refuses the next.
func TestPosterAbort(t *testing.T) {
	release := make(chan struct{})
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	p := newPoster(NewClient(time.Second).Transport.(*http.Transport))
	defer p.closeIdle()
	errc := make(chan error, 1)
	go func() {
		_, err := postOnce(t, p, s.URL, time.Minute)
		errc <- err
	}()
	testenv.Eventually(t, 10*time.Second, "the request is under way", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.busy) == 1
	})
	start := time.Now()
	p.abort()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("an aborted post succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("abort did not end the post under way")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("abort took %s", d)
	}
	if _, err := postOnce(t, p, s.URL, time.Minute); !errors.Is(err, errAborted) {
		t.Fatalf("a post after abort: %v, want errAborted", err)
	}
}

// A proxy is left to net/http.
func TestPosterLeavesProxiesToNetHTTP(t *testing.T) {
	tr := NewClient(time.Second).Transport.(*http.Transport)
	tr.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.example:3128") }
	p := newPoster(tr)
	req, _ := http.NewRequest(http.MethodPost, "http://receiver.example/hook", nil)
	if p.handles(req) {
		t.Fatal("poster sends through a proxy")
	}
}

// Receivers that close the connection after replying (HTTP/1.0, Connection: close) get a new one each time.
func TestPosterConnectionClose(t *testing.T) {
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusOK)
	})
	p := newPoster(NewClient(time.Second).Transport.(*http.Transport))
	defer p.closeIdle()
	for range 3 {
		if a, err := postOnce(t, p, s.URL, time.Second); err != nil || a.status != http.StatusOK {
			t.Fatalf("reply %+v, %v", a, err)
		}
	}
	if n := s.requests.Load(); n != 3 {
		t.Fatalf("%d requests for 3 callbacks", n)
	}
}
