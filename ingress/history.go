package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// The chat's history and transcripts (docs/api.md): getChatHistory answers a page of the public chat folded from
// the events stream (shared/history), getChatTranscript the whole of it (transcript.go), deleteChatHistory
// removes a meeting's events and transcript.

const maxCursorLen = 32

// historyParams reads getChatHistory's and getChatTranscript's parameters.
func historyParams(p pyjson.Value, r *request) error {
	var err error
	if r.meetingID, err = param(p, "meeting_id", true, maxIDLen); err != nil {
		return err
	}
	if r.call == callTranscript {
		if r.format, err = param(p, "format", false, 8); err != nil {
			return err
		}
		switch r.format {
		case "":
			r.format = history.FormatJSON
		case history.FormatJSON, history.FormatText, history.FormatHTML:
		default:
			return badParam("format", "must be %s, %s or %s", history.FormatJSON, history.FormatText, history.FormatHTML)
		}
		r.tz, err = param(p, "tz", false, 64)
		return err
	}
	if r.after, err = param(p, "after", false, maxCursorLen); err != nil {
		return err
	}
	if _, err := history.ParseCursor(r.after); err != nil {
		return badParam("after", "is not a cursor this API gave (use the next of an earlier answer)")
	}
	v, present := p.Lookup("limit")
	if !present || v.Kind() == pyjson.KindNull {
		return nil
	}
	n, isInt := v.Int64()
	if !isInt {
		if s, isStr := v.Str(); isStr {
			n, err = strconv.ParseInt(s, 10, 64)
			isInt = err == nil
		}
	}
	if !isInt || n < 1 || n > history.MaxLimit {
		return badParam("limit", "must be a whole number from 1 to %d", history.MaxLimit)
	}
	r.limit = int(n)
	return nil
}

// historyMeeting is the internal id of the meeting a client names by its internal or external id: as ingress
// resolves ids elsewhere, and, for a meeting that ended (whose ids relay forgot), through its transcript.
func (a *api) historyMeeting(ctx context.Context, s *state.Store, id string) (string, error) {
	m, known, err := a.reads(s).ResolveMeeting(ctx, id)
	if err != nil {
		return "", err
	}
	if known {
		return m.InternalID, nil
	}
	t, err := s.TranscriptByExternal(ctx, id)
	switch {
	case err == nil:
		return t.MeetingID, nil
	case errors.Is(err, state.ErrNotFound):
		return id, nil
	default:
		return "", err
	}
}

func (a *api) chatHistory(ctx context.Context, s *state.Store, req request) (response, error) {
	id, err := a.historyMeeting(ctx, s, req.meetingID)
	if err != nil {
		return response{}, err
	}
	p, err := history.Read(ctx, s, id, req.after, req.limit)
	if errors.Is(err, history.ErrBadCursor) {
		return response{}, badParam("after", "is not a cursor this API gave (use the next of an earlier answer)")
	}
	if err != nil {
		return response{}, err
	}
	msg := "Chat history"
	extra := map[string]any{"meeting_id": id, "messages": p.Messages, "next": p.Next, "gaps": p.Gaps,
		"ended": p.EndedAt != 0}
	if p.Messages == nil {
		extra["messages"] = []history.Message{}
	}
	if p.Gaps == nil {
		extra["gaps"] = []history.Gap{}
	}
	if p.ClearedAt != 0 {
		at := time.UnixMilli(p.ClearedAt).UTC().Format(time.RFC3339)
		extra["cleared_at"] = p.ClearedAt
		msg = fmt.Sprintf("Chat history; the public chat was cleared at %s, which hides the messages before it", at)
	}
	return ok(msg, extra), nil
}

func (a *api) deleteHistory(ctx context.Context, s *state.Store, req request) (response, error) {
	id, err := a.historyMeeting(ctx, s, req.meetingID)
	if err != nil {
		return response{}, err
	}
	_, errEvents := s.LastStored(ctx, state.MeetingFilter(id))
	_, errTranscript := s.TranscriptOf(ctx, id)
	for _, err := range []error{errEvents, errTranscript} {
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return response{}, err
		}
	}
	if errors.Is(errEvents, state.ErrNotFound) && errors.Is(errTranscript, state.ErrNotFound) {
		return response{}, history.ErrNoHistory
	}
	if err := s.DeleteMeetingEvents(ctx, id); err != nil {
		return response{}, err
	}
	if err := s.DeleteTranscript(ctx, id); err != nil {
		return response{}, err
	}
	a.logFor(ctx).Info("chat history deleted", "meeting_id", id)
	return ok("Chat history deleted: the meeting's events and its transcript", map[string]any{"meeting_id": id}), nil
}
