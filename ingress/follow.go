package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// A chat that follows a room, and the answers for meetings that are not running (docs/api.md, "Following a room"
// and "Meetings that are not running").

// unknownMeetingWarning is startChatForMeeting's warning for a meeting neither relay nor BBB's API knows.
func unknownMeetingWarning(id string) string {
	return fmt.Sprintf("No meeting %q is known (relay has not seen it created, and BBB's API does not know it): the chat "+
		"waits for a meeting with this internal id. If %q is an external meeting id, start the chat with "+
		"follow_room: true instead, so it starts with the room's next meeting.", id, id)
}

// startFollow is startChatForMeeting with follow_room: the chat follows the room (the external meeting id) across
// its meetings, starting with the running one, if any.
func (a *api) startFollow(ctx context.Context, s *state.Store, req request) (response, error) {
	m, known, err := a.resolve(ctx, s, req.meetingID)
	if err != nil {
		return response{}, err
	}
	ext, current := req.meetingID, state.Meeting{}
	if known {
		current = m
		if m.ExternalID != "" {
			ext = m.ExternalID
		}
	}
	events := req.callbackEvents
	if probe := (state.Bridge{CallbackURI: req.callbackURI, CallbackEvents: events}); probe.HasCallback() && !probe.Wants(state.TypeMeetingEnded) {
		// A room's receiver learns when each of its meetings ends (and starts: state.Bridge.Wants).
		events = append(slices.Clone(events), state.TypeMeetingEnded)
	}
	r, b, err := a.lifecycle(s).Follow(ctx, state.Room{ExternalID: ext, Bridge: state.Bridge{
		RequestedID: req.meetingID, ChatUser: req.chatUser, CallbackURI: req.callbackURI,
		CallbackSecret: req.callbackSecret, CallbackEvents: events,
	}, CreatedAt: a.now()}, current, a.cfg.MaxBridges)
	if err != nil {
		return response{}, a.startError(err)
	}
	out := map[string]any{
		"meeting_id": b.MeetingID, "external_meeting_id": r.ExternalID, "meeting_known": known,
		"follow_room": true, "waiting": b.MeetingID == "", "chat_user_present": false,
	}
	if b.MeetingID == "" {
		out["warning"] = fmt.Sprintf("No meeting of room %q is running: the chat starts with its next meeting.", ext)
	} else {
		_, out["chat_user_present"] = a.chatUser(ctx, s, b)
	}
	a.logFor(ctx).Info("chat started, following its room", "meeting_id", b.MeetingID, "external_meeting_id", ext,
		"callback", req.callbackURI != "", "waiting", b.MeetingID == "")
	return ok("Chat was started", out), nil
}

// roomOf is the followed room a client's meeting id names (an external id, or the internal id of a meeting of the
// room); ErrNotFound when it names none.
func (a *api) roomOf(ctx context.Context, s *state.Store, meetingID string) (state.Room, error) {
	if m, known, err := a.reads(s).ResolveMeeting(ctx, meetingID); err != nil {
		return state.Room{}, err
	} else if known && m.ExternalID != "" && m.ExternalID != meetingID {
		if r, err := s.GetRoom(ctx, m.ExternalID); !errors.Is(err, state.ErrNotFound) {
			return r, err
		}
	}
	return s.GetRoom(ctx, meetingID)
}

// endFollow is endChatForMeeting for a followed room: the room is no longer followed and the bridge of its running
// meeting ends. done is false when the id names no followed room (a chat of one meeting, then).
func (a *api) endFollow(ctx context.Context, s *state.Store, req request) (done bool, _ response, _ error) {
	r, err := a.roomOf(ctx, s, req.meetingID)
	if errors.Is(err, state.ErrNotFound) {
		return false, response{}, nil
	}
	if err != nil {
		return true, response{}, err
	}
	if r, err = a.lifecycle(s).Unfollow(ctx, r.ExternalID); errors.Is(err, state.ErrNotFound) {
		return true, response{}, errChatNotFound
	} else if err != nil {
		return true, response{}, err
	}
	a.logFor(ctx).Info("chat ended, no longer following its room", "external_meeting_id", r.ExternalID,
		"meeting_id", r.Bridge.MeetingID)
	return true, ok("Chat was ended", map[string]any{"meeting_id": r.Bridge.MeetingID,
		"external_meeting_id": r.ExternalID, "follow_room": true}), nil
}

// whyNoChat says why a client's meeting id has no chat: it follows a room with no running meeting, its meeting
// ended (and when), or there is none.
func (a *api) whyNoChat(ctx context.Context, s *state.Store, meetingID string, m state.Meeting) error {
	ended := func() (state.EndedMeeting, bool) {
		for _, id := range []string{meetingID, m.InternalID} {
			if e, err := s.Ended(ctx, id); err == nil {
				return e, true
			}
		}
		return state.EndedMeeting{}, false
	}
	if e, err := s.Ended(ctx, meetingID); err == nil && e.InternalID == meetingID {
		// That very meeting ended (a followed room's too: its chat goes on with the room's next meeting).
		return withDetail(errMeetingEnded, "the meeting ended at %s", e.EndedAt.UTC().Format(time.RFC3339))
	}
	if r, err := a.roomOf(ctx, s, meetingID); err == nil {
		if e, ok := ended(); ok {
			return withDetail(errRoomWaiting, "room %q, whose last meeting ended at %s; the chat starts again with the next one",
				r.ExternalID, e.EndedAt.UTC().Format(time.RFC3339))
		}
		return withDetail(errRoomWaiting, "room %q; the chat starts with its next meeting", r.ExternalID)
	}
	if e, ok := ended(); ok {
		return withDetail(errMeetingEnded, "the meeting ended at %s", e.EndedAt.UTC().Format(time.RFC3339))
	}
	return errChatNotFound
}

// roomInfo is getChatInfo for a followed room with no running meeting: the chat, waiting, and when its last
// meeting ended.
func (a *api) roomInfo(ctx context.Context, s *state.Store, meetingID string) (response, error) {
	r, err := a.roomOf(ctx, s, meetingID)
	if err != nil {
		return response{}, err
	}
	b := r.Bridge
	out := map[string]any{
		"meeting_id": "", "external_meeting_id": r.ExternalID, "chat_user": b.ChatUser, "chat_user_present": false,
		"created_at": r.CreatedAt.UTC().Format(time.RFC3339), "ending": false, "follow_room": true, "waiting": true,
		"callback": nil,
	}
	if b.HasCallback() {
		// The room's callback, with nothing to deliver until its next meeting.
		out["callback"] = map[string]any{"uri": redactURI(b.CallbackURI), "state": state.CallbackActive,
			"events": b.Kinds(), "pending": 0, "max_pending": a.cfg.MaxPending, "overloaded": false, "delivered": 0,
			"failed": 0, "retries": 0, "last_error": ""}
	}
	if e, err := s.Ended(ctx, r.ExternalID); err == nil {
		out["last_meeting_id"] = e.InternalID
		out["last_meeting_ended_at"] = e.EndedAt.UTC().Format(time.RFC3339)
	}
	return ok("Chat info", out), nil
}

// followedRooms is runningChats' list of the followed rooms: each room's external id, chat user, the meeting its
// chat runs in now ("" while it waits) and whether it waits.
func (a *api) followedRooms(ctx context.Context, s *state.Store) ([]map[string]any, error) {
	rs, err := s.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(rs))
	for _, r := range rs {
		current := ""
		if id := r.Bridge.MeetingID; id != "" {
			if b, err := a.reads(s).GetBridge(ctx, id); err == nil && !b.Ending {
				current = id
			}
		}
		out = append(out, map[string]any{"external_meeting_id": r.ExternalID, "chat_user": r.Bridge.ChatUser,
			"meeting_id": current, "waiting": current == "", "callback": r.Bridge.HasCallback()})
	}
	return out, nil
}

// notFollowed refuses a chat of one meeting for a room a chat follows already (by its external id, or a meeting of
// it): that chat is the room's.
func (a *api) notFollowed(ctx context.Context, s *state.Store, meetingID string, m state.Meeting) error {
	for _, ext := range []string{m.ExternalID, meetingID} {
		if ext == "" {
			continue
		}
		_, err := s.GetRoom(ctx, ext)
		if err == nil {
			return withDetail(errChatExists, "a chat follows room %q (endChatForMeeting ends it)", ext)
		}
		if !errors.Is(err, state.ErrNotFound) {
			return err
		}
	}
	return nil
}
