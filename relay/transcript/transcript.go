// Package transcript writes the final public chat of every meeting that ends into the transcripts bucket
// (state.BucketTranscripts), as JSON (shared/history's format), so it outlives the events stream. It belongs to
// relay. The relays share one durable consumer of the meetings' ends (state.EndedMeetings): each end is handled by
// one relay at a time, acknowledged once its transcript is stored, and handled again by a relay when the one
// holding it died. A meeting that already has a transcript is not written again: one transcript per meeting,
// however many relays run.
//
// A transcript is streamed from the stream to the bucket, a page of messages at a time (history.TranscriptPage):
// it is never whole in memory. Once a meeting's end is handled it stores the meeting's transcript event
// (state.TypeTranscript) when the meeting's bridge asked for the transcript callback, which relay/callback
// delivers. It changes nothing else.
package transcript

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure the writer.
type Options struct {
	Log      *slog.Logger
	MaxAge   time.Duration // how long transcripts are kept; 0: none are written
	Replicas int
	// Written, when set, is told of each transcript stored (tests, metrics).
	Written func(meetingID string)
}

// Run writes the transcripts of the meetings that end until ctx ends. With MaxAge 0 it writes none, but still
// stores each meeting's transcript event, so bridges waiting for their transcript callback end.
func Run(ctx context.Context, s *state.Store, o Options) {
	retry := backoff.Exponential{Min: 250 * time.Millisecond, Max: 10 * time.Second}
	for attempt := 1; ctx.Err() == nil; attempt++ {
		err := consume(ctx, s, o)
		if ctx.Err() != nil {
			return
		}
		if attempt == 1 || attempt%20 == 0 {
			o.Log.Warn("transcripts: cannot read the meetings' ends, retrying", "err", err)
		}
		if !service.Sleep(ctx, retry.Delay(attempt)) {
			return
		}
	}
}

func consume(ctx context.Context, s *state.Store, o Options) error {
	if o.MaxAge > 0 {
		if err := s.EnsureTranscripts(ctx, o.MaxAge, o.Replicas); err != nil {
			return err
		}
	}
	c, err := s.EndedMeetings(ctx)
	if err != nil {
		return err
	}
	// One at a time: an end waiting in this relay's buffer would count down its ack wait while another is written.
	it, err := c.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		handle(ctx, s, o, msg)
	}
}

// handle writes the transcript of one meeting's end, unless it has one, and acknowledges the end; it asks for
// the end again a little later when it could not.
func handle(ctx context.Context, s *state.Store, o Options, msg jetstream.Msg) {
	var e state.Event
	if err := state.DecodeEvent(msg.Data(), &e); err != nil || e.MeetingID == "" {
		o.Log.Warn("transcripts: not a meeting's end, skipped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	log := o.Log.With("meeting", e.MeetingID)
	var err error
	stored := false
	if o.MaxAge > 0 {
		stored, err = write(ctx, s, e, msg)
	}
	switch {
	case err == nil:
		if stored && o.Written != nil {
			o.Written(e.MeetingID)
		}
	case errors.Is(err, history.ErrNoHistory):
		log.Info("transcripts: no events of the meeting are stored (deleted?); no transcript")
	case ctx.Err() != nil:
		_ = msg.Nak() // another relay, or this one after its restart, writes it
		return
	default:
		log.Warn("transcripts: cannot write the transcript, trying again", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	if err := announce(ctx, s, e); err != nil {
		log.Warn("transcripts: cannot store the transcript event, trying again", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		log.Warn("transcripts: acknowledgement lost; the transcript is not written twice", "err", err)
	}
}

// write stores the transcript of the meeting e ended, unless there is one already, and says whether it did.
func write(ctx context.Context, s *state.Store, e state.Event, msg jetstream.Msg) (bool, error) {
	if _, err := s.TranscriptOf(ctx, e.MeetingID); err == nil {
		return false, nil
	} else if !errors.Is(err, state.ErrNotFound) {
		return false, err
	}
	m, err := history.Lookup(ctx, s, e.MeetingID)
	if err != nil {
		return false, err
	}
	ext := e.ExternalMeetingID
	if ext == "" {
		ext = m.ExternalMeetingID
	}
	m.ExternalMeetingID = ext
	// Keep the end with this relay while it writes.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(state.TranscriptAckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	pr, pw := io.Pipe()
	go func() {
		w, _ := history.NewWriter(history.FormatJSON, pw, nil)
		pw.CloseWithError(history.Write(wctx, s, m, w))
	}()
	err = s.PutTranscript(wctx, e.MeetingID, ext, pr)
	pr.CloseWithError(errors.New("transcript: not stored"))
	return err == nil, err
}

// announce stores the meeting's transcript event when its bridge asked for the transcript callback: relay/callback
// delivers the transcript from it, and the bridge, which waits for it, ends after it. Other meetings get none.
func announce(ctx context.Context, s *state.Store, e state.Event) error {
	b, err := s.GetBridge(ctx, e.MeetingID)
	if errors.Is(err, state.ErrNotFound) || err == nil && !b.Wants(state.KindTranscript) {
		return nil
	}
	if err != nil {
		return err
	}
	te := state.Event{Type: state.TypeTranscript, ID: state.TranscriptEventID(e.MeetingID), MeetingID: e.MeetingID,
		ExternalMeetingID: e.ExternalMeetingID, Timestamp: e.Timestamp, BBBVersion: e.BBBVersion}
	payload, _ := state.EncodeEvent(te)
	if _, err := s.PublishEvent(ctx, te, payload); err != nil && !errors.Is(err, state.ErrDuplicate) {
		return err
	}
	return nil
}
