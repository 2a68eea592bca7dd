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

// TypePing is the type of the test event pingCallback and relay's probes of a failing receiver send.
const TypePing = "ping"

// Call returns the checksum call name of an event type's callback in the first version's bodies:
// sendChatMessage for messages, chatCleared and meetingEnded; ErrNoCallback for the others, which only have
// typed bodies (whose call name is their type).
func Call(eventType string) (string, error) {
	switch eventType {
	case state.TypeMessage:
		return state.CallbackMessage, nil
	case state.TypeCleared:
		return state.CallbackChatCleared, nil
	case state.TypeMeetingEnded:
		return state.CallbackMeetingEnded, nil
	}
	return "", fmt.Errorf("%w: %q", ErrNoCallback, eventType)
}

// Body builds the POST body of an event for a bridge, signed at unix (seconds), and returns it with its call name.
// The body is a JSON object serialised as Python's json.dumps would (pyjson). The first version's bodies, which a
// new message always has and cleared and meeting.ended have unless the bridge asked for them by their kind names
// (state.Bridge.LegacyBody), carry these members in this order, and their call names are Call's:
//
//	message       user_name, message, meeting_id, message_id, timestamp, sender_id, sender_role, checksum
//	cleared       meeting_id, chat_id, timestamp, checksum
//	meeting.ended meeting_id, timestamp, checksum
//
// Every other body starts with "type", the kind, which is also its call name:
//
//	cleared                          type, meeting_id, chat_id, timestamp, checksum
//	meeting.ended                    type, meeting_id, timestamp, checksum
//	user.joined, user.left           type, meeting_id, user_id, external_user_id, user_name, user_role, timestamp, checksum
//	message.edited                   type, meeting_id, chat_id, message_id, user_id, user_name, message, timestamp, checksum
//	message.deleted, .pinned, .unpinned  type, meeting_id, chat_id, message_id, user_id, user_name, timestamp, checksum
//	reaction.added, reaction.removed type, meeting_id, chat_id, message_id, user_id, user_name, emoji, timestamp, checksum
//	gap                              type, meeting_id, from, to, server, checksum
//	ping                             type, meeting_id, message, timestamp, checksum
//
// A bridge that follows its room (docs/api.md, "Following a room") hears of its meetings' start and end as
//
//	meeting.created, meeting.ended   type, meeting_id, external_meeting_id, internal_meeting_id, timestamp, checksum
//
// meeting_id is the id the client gave startChatForMeeting (Bridge.RequestedID, else the internal id), timestamp
// is BBB's in milliseconds (for a ping, when it was sent; a gap has from and to instead), user_id and user_name are
// who acted, and checksum = checksum.SignCallback(call, <the object without checksum>, callback_secret, unix),
// that is sha512_hex(call + pyjson.Dumps(object) + secret + str(unix)) — what bbb-chat's own sendChatMessage
// verifies, so a callback_uri pointing at another bbb-chat's sendChatMessage bridges two meetings.
func Body(e state.Event, b state.Bridge, unix int64) (call string, body []byte, err error) {
	meetingID := callbackMeetingID(b)
	if b.FollowRoom && (e.Type == state.TypeMeetingCreated || e.Type == state.TypeMeetingEnded && !b.LegacyBody(e.Type)) {
		return roomMeetingBody(meetingID, e, b, unix)
	}
	str := func(k, v string) pyjson.Member { return pyjson.Member{Key: k, Value: pyjson.String(v)} }
	num := func(k string, v int64) pyjson.Member { return pyjson.Member{Key: k, Value: pyjson.Int(v)} }
	chatID := e.ChatID
	if chatID == "" {
		chatID = PublicChatID
	}
	var ms []pyjson.Member
	if b.LegacyBody(e.Type) {
		if call, err = Call(e.Type); err != nil {
			return "", nil, err
		}
		switch e.Type {
		case state.TypeMessage:
			messageID := e.MessageID
			if messageID == "" {
				messageID = e.ID
			}
			ms = []pyjson.Member{str("user_name", e.SenderName), str("message", e.Text), str("meeting_id", meetingID),
				str("message_id", messageID), num("timestamp", e.Timestamp), str("sender_id", e.SenderID),
				str("sender_role", e.SenderRole)}
		case state.TypeCleared:
			ms = []pyjson.Member{str("meeting_id", meetingID), str("chat_id", chatID), num("timestamp", e.Timestamp)}
		case state.TypeMeetingEnded:
			ms = []pyjson.Member{str("meeting_id", meetingID), num("timestamp", e.Timestamp)}
		}
	} else {
		call = e.Type
		ms = []pyjson.Member{str("type", e.Type), str("meeting_id", meetingID)}
		acted := func() {
			ms = append(ms, str("chat_id", chatID), str("message_id", e.MessageID), str("user_id", e.UserID),
				str("user_name", e.UserName))
		}
		switch e.Type {
		case state.TypeCleared:
			ms = append(ms, str("chat_id", chatID))
		case state.TypeMeetingEnded:
		case state.TypeUserJoined, state.TypeUserLeft:
			ms = append(ms, str("user_id", e.UserID), str("external_user_id", e.ExternalUserID),
				str("user_name", e.UserName), str("user_role", e.UserRole))
		case state.TypeMessageEdited:
			acted()
			ms = append(ms, str("message", e.Text))
		case state.TypeMessageDeleted, state.TypeMessagePinned, state.TypeMessageUnpinned:
			acted()
		case state.TypeReactionAdded, state.TypeReactionRemoved:
			acted()
			ms = append(ms, str("emoji", e.Emoji))
		case state.TypeGap:
			// from and to in ms: no relay heard the server in between, so events of that window may be missing.
			ms = append(ms, num("from", e.From), num("to", e.To), str("server", e.Server))
		case TypePing:
			ms = append(ms, str("message", e.Text))
		default:
			return "", nil, fmt.Errorf("%w: %q", ErrNoCallback, e.Type)
		}
		if e.Type != state.TypeGap {
			ms = append(ms, num("timestamp", e.Timestamp))
		}
	}
	return call, checksum.SignedBody(call, pyjson.Object(ms...), b.CallbackSecret, unix), nil
}

// callbackMeetingID is a callback's meeting_id: the id the client gave startChatForMeeting, else the internal id.
func callbackMeetingID(b state.Bridge) string {
	if b.RequestedID != "" {
		return b.RequestedID
	}
	return b.MeetingID
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

// roomMeetingBody is the body of a followed room's meeting start or end: the kind, the id the chat was started
// with, the room (external id) and the meeting (internal id) concerned.
func roomMeetingBody(meetingID string, e state.Event, b state.Bridge, unix int64) (string, []byte, error) {
	ext := e.ExternalMeetingID
	if ext == "" {
		ext = b.ExternalID
	}
	ms := []pyjson.Member{
		{Key: "type", Value: pyjson.String(e.Type)},
		{Key: "meeting_id", Value: pyjson.String(meetingID)},
		{Key: "external_meeting_id", Value: pyjson.String(ext)},
		{Key: "internal_meeting_id", Value: pyjson.String(e.MeetingID)},
		{Key: "timestamp", Value: pyjson.Int(e.Timestamp)},
	}
	return e.Type, checksum.SignedBody(e.Type, pyjson.Object(ms...), b.CallbackSecret, unix), nil
}
