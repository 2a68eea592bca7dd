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
	"strings"
	"sync"
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

// postOnce posts one callback with c, as a worker's attempt does, within timeout of ctx.
func postOnce(t *testing.T, ctx context.Context, c *http.Client, url string, timeout time.Duration) (reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"message":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", "1-m")
	return post(c, req)
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
	c := NewClient(time.Second)
	defer c.CloseIdleConnections()
	for range 20 {
		a, err := postOnce(t, t.Context(), c, s.URL+"/hook?token=x", time.Second)
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
	c := NewClient(time.Second)
	defer c.CloseIdleConnections()
	if a, err := postOnce(t, t.Context(), c, s.URL, time.Second); err != nil || a.status != http.StatusNoContent {
		t.Fatalf("first: %+v, %v", a, err)
	}
	testenv.Eventually(t, 5*time.Second, "the receiver closes the idle connection", func() bool { return s.closed.Load() == 1 })
	if a, err := postOnce(t, t.Context(), c, s.URL, time.Second); err != nil || a.status != http.StatusNoContent {
		t.Fatalf("after the close: %+v, %v", a, err)
	}
	if n := s.requests.Load(); n != 2 {
		t.Fatalf("%d requests for 2 callbacks", n)
	}
}

// A receiver that closes a kept connection as a callback goes out on it (its idle timeout, met at the wrong moment)
// has not answered: the callback goes out again on a new connection within the same attempt. A reset is the
// attempt's failure (TestRetriesKeepOrderAndID).
func TestPosterKeptConnectionClosedAtSend(t *testing.T) {
	var served sync.Map // remote address -> requests answered on that connection
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if n, _ := served.LoadOrStore(r.RemoteAddr, 0); n.(int) >= 1 {
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				c.Close() // an orderly close, no answer: what an idle timeout looks like from the client
			}
			return
		}
		served.Store(r.RemoteAddr, 1)
		w.WriteHeader(http.StatusNoContent)
	})
	c := NewClient(time.Second)
	defer c.CloseIdleConnections()
	for i := range 2 {
		if a, err := postOnce(t, t.Context(), c, s.URL, 5*time.Second); err != nil || a.status != http.StatusNoContent {
			t.Fatalf("callback %d: %+v, %v", i, a, err)
		}
	}
	if n, o := s.requests.Load(), s.opened.Load(); n != 3 || o != 2 {
		t.Fatalf("%d requests on %d connections, want 3 on 2 (the second callback sent again on a new one)", n, o)
	}
}

// A large reply body is not read to its end: the connection is dropped instead of reused.
func TestPosterLargeReply(t *testing.T) {
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	})
	c := NewClient(time.Second)
	defer c.CloseIdleConnections()
	for range 3 {
		if a, err := postOnce(t, t.Context(), c, s.URL, time.Second); err != nil || a.status != http.StatusOK {
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
	c := NewClient(time.Second)
	defer c.CloseIdleConnections()
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	for range 3 {
		if a, err := postOnce(t, t.Context(), c, s.URL, 2*time.Second); err != nil || a.status != http.StatusOK {
			t.Fatalf("reply %+v, %v", a, err)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Fatalf("%d TLS connections for 3 callbacks", n)
	}
	// Without the receiver's certificate the handshake fails.
	c2 := NewClient(time.Second)
	if _, err := postOnce(t, t.Context(), c2, s.URL, 2*time.Second); err == nil {
		t.Fatal("an unknown certificate was accepted")
	}
}

func TestPosterTimeout(t *testing.T) {
	release := make(chan struct{})
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	c := NewClient(time.Second)
	defer c.CloseIdleConnections()
	start := time.Now()
	_, err := postOnce(t, t.Context(), c, s.URL, 200*time.Millisecond)
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("a hanging receiver: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("gave up after %s", d)
	}
}

// The Manager's drain timeout cancels the attempts' context: a post under way ends at once, and the next one
// is not sent.
func TestPosterAbort(t *testing.T) {
	release := make(chan struct{})
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	c := NewClient(time.Minute)
	defer c.CloseIdleConnections()
	hard, abort := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := postOnce(t, hard, c, s.URL, time.Minute)
		errc <- err
	}()
	testenv.Eventually(t, 10*time.Second, "the request is under way", func() bool { return s.requests.Load() == 1 })
	start := time.Now()
	abort()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("an aborted post: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("abort did not end the post under way")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("abort took %s", d)
	}
	if _, err := postOnce(t, hard, c, s.URL, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("a post after abort: %v, want context.Canceled", err)
	}
	if n := s.requests.Load(); n != 1 {
		t.Fatalf("%d requests reached the receiver, want 1", n)
	}
}

// A redirect is the answer (and counts as a failure): it is not followed.
func TestPosterNoRedirect(t *testing.T) {
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	c := NewClient(time.Second)
	defer c.CloseIdleConnections()
	if a, err := postOnce(t, t.Context(), c, s.URL, time.Second); err != nil || a.status != http.StatusTemporaryRedirect {
		t.Fatalf("reply %+v, %v", a, err)
	}
	if n := s.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// Receivers that close the connection after replying (HTTP/1.0, Connection: close) get a new one each time.
func TestPosterConnectionClose(t *testing.T) {
	s := newCountingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusOK)
	})
	c := NewClient(time.Second)
	defer c.CloseIdleConnections()
	for range 3 {
		if a, err := postOnce(t, t.Context(), c, s.URL, time.Second); err != nil || a.status != http.StatusOK {
			t.Fatalf("reply %+v, %v", a, err)
		}
	}
	if n := s.requests.Load(); n != 3 {
		t.Fatalf("%d requests for 3 callbacks", n)
	}
}
