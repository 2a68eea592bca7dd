package callback

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// PublicChatID is the id of a meeting's public chat, the only chat bridges forward.
const PublicChatID = "MAIN-PUBLIC-GROUP-CHAT"

// ErrNoCallback reports an event type that has no callback.
var ErrNoCallback = errors.New("callback: no callback for this event type")

// Call returns the checksum call name (the callback kind) of an event type: sendChatMessage for messages,
// chatCleared and meetingEnded; ErrNoCallback for the others.
func Call(eventType string) (string, error) {
	switch eventType {
	case state.TypeMessage:
		return state.CallbackMessage, nil
	case state.TypeCleared:
		return state.CallbackChatCleared, nil
	case state.TypeMeetingEnded:
		return state.CallbackMeetingEnded, nil
	case state.TypeMeetingCreated:
		return state.CallbackMeetingStarted, nil
	}
	return "", fmt.Errorf("%w: %q", ErrNoCallback, eventType)
}

// Body builds the POST body of an event for a bridge, signed at unix (seconds), and returns it with its call name.
// The body is a JSON object serialised as Python's json.dumps would (pyjson), members in this order:
//
//	message       user_name, message, meeting_id, message_id, timestamp, sender_id, sender_role, checksum
//	cleared       meeting_id, chat_id, timestamp, checksum
//	meeting.ended meeting_id, timestamp, checksum
//
// A bridge that follows its room (docs/api.md, "Following a room") gets its meetings' start and end as
//
//	meeting.created, meeting.ended   type (meetingStarted, meetingEnded), meeting_id, external_meeting_id,
//	                                 internal_meeting_id, timestamp, checksum
//
// meeting_id is the id the client gave startChatForMeeting (Bridge.RequestedID, else the internal id), timestamp
// is BBB's in milliseconds, and checksum = checksum.SignCallback(call, <the object without checksum>,
// callback_secret, unix), that is sha512_hex(call + pyjson.Dumps(object) + secret + str(unix)) — what bbb-chat's
// own sendChatMessage verifies, so a callback_uri pointing at another bbb-chat's sendChatMessage bridges two
// meetings.
func Body(e state.Event, b state.Bridge, unix int64) (call string, body []byte, err error) {
	call, err = Call(e.Type)
	if err != nil {
		return "", nil, err
	}
	meetingID := b.RequestedID
	if meetingID == "" {
		meetingID = b.MeetingID
	}
	var ms []pyjson.Member
	switch e.Type {
	case state.TypeMessage:
		messageID := e.MessageID
		if messageID == "" {
			messageID = e.ID
		}
		ms = []pyjson.Member{
			{Key: "user_name", Value: pyjson.String(e.SenderName)},
			{Key: "message", Value: pyjson.String(e.Text)},
			{Key: "meeting_id", Value: pyjson.String(meetingID)},
			{Key: "message_id", Value: pyjson.String(messageID)},
			{Key: "timestamp", Value: pyjson.Int(e.Timestamp)},
			{Key: "sender_id", Value: pyjson.String(e.SenderID)},
			{Key: "sender_role", Value: pyjson.String(e.SenderRole)},
		}
	case state.TypeCleared:
		chatID := e.ChatID
		if chatID == "" {
			chatID = PublicChatID
		}
		ms = []pyjson.Member{
			{Key: "meeting_id", Value: pyjson.String(meetingID)},
			{Key: "chat_id", Value: pyjson.String(chatID)},
			{Key: "timestamp", Value: pyjson.Int(e.Timestamp)},
		}
	case state.TypeMeetingEnded:
		ms = []pyjson.Member{
			{Key: "meeting_id", Value: pyjson.String(meetingID)},
			{Key: "timestamp", Value: pyjson.Int(e.Timestamp)},
		}
	}
	if b.FollowRoom && (e.Type == state.TypeMeetingCreated || e.Type == state.TypeMeetingEnded) {
		ms = roomMeetingMembers(call, meetingID, e, b)
	}
	sum := checksum.SignCallback(call, pyjson.Object(ms...), b.CallbackSecret, unix)
	ms = append(ms, pyjson.Member{Key: "checksum", Value: pyjson.String(sum)})
	return call, pyjson.Dumps(pyjson.Object(ms...)), nil
}

// WebhookID is the webhook-id of an event: its id when that is a short run of [A-Za-z0-9_:-] (every id BBB and
// relay make), else "h" and a hash of it, so the header never carries a '.' (Standard Webhooks signs
// id + "." + timestamp + "." + body) or anything a header cannot hold. It is the same for every attempt.
func WebhookID(e state.Event) string {
	id := e.ID
	if id != "" && len(id) <= 128 && webhookIDChars(id) {
		return id
	}
	h := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(h[:16])
}

func webhookIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

// roomMeetingMembers is the body of a followed room's meeting start or end: which kind, the id the chat was
// started with, the room (external id) and the meeting (internal id) concerned.
func roomMeetingMembers(call, meetingID string, e state.Event, b state.Bridge) []pyjson.Member {
	ext := e.ExternalMeetingID
	if ext == "" {
		ext = b.ExternalID
	}
	return []pyjson.Member{
		{Key: "type", Value: pyjson.String(call)},
		{Key: "meeting_id", Value: pyjson.String(meetingID)},
		{Key: "external_meeting_id", Value: pyjson.String(ext)},
		{Key: "internal_meeting_id", Value: pyjson.String(e.MeetingID)},
		{Key: "timestamp", Value: pyjson.Int(e.Timestamp)},
	}
}
