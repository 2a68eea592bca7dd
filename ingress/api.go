package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/ingress/bbbapi"
	"github.com/bbb-chat/bbb-chat/ingress/viewer"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limits on parameters, in characters.
const (
	maxIDLen       = 256
	maxUserNameLen = 255
	maxMessageLen  = 5000
	maxURILen      = 2048
	maxSecretLen   = 512
)

// api serves the HTTP API. It holds no state of its own beyond connections.
type api struct {
	log      *slog.Logger
	cfg      config.Ingress
	store    *atomic.Pointer[state.Store]
	openErr  *atomic.Value // error: why the state is not open yet (run.go's openState)
	cache    *atomic.Pointer[state.Cache]
	rdb      *redis.Client
	now      func() time.Time
	versions *versionSource
	live     *reloadable // what SIGHUP may change
	bbbAPI   bbbapi.Client
	m        apiMetrics
	// viewerPage serves /chat/ (viewerapi.go); closed at shutdown, which ends its event streams.
	viewerPage *viewer.Server
	// fleet forwards calls for meetings of other BBB servers to their ingress, and takes theirs (fleet.go); nil:
	// every call is carried out here.
	fleet *fleet
	// explain bounds how often a refused checksum is explained (checksum.Verifier.Explain costs up to
	// checksum.ExplainCost hashes); beyond it, refusals say only "Checksum was incorrect.".
	explain *rate.Limiter
	// callNames are the routes' call names, which a refused checksum is tried against.
	callNames []string
	confirm   *confirmer // nil: sendChatMessage does not wait for BBB's broadcast
}

type apiMetrics struct {
	requests  *prometheus.CounterVec   // endpoint, status
	duration  *prometheus.HistogramVec // endpoint, status
	authFails *prometheus.CounterVec   // reason
	sent      *prometheus.CounterVec   // bbb_version, path
}

func newAPIMetrics(r prometheus.Registerer) apiMetrics {
	m := apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bbbchat_ingress_requests_total", Help: "API requests by endpoint and HTTP status.",
		}, []string{"endpoint", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bbbchat_ingress_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by endpoint and HTTP status.",
			Buckets: metrics.LatencyBuckets,
		}, []string{"endpoint", "status"}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bbbchat_ingress_checksum_failures_total", Help: "Requests refused by the checksum check, by reason.",
		}, []string{"reason"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bbbchat_ingress_messages_sent_total",
			Help: "Chat messages published to BBB, by BBB version and path (user or api).",
		}, []string{"bbb_version", "path"}),
	}
	// The series every deployment sees start at zero, so that rate() sees their first increase.
	for _, call := range []string{callStart, callEnd, callSend, callInfo, callRunning, callRetry, callPing, callEdit, callDelete} {
		m.requests.WithLabelValues(call, "200")
		m.duration.WithLabelValues(call, "200")
	}
	for _, reason := range []string{"missing", "malformed", "replay"} {
		m.authFails.WithLabelValues(reason)
	}
	for _, reason := range checksum.Reasons() {
		m.authFails.WithLabelValues(string(reason))
	}
	r.MustRegister(m.requests, m.duration, m.authFails, m.sent)
	return m
}

// answered counts an answered API call and the time since the request arrived, and logs its outcome once, at info
// (warn for a 5xx): "request answered", or "request refused" with the error.
func (a *api) answered(r *http.Request, endpoint string, status int, err error) {
	now := a.now()
	start := now
	info := reqInfoOf(r.Context())
	if info != nil {
		start = info.start
	}
	code := strconv.Itoa(status)
	a.m.requests.WithLabelValues(endpoint, code).Inc()
	a.m.duration.WithLabelValues(endpoint, code).Observe(now.Sub(start).Seconds())

	level, msg := slog.LevelInfo, "request answered"
	attrs := make([]any, 0, 14)
	attrs = append(attrs, "call", endpoint, "status", status)
	if err != nil {
		msg = "request refused"
		attrs = append(attrs, "err", err.Error())
	}
	if status >= 500 {
		level = slog.LevelWarn
	}
	attrs = append(attrs, "duration", now.Sub(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	if info != nil {
		attrs = append(attrs, "request_id", info.id)
		if info.meetingID != "" {
			attrs = append(attrs, "meeting_id", info.meetingID)
		}
	}
	a.log.Log(r.Context(), level, msg, attrs...)
}

// response is every answer's JSON: success and message first, then what the call adds.
type response struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	extra   map[string]any
	// stream, when set, writes the answer itself (a transcript): headers, status and a body too large to build.
	stream func(ctx context.Context, w http.ResponseWriter) error
}

func (r response) MarshalJSON() ([]byte, error) {
	b := []byte(`{"success":`)
	b = strconv.AppendBool(b, r.Success)
	b = append(b, `,"message":`...)
	msg, err := json.Marshal(r.Message)
	if err != nil {
		return nil, err
	}
	b = append(b, msg...)
	keys := make([]string, 0, len(r.extra))
	for k := range r.extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := json.Marshal(r.extra[k])
		if err != nil {
			return nil, err
		}
		b = append(b, ',')
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

func ok(msg string, extra map[string]any) response {
	return response{Success: true, Message: msg, extra: extra}
}

// handler is one API call after authentication, with its parameters decoded and checked (decodeRequest).
type handler func(ctx context.Context, s *state.Store, req request) (response, error)

// apiCall is one call of the API: its path, its name and its handler.
type apiCall struct {
	path, name string
	h          handler
}

// calls are the API's calls; routes serves them over HTTP, fleet.go to other servers' ingresses.
func (a *api) calls() []apiCall {
	return []apiCall{
		{"/api/" + callStart, callStart, a.start},
		{"/api/" + callEnd, callEnd, a.end},
		{"/api/" + callSend + "/:meeting_id", callSend, a.send},
		{"/api/" + callInfo, callInfo, a.info},
		{"/api/" + callRunning, callRunning, a.running},
		{"/api/" + callRetry, callRetry, a.retry},
		{"/api/" + callHistory, callHistory, a.chatHistory},
		{"/api/" + callTranscript, callTranscript, a.transcript},
		{"/api/" + callDeleteHistory, callDeleteHistory, a.deleteHistory},
		{"/api/" + callCreateViewerLink, callCreateViewerLink, a.createViewerLink},
		{"/api/" + callRevokeViewerLinks, callRevokeViewerLinks, a.revokeViewerLinks},
		{"/api/" + callPing, callPing, a.ping},
		{"/api/" + callEdit, callEdit, a.editMessage},
		{"/api/" + callDelete, callDelete, a.deleteMessage},
	}
}

func (a *api) routes() http.Handler {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.HandleOPTIONS = false
	for _, c := range a.calls() {
		r.POST(c.path, a.call(c.name, c.h))
		a.callNames = append(a.callNames, c.name)
	}
	a.viewerRoutes(r)
	r.Handler(http.MethodGet, "/healthz", service.HealthHandler())
	r.Handler(http.MethodGet, "/readyz", service.ReadyHandler(a.readiness))
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { a.fail(w, req, "", errNotFoundPath) })
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { a.fail(w, req, "", errMethod) })
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		a.log.Error("panic in handler", "path", req.URL.Path, "panic", fmt.Sprint(v))
		a.fail(w, req, "", errPanic)
	}
	return a.withRequestID(r)
}

// call authenticates a request for the named call and runs h.
func (a *api) call(name string, h handler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
		defer cancel()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				err = withDetail(errTooLarge, "at most %d bytes", a.cfg.MaxBodyBytes)
			} else if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				err = withDetail(errBodyTimeout, "send it within %s", readTimeout)
			} else {
				err = fmt.Errorf("%w: %w", errBodyRead, err)
			}
			a.fail(w, r, name, err)
			return
		}
		v := a.live.verify.Load()
		params, sum, err := v.Verify(name, body)
		if errors.Is(err, checksum.ErrIncorrect) && a.explain != nil && a.explain.Allow() {
			err = v.Explain(name, body, a.explainCalls(name, ps.ByName("meeting_id")))
		}
		if err != nil {
			a.m.authFails.WithLabelValues(authReason(err)).Inc()
			a.fail(w, r, name, err)
			return
		}
		req, err := decodeRequest(name, params, ps.ByName("meeting_id"))
		if info := reqInfoOf(r.Context()); info != nil {
			info.meetingID = req.meetingID
		}
		if err != nil {
			a.fail(w, r, name, err)
			return
		}
		s := a.store.Load()
		if s == nil || !s.AwaitConnected(ctx) {
			// Without NATS nothing can be checked or stored: say so now rather than after RequestTimeout (requests
			// made while nats.go reconnects would wait for it), unless the connection is moving to another node.
			a.fail(w, r, name, a.notOpen(s))
			return
		}
		if err := s.UseNonce(ctx, sum); err != nil {
			if errors.Is(err, state.ErrReplay) {
				a.m.authFails.WithLabelValues("replay").Inc()
			}
			a.fail(w, r, name, err)
			return
		}
		server, elsewhere, err := a.hostOf(ctx, s, req)
		if err != nil {
			a.fail(w, r, name, err)
			return
		}
		if elsewhere {
			a.forward(ctx, w, r, name, server, body, ps.ByName("meeting_id"))
			return
		}
		resp, err := h(ctx, s, req)
		if err != nil {
			a.fail(w, r, name, err)
			return
		}
		if resp.stream != nil {
			a.streamed(w, r, name, resp.stream)
			return
		}
		writeJSON(w, http.StatusOK, resp)
		a.answered(r, name, http.StatusOK, nil)
	}
}

// explainCalls are the call names a refused checksum for name is tried against: the other calls, and what a
// client may mistake for the name (the path, with or without its meeting id).
func (a *api) explainCalls(name, pathMeetingID string) []string {
	calls := append(make([]string, 0, len(a.callNames)+3), "/api/"+name)
	if pathMeetingID != "" {
		calls = append(calls, name+"/"+pathMeetingID, "/api/"+name+"/"+pathMeetingID)
	}
	return append(calls, a.callNames...)
}

func authReason(err error) string {
	if m, ok := errors.AsType[*checksum.Mismatch](err); ok {
		return string(m.Reason)
	}
	switch {
	case errors.Is(err, checksum.ErrMissing):
		return "missing"
	case errors.Is(err, checksum.ErrIncorrect):
		return string(checksum.ReasonIncorrect)
	default:
		return "malformed"
	}
}

// fail answers with the error's status and message and logs it once (answered).
func (a *api) fail(w http.ResponseWriter, r *http.Request, name string, err error) {
	status, msg := statusOf(err)
	if name == "" {
		name = "other"
	}
	writeJSON(w, status, response{Success: false, Message: msg})
	a.answered(r, name, status, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	status, b := encodeJSON(status, v)
	writeBody(w, status, b)
}

// encodeJSON is the body writeJSON sends for v with status (500 when v cannot be encoded).
func encodeJSON(status int, v any) (int, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		return http.StatusInternalServerError, []byte(`{"success": false, "message": "Internal error"}`)
	}
	return status, b
}

// writeBody sends a JSON body made by encodeJSON, with a final newline.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (a *api) start(ctx context.Context, s *state.Store, req request) (response, error) {
	meetingID, chatUser, uri, secret, events := req.meetingID, req.chatUser, req.callbackURI, req.callbackSecret, req.callbackEvents
	if uri != "" {
		if err := a.checkTarget(ctx, s, uri); err != nil {
			return response{}, err
		}
	}
	if req.followRoom {
		return a.startFollow(ctx, s, req)
	}
	m, known, err := a.resolve(ctx, s, meetingID)
	if err != nil {
		return response{}, err
	}
	if err := a.notFollowed(ctx, s, meetingID, m); err != nil {
		return response{}, err
	}
	b, err := a.lifecycle(s).Start(ctx, state.Bridge{
		MeetingID: m.InternalID, ExternalID: m.ExternalID, RequestedID: meetingID, ChatUser: chatUser,
		CallbackURI: uri, CallbackSecret: secret, CallbackEvents: events, CreatedAt: a.now(),
	}, a.cfg.MaxBridges)
	if err != nil {
		return response{}, a.startError(err)
	}
	_, present := a.chatUser(ctx, s, b)
	a.logFor(ctx).Info("chat started", "meeting_id", b.MeetingID, "external_meeting_id", b.ExternalID,
		"callback", b.HasCallback(), "chat_user_present", present)
	out := map[string]any{
		"meeting_id": b.MeetingID, "external_meeting_id": b.ExternalID, "meeting_known": known,
		"chat_user_present": present,
	}
	if !known {
		out["warning"] = unknownMeetingWarning(meetingID)
	}
	return ok("Chat was started", out), nil
}

// startError turns a failed bridge start (a meeting's or a followed room's) into the domain error clients read.
func (a *api) startError(err error) error {
	switch {
	case errors.Is(err, state.ErrExists):
		return errChatExists
	case errors.Is(err, bridge.ErrTooManyBridges):
		return withDetail(errTooManyBridges, "the limit is %d (BBB_CHAT_MAX_BRIDGES)", a.cfg.MaxBridges)
	case errors.Is(err, bridge.ErrTooManyConsumers):
		return withDetail(errTooManyBridges, "the events stream allows no more callback consumers")
	}
	return err
}

func (a *api) end(ctx context.Context, s *state.Store, req request) (response, error) {
	if done, resp, err := a.endFollow(ctx, s, req); done {
		return resp, err
	}
	b, err := a.bridge(ctx, s, req.meetingID)
	if err != nil {
		return response{}, err
	}
	if err := a.lifecycle(s).End(ctx, b.MeetingID); err != nil {
		if errors.Is(err, state.ErrNotFound) {
			return response{}, errChatNotFound
		}
		return response{}, err
	}
	a.logFor(ctx).Info("chat ended", "meeting_id", b.MeetingID)
	return ok("Chat was ended", map[string]any{"meeting_id": b.MeetingID}), nil
}

// lifecycle is the bridges' lifecycle in s. Ingress does not read BBB_CHAT_CALLBACK_TIMEOUT: consumers it creates
// get the default's AckWait, and it leaves existing ones as relay set them.
func (a *api) lifecycle(s *state.Store) *bridge.Lifecycle {
	return bridge.New(s, bridge.Options{Now: a.now})
}

// bridge finds the bridge of a meeting given by internal or external id.
func (a *api) bridge(ctx context.Context, s *state.Store, meetingID string) (state.Bridge, error) {
	r := a.reads(s)
	m, _, err := r.ResolveMeeting(ctx, meetingID)
	if err != nil {
		return state.Bridge{}, err
	}
	b, err := r.GetBridge(ctx, m.InternalID)
	if errors.Is(err, state.ErrNotFound) && m.InternalID != meetingID {
		b, err = r.GetBridge(ctx, meetingID)
	}
	if errors.Is(err, state.ErrNotFound) {
		return b, a.whyNoChat(ctx, s, meetingID, m)
	}
	if err != nil {
		return b, err
	}
	return b, nil
}

// resolve turns a client's meeting id into BBB's internal one: from what relay saw created, else from BBB's
// getMeetingInfo (when BBB's API is known), else the id itself is taken as internal.
func (a *api) resolve(ctx context.Context, s *state.Store, meetingID string) (state.Meeting, bool, error) {
	m, known, err := a.reads(s).ResolveMeeting(ctx, meetingID)
	if err != nil {
		return m, false, err
	}
	if known || !a.bbbAPI.Configured() {
		return m, known, nil
	}
	info, err := a.bbbAPI.GetMeetingInfo(ctx, meetingID)
	if errors.Is(err, bbbapi.ErrNotFound) {
		return m, false, nil
	}
	if err != nil {
		a.logFor(ctx).Warn("cannot ask BBB about a meeting", "meeting_id", meetingID, "err", err)
		return m, false, nil
	}
	m = state.Meeting{InternalID: info.InternalID, ExternalID: info.ExternalID, Name: info.Name,
		CreatedAt: time.UnixMilli(info.CreateTime), Server: a.cfg.ServerID}
	if err := s.PutMeeting(ctx, m); err != nil {
		return m, true, err
	}
	return m, true, nil
}

// chatUser finds the bridge's chat user among the present users.
func (a *api) chatUser(ctx context.Context, s *state.Store, b state.Bridge) (state.Presence, bool) {
	u, err := a.reads(s).FindUser(ctx, b.MeetingID, b.ChatUser)
	return u, err == nil
}

// lookups are the reads of the hot paths; the state's cache answers them without a NATS round trip.
type lookups interface {
	GetBridge(ctx context.Context, meetingID string) (state.Bridge, error)
	ResolveMeeting(ctx context.Context, id string) (state.Meeting, bool, error)
	FindUser(ctx context.Context, meetingID, name string) (state.Presence, error)
}

func (a *api) reads(s *state.Store) lookups {
	if c := a.cache.Load(); c != nil {
		return c
	}
	return s
}

func (a *api) send(ctx context.Context, s *state.Store, req request) (response, error) {
	userName, message := req.userName, req.message
	v, err := a.versions.get(ctx, s)
	if err != nil {
		return response{}, err
	}
	b, err := a.bridge(ctx, s, req.meetingID)
	if errors.Is(err, errChatNotFound) && req.withoutChat && v.HasAPIChat() {
		// The viewer page of a running meeting whose chat was not started: BBB's chat API path (3.0 and later)
		// needs no chat user, only the meeting.
		m, known, rerr := a.reads(s).ResolveMeeting(ctx, req.meetingID)
		if rerr != nil {
			return response{}, rerr
		}
		if !known {
			return response{}, err
		}
		b, err = state.Bridge{MeetingID: m.InternalID}, nil
	}
	if err != nil {
		return response{}, err
	}
	now := a.now()
	var payload []byte
	path := "user"
	msg := "Message sent successfully"
	extra := map[string]any{}
	var waitKey string
	u, present := state.Presence{}, false
	if b.ChatUser != "" {
		u, present = a.chatUser(ctx, s, b)
	}
	blocked := false
	if present {
		m, _, err := a.reads(s).ResolveMeeting(ctx, b.MeetingID)
		if err != nil {
			return response{}, err
		}
		if reason, byLock := chatBlocked(m, u); reason != "" {
			// BBB's chat API is not subject to locks; the operator may let posts take it then (3.0 and later).
			if !byLock || !a.cfg.BlockedViaAPI || !v.HasAPIChat() {
				return response{}, withDetail(errChatBlocked, "%s", reason)
			}
			blocked = true
			msg = "Message sent successfully, through BBB's chat API under the viewer's name (" + reason + ")"
		}
	}
	if present && !blocked {
		correlation := u.UserID + "-" + strconv.FormatInt(now.UnixMilli(), 10)
		if a.confirm != nil {
			correlation = a.confirm.correlationID(u.UserID, now)
		}
		waitKey = userPostKey(b.MeetingID, correlation)
		payload, err = bbb.EncodeChatPost(v, bbb.ChatPost{
			MeetingID:     b.MeetingID,
			UserID:        u.UserID,
			CorrelationID: correlation,
			Message:       bbb.Render(v, req.templateOr(*a.live.template.Load()), userName, message),
			Timestamp:     now.UnixMilli(),
		})
	} else if v.HasAPIChat() {
		waitKey = apiPostKey(b.MeetingID, bbb.SanitizeName(userName), message)
		path = "api"
		payload, err = bbb.EncodeAPIChatPost(v, bbb.APIChatPost{
			MeetingID: b.MeetingID, UserName: bbb.SanitizeName(userName), Message: message, Timestamp: now.UnixMilli(),
		})
		if !blocked {
			msg = "Message sent successfully, through BBB's chat API under the viewer's name (the chat user is not in the meeting)"
		}
		// Remember it, so relay does not send BBB's echo of it back to the bridge's callback.
		if err == nil {
			if rerr := s.RecordAPIPost(ctx, b.MeetingID, bbb.SanitizeName(userName), message); rerr != nil {
				return response{}, rerr
			}
		}
	} else {
		return response{}, withDetail(errUserAbsent, "no user named %q has joined meeting %s, and BBB %s has no other way to post", b.ChatUser, b.MeetingID, v)
	}
	if err != nil {
		return response{}, badParam("message", "cannot be sent: %v", err)
	}
	// Wait for BBB's broadcast from before the post leaves, so that it cannot be missed.
	w, err := a.publishWatched(ctx, waitKey, payload)
	if err != nil {
		return response{}, err
	}
	defer w.cancel()
	a.m.sent.WithLabelValues(v.String(), path).Inc()
	extra["via"] = path
	if w == nil {
		msg = strings.Replace(msg, "Message sent successfully", "Message handed to BBB (whether BBB shows it is not checked: BBB_CHAT_SEND_CONFIRM_TIMEOUT is 0)", 1)
		return ok(msg, extra), nil
	}
	wait := a.confirmWait(ctx)
	if e, seen := w.wait(ctx, wait); seen {
		extra["confirmed"], extra["message_id"] = true, e.MessageID
		return ok(msg, extra), nil
	}
	extra["confirmed"] = false
	a.logFor(ctx).Info("BBB did not show a posted message in time", "meeting_id", b.MeetingID, "via", path,
		"wait", wait)
	return ok(unconfirmedMessage(wait), extra), nil
}

func (a *api) info(ctx context.Context, s *state.Store, req request) (response, error) {
	b, err := a.bridge(ctx, s, req.meetingID)
	if errors.Is(err, errRoomWaiting) {
		return a.roomInfo(ctx, s, req.meetingID)
	}
	if err != nil {
		return response{}, err
	}
	u, present := a.chatUser(ctx, s, b)
	out := map[string]any{
		"meeting_id": b.MeetingID, "external_meeting_id": b.ExternalID, "chat_user": b.ChatUser,
		"chat_user_present": present, "created_at": b.CreatedAt.UTC().Format(time.RFC3339), "ending": b.Ending,
		"follow_room": b.FollowRoom,
	}
	if present {
		out["chat_user_id"] = u.UserID
	}
	if b.HasCallback() {
		cb := map[string]any{"uri": redactURI(b.CallbackURI), "state": b.CallbackState, "events": b.Kinds()}
		pending, err := a.lifecycle(s).Pending(ctx, b.MeetingID)
		if err != nil {
			pending = 0
		}
		cb["pending"] = pending
		// Over BBB_CHAT_CALLBACK_MAX_PENDING the receiver does not keep up: nothing is dropped, but relay warns.
		cb["max_pending"] = a.cfg.MaxPending
		cb["overloaded"] = pending > uint64(max(a.cfg.MaxPending, 0))
		stats, err := s.GetCallbackStats(ctx, b.MeetingID)
		if err != nil {
			return response{}, err
		}
		failed, err := s.Failed(ctx, b.MeetingID)
		if err != nil {
			return response{}, err
		}
		cb["delivered"] = stats.Delivered
		cb["failed"] = len(failed)
		cb["retries"] = stats.Retries
		cb["last_error"] = stats.LastError
		if !stats.LastErrorAt.IsZero() {
			cb["last_error_at"] = stats.LastErrorAt.UTC().Format(time.RFC3339)
		}
		if !stats.LastSuccessAt.IsZero() {
			cb["last_success_at"] = stats.LastSuccessAt.UTC().Format(time.RFC3339)
		}
		out["callback"] = cb
	} else {
		out["callback"] = nil
	}
	return ok("Chat info", out), nil
}

// redactURI drops the query and fragment, which may carry tokens.
func redactURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

func (a *api) running(ctx context.Context, s *state.Store, _ request) (response, error) {
	bs, err := s.Bridges(ctx)
	if err != nil {
		return response{}, err
	}
	ids := make([]string, 0, len(bs))
	chats := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		ids = append(ids, b.MeetingID)
		chats = append(chats, map[string]any{
			"meeting_id": b.MeetingID, "external_meeting_id": b.ExternalID, "chat_user": b.ChatUser,
			"callback": b.HasCallback(), "callback_state": b.CallbackState,
		})
	}
	rooms, err := a.followedRooms(ctx, s)
	if err != nil {
		return response{}, err
	}
	return ok("Running chats", map[string]any{"count": len(bs), "chat_ids": ids, "chats": chats, "rooms": rooms}), nil
}

func (a *api) readiness(ctx context.Context) []service.Problem {
	var problems []service.Problem
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		problems = append(problems, service.Problem{Name: "redis", Detail: "unreachable"})
	}
	if s := a.store.Load(); s == nil {
		problems = append(problems, service.Problem{Name: "nats", Detail: "not connected"})
	} else if err := s.Ping(ctx); err != nil {
		problems = append(problems, service.Problem{Name: "nats", Detail: "jetstream not answering"})
	}
	return problems
}
