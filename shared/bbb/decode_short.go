package bbb

import (
	"bytes"
	"strings"

	"github.com/bbb-chat/bbb-chat/shared/jsonscan"
)

// chatPrefix is how akka-apps starts every chat broadcast it publishes (Jackson writes the envelope first, its
// name first).
const chatPrefix = envelopePrefix + chatName + `"`

// decodeChatShort is Decode's short path for the message relay decodes most, the chat broadcast as akka-apps
// writes it. It reads the message without reflection into the same wire structs json.Unmarshal fills and hands
// them to the same checks (decodeEnvelope, decodeKind), so that its result is decodeJSON's. It reads only what a
// chat broadcast's result depends on: the envelope, core.header and the chat fields of core.body (chatId, msg).
// The body fields of the other kinds cannot change that result: when encoding/json fails on one of them,
// decodeSlow decodes the chat fields alone.
//
// ok is false, and the caller must decode with encoding/json, unless raw starts with chatPrefix, is valid JSON
// (which the short path checks as it reads) no longer than MaxMessageSize, and every object it reads has
//
//   - keys without escapes or invalid UTF-8, each known key spelled exactly (not in another case) and at most
//     once;
//   - for each known key a value of the field's type: an object, a string (with escapes or invalid UTF-8 it is
//     decoded by encoding/json), an integer that fits an int64 (no fraction or exponent), true or false; never
//     null;
//
// and the result passes decodeChat's checks. The values of unknown keys may be any JSON nested up to
// jsonscan.MaxSkipDepth deep.
func decodeChatShort(raw []byte) (e Event, ok bool) {
	if len(raw) > MaxMessageSize || !bytes.HasPrefix(raw, []byte(chatPrefix)) {
		return Event{}, false
	}
	return decodeChatString(string(raw))
}

// DecodeChat decodes msg, one Redis message as go-redis hands it over, when it is a chat broadcast in the shape
// akka-apps writes, without copying it: the result is Decode's for the same bytes. ok is false for anything else,
// which the caller decodes with Decode.
func DecodeChat(msg string) (e Event, ok bool) {
	if len(msg) > MaxMessageSize || !strings.HasPrefix(msg, chatPrefix) {
		return Event{}, false
	}
	return decodeChatString(msg)
}

// decodeChatString is decodeChatShort on data, whose prefix and size were checked.
func decodeChatString(data string) (e Event, ok bool) {
	w := new(chatWire)
	// The result's strings are parts of data until compact.
	if !readChatMessage(jsonscan.New(data), w) {
		return Event{}, false
	}
	e, err := decodeEnvelope(w.msg.Envelope, w.msg.Core)
	if err != nil {
		return Event{}, false
	}
	e, err = decodeKind(e, w.msg.Core.Header, w.msg.Core.Body)
	if err != nil || e.Kind != KindChatMessage {
		return Event{}, false
	}
	c := e.Chat
	compact(&e.Name, &e.MeetingID, &c.ChatID, &c.ID, &c.CorrelationID, &c.SenderID, &c.SenderName, &c.SenderRole,
		&c.Message, &c.Color, &c.ReplyToMessageID, &c.HeaderUserID)
	return e, true
}

// chatName is the envelope name of a chat broadcast.
const chatName = "GroupChatMessageBroadcastEvtMsg"

// compact copies the strings into one new string and points each at its part of it, so that an event relay
// keeps (queued for the stream, say) holds its fields but not the whole message they were read from. A string
// that spells the chat broadcast's name (the envelope's, always) becomes that constant instead.
func compact(fields ...*string) {
	n := 0
	for _, f := range fields {
		if *f == chatName {
			*f = chatName
		} else {
			n += len(*f)
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		if *f != chatName {
			b.WriteString(*f)
		}
	}
	all := b.String()
	for _, f := range fields {
		if *f != chatName {
			*f, all = all[:len(*f)], all[len(*f):]
		}
	}
}

// chatWire holds a chat broadcast's wire structs, msg and everything its pointers lead to, which json.Unmarshal
// would allocate one by one. A pointer is set when its key is read, as json.Unmarshal sets it.
type chatWire struct {
	msg      wireMsg[*wireBody]
	envelope wireEnvelope
	core     wireCore[*wireBody]
	header   wireHeader
	body     wireBody
	chat     wireChatMsg
	sender   wireSender

	chatID, id, senderID, senderRole, message, color, replyTo, messageType string
	timestamp                                                              int64
}

// readChatMessage reads the whole message: an object with envelope and core, then nothing but white space.
func readChatMessage(s *jsonscan.Scanner, w *chatWire) bool {
	return s.Object([]string{"envelope", "core"}, func(key string) bool {
		switch key {
		case "envelope":
			w.msg.Envelope = &w.envelope
			return readEnvelope(s, &w.envelope)
		case "core":
			w.msg.Core = &w.core
			return readCore(s, w)
		}
		return false
	}) && s.End()
}

// readEnvelope reads the envelope object.
func readEnvelope(s *jsonscan.Scanner, env *wireEnvelope) bool {
	return s.Object([]string{"name", "timestamp"}, func(key string) bool {
		switch key {
		case "name":
			return s.Str(&env.Name)
		case "timestamp":
			return s.Int(&env.Timestamp)
		}
		return false
	})
}

// readCore reads the core object: header and body.
func readCore(s *jsonscan.Scanner, w *chatWire) bool {
	return s.Object([]string{"header", "body"}, func(key string) bool {
		switch key {
		case "header":
			w.core.Header = &w.header
			return readHeader(s, &w.header)
		case "body":
			w.core.Body = &w.body
			return readChatBody(s, w)
		}
		return false
	})
}

// readHeader reads core.header.
func readHeader(s *jsonscan.Scanner, h *wireHeader) bool {
	return s.Object([]string{"name", "meetingId", "userId"}, func(key string) bool {
		switch key {
		case "name":
			return s.Str(&h.Name)
		case "meetingId":
			return s.Str(&h.MeetingID)
		case "userId":
			return s.Str(&h.UserID)
		}
		return false
	})
}

// readChatBody reads core.body: its chat fields, skipping every other key (those of other kinds included).
func readChatBody(s *jsonscan.Scanner, w *chatWire) bool {
	return s.Object([]string{"chatId", "msg"}, func(key string) bool {
		switch key {
		case "chatId":
			w.body.ChatID = &w.chatID
			return s.Str(&w.chatID)
		case "msg":
			w.body.Msg = &w.chat
			return readChatMsg(s, w)
		}
		return false
	})
}

// readChatMsg reads core.body.msg.
func readChatMsg(s *jsonscan.Scanner, w *chatWire) bool {
	m := &w.chat
	return s.Object([]string{"id", "timestamp", "correlationId", "sender", "chatEmphasizedText", "message", "color", "replyToMessageId", "messageType"}, func(key string) bool {
		switch key {
		case "id":
			m.ID = &w.id
			return s.Str(&w.id)
		case "timestamp":
			m.Timestamp = &w.timestamp
			return s.Int(&w.timestamp)
		case "correlationId":
			return s.Str(&m.CorrelationID)
		case "sender":
			m.Sender = &w.sender
			return readSender(s, w)
		case "chatEmphasizedText":
			return s.Bool(&m.ChatEmphasizedText)
		case "message":
			m.Message = &w.message
			return s.Str(&w.message)
		case "color":
			m.Color = &w.color
			return s.Str(&w.color)
		case "replyToMessageId":
			m.ReplyToMessageID = &w.replyTo
			return s.Str(&w.replyTo)
		case "messageType":
			m.MessageType = &w.messageType
			return s.Str(&w.messageType)
		}
		return false
	})
}

// readSender reads core.body.msg.sender.
func readSender(s *jsonscan.Scanner, w *chatWire) bool {
	return s.Object([]string{"id", "name", "role"}, func(key string) bool {
		switch key {
		case "id":
			w.sender.ID = &w.senderID
			return s.Str(&w.senderID)
		case "name":
			return s.Str(&w.sender.Name)
		case "role":
			w.sender.Role = &w.senderRole
			return s.Str(&w.senderRole)
		}
		return false
	})
}
