package viewer

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

//go:embed static
var static embed.FS

// Settings are the viewer settings in force; SIGHUP may replace them.
type Settings struct {
	Keys            [][]byte      // link keys: the current shared secret's first, then the old one's (Key)
	SlowMode        time.Duration // one post per this, per link and address
	Blocklist       *Blocklist
	FrameAncestors  string // the page's CSP frame-ancestors sources
	MaxStreamsPerIP int    // open event streams per address (0: no cap)
	PublicURL       string // where viewers reach ingress (BBB_CHAT_PUBLIC_URL)
	Template        string // a viewer post's template, in the send path's placeholders
}

// Options are what the viewer handlers need from ingress.
type Options struct {
	Log      *slog.Logger
	Now      func() time.Time
	Settings func() *Settings
	// Store is the JetStream state, nil while it is not open.
	Store func() *state.Store
	// Send posts a viewer's message into the meeting through ingress's send path, with the viewer template.
	Send func(ctx context.Context, meetingID, name, message string) error
	// Fail answers a refusal as the API does (JSON, the error table's status and message) and logs it once;
	// Status is the table's status and message, for the page's own refusals.
	Fail   func(w http.ResponseWriter, r *http.Request, call string, err error)
	Status func(err error) (int, string)
}

// Names of the viewer endpoints in metrics and logs.
const (
	callPage   = "viewerPage"
	callEvents = "viewerEvents"
	callPost   = "viewerPost"
)

// Server serves /chat/.
type Server struct {
	o       Options
	ctx     context.Context // ends with Close: every event stream and hub stops
	close   context.CancelFunc
	page    *template.Template
	assets  http.Handler
	hubs    *hubs
	slow    slowMode
	streams streamCap
}

// Frames a meeting's hub keeps for viewers who join or come back, and how long it lives on without viewers.
const (
	hubKeep   = 20000
	hubLinger = 30 * time.Second
)

// heartbeat is how often an idle event stream gets a comment (proxies close silent connections) and its link is
// checked again (expiry, revocation): on a meeting's heartbeat (hub), the same moment for all its viewers.
const heartbeat = 20 * time.Second

// New makes the /chat/ handler.
func New(o Options) *Server {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		o:      o,
		ctx:    ctx,
		close:  cancel,
		page:   template.Must(template.ParseFS(sub, "page.html")),
		assets: http.StripPrefix("/chat/assets/", http.FileServerFS(sub)),
	}
	s.hubs = &hubs{log: o.Log, keep: hubKeep, linger: hubLinger, beat: heartbeat,
		follow: func() follower {
			if st := o.Store(); st != nil {
				return st.FollowMeeting
			}
			return nil
		},
		revoked: func() revocationReader {
			if st := o.Store(); st != nil && st.Connected() {
				return st.ViewerLinksNotBefore
			}
			return nil
		},
	}
	return s
}

// Close ends every event stream, so that the HTTP server's shutdown need not wait for viewers to leave.
func (s *Server) Close() { s.close() }

// ServeHTTP routes /chat/<token>, /chat/<token>/events, /chat/<token>/messages and /chat/assets/<file>.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/chat/")
	token, action, _ := strings.Cut(rest, "/")
	defer func() {
		// Recovered here rather than by the router, whose log line would carry the path and so the token.
		if v := recover(); v != nil {
			s.o.Log.Error("panic in the viewer page", "token", Redact(token), "action", action, "panic", fmt.Sprint(v))
			s.o.Fail(w, r, callPage, errPanic)
		}
	}()
	switch {
	case token == "assets" && r.Method == http.MethodGet && (action == "app.js" || action == "app.css"):
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		s.assets.ServeHTTP(w, r)
	case action == "" && r.Method == http.MethodGet:
		s.servePage(w, r, token)
	case action == "events" && r.Method == http.MethodGet:
		if v := s.openEvents(w, r, token); v != nil {
			v.serve()
		}
	case action == "messages" && r.Method == http.MethodPost:
		s.servePost(w, r, token)
	case action == "" || action == "events" || action == "messages":
		s.o.Fail(w, r, callPage, ErrMethod)
	default:
		s.o.Fail(w, r, callPage, ErrNotFound)
	}
}

// errPanic is a handler's panic: no table row, so an internal error.
var errPanic = errors.New("viewer: internal error")

// Routing refusals, mapped like the API's.
var (
	ErrMethod   = errors.New("viewer: method not allowed")
	ErrNotFound = errors.New("viewer: no such page")
)

// check reads a token and refuses it when it is forged, expired or revoked (asking NATS).
func (s *Server) check(ctx context.Context, token string) (Link, error) {
	set := s.o.Settings()
	l, err := Parse(token, set.Keys, s.o.Now())
	if err != nil {
		return l, err
	}
	st := s.o.Store()
	if st == nil || !st.Connected() {
		return l, state.ErrUnavailable
	}
	nb, err := st.ViewerLinksNotBefore(ctx, l.MeetingID)
	if err != nil {
		return l, err
	}
	if !nb.IsZero() && l.IssuedAt.Before(nb) {
		return l, ErrLinkRevoked
	}
	return l, nil
}

// securityHeaders are every page answer's: a strict CSP (no inline script or style), no referrer (the token is in
// the URL), framing only by the configured ancestors.
func (s *Server) securityHeaders(w http.ResponseWriter) {
	anc := strings.TrimSpace(s.o.Settings().FrameAncestors)
	if anc == "" {
		anc = "'none'"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
		"img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors "+anc)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

type pageData struct {
	CanPost bool
	Error   string
	MaxName int
	MaxText int
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request, token string) {
	s.securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	l, err := s.check(r.Context(), token)
	status := http.StatusOK
	data := pageData{CanPost: l.CanPost, MaxName: MaxNameLen, MaxText: MaxMessageLen}
	if err != nil {
		status, data.Error = s.o.Status(err)
		data.CanPost = false
		s.o.Log.Info("viewer page refused", "token", Redact(token), "status", status, "err", err.Error(), "remote", clientAddr(r))
	}
	w.WriteHeader(status)
	if err := s.page.Execute(w, data); err != nil {
		s.o.Log.Debug("viewer page not written", "err", err)
	}
}

// An event stream is served in two steps: openEvents checks the link and answers the request's headers, then
// watch.serve writes the meeting's events until the viewer leaves. Thousands of streams wait in serve at once, each
// on its own connection's goroutine: serve waits with few and small frames below it, no timer and no context of its
// own, so that the goroutine's stack stays as small as a bare net/http handler's (the runtime halves a stack only
// when less than a quarter of it is in use; docs/performance.md, viewers).

// watch is one viewer's open event stream.
type watch struct {
	s      *Server
	w      http.ResponseWriter
	rc     *http.ResponseController
	ctx    context.Context // the request's
	hub    *hub
	link   Link
	addr   string // counted in s.streams
	cursor uint64 // the last sequence written
	beats  uint64 // the hub's heartbeats seen
}

// openEvents checks the link and the address's streams and answers the request's headers; nil when it refused the
// request (answered) or the viewer left already.
func (s *Server) openEvents(w http.ResponseWriter, r *http.Request, token string) *watch {
	l, err := s.check(r.Context(), token)
	if err != nil {
		s.o.Fail(w, r, callEvents, err)
		return nil
	}
	cursor, _ := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64)
	if q := r.URL.Query().Get("after"); q != "" && cursor == 0 {
		cursor, _ = strconv.ParseUint(q, 10, 64)
	}
	addr := clientAddr(r)
	if !s.streams.acquire(addr, s.o.Settings().MaxStreamsPerIP) {
		s.o.Fail(w, r, callEvents, ErrTooManyStreams)
		return nil
	}
	var v *watch
	defer func() {
		if v == nil { // not opened: serve will not release it
			s.streams.release(addr)
		}
	}()
	// An event stream lives as long as the viewer watches: no read or write deadline (a read deadline passing
	// would end the request's context).
	rc := http.NewResponseController(w)
	if err := errors.Join(rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{})); err != nil {
		s.o.Log.Debug("cannot lift the deadlines of an event stream", "err", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	w.WriteHeader(http.StatusOK)
	// Tell the browser to come back after 2 s when the stream breaks.
	if _, err := io.WriteString(w, "retry: 2000\n\n"); err != nil || rc.Flush() != nil {
		return nil
	}
	v = &watch{s: s, w: w, rc: rc, ctx: r.Context(), hub: s.hubs.join(s.ctx, l.MeetingID), link: l, addr: addr,
		cursor: cursor}
	_, _, v.beats, _ = v.hub.since(cursor)
	return v
}

// serve writes the meeting's events after the cursor as they come, and a comment on each heartbeat, until the
// viewer leaves, the link expires or is revoked (a refused event), or the server closes.
func (v *watch) serve() {
	defer v.s.streams.release(v.addr)
	defer v.s.hubs.leave(v.hub)
	for {
		fs, wake, beats, behind := v.hub.since(v.cursor)
		if behind > 0 {
			if !v.catchUp(behind) {
				return
			}
			continue
		}
		if len(fs) > 0 && !v.write(fs) {
			return
		}
		if beats != v.beats {
			v.beats = beats
			if !v.beat() {
				return
			}
		}
		select {
		case <-v.ctx.Done():
			return
		case <-v.s.ctx.Done():
			return
		case <-wake:
		}
	}
}

// write writes frames and flushes them; false when the viewer is gone.
func (v *watch) write(fs []frame) bool {
	for _, f := range fs {
		if _, err := v.w.Write(f.b); err != nil {
			return false
		}
		v.cursor = f.seq
	}
	return v.rc.Flush() == nil
}

// beat is a heartbeat: the link is checked again (its expiry, and the meeting's revocation time the hub read) and
// the stream ends with a refused event when it no longer holds; else the viewer gets a comment. False when the
// stream is over.
func (v *watch) beat() bool {
	if !v.s.o.Now().Before(v.link.ExpiresAt) || v.hub.revoked(v.link.IssuedAt) {
		io.WriteString(v.w, "event: refused\ndata: {}\n\n")
		v.rc.Flush()
		return false
	}
	_, err := io.WriteString(v.w, ": ping\n\n")
	return err == nil && v.rc.Flush() == nil
}

// catchUp writes the meeting's events up to sequence upTo from the stream itself; false when the stream is over.
func (v *watch) catchUp(upTo uint64) bool {
	ctx, cancel := context.WithCancel(v.ctx)
	defer cancel()
	stop := context.AfterFunc(v.s.ctx, cancel) // the server closing ends it too
	defer stop()
	if err := v.s.catchUp(ctx, v.w, v.link.MeetingID, &v.cursor, upTo); err != nil {
		if ctx.Err() == nil {
			v.s.o.Log.Warn("cannot read a meeting's older events for a viewer", "meeting_id", v.link.MeetingID, "err", err)
		}
		return false
	}
	return v.rc.Flush() == nil
}

// catchUpIdle is how long a catch-up waits for the stream's next event: the events it waits for may have aged out
// of the stream meanwhile.
const catchUpIdle = 5 * time.Second

// catchUp writes a meeting's events after *cursor up to sequence upTo from the stream itself (older than the
// meeting's hub keeps), moving *cursor along. When the stream has nothing more up to upTo, the cursor moves to it.
func (s *Server) catchUp(ctx context.Context, w io.Writer, meetingID string, cursor *uint64, upTo uint64) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := time.AfterFunc(catchUpIdle, cancel)
	defer idle.Stop()
	var werr error
	err := s.o.Store().FollowMeeting(cctx, meetingID, *cursor, func(seq uint64, payload []byte) bool {
		idle.Reset(catchUpIdle)
		if seq > upTo {
			return false
		}
		if b, ok := render(seq, payload); ok {
			if _, werr = w.Write(b); werr != nil {
				return false
			}
		}
		*cursor = seq
		return true
	})
	switch {
	case werr != nil:
		return werr
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return err
	}
	*cursor = max(*cursor, upTo)
	return nil
}

// maxPostBytes bounds a post's body: a name, a message and JSON's quoting of them.
const maxPostBytes = 8 << 10

type postBody struct {
	Name    *string `json:"name"`
	Message *string `json:"message"`
}

func (s *Server) servePost(w http.ResponseWriter, r *http.Request, token string) {
	ctx := r.Context()
	l, err := s.check(ctx, token)
	if err != nil {
		s.o.Fail(w, r, callPost, err)
		return
	}
	if !l.CanPost {
		s.o.Fail(w, r, callPost, ErrReadOnly)
		return
	}
	var body postBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPostBytes))
	if err := dec.Decode(&body); err != nil || body.Name == nil || body.Message == nil {
		s.o.Fail(w, r, callPost, ErrBadPost)
		return
	}
	name, msg := strings.TrimSpace(*body.Name), strings.TrimSpace(*body.Message)
	if name == "" || utf8.RuneCountInString(name) > MaxNameLen || !utf8.ValidString(name) {
		s.o.Fail(w, r, callPost, ErrName)
		return
	}
	if msg == "" || utf8.RuneCountInString(msg) > MaxMessageLen || !utf8.ValidString(msg) {
		s.o.Fail(w, r, callPost, ErrMessage)
		return
	}
	set := s.o.Settings()
	if set.Blocklist.Hit(name) || set.Blocklist.Hit(msg) {
		s.o.Fail(w, r, callPost, ErrBlocked)
		return
	}
	key := state.HashKey(token) + " " + clientAddr(r)
	if err := s.slow.allow(key, s.o.Now(), set.SlowMode); err != nil {
		if se, ok := errors.AsType[*SlowModeError](err); ok {
			w.Header().Set("Retry-After", se.RetryAfter())
		}
		s.o.Fail(w, r, callPost, err)
		return
	}
	if err := s.o.Send(ctx, l.MeetingID, name, msg); err != nil {
		s.o.Fail(w, r, callPost, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(`{"success":true,"message":"Message sent"}` + "\n"))
}
