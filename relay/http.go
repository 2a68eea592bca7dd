package main

import (
	"context"
	"net/http"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/julienschmidt/httprouter"
)

// newHandler returns relay's HTTP handler: liveness, readiness and metrics. Nothing here changes state.
func newHandler(m *metrics, ready func(context.Context) []service.Problem) http.Handler {
	r := httprouter.New()
	r.Handler(http.MethodGet, "/healthz", service.HealthHandler())
	r.Handler(http.MethodGet, "/readyz", service.ReadyHandler(ready))
	r.Handler(http.MethodGet, "/metrics", m.handler())
	return r
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
