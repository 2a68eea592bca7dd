package service

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Problem is a dependency a service lacks, for /readyz: its name ("redis", "nats", "state") and what is wrong.
type Problem struct {
	Name   string
	Detail string
}

// readyTimeout bounds a readiness check (a ping of Redis or NATS).
const readyTimeout = 2 * time.Second

// ReadyHandler answers /readyz for both binaries with one body shape: 200 {"status":"ready"} when check finds
// nothing missing, else 503 {"status":"not ready","missing":[names, in check's order],"problems":{name: detail}}.
func ReadyHandler(check func(ctx context.Context) []Problem) http.Handler {
	type answer struct {
		Status   string            `json:"status"`
		Missing  []string          `json:"missing,omitempty"`
		Problems map[string]string `json:"problems,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		problems := check(ctx)
		if len(problems) == 0 {
			WriteJSON(w, http.StatusOK, answer{Status: "ready"})
			return
		}
		a := answer{Status: "not ready", Problems: map[string]string{}}
		for _, p := range problems {
			a.Missing = append(a.Missing, p.Name)
			a.Problems[p.Name] = p.Detail
		}
		WriteJSON(w, http.StatusServiceUnavailable, a)
	})
}

// HealthHandler answers /healthz: 200 {"status":"ok"} while the process serves HTTP at all.
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// WriteJSON answers v as JSON (one line), never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"status":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
