package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// The transcript callback (callback_events "transcript"): relay/transcript stores a meeting's transcript event
// (state.TypeTranscript) after the meeting's end, once the transcript is in its bucket. A bridge that asked for it
// does not end at the meeting's end but at that event, after its delivery: the body carries the transcript as
// getChatTranscript's json, read from the bucket (or, with transcripts off, folded from the stream).

// errNotNow reports that a body could not be built yet (NATS did not answer): the event is tried again.
var errNotNow = errors.New("callback: body not available yet")

// maxTranscriptBytes bounds a transcript sent in one callback body.
const maxTranscriptBytes = 64 << 20

// bodyOf builds an event's body: Body's, or the transcript's.
func (w *worker) bodyOf(e state.Event, b state.Bridge, unix int64) ([]byte, error) {
	if e.Type != state.TypeTranscript {
		_, body, err := Body(e, b, unix)
		return body, err
	}
	ctx, cancel := context.WithTimeout(w.m.hard, time.Minute)
	defer cancel()
	raw, err := transcriptJSON(ctx, w.m.o.Store, e.MeetingID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotNow, err)
	}
	return TranscriptBody(e, b, raw, unix)
}

// transcriptJSON is a meeting's transcript as stored, or folded from the stream when none is stored.
func transcriptJSON(ctx context.Context, s *state.Store, meetingID string) ([]byte, error) {
	r, err := s.OpenTranscript(ctx, meetingID)
	if err == nil {
		defer r.Close()
		return io.ReadAll(io.LimitReader(r, maxTranscriptBytes))
	}
	if !errors.Is(err, state.ErrNotFound) {
		return nil, err
	}
	var buf bytes.Buffer
	m, err := history.Lookup(ctx, s, meetingID)
	if errors.Is(err, history.ErrNoHistory) {
		m = history.Meeting{MeetingID: meetingID}
		w, _ := history.NewWriter(history.FormatJSON, &buf, nil)
		if err := w.Begin(m.Header(), nil); err != nil {
			return nil, err
		}
		return buf.Bytes(), w.End()
	}
	if err != nil {
		return nil, err
	}
	w, _ := history.NewWriter(history.FormatJSON, &buf, nil)
	if err := history.Write(ctx, s, m, w); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TranscriptBody is the transcript callback's body: {"type": "transcript", "meeting_id", "timestamp" (of the
// meeting's end), "transcript": {...}, "checksum"}, signed like every body with the call name "transcript".
func TranscriptBody(e state.Event, b state.Bridge, transcript []byte, unix int64) ([]byte, error) {
	t, err := pyjson.Parse(transcript)
	if err != nil {
		return nil, fmt.Errorf("callback: stored transcript: %w", err)
	}
	meetingID := callbackMeetingID(b)
	ms := []pyjson.Member{
		{Key: "type", Value: pyjson.String(state.TypeTranscript)},
		{Key: "meeting_id", Value: pyjson.String(meetingID)},
		{Key: "timestamp", Value: pyjson.Int(e.Timestamp)},
		{Key: "transcript", Value: t},
	}
	return checksum.SignedBody(state.KindTranscript, pyjson.Object(ms...), b.CallbackSecret, unix), nil
}

// waitsForTranscript reports whether msg is the meeting's end of a bridge that ends only after its transcript.
func (w *worker) waitsForTranscript(msg *nats.Msg) bool {
	return w.bridge.Load().Wants(state.KindTranscript) && strings.HasSuffix(msg.Subject, "."+state.TypeMeetingEnded)
}
