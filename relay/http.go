package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"
)

// readiness names what relay still lacks to do its job; empty when ready.
type readiness func() []string

// newHandler returns relay's HTTP handler: liveness, readiness and metrics. Nothing here changes state.
func newHandler(m *metrics, ready readiness) http.Handler {
	r := httprouter.New()
	r.Handler(http.MethodGet, "/healthz", handleHealth())
	r.Handler(http.MethodGet, "/readyz", handleReady(ready))
	r.Handler(http.MethodGet, "/metrics", handleMetrics(m))
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReady answers 200 when Redis is subscribed, NATS connected and the state open, else 503 naming what is
// missing.
func handleReady(ready readiness) http.Handler {
	type answer struct {
		Status  string   `json:"status"`
		Missing []string `json:"missing,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if missing := ready(); len(missing) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, answer{Status: "not ready", Missing: missing})
			return
		}
		writeJSON(w, http.StatusOK, answer{Status: "ready"})
	})
}

func handleMetrics(m *metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var b bytes.Buffer
		m.write(&b)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(b.Bytes())
	})
}

// newServer wraps h with relay's timeouts.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}
