package state

import (
	"encoding/json"

	"github.com/bbb-chat/bbb-chat/shared/jsonscan"
)

// DecodeEvent decodes an event of the events stream into e, as json.Unmarshal would. Relay's callback workers
// decode every event they deliver; an object of Event's keys spelled exactly, each at most once, with string,
// integer and boolean values (not null) takes a short path without reflection (jsonscan), anything else goes
// through encoding/json.
func DecodeEvent(data []byte, e *Event) error {
	var fast Event
	if decodeShort(data, &fast) {
		*e = fast
		return nil
	}
	return json.Unmarshal(data, e)
}

// eventKeys are Event's JSON keys.
var eventKeys = []string{"type", "id", "meeting_id", "external_meeting_id", "timestamp", "bbb_version", "chat_id",
	"message_id", "sender_id", "sender_name", "sender_role", "text", "correlation_id", "reply_to_message_id",
	"user_id", "external_user_id", "user_name", "user_role", "meeting_name", "is_breakout", "parent_meeting_id",
	"emoji", "locked", "public_chat_locked", "disabled_features", "from", "to", "server"}

// decodeShort decodes data into e as json.Unmarshal would, or reports false (e then partly filled: the caller
// starts over).
func decodeShort(raw []byte, e *Event) bool {
	s := jsonscan.New(string(raw)) // one copy; the fields are parts of it
	return s.Object(eventKeys, func(key string) bool {
		switch key {
		case "timestamp":
			return s.Int(&e.Timestamp)
		case "is_breakout":
			return s.Bool(&e.IsBreakout)
		case "locked":
			return s.Bool(&e.Locked)
		case "public_chat_locked":
			return s.Bool(&e.PublicChatLocked)
		case "from":
			return s.Int(&e.From)
		case "to":
			return s.Int(&e.To)
		}
		return s.Str(e.stringField(key))
	}) && s.End()
}

// stringField is the string field a JSON key names exactly, nil for another key.
func (e *Event) stringField(key string) *string {
	switch key {
	case "type":
		return &e.Type
	case "id":
		return &e.ID
	case "meeting_id":
		return &e.MeetingID
	case "external_meeting_id":
		return &e.ExternalMeetingID
	case "bbb_version":
		return &e.BBBVersion
	case "chat_id":
		return &e.ChatID
	case "message_id":
		return &e.MessageID
	case "sender_id":
		return &e.SenderID
	case "sender_name":
		return &e.SenderName
	case "sender_role":
		return &e.SenderRole
	case "text":
		return &e.Text
	case "correlation_id":
		return &e.CorrelationID
	case "reply_to_message_id":
		return &e.ReplyTo
	case "user_id":
		return &e.UserID
	case "external_user_id":
		return &e.ExternalUserID
	case "user_name":
		return &e.UserName
	case "user_role":
		return &e.UserRole
	case "meeting_name":
		return &e.MeetingName
	case "parent_meeting_id":
		return &e.ParentID
	case "emoji":
		return &e.Emoji
	case "disabled_features":
		return &e.DisabledFeatures
	case "server":
		return &e.Server
	}
	return nil
}
