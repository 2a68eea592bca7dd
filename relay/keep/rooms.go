package keep

import (
	"context"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// roomMeeting gives a created meeting whose external id names a followed room its bridge (bridge.Lifecycle's
// RoomMeetingCreated: once, whichever relay is first), and forgets that an earlier meeting of that id ended.
func (u *Updater) roomMeeting(ctx context.Context, s *state.Store, m state.Meeting) error {
	if m.ExternalID == "" {
		return nil
	}
	if err := s.ForgetEnded(ctx, m.ExternalID); err != nil {
		return err
	}
	b, started, err := bridge.New(s, bridge.Options{Now: u.now}).RoomMeetingCreated(ctx, m)
	if err != nil {
		return err
	}
	if started {
		u.log.Info("followed room's meeting started: bridge made for it", "meeting", b.MeetingID,
			"external_meeting_id", b.ExternalID, "callback", b.HasCallback())
	}
	return nil
}

// recordEnded remembers that a meeting ended, and when (BBB's time), so a call for its chat says so.
func (u *Updater) recordEnded(ctx context.Context, s *state.Store, ev state.Event) error {
	e := state.EndedMeeting{InternalID: ev.MeetingID, ExternalID: ev.ExternalMeetingID, EndedAt: u.now().UTC()}
	if ev.Timestamp != 0 {
		e.EndedAt = time.UnixMilli(ev.Timestamp).UTC()
	}
	if e.ExternalID == "" {
		if m, err := s.MeetingByInternal(ctx, ev.MeetingID); err == nil {
			e.ExternalID = m.ExternalID
		}
	}
	return s.PutEnded(ctx, e)
}
