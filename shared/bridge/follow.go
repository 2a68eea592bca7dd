package bridge

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// Follow starts a chat that follows the room r.ExternalID (docs/api.md, "Following a room"): it stores the room
// and, when current names the room's running meeting (InternalID set), starts that meeting's bridge now. A bridge
// started for the same meeting by a relay that saw the meeting created first is taken as this one. state.ErrExists
// when the room is followed already or the running meeting has a chat of its own; ErrTooManyBridges and
// ErrTooManyConsumers as Start (the room is then not followed).
func (l *Lifecycle) Follow(ctx context.Context, r state.Room, current state.Meeting, maxBridges int) (state.Room, state.Bridge, error) {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = l.now()
	}
	r.Bridge.FollowRoom = true
	r.Bridge.MeetingID, r.Bridge.ExternalID = current.InternalID, r.ExternalID
	tmpl := r.Bridge
	tmpl.CreatedAt = r.CreatedAt
	r, err := l.s.CreateRoom(ctx, r)
	if err != nil {
		return r, state.Bridge{}, err
	}
	if current.InternalID == "" {
		return r, state.Bridge{}, nil
	}
	b, err := l.Start(ctx, tmpl, maxBridges)
	if errors.Is(err, state.ErrExists) {
		if got, gerr := l.s.GetBridge(ctx, current.InternalID); gerr == nil && got.FollowRoom && got.ExternalID == r.ExternalID {
			return r, got, nil // made from the room by a relay that saw the meeting created
		}
	}
	if err != nil {
		_ = l.s.DeleteRoom(context.WithoutCancel(ctx), r.ExternalID)
		return r, b, err
	}
	return r, b, nil
}

// roomClockMargin is how much earlier than the meeting's creation a followed room's bridge starts.
const roomClockMargin = time.Minute

// RoomMeetingCreated makes the bridge of a meeting whose external id names a followed room, from the room's bridge
// (the same chat user, callback, secret and events), starting at the meeting's creation. Every relay of a pair
// calls it for the same event; it acts once (the room's compare-and-set, then the bridge's create). started is
// false when the room is not followed or its bridge for this meeting exists already.
func (l *Lifecycle) RoomMeetingCreated(ctx context.Context, m state.Meeting) (b state.Bridge, started bool, err error) {
	if m.ExternalID == "" || m.IsBreakout {
		return b, false, nil
	}
	r, err := l.s.GetRoom(ctx, m.ExternalID)
	if errors.Is(err, state.ErrNotFound) {
		return b, false, nil
	}
	if err != nil {
		return b, false, err
	}
	if r.Bridge.MeetingID != m.InternalID {
		if r, _, err = l.s.MoveRoom(ctx, m.ExternalID, m.InternalID); err != nil {
			return b, false, err
		}
		if r.Bridge.MeetingID != m.InternalID {
			return b, false, nil // no longer followed
		}
	}
	b = r.Bridge
	b.MeetingID, b.ExternalID, b.FollowRoom, b.Ending = m.InternalID, m.ExternalID, true, false
	b.CallbackState, b.After, b.Revision = "", "", 0
	// While the previous meeting's callbacks are still going out, this one's wait (CallbackHeld): the room's
	// receiver gets them in order. BBB runs one meeting per external id, so the previous one has ended, though its
	// end may not be applied yet (relay applies events of different meetings side by side). Should its end never
	// come (a gap in BBB's events), retryCallbacks releases the held bridge.
	if b.HasCallback() && r.Previous != "" {
		pb, err := l.s.GetBridge(ctx, r.Previous)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return b, false, err
		}
		if err == nil && pb.FollowRoom && pb.ExternalID == m.ExternalID && pb.HasCallback() &&
			pb.CallbackState != state.CallbackGone {
			b.CallbackState, b.After = state.CallbackHeld, r.Previous
		}
	}
	// The consumer starts at CreatedAt. BBB's clock stamped the creation, NATS's clock stamps the stream: start a
	// margin earlier, which costs nothing (the meeting's subjects hold nothing before its creation) and keeps its
	// first events when the clocks differ.
	b.CreatedAt = m.CreatedAt.Add(-roomClockMargin)
	if m.CreatedAt.IsZero() {
		b.CreatedAt = l.now().Add(-roomClockMargin)
	}
	// A room's next meeting is not refused for the bridge limit: the room was admitted when it was followed.
	b, err = l.Start(ctx, b, math.MaxInt)
	if errors.Is(err, state.ErrExists) {
		return b, false, nil
	}
	if err != nil {
		return b, false, err
	}
	if b.CallbackState == state.CallbackHeld {
		// The previous bridge may have finished before this one was stored; its Finish then found nothing to
		// release (releaseAfter), so release it here.
		if _, err := l.s.GetBridge(ctx, b.After); errors.Is(err, state.ErrNotFound) {
			if nb, err := l.release(ctx, b.MeetingID, b.After); err == nil {
				b = nb
			}
		}
	}
	return b, true, nil
}

// releaseAfter turns on the callbacks of the bridges held after finished, a followed room's bridge that is gone.
func (l *Lifecycle) releaseAfter(ctx context.Context, finished state.Bridge) error {
	if !finished.FollowRoom || !finished.HasCallback() {
		return nil
	}
	bs, err := l.s.Bridges(ctx)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.CallbackState == state.CallbackHeld && b.After == finished.MeetingID {
			if _, err := l.release(ctx, b.MeetingID, finished.MeetingID); err != nil && !errors.Is(err, state.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// release turns on the callbacks of a bridge held after the meeting after.
func (l *Lifecycle) release(ctx context.Context, meetingID, after string) (state.Bridge, error) {
	return l.s.UpdateBridge(ctx, meetingID, func(b *state.Bridge) bool {
		if b.CallbackState != state.CallbackHeld || b.After != after {
			return false
		}
		b.CallbackState, b.After = state.CallbackActive, ""
		return true
	})
}

// Unfollow stops following a room and ends every bridge made for it: its running meeting's, and earlier ones
// still delivering their callbacks. state.ErrNotFound when the room was not followed.
func (l *Lifecycle) Unfollow(ctx context.Context, ext string) (state.Room, error) {
	r, err := l.s.GetRoom(ctx, ext)
	if err != nil {
		return r, err
	}
	if err := l.s.DeleteRoom(ctx, ext); err != nil && !errors.Is(err, state.ErrNotFound) {
		return r, err
	}
	bs, err := l.s.Bridges(ctx)
	if err != nil {
		return r, err
	}
	for _, b := range bs {
		if b.FollowRoom && b.ExternalID == ext {
			if err := l.End(ctx, b.MeetingID); err != nil && !errors.Is(err, state.ErrNotFound) {
				return r, err
			}
		}
	}
	return r, nil
}
