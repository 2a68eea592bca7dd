package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/ingress/viewer"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

func TestCreateViewerLinkParams(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		canPost    bool
		expiresIn  time.Duration
		err        string
	}{
		{"defaults", `{"meeting_id": "m"}`, true, 24 * time.Hour, ""},
		{"read-only, an hour", `{"meeting_id": "m", "can_post": false, "expires_in": 3600}`, false, time.Hour, ""},
		{"nulls are absent", `{"meeting_id": "m", "can_post": null, "expires_in": null}`, true, 24 * time.Hour, ""},
		{"30 days", `{"meeting_id": "m", "expires_in": 2592000}`, true, 30 * 24 * time.Hour, ""},
		{"over 30 days", `{"meeting_id": "m", "expires_in": 2592001}`, false, 0, "Parameter expires_in must be a whole number of seconds from 1 to 2592000"},
		{"zero", `{"meeting_id": "m", "expires_in": 0}`, false, 0, "expires_in"},
		{"fraction", `{"meeting_id": "m", "expires_in": 1.5}`, false, 0, "expires_in"},
		{"string seconds", `{"meeting_id": "m", "expires_in": "60"}`, false, 0, "expires_in"},
		{"string bool", `{"meeting_id": "m", "can_post": "false"}`, false, 0, "Parameter can_post must be true or false, not string."},
		{"no meeting", `{"can_post": true}`, false, 0, "Parameter meeting_id is missing."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pyjson.Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			r, err := decodeRequest(callCreateViewerLink, p, "")
			if tc.err != "" {
				status, msg := statusOf(err)
				if err == nil || status != http.StatusBadRequest || !strings.Contains(msg, tc.err) {
					t.Fatalf("got %v (%d %q), want 400 with %q", err, status, msg, tc.err)
				}
				return
			}
			if err != nil || r.meetingID != "m" || r.viewer.canPost != tc.canPost || r.viewer.expiresIn != tc.expiresIn {
				t.Fatalf("got %+v, %v", r, err)
			}
		})
	}
}

func TestViewerSettings(t *testing.T) {
	cfg, err := config.LoadIngress(func(k string) string {
		return map[string]string{"BBB_CHAT_SHARED_SECRET": "new", "BBB_CHAT_SHARED_SECRET_OLD": "old",
			"BBB_CHAT_VIEWER_FRAME_ANCESTORS": "self https://tv.example.org", "BBB_CHAT_PUBLIC_URL": "https://b.example.org/bbb-chat"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := viewerSettings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Links are signed with the current secret's key; the old secret's still verifies.
	if len(s.Keys) != 2 || string(s.Keys[0]) != string(viewer.Key("new")) || string(s.Keys[1]) != string(viewer.Key("old")) {
		t.Fatal("link keys are not the current secret's, then the old one's")
	}
	if s.FrameAncestors != "'self' https://tv.example.org" || s.Template != "{user_name} (stream): {message}" ||
		s.SlowMode != 5*time.Second || s.PublicURL != "https://b.example.org/bbb-chat" || s.MaxStreamsPerIP != 20 {
		t.Fatalf("settings %+v", s)
	}
	cfg.ViewerBlocklistFile = "/nonexistent/words"
	if _, err := viewerSettings(cfg); err == nil {
		t.Fatal("a missing word list was accepted")
	}
}

func TestViewerErrorsInTable(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{viewer.ErrLinkInvalid, 404}, {viewer.ErrLinkExpired, 410}, {viewer.ErrLinkRevoked, 410},
		{viewer.ErrReadOnly, 403}, {viewer.ErrName, 400}, {viewer.ErrMessage, 400}, {viewer.ErrBadPost, 400},
		{viewer.ErrBlocked, 422}, {&viewer.SlowModeError{Wait: time.Second}, 429}, {viewer.ErrTooManyStreams, 429},
		{viewer.ErrMethod, 405}, {viewer.ErrNotFound, 404},
	} {
		if status, msg := statusOf(tc.err); status != tc.status || msg == "" || msg == "Internal error" {
			t.Errorf("%v answers %d %q, want %d", tc.err, status, msg, tc.status)
		}
	}
}
