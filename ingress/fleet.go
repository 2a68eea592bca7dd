package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// A fleet is several BBB servers, each with its own Redis, relay and ingress, on one NATS cluster
// (docs/fleet.md). Any ingress answers for any meeting: a call for a meeting that runs on another server is
// carried out there, by that server's ingress, through NATS request/reply on FleetSubject(server). Which server a
// meeting runs on is what its relay recorded from the meeting's events (state.Meeting.Server): there is no table
// of servers to keep.
//
// The first ingress verifies the checksum and uses the nonce, and forwards the verified request; the ingress that
// carries it out trusts it without checking again. Why there: the nonce bucket is the fleet's, so a second check
// would find the checksum already used and refuse every forwarded call as a replay; the checksum's time window is
// judged once, on the clock of the ingress the client reached; and whoever can publish on the fleet's NATS account
// can already change every bridge there, so a forwarded request gives it nothing more (docs/security.md: protect
// NATS like the secrets it holds).

// fleetQueue is the queue group of the ingresses of one server: each forwarded call goes to one of them.
const fleetQueue = "bbbchat-ingress"

// fleetMaxInFlight bounds the forwarded calls an ingress carries out at once.
const fleetMaxInFlight = 256

// fleetResubscribe is how long a server whose ingresses do not listen is taken for one whose ingress is moving to
// another NATS node (its node died: nats.go reconnects at once and subscribes again), and the call is sent again.
// After it, the meeting is on no live server.
const fleetResubscribe = 2 * time.Second

// FleetSubject is where the ingresses of a server take the calls forwarded to them. It is under _bbbchat, the
// subjects that only bbb-chat's own processes may use (docs/security.md): a verified call is trusted there.
func FleetSubject(server string) string { return "_bbbchat.api." + state.Key(server) }

// errNoIngress says that no ingress of the meeting's server listened for longer than fleetResubscribe.
var errNoIngress = errors.New("no ingress of the meeting's server listens")

// forwarded is a verified API call on its way to the ingress of the meeting's server.
type forwarded struct {
	Call          string `json:"call"`
	PathMeetingID string `json:"path_meeting_id,omitempty"` // sendChatMessage's meeting id, from the path
	Body          []byte `json:"body"`                      // the body as the client sent it (checksum verified)
	RequestID     string `json:"request_id,omitempty"`
	From          string `json:"from"`                   // the server id of the ingress that forwards it
	TimeoutMS     int64  `json:"timeout_ms"`             // how long the forwarding ingress waits for the answer
	Template      string `json:"template,omitempty"`     // a viewer's post: the viewer page's message template
	WithoutChat   bool   `json:"without_chat,omitempty"` // a viewer's post: BBB's chat API when no chat was started
}

// forwardedAnswer is the answer to a forwarded call: the HTTP status and body the client gets.
type forwardedAnswer struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// fleet is this ingress's part of the fleet: the connection it forwards calls on and takes them from.
type fleet struct {
	nc     *nats.Conn
	server string // this server's id (BBB_CHAT_SERVER_ID)
	slots  chan struct{}
}

func newFleet(nc *nats.Conn, server string) *fleet {
	return &fleet{nc: nc, server: server, slots: make(chan struct{}, fleetMaxInFlight)}
}

// serveFleet takes the calls other servers' ingresses forward to this server until the returned stop is called.
func (a *api) serveFleet() (stop func(), err error) {
	f := a.fleet
	sub, err := f.nc.QueueSubscribe(FleetSubject(f.server), fleetQueue, func(msg *nats.Msg) {
		f.slots <- struct{}{}
		go func() {
			defer func() { <-f.slots }()
			a.answerForwarded(msg)
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: subscribe %s: %w", FleetSubject(f.server), err)
	}
	return func() { _ = sub.Drain() }, nil
}

// hostOf names the server a call must be carried out on when that is another one: the server its meeting runs
// on, as the meetings bucket says. Calls without a meeting, meetings nobody recorded, and records of earlier
// releases (no server) stay here. An error when the meetings bucket cannot be read: the call cannot be placed.
func (a *api) hostOf(ctx context.Context, s *state.Store, req request) (string, bool, error) {
	if a.fleet == nil || req.meetingID == "" {
		return "", false, nil
	}
	m, known, err := a.reads(s).ResolveMeeting(ctx, req.meetingID)
	if err != nil {
		return "", false, fmt.Errorf("fleet: where meeting %s runs: %w", req.meetingID, err)
	}
	if !known || m.Server == "" || m.Server == a.fleet.server {
		return "", false, nil
	}
	return m.Server, true, nil
}

// forward carries a verified call out on the ingress of server and answers the client with what it answered. No
// ingress of that server answering means no live server has the meeting: the usual 404.
func (a *api) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, name, server string, body []byte,
	pathMeetingID string) {
	fw := forwarded{Call: name, PathMeetingID: pathMeetingID, Body: body}
	if info := reqInfoOf(r.Context()); info != nil {
		fw.RequestID = info.id
	}
	ans, err := a.carryOutOn(ctx, server, fw)
	if err != nil {
		a.fail(w, r, name, err)
		return
	}
	a.logFor(r.Context()).Debug("call carried out on the meeting's server", "call", name, "server", server,
		"status", ans.Status)
	writeBody(w, ans.Status, ans.Body)
	a.answered(r, name, ans.Status, nil)
}

// carryOutOn sends fw to the ingresses of server and returns their answer; an error of the error table when none
// came (errChatNotFound when no ingress of that server listens). A call that reaches no ingress of that server for
// a moment (fleetResubscribe), or that NATS could not carry (this ingress reconnecting), is sent again within ctx's
// deadline (state.RetryRequest: the ingress there waits out an election itself, within the deadline it is given).
func (a *api) carryOutOn(ctx context.Context, server string, fw forwarded) (forwardedAnswer, error) {
	fw.From = a.fleet.server
	var ans forwardedAnswer
	var msg *nats.Msg
	first := a.now()
	err := state.RetryRequest(ctx, func(ctx context.Context) error {
		if dl, ok := ctx.Deadline(); ok {
			fw.TimeoutMS = time.Until(dl).Milliseconds()
		}
		data, err := json.Marshal(fw)
		if err != nil {
			return err
		}
		msg, err = a.fleet.nc.RequestWithContext(ctx, FleetSubject(server), data)
		if errors.Is(err, nats.ErrNoResponders) && a.now().Sub(first) >= fleetResubscribe {
			return errNoIngress // given up: not an error Retry tries again
		}
		return err
	})
	switch {
	case errors.Is(err, errNoIngress), errors.Is(err, nats.ErrNoResponders):
		return ans, fmt.Errorf("%w: the meeting's server %s has no ingress on NATS", errChatNotFound, server)
	case err != nil && state.Unavailable(err):
		return ans, fmt.Errorf("forward to server %s: %w: %w", server, state.ErrUnavailable, err)
	case err != nil:
		return ans, fmt.Errorf("forward to server %s: %w", server, err)
	}
	if err := json.Unmarshal(msg.Data, &ans); err != nil || ans.Status < 100 || ans.Status > 599 || len(ans.Body) == 0 {
		return ans, fmt.Errorf("forward to server %s: malformed answer: %v", server, err)
	}
	return ans, nil
}

// sendOn posts a viewer's message (req, with the viewer page's template) through the ingress of the meeting's
// server, and returns its refusal as an error the viewer page answers with the same status and message.
func (a *api) sendOn(ctx context.Context, server string, req request) error {
	body := pyjson.Dumps(pyjson.Object(
		pyjson.Member{Key: "user_name", Value: pyjson.String(req.userName)},
		pyjson.Member{Key: "message", Value: pyjson.String(req.message)}))
	fw := forwarded{Call: callSend, PathMeetingID: req.meetingID, Body: body, Template: req.template,
		WithoutChat: req.withoutChat}
	if info := reqInfoOf(ctx); info != nil {
		fw.RequestID = info.id
	}
	ans, err := a.carryOutOn(ctx, server, fw)
	if err != nil || ans.Status == http.StatusOK {
		return err
	}
	var r response
	_ = json.Unmarshal(ans.Body, &r)
	return &remoteError{status: ans.Status, msg: r.Message}
}

// remoteError is a refusal by the ingress of another server, with the status and message it answered.
type remoteError struct {
	status int
	msg    string
}

func (e *remoteError) Error() string {
	return fmt.Sprintf("refused by the meeting's server: %d %s", e.status, e.msg)
}

// answerForwarded carries out a call another server's ingress forwarded, as call would after verification, and
// replies with the status and body the client gets.
func (a *api) answerForwarded(msg *nats.Msg) {
	var fw forwarded
	if err := json.Unmarshal(msg.Data, &fw); err != nil {
		a.log.Warn("malformed forwarded call", "subject", msg.Subject, "err", err)
		return // the sender times out: a 503 there
	}
	timeout := a.cfg.RequestTimeout
	if t := time.Duration(fw.TimeoutMS)*time.Millisecond - 50*time.Millisecond; fw.TimeoutMS > 0 && t < timeout {
		timeout = max(t, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	info := &reqInfo{id: fw.RequestID, start: a.now()}
	ctx = context.WithValue(ctx, reqInfoKey{}, info)
	status, body := a.carryOut(ctx, fw, info)
	out, err := json.Marshal(forwardedAnswer{Status: status, Body: body})
	if err != nil {
		return
	}
	if err := msg.Respond(out); err != nil {
		a.log.Warn("cannot answer a forwarded call", "call", fw.Call, "from", fw.From, "err", err)
	}
}

// carryOut runs a forwarded call's handler and returns the status and body of its answer.
func (a *api) carryOut(ctx context.Context, fw forwarded, info *reqInfo) (int, []byte) {
	var h handler
	for _, c := range a.calls() {
		if c.name == fw.Call {
			h = c.h
		}
	}
	resp, err := func() (response, error) {
		if h == nil {
			return response{}, errNotFoundPath
		}
		doc, err := pyjson.ParseDocument(fw.Body)
		if err != nil {
			return response{}, err
		}
		req, err := decodeRequest(fw.Call, doc.Value.Without(checksum.Key), fw.PathMeetingID)
		info.meetingID = req.meetingID
		if err != nil {
			return response{}, err
		}
		req.template, req.withoutChat = fw.Template, fw.WithoutChat
		s := a.store.Load()
		if s == nil || !s.AwaitConnected(ctx) {
			return response{}, a.notOpen(s)
		}
		return h(ctx, s, req)
	}()
	if err != nil {
		status, msg := statusOf(err)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		a.log.Log(ctx, level, "forwarded request refused", "call", fw.Call, "status", status, "err", err.Error(),
			"from", fw.From, "request_id", fw.RequestID, "meeting_id", info.meetingID)
		return encodeJSON(status, response{Success: false, Message: msg})
	}
	return encodeJSON(http.StatusOK, resp)
}
