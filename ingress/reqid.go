package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// reqInfo is what the log lines of one request carry: its id and, once known, its meeting; and when it arrived,
// for the latency histogram.
type reqInfo struct {
	id        string
	meetingID string
	start     time.Time
}

type reqInfoKey struct{}

func reqInfoOf(ctx context.Context) *reqInfo {
	info, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return info
}

// withRequestID gives every request an id: the client's X-Request-Id when it is a sane token (nginx can set one
// with proxy_set_header X-Request-Id $request_id), else one of our own. It is answered in X-Request-Id and logged
// with every line about the request.
func (a *api) withRequestID(next http.Handler) http.Handler {
	return &requestIDs{a: a, next: next, prefix: strconv.FormatInt(a.now().UnixMilli(), 36) + "-"}
}

// requestIDs is withRequestID's handler. Its ServeHTTP stays a small frame: it is below every handler on the
// stack for as long as the request lasts, ten thousand viewers' event streams too (viewer.watch), and the runtime
// halves a goroutine's stack only when less than a quarter of it is in use.
type requestIDs struct {
	a      *api
	next   http.Handler
	prefix string
	n      atomic.Uint64
}

func (h *requestIDs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r = h.identify(w, r); r != nil {
		h.next.ServeHTTP(w, r)
	}
}

// identify gives r its id and returns it with the id in its context; nil when it answered r itself (headers too
// large).
func (h *requestIDs) identify(w http.ResponseWriter, r *http.Request) *http.Request {
	start := h.a.now()
	id := r.Header.Get("X-Request-Id")
	if !saneID(id) {
		id = h.prefix + strconv.FormatUint(h.n.Add(1), 36)
	}
	w.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, &reqInfo{id: id, start: start}))
	if headerBytes(r) > maxHeaderBytes {
		h.a.fail(w, r, "", withDetail(errHeadersTooLarge, "at most %d KiB", maxHeaderBytes>>10))
		return nil
	}
	return r
}

func saneID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// logFor is the logger for lines about the request in ctx: they carry its id.
func (a *api) logFor(ctx context.Context) *slog.Logger {
	if info := reqInfoOf(ctx); info != nil {
		return a.log.With("request_id", info.id)
	}
	return a.log
}

// headerBytes is about what the request's header took on the wire.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
