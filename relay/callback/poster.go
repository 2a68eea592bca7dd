package callback

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// poster sends a callback's POST and reads the reply on the caller's goroutine, over HTTP/1.1 connections it
// keeps per receiver. net/http's client hands every request to two goroutines of the connection (one writes, one
// reads) and wakes the caller when the reply is in: at a thousand callbacks a second, those hand-offs were a
// good part of relay's CPU. Parsing the reply is net/http's (http.ReadResponse); proxies are left to net/http.
// It is a hand version kept for measured speed (docs/performance.md, "Hand-written code kept");
// FuzzPosterAgainstNetHTTP holds it to net/http's client on every reply.
type poster struct {
	tr          *http.Transport // dialler (with the egress guard), TLS configuration and proxy of the fallback
	maxIdle     int             // idle connections kept per receiver
	idleTimeout time.Duration

	mu      sync.Mutex
	idle    map[string][]*pconn // "scheme://host:port" → idle connections, most recently used last
	busy    map[*pconn]struct{} // carrying a request now
	aborted bool                // abort was called: no more requests
}

// pconn is a connection to a receiver.
type pconn struct {
	conn   net.Conn // raw, or TLS over raw
	raw    net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

// reply is what a receiver answered.
type reply struct {
	status     int
	retryAfter string
	excerpt    []byte // the first bytes of the reply's body, when asked for
}

// newPoster returns a poster that dials, and sets up TLS, as tr does; nil when tr is nil.
func newPoster(tr *http.Transport) *poster {
	if tr == nil {
		return nil
	}
	return &poster{tr: tr, maxIdle: max(tr.MaxIdleConnsPerHost, 2), idleTimeout: tr.IdleConnTimeout,
		idle: map[string][]*pconn{}, busy: map[*pconn]struct{}{}}
}

// handles reports whether the poster sends to u: http and https, without a proxy.
func (p *poster) handles(req *http.Request) bool {
	if p == nil || req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return false
	}
	if p.tr.Proxy != nil {
		if u, err := p.tr.Proxy(req); err != nil || u != nil {
			return false
		}
	}
	return true
}

// errAborted: relay's drain timeout passed while a callback was being posted.
var errAborted = errors.New("callback cut short: relay is stopping")

// post sends req (its body is body) and reads the reply, discarding its body, all before deadline; ctx bounds
// nothing but a new connection's dial and TLS handshake (with deadline too). abort cuts it short. It is sent
// once: an idle connection the receiver closed is noticed before it is used (connAlive), as net/http's
// connection reader notices it, and a failure after the request was written is the attempt's, as with net/http
// for a POST.
func (p *poster) post(ctx context.Context, deadline time.Time, req *http.Request, body []byte, keep int) (reply, error) {
	key, addr := p.key(req.URL)
	pc, err := p.get(ctx, deadline, key, addr, req.URL)
	if err != nil {
		return reply{}, err
	}
	if !p.enter(pc, deadline) {
		pc.conn.Close()
		return reply{}, errAborted
	}
	a, reusable, err := pc.roundTrip(req, body, keep)
	p.leave(pc)
	if err != nil {
		pc.conn.Close()
		return reply{}, err
	}
	if reusable {
		p.put(key, pc)
	} else {
		pc.conn.Close()
	}
	return a, nil
}

// enter sets pc's deadline and counts it busy, so that abort can cut it short; false once abort was called.
func (p *poster) enter(pc *pconn, deadline time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aborted {
		return false
	}
	pc.conn.SetDeadline(deadline)
	p.busy[pc] = struct{}{}
	return true
}

func (p *poster) leave(pc *pconn) {
	p.mu.Lock()
	delete(p.busy, pc)
	p.mu.Unlock()
}

// abort ends every request under way (their connections' deadlines pass at once) and refuses new ones.
func (p *poster) abort() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.aborted = true
	for pc := range p.busy {
		pc.conn.SetDeadline(time.Unix(1, 0))
	}
}

// key returns the pool key and the address to dial of u.
func (p *poster) key(u *url.URL) (key, addr string) {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	addr = net.JoinHostPort(u.Hostname(), port)
	return u.Scheme + "://" + addr, addr
}

// get returns an idle connection to key that is still open, or a new one dialled before deadline.
func (p *poster) get(ctx context.Context, deadline time.Time, key, addr string, u *url.URL) (*pconn, error) {
	now := time.Now()
	for {
		p.mu.Lock()
		list := p.idle[key]
		if len(list) == 0 {
			delete(p.idle, key)
			p.mu.Unlock()
			break
		}
		pc := list[len(list)-1]
		p.idle[key] = list[:len(list)-1]
		p.mu.Unlock()
		if (p.idleTimeout <= 0 || now.Sub(pc.idleAt) < p.idleTimeout) && pc.br.Buffered() == 0 && connAlive(pc.raw) {
			return pc, nil
		}
		pc.conn.Close()
	}

	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	dial := p.tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	if u.Scheme == "https" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if p.tr.TLSClientConfig != nil {
			cfg = p.tr.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		conn = tc
	}
	return &pconn{conn: conn, raw: raw, br: bufio.NewReaderSize(conn, 4096), bw: bufio.NewWriterSize(conn, 4096)}, nil
}

// put keeps pc for the next callback to key, unless maxIdle are kept already.
func (p *poster) put(key string, pc *pconn) {
	pc.idleAt = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle[key]) >= p.maxIdle {
		pc.conn.Close()
		return
	}
	p.idle[key] = append(p.idle[key], pc)
}

// closeIdle closes every idle connection.
func (p *poster) closeIdle() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, list := range p.idle {
		for _, pc := range list {
			pc.conn.Close()
		}
		delete(p.idle, key)
	}
}

// roundTrip writes the request and reads the reply, within the connection's deadline, keeping the first keep
// bytes of its body. reusable reports whether the connection may carry the next request.
func (pc *pconn) roundTrip(req *http.Request, body []byte, keep int) (a reply, reusable bool, err error) {
	w := pc.bw
	w.WriteString("POST ")
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(req.URL.Host)
	w.WriteString("\r\n")
	for name, values := range req.Header {
		for _, v := range values {
			w.WriteString(name)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("Content-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\n\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return reply{}, false, err
	}
	resp, err := http.ReadResponse(pc.br, req)
	if err != nil {
		return reply{}, false, err
	}
	a = reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	a.excerpt, err = readExcerpt(resp.Body, keep)
	n, cerr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead+1-int64(len(a.excerpt))))
	n += int64(len(a.excerpt))
	if err == nil {
		err = cerr
	}
	resp.Body.Close()
	// Reuse the connection only when the whole (small) body was read and the receiver keeps it open; after an
	// informational (1xx) reply the real one may still come.
	reusable = err == nil && n <= maxResponseRead && !resp.Close && resp.StatusCode >= 200
	return a, reusable, nil
}

// readExcerpt reads up to keep bytes of a reply's body (none when keep is 0). An end of the body is no error.
func readExcerpt(r io.Reader, keep int) ([]byte, error) {
	if keep <= 0 {
		return nil, nil
	}
	buf := make([]byte, keep)
	n, err := io.ReadFull(r, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return buf[:n], err
}
