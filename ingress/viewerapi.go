package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/bbb-chat/bbb-chat/ingress/viewer"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/julienschmidt/httprouter"
)

// The viewer page's calls and routes: minting and revoking links (API calls), and /chat/ (ingress/viewer).

// defaultViewerLinkAge is how long a viewer link lives unless expires_in says otherwise.
const defaultViewerLinkAge = 24 * time.Hour

// viewerParams are createViewerLink's parameters besides the meeting.
type viewerParams struct {
	canPost   bool
	expiresIn time.Duration
}

func decodeViewerParams(p pyjson.Value) (viewerParams, error) {
	vp := viewerParams{canPost: true, expiresIn: defaultViewerLinkAge}
	if v, ok := p.Lookup("can_post"); ok && v.Kind() != pyjson.KindNull {
		b, isBool := v.Boolean()
		if !isBool {
			return vp, badParam("can_post", "must be true or false, not %s", v.Kind())
		}
		vp.canPost = b
	}
	if v, ok := p.Lookup("expires_in"); ok && v.Kind() != pyjson.KindNull {
		maxSecs := int64(state.ViewerLinkMaxAge / time.Second)
		n, isInt := v.Int64()
		if !isInt || n < 1 || n > maxSecs {
			return vp, badParam("expires_in", "must be a whole number of seconds from 1 to %d (30 days)", maxSecs)
		}
		vp.expiresIn = time.Duration(n) * time.Second
	}
	return vp, nil
}

// templateOr is the template a post is rendered with: the viewer page's, else def (BBB_CHAT_MESSAGE_TEMPLATE).
func (r request) templateOr(def string) string {
	if r.template != "" {
		return r.template
	}
	return def
}

// viewerSettings turns the configuration into the viewer's settings: link keys from the shared secrets (the old
// secret's still verifies links until they expire), the word list read now.
func viewerSettings(cfg config.Ingress) (*viewer.Settings, error) {
	bl, err := viewer.LoadBlocklist(cfg.ViewerBlocklistFile)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for _, s := range cfg.Secrets() {
		keys = append(keys, viewer.Key(s))
	}
	var anc []string
	for _, a := range strings.Fields(cfg.ViewerFrameAncestors) {
		switch a {
		case "self", "none":
			a = "'" + a + "'"
		}
		anc = append(anc, a)
	}
	return &viewer.Settings{
		Keys: keys, SlowMode: cfg.ViewerSlowMode, Blocklist: bl, FrameAncestors: strings.Join(anc, " "),
		MaxStreamsPerIP: cfg.ViewerMaxStreams, PublicURL: cfg.PublicURL, Template: cfg.ViewerRenderTemplate(),
	}, nil
}

func (a *api) createViewerLink(ctx context.Context, s *state.Store, req request) (response, error) {
	m, known, err := a.resolve(ctx, s, req.meetingID)
	if err != nil {
		return response{}, err
	}
	set := a.live.viewer.Load()
	now := a.now()
	l := viewer.Link{MeetingID: m.InternalID, CanPost: req.viewer.canPost, IssuedAt: now,
		ExpiresAt: now.Add(req.viewer.expiresIn)}
	token := viewer.Sign(set.Keys[0], l)
	a.logFor(ctx).Info("viewer link created", "meeting_id", m.InternalID, "can_post", l.CanPost,
		"expires_at", l.ExpiresAt.UTC().Format(time.RFC3339), "token", viewer.Redact(token))
	return ok("Viewer link created", map[string]any{
		"url": viewer.URL(set.PublicURL, token), "token": token, "expires_at": l.ExpiresAt.UTC().Format(time.RFC3339),
		"meeting_id": m.InternalID, "meeting_known": known, "can_post": l.CanPost,
	}), nil
}

func (a *api) revokeViewerLinks(ctx context.Context, s *state.Store, req request) (response, error) {
	m, _, err := a.resolve(ctx, s, req.meetingID)
	if err != nil {
		return response{}, err
	}
	if err := s.RevokeViewerLinks(ctx, m.InternalID, a.now()); err != nil {
		return response{}, err
	}
	a.logFor(ctx).Info("viewer links revoked", "meeting_id", m.InternalID)
	return ok("Viewer links revoked", map[string]any{"meeting_id": m.InternalID}), nil
}

// viewerRoutes serves /chat/ with ingress/viewer; its posts go through send, as sendChatMessage's do, and on BBB 3.0
// and later also into a running meeting whose chat was not started (through BBB's chat API, under the viewer's name).
func (a *api) viewerRoutes(r *httprouter.Router) {
	v := viewer.New(viewer.Options{
		Log:      a.log,
		Now:      a.now,
		Settings: a.live.viewer.Load,
		Store:    a.store.Load,
		Send: func(ctx context.Context, meetingID, name, message string) error {
			s := a.store.Load()
			if s == nil || !s.AwaitConnected(ctx) {
				return state.ErrUnavailable
			}
			req := request{call: callSend, meetingID: meetingID, userName: name, message: message,
				template: a.live.viewer.Load().Template, withoutChat: true}
			switch server, elsewhere, err := a.hostOf(ctx, s, req); {
			case err != nil:
				return err
			case elsewhere:
				return a.sendOn(ctx, server, req) // a meeting of another server of the fleet (fleet.go)
			}
			_, err := a.send(ctx, s, req)
			return err
		},
		Fail:   a.fail,
		Status: statusOf,
	})
	a.viewerPage = v
	// v reads the path itself: no route parameters in the request's context (which would copy every request).
	serve := func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { v.ServeHTTP(w, r) }
	r.GET("/chat/*path", serve)
	r.POST("/chat/*path", serve)
}
