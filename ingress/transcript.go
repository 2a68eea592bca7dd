package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// transcriptTimeout bounds the writing of one transcript (the server's write timeout bounds it too).
const transcriptTimeout = 25 * time.Second

var transcriptTypes = map[string]string{
	history.FormatJSON: "application/json",
	history.FormatText: "text/plain; charset=utf-8",
	history.FormatHTML: "text/html; charset=utf-8",
}

var transcriptExt = map[string]string{history.FormatJSON: "json", history.FormatText: "txt", history.FormatHTML: "html"}

// transcript answers getChatTranscript: the transcript relay stored when the meeting ended, else (the meeting
// runs, or transcripts are off) the same folded from the stream. Either is streamed to the client, never whole
// in memory.
func (a *api) transcript(ctx context.Context, s *state.Store, req request) (response, error) {
	loc := time.UTC
	if req.tz != "" {
		l, err := time.LoadLocation(req.tz)
		if err != nil || req.tz == "Local" {
			return response{}, badParam("tz", "is not a time zone name (IANA, like Europe/Vienna)")
		}
		loc = l
	}
	id, err := a.historyMeeting(ctx, s, req.meetingID)
	if err != nil {
		return response{}, err
	}
	var write func(ctx context.Context, w io.Writer) error
	stored, err := s.OpenTranscript(ctx, id)
	switch {
	case err == nil:
		write = func(ctx context.Context, w io.Writer) error {
			defer stored.Close()
			if req.format == history.FormatJSON {
				_, err := io.Copy(w, stored)
				return err
			}
			hw, err := history.NewWriter(req.format, w, loc)
			if err != nil {
				return err
			}
			return history.Copy(stored, hw)
		}
	case errors.Is(err, state.ErrNotFound):
		m, err := history.Lookup(ctx, s, id)
		if err != nil {
			return response{}, err
		}
		write = func(ctx context.Context, w io.Writer) error {
			hw, err := history.NewWriter(req.format, w, loc)
			if err != nil {
				return err
			}
			return history.Write(ctx, s, m, hw)
		}
	default:
		return response{}, err
	}
	return response{stream: func(ctx context.Context, w http.ResponseWriter) error {
		h := w.Header()
		h.Set("Content-Type", transcriptTypes[req.format])
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Disposition", `inline; filename="chat-`+state.Key(id)+"."+transcriptExt[req.format]+`"`)
		if req.format == history.FormatHTML {
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		}
		w.WriteHeader(http.StatusOK)
		return write(ctx, w)
	}}, nil
}

// streamed writes an answer that writes itself. The status is sent before the body: an error while writing it
// can only cut the answer short, which the client sees as an incomplete body; it is logged.
func (a *api) streamed(w http.ResponseWriter, r *http.Request, name string, stream func(context.Context, http.ResponseWriter) error) {
	ctx, cancel := context.WithTimeout(r.Context(), transcriptTimeout)
	defer cancel()
	if err := stream(ctx, w); err != nil {
		a.logFor(r.Context()).Warn("answer cut short", "call", name, "err", err)
	}
	a.answered(r, name, http.StatusOK, nil)
}
