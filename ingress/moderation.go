package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// maxEditLen is the longest text akka-apps takes in an edit, in UTF-16 units like Java's String.length
// (docs/protocol.md §9).
const maxEditLen = 5000

// decodeModeration reads editChatMessage's and deleteChatMessage's parameters: meeting_id, message_id and, for an
// edit, message and the optional user_name the text is templated with.
func decodeModeration(call string, p pyjson.Value) (request, error) {
	r := request{call: call}
	var err error
	if r.meetingID, err = param(p, "meeting_id", true, maxIDLen); err != nil {
		return r, err
	}
	if r.messageID, err = param(p, "message_id", true, maxIDLen); err != nil {
		return r, err
	}
	if call == callEdit {
		if r.message, err = param(p, "message", true, maxMessageLen); err != nil {
			return r, err
		}
		if r.userName, err = param(p, "user_name", false, maxUserNameLen); err != nil {
			return r, err
		}
	}
	return r, nil
}

// target is what a moderation call acts on: the bridge, the chat user as BBB knows it, and the message.
type target struct {
	b       state.Bridge
	v       bbb.Version
	user    state.Presence
	meeting state.Meeting
	msg     state.Event
}

// moderationTarget finds what an edit or a deletion acts on, and refuses what BBB cannot do: a version without the
// feature (409), a chat user who is not in the meeting (409), a message relay never stored (404), a message of a
// private chat (403).
func (a *api) moderationTarget(ctx context.Context, s *state.Store, req request) (target, error) {
	var t target
	var err error
	if t.b, err = a.bridge(ctx, s, req.meetingID); err != nil {
		return t, err
	}
	if t.v, err = a.versions.get(ctx, s); err != nil {
		return t, err
	}
	if !t.v.HasMessageEdits() {
		return t, withDetail(errNoFeature, "BBB %s cannot edit or delete chat messages; BBB 3.0 and later can", t.v)
	}
	present := false
	if t.user, present = a.chatUser(ctx, s, t.b); !present {
		return t, withDetail(errUserAbsent, "BBB lets only a user in the meeting edit or delete messages, and no user named %q has joined meeting %s",
			t.b.ChatUser, t.b.MeetingID)
	}
	if t.meeting, _, err = a.reads(s).ResolveMeeting(ctx, t.b.MeetingID); err != nil {
		return t, err
	}
	if reason, _ := chatBlocked(t.meeting, t.user); reason != "" {
		return t, withDetail(errChatBlocked, "%s", reason)
	}
	feature := map[string]string{callEdit: "editChatMessage", callDelete: "deleteChatMessage"}[req.call]
	if slices.Contains(t.meeting.DisabledFeatures, feature) {
		return t, withDetail(errChatBlocked, "%s is a disabled feature of meeting %s", feature, t.b.MeetingID)
	}
	t.msg, err = s.FindMessage(ctx, t.b.MeetingID, req.messageID)
	if errors.Is(err, state.ErrNotFound) {
		return t, withDetail(errMessageNotFound, "meeting %s has no message %q in the events stream (it may be older than the stream keeps)",
			t.b.MeetingID, req.messageID)
	}
	if err != nil {
		return t, err
	}
	if t.msg.ChatID != bbb.PublicChatID {
		return t, withDetail(errNotAllowed, "message %s is in a private chat; the chat user acts on the public chat only", req.messageID)
	}
	return t, nil
}

// editMessage is editChatMessage: the chat user replaces the text of a message it wrote.
func (a *api) editMessage(ctx context.Context, s *state.Store, req request) (response, error) {
	t, err := a.moderationTarget(ctx, s, req)
	if err != nil {
		return response{}, err
	}
	if t.msg.SenderID != t.user.UserID {
		return response{}, withDetail(errNotAllowed, "BBB lets only a message's author edit it (and may eject anyone else who tries): message %s was written by %q, not by the chat user %q",
			t.msg.MessageID, t.msg.SenderName, t.b.ChatUser)
	}
	text := bbb.Render(t.v, "{message}", "", req.message)
	if req.userName != "" {
		text = bbb.Render(t.v, *a.live.template.Load(), req.userName, req.message)
	}
	if n := len(utf16.Encode([]rune(text))); n > maxEditLen {
		return response{}, badParam("message", "is %d characters long with the template; BBB takes at most %d", n, maxEditLen)
	}
	now := a.now()
	payload, err := bbb.EncodeChatEdit(t.v, bbb.ChatEdit{MeetingID: t.b.MeetingID, UserID: t.user.UserID,
		MessageID: t.msg.MessageID, Message: text, Timestamp: now.UnixMilli()})
	if err != nil {
		return response{}, badParam("message", "cannot be sent: %v", err)
	}
	return a.publishModeration(ctx, t, state.TypeMessageEdited, payload, "edit")
}

// deleteMessage is deleteChatMessage: the chat user deletes a message it wrote or, as a moderator outside breakout
// rooms, anyone's.
func (a *api) deleteMessage(ctx context.Context, s *state.Store, req request) (response, error) {
	t, err := a.moderationTarget(ctx, s, req)
	if err != nil {
		return response{}, err
	}
	if t.msg.SenderID != t.user.UserID {
		switch {
		case t.user.Role != roleModerator:
			return response{}, withDetail(errNotAllowed, "BBB lets a viewer delete only its own messages (and may eject it for trying more): message %s was written by %q, and the chat user %q is not a moderator; make it one",
				t.msg.MessageID, t.msg.SenderName, t.b.ChatUser)
		case t.meeting.IsBreakout:
			return response{}, withDetail(errNotAllowed, "in a breakout room BBB lets even moderators delete only their own messages: message %s was written by %q, not by the chat user %q",
				t.msg.MessageID, t.msg.SenderName, t.b.ChatUser)
		}
	}
	payload, err := bbb.EncodeChatDelete(t.v, bbb.ChatDelete{MeetingID: t.b.MeetingID, UserID: t.user.UserID,
		MessageID: t.msg.MessageID, Timestamp: a.now().UnixMilli()})
	if err != nil {
		return response{}, badParam("message_id", "cannot be sent: %v", err)
	}
	return a.publishModeration(ctx, t, state.TypeMessageDeleted, payload, "deletion")
}

// roleModerator is BBB's moderator role, as relay records it in presence.
const roleModerator = "MODERATOR"

// publishModeration publishes an edit or deletion (event type typ) and, with confirmation on, waits until BBB's
// broadcast of it is in the events stream.
func (a *api) publishModeration(ctx context.Context, t target, typ string, payload []byte, what string) (response, error) {
	w, err := a.publishWatched(ctx, actionKey(typ, t.b.MeetingID, t.msg.MessageID), payload)
	if err != nil {
		return response{}, err
	}
	defer w.cancel()
	extra := map[string]any{"meeting_id": t.b.MeetingID, "message_id": t.msg.MessageID, "via": "user"}
	a.logFor(ctx).Info("chat message "+what+" sent", "meeting_id", t.b.MeetingID, "message_id", t.msg.MessageID)
	if w == nil {
		return ok(fmt.Sprintf("The %s was handed to BBB (whether BBB shows it is not checked: BBB_CHAT_SEND_CONFIRM_TIMEOUT is 0)", what), extra), nil
	}
	wait := a.confirmWait(ctx)
	if _, seen := w.wait(ctx, wait); seen {
		extra["confirmed"] = true
		return ok(fmt.Sprintf("The %s was made: BBB shows it", what), extra), nil
	}
	extra["confirmed"] = false
	return ok(fmt.Sprintf("The %s was handed to BBB, but BBB did not show it within %s: BBB may have dropped it, "+
		"or relay is not running or is behind", what, wait), extra), nil
}
