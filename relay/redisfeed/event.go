package redisfeed

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// eventType maps a decoded BBB event to its stream type; "" for events relay does not publish.
func eventType(k bbb.Kind) string {
	switch k {
	case bbb.KindChatMessage:
		return state.TypeMessage
	case bbb.KindChatCleared:
		return state.TypeCleared
	case bbb.KindUserJoined:
		return state.TypeUserJoined
	case bbb.KindUserLeft:
		return state.TypeUserLeft
	case bbb.KindMeetingCreated:
		return state.TypeMeetingCreated
	case bbb.KindMeetingEnded:
		return state.TypeMeetingEnded
	case bbb.KindMeetingLocks:
		return state.TypeMeetingLocks
	case bbb.KindUserLocked:
		return state.TypeUserLocked
	case bbb.KindUserLocks:
		return state.TypeUserLocks
	case bbb.KindUserRole:
		return state.TypeUserRole
	case bbb.KindMessageEdited:
		return state.TypeMessageEdited
	case bbb.KindMessageDeleted:
		return state.TypeMessageDeleted
	case bbb.KindReactionAdded:
		return state.TypeReactionAdded
	case bbb.KindReactionRemoved:
		return state.TypeReactionRemoved
	case bbb.KindMessagePinned:
		return state.TypeMessagePinned
	case bbb.KindMessageUnpinned:
		return state.TypeMessageUnpinned
	}
	return ""
}

// noParent is what BBB puts in breakoutProps.parentId of a meeting that is not a breakout room.
const noParent = "bbb-none"

// eventID is the event's id in the stream, the key of JetStream's deduplication. It must come out the same in
// every relay that reads the same Redis message, so it depends only on the message:
//   - a chat message: BBB's message id;
//   - the end of a meeting: "ended-<meeting>", so that MeetingEndedEvtMsg and MeetingDestroyedEvtMsg (BBB sends
//     both, 2.5 s apart, docs/protocol.md §5) make one event;
//   - anything else: its type and a hash of the raw Redis payload (both relays see identical bytes; two distinct
//     BBB events differ at least in their envelope timestamp).
func eventID(typ string, e bbb.Event, raw []byte) string {
	switch typ {
	case state.TypeMessage:
		return e.Chat.ID
	case state.TypeMeetingEnded:
		return "ended-" + e.MeetingID
	}
	h := sha256.Sum256(raw)
	return typ + "-" + hex.EncodeToString(h[:16])
}

// buildEvent turns a decoded BBB event into the stream's payload. ok is false for events relay does not publish
// (KindOther) and for events without a meeting. v is the BBB version used to undo 2.x's HTML escaping; extID is the
// external meeting id when known; actor is the name of who edited, deleted, reacted or pinned, when known (BBB's
// events about a message carry only the user's id, docs/protocol.md §3.7).
func buildEvent(e bbb.Event, raw []byte, v bbb.Version, extID, actor string) (ev state.Event, ok bool) {
	typ := eventType(e.Kind)
	if typ == "" || e.MeetingID == "" {
		return ev, false
	}
	ev = state.Event{
		Type:              typ,
		MeetingID:         e.MeetingID,
		ExternalMeetingID: extID,
		Timestamp:         e.Timestamp,
	}
	if !v.IsZero() {
		ev.BBBVersion = v.String()
	}
	switch e.Kind {
	case bbb.KindChatMessage:
		c := e.Chat
		if c == nil || c.ID == "" {
			return ev, false
		}
		ev.ChatID = c.ChatID
		ev.MessageID = c.ID
		ev.SenderID = c.SenderID
		ev.SenderName = c.SenderName
		ev.SenderRole = c.SenderRole
		ev.Text = bbb.PlainText(v, c.Message)
		ev.CorrelationID = c.CorrelationID
		ev.ReplyTo = c.ReplyToMessageID
		if c.Timestamp != 0 {
			ev.Timestamp = c.Timestamp // akka's own clock, the one BBB orders chat by
		}
	case bbb.KindChatCleared:
		ev.ChatID = e.ChatID
	case bbb.KindMeetingLocks, bbb.KindUserLocked, bbb.KindUserLocks, bbb.KindUserRole:
		l := e.Locks
		if l == nil {
			return ev, false
		}
		ev.UserID, ev.Locked, ev.PublicChatLocked, ev.UserRole = l.UserID, l.Locked, l.PublicChatLocked, l.Role
	case bbb.KindUserJoined, bbb.KindUserLeft:
		if e.User == nil || e.User.ID == "" {
			return ev, false
		}
		ev.UserID = e.User.ID
		ev.ExternalUserID = e.User.ExtID
		ev.UserName = e.User.Name
		ev.UserRole = e.User.Role
		ev.Locked = e.User.Locked
	case bbb.KindMessageEdited, bbb.KindMessageDeleted, bbb.KindReactionAdded, bbb.KindReactionRemoved,
		bbb.KindMessagePinned, bbb.KindMessageUnpinned:
		a := e.Action
		if a == nil || a.MessageID == "" {
			return ev, false
		}
		ev.ChatID = a.ChatID
		ev.MessageID = a.MessageID
		ev.UserID = a.UserID
		ev.UserName = actor
		if e.Kind == bbb.KindMessageEdited {
			ev.Text = bbb.PlainText(v, a.Text)
		}
		ev.Emoji = a.Emoji
	case bbb.KindMeetingCreated:
		if m := e.Meeting; m != nil {
			if ev.ExternalMeetingID == "" {
				ev.ExternalMeetingID = m.ExternalID
			}
			ev.MeetingName = m.Name
			ev.IsBreakout = m.IsBreakout
			ev.PublicChatLocked = m.PublicChatLocked
			ev.DisabledFeatures = strings.Join(m.DisabledFeatures, ",")
			if m.ParentID != noParent {
				ev.ParentID = m.ParentID
			}
		}
	}
	ev.ID = eventID(typ, e, raw)
	return ev, true
}

// decodeReason names why a Redis message was refused, from a small fixed set (a metric label): "too_large",
// "not_json", "not_envelope" (JSON, but no envelope or header name), or "bad_<name>" for a known event that lacks
// or mistypes a field relay needs.
func decodeReason(raw []byte) string {
	if len(raw) > bbb.MaxMessageSize {
		return "too_large"
	}
	if !json.Valid(raw) {
		return "not_json"
	}
	var w struct {
		Envelope struct {
			Name string `json:"name"`
		} `json:"envelope"`
		Core struct {
			Header struct {
				Name string `json:"name"`
			} `json:"header"`
		} `json:"core"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return "not_envelope"
	}
	name := w.Envelope.Name
	if name == "" {
		name = w.Core.Header.Name
	}
	switch name {
	case "":
		return "not_envelope"
	case "GroupChatMessageBroadcastEvtMsg", "ClearPublicChatHistoryEvtMsg", "UserJoinedMeetingEvtMsg",
		"UserLeftMeetingEvtMsg", "MeetingCreatedEvtMsg", "MeetingEndedEvtMsg", "MeetingDestroyedEvtMsg",
		"GroupChatMessageEditedEvtMsg", "GroupChatMessageDeletedEvtMsg", "GroupChatMessageReactionSentEvtMsg",
		"GroupChatMessageReactionDeletedEvtMsg", "PinGroupChatMessageEvtMsg", "UnpinGroupChatMessageEvtMsg":
		return "bad_" + name
	}
	return "not_envelope"
}
