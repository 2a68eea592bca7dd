package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// fleetAPI is an api of the server id server with no state open, forwarding on nc (nil: none).
func fleetAPI(server string, nc *nats.Conn) *api {
	a := &api{
		log: slog.New(slog.DiscardHandler), now: time.Now, store: &atomic.Pointer[state.Store]{},
		openErr: &atomic.Value{}, m: newAPIMetrics(prometheus.NewRegistry()),
	}
	a.cfg.RequestTimeout = 2 * time.Second
	a.cfg.ServerID = server
	if nc != nil {
		a.fleet = newFleet(nc, server)
	}
	return a
}

// signedBody is a body as a client signs it.
func signedBody(call string, kv ...string) []byte {
	var ms []pyjson.Member
	for i := 0; i+1 < len(kv); i += 2 {
		ms = append(ms, pyjson.Member{Key: kv[i], Value: pyjson.String(kv[i+1])})
	}
	doc := pyjson.Dumps(pyjson.Object(ms...))
	return append(doc[:len(doc)-1:len(doc)-1], []byte(`, "checksum": "`+
		checksum.Sign(call, doc, "s", time.Now().Unix())+`"}`)...)
}

// TestCarryOut: a forwarded call is decoded and refused as the HTTP path would refuse it, with the same statuses and
// messages, the checksum member ignored (it was verified where the call arrived).
func TestCarryOut(t *testing.T) {
	a := fleetAPI("bbb-b", nil)
	for _, tc := range []struct {
		name   string
		fw     forwarded
		status int
		msg    string
	}{
		{"unknown call", forwarded{Call: "dropTables", Body: []byte(`{}`)}, 404, "No such API call"},
		{"not JSON", forwarded{Call: callInfo, Body: []byte(`{"meeting_id":`)}, 400, "The body must be a JSON object"},
		{"missing parameter", forwarded{Call: callSend, PathMeetingID: "m1", Body: signedBody(callSend, "message", "hi")},
			400, "Parameter user_name is missing."},
		{"no state here", forwarded{Call: callInfo, Body: signedBody(callInfo, "meeting_id", "m1")}, 503,
			"NATS is unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.carryOut(t.Context(), tc.fw, &reqInfo{})
			var r struct {
				Success bool   `json:"success"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if status != tc.status || r.Success || !strings.Contains(r.Message, tc.msg) {
				t.Errorf("got %d %q, want %d with %q", status, body, tc.status, tc.msg)
			}
		})
	}
}

// TestForwardOverNATS: a call forwarded to a server whose ingress listens on NATS gets that ingress's answer, status
// and body as they are; to a server with no ingress listening, the usual 404. A viewer's post gets the same.
func TestForwardOverNATS(t *testing.T) {
	srv := testenv.NATS(t)
	conn := func() *nats.Conn {
		nc, err := nats.Connect(testenv.NATSURL(srv))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	a, b := fleetAPI("bbb-a", conn()), fleetAPI("bbb-b", conn())
	stop, err := b.serveFleet()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b.fleet.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	forward := func(server string) (int, map[string]any) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/api/"+callInfo, nil)
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, &reqInfo{id: "req-1", start: time.Now()}))
		w := httptest.NewRecorder()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		a.forward(ctx, w, r, callInfo, server, signedBody(callInfo, "meeting_id", "m1"), "")
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("answer %q: %v", w.Body.String(), err)
		}
		return w.Code, body
	}
	// b has no state open: its answer is a 503, carried back as it is.
	if code, body := forward("bbb-b"); code != 503 || !strings.Contains(body["message"].(string), "NATS is unreachable") {
		t.Errorf("forwarded to bbb-b: %d %v", code, body)
	}
	if code, body := forward("bbb-gone"); code != 404 || body["message"] != "Chat was not found" {
		t.Errorf("forwarded to a server with no ingress: %d %v", code, body)
	}
	// A viewer's post: the refusal of the meeting's server is the viewer page's answer, status and message.
	post := request{call: callSend, meetingID: "m1", userName: "Viewer", message: "hi", template: "{message}"}
	for server, want := range map[string]struct {
		status int
		msg    string
	}{"bbb-b": {503, "NATS is unreachable; try again"}, "bbb-gone": {404, "Chat was not found"}} {
		status, msg := statusOf(a.sendOn(t.Context(), server, post))
		if status != want.status || msg != want.msg {
			t.Errorf("viewer post through %s: %d %q, want %d %q", server, status, msg, want.status, want.msg)
		}
	}
}

// FuzzForwarded feeds arbitrary forwarded calls to the ingress that carries them out: nothing may panic, and every
// answer is a JSON object with success and message and a status of the error table (no state is open here).
func FuzzForwarded(f *testing.F) {
	f.Add(callInfo, "", []byte(`{"meeting_id": "m1", "checksum": "x"}`))
	f.Add(callSend, "m1", []byte(`{"user_name": "a", "message": "b"}`))
	f.Add(callStart, "", []byte(`{"meeting_id": "m1", "chat_user": "c", "follow_room": true}`))
	f.Add("nope", "", []byte(`[]`))
	a := fleetAPI("bbb-b", nil)
	f.Fuzz(func(t *testing.T, call, pathMeetingID string, body []byte) {
		status, out := a.carryOut(context.Background(), forwarded{Call: call, PathMeetingID: pathMeetingID, Body: body},
			&reqInfo{})
		var r struct {
			Success *bool   `json:"success"`
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(out, &r); err != nil || r.Success == nil || r.Message == nil {
			t.Fatalf("answer %q: %v", out, err)
		}
		if status != 400 && status != 404 && status != 503 {
			t.Fatalf("status %d for %q %q: %s", status, call, body, out)
		}
	})
}
