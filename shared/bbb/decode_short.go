package bbb

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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
// maxSkipDepth deep.
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
	s := scanner{data: data} // the result's strings are parts of data until compact
	if !s.chatMessage(w) {
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

	chatID, id, senderID, senderRole, message, color, replyTo string
	timestamp                                                 int64
}

// chatMessage reads the whole message: an object with envelope and core, then nothing but white space.
func (s *scanner) chatMessage(w *chatWire) bool {
	return s.object([]string{"envelope", "core"}, func(key string) bool {
		switch key {
		case "envelope":
			w.msg.Envelope = &w.envelope
			return s.envelope(&w.envelope)
		case "core":
			w.msg.Core = &w.core
			return s.core(w)
		}
		return false
	}) && s.end()
}

// envelope reads the envelope object.
func (s *scanner) envelope(env *wireEnvelope) bool {
	return s.object([]string{"name", "timestamp"}, func(key string) bool {
		switch key {
		case "name":
			return s.str(&env.Name)
		case "timestamp":
			return s.integer(&env.Timestamp)
		}
		return false
	})
}

// core reads the core object: header and body.
func (s *scanner) core(w *chatWire) bool {
	return s.object([]string{"header", "body"}, func(key string) bool {
		switch key {
		case "header":
			w.core.Header = &w.header
			return s.header(&w.header)
		case "body":
			w.core.Body = &w.body
			return s.chatBody(w)
		}
		return false
	})
}

// header reads core.header.
func (s *scanner) header(h *wireHeader) bool {
	return s.object([]string{"name", "meetingId", "userId"}, func(key string) bool {
		switch key {
		case "name":
			return s.str(&h.Name)
		case "meetingId":
			return s.str(&h.MeetingID)
		case "userId":
			return s.str(&h.UserID)
		}
		return false
	})
}

// chatBody reads core.body: its chat fields, skipping every other key (those of other kinds included).
func (s *scanner) chatBody(w *chatWire) bool {
	return s.object([]string{"chatId", "msg"}, func(key string) bool {
		switch key {
		case "chatId":
			w.body.ChatID = &w.chatID
			return s.str(&w.chatID)
		case "msg":
			w.body.Msg = &w.chat
			return s.chatMsg(w)
		}
		return false
	})
}

// chatMsg reads core.body.msg.
func (s *scanner) chatMsg(w *chatWire) bool {
	m := &w.chat
	return s.object([]string{"id", "timestamp", "correlationId", "sender", "chatEmphasizedText", "message", "color", "replyToMessageId"}, func(key string) bool {
		switch key {
		case "id":
			m.ID = &w.id
			return s.str(&w.id)
		case "timestamp":
			m.Timestamp = &w.timestamp
			return s.integer(&w.timestamp)
		case "correlationId":
			return s.str(&m.CorrelationID)
		case "sender":
			m.Sender = &w.sender
			return s.sender(w)
		case "chatEmphasizedText":
			return s.boolean(&m.ChatEmphasizedText)
		case "message":
			m.Message = &w.message
			return s.str(&w.message)
		case "color":
			m.Color = &w.color
			return s.str(&w.color)
		case "replyToMessageId":
			m.ReplyToMessageID = &w.replyTo
			return s.str(&w.replyTo)
		}
		return false
	})
}

// sender reads core.body.msg.sender.
func (s *scanner) sender(w *chatWire) bool {
	return s.object([]string{"id", "name", "role"}, func(key string) bool {
		switch key {
		case "id":
			w.sender.ID = &w.senderID
			return s.str(&w.senderID)
		case "name":
			return s.str(&w.sender.Name)
		case "role":
			w.sender.Role = &w.senderRole
			return s.str(&w.senderRole)
		}
		return false
	})
}

// maxSkipDepth bounds the nesting of the values of unknown keys; deeper ones are left to encoding/json, whose own
// bound (10000) is far above.
const maxSkipDepth = 64

// scanner is a cursor in a JSON text. Its readers check that what they read is valid JSON, and report false,
// rather than an error, for anything invalid or anything they do not take.
type scanner struct {
	data string
	i    int
}

// object reads the object at the cursor. For a member whose key is one of keys, spelled exactly, it calls member
// with the cursor on the value, which member must read; it skips the value of any other key. It returns false if
// the value is not a valid object, a key has an escape or invalid UTF-8, a key matches one of keys only
// case-insensitively (encoding/json would decode it into that field), one of keys comes twice (encoding/json
// would overwrite or merge), or member returns false.
func (s *scanner) object(keys []string, member func(key string) bool) bool {
	var seen uint64
	return s.members(func(key string, plain bool) bool {
		if !plain {
			return false
		}
		switch i := slices.Index(keys, key); {
		case i >= 0:
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			return member(key)
		case foldsToAny(key, keys):
			return false
		}
		return s.skip(maxSkipDepth)
	})
}

// members reads the object at the cursor, calling value with each member's key (without its quotes; plain as
// stringToken reports it) and the cursor on the member's value, which value must read. It returns false if the
// value is not an object, its syntax is invalid, or value returns false.
func (s *scanner) members(value func(key string, plain bool) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		s.space()
		tok, plain, ok := s.stringToken()
		if !ok || !s.consume(':') || !value(tok[1:len(tok)-1], plain) {
			return false
		}
		if s.consume('}') {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// foldsToAny reports whether key equals one of names under Unicode case folding, as encoding/json matches keys
// to fields.
func foldsToAny(key string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// str reads a string into *dst, exactly as encoding/json decodes it; false for any other value, null included.
func (s *scanner) str(dst *string) bool {
	s.space()
	tok, plain, ok := s.stringToken()
	if !ok {
		return false
	}
	if plain {
		*dst = tok[1 : len(tok)-1] // a part of the message, until decodeChatShort copies the result's strings
		return true
	}
	return json.Unmarshal([]byte(tok), dst) == nil
}

// stringToken reads the string at the cursor and returns it with its quotes; false if there is none or it is not
// valid JSON (a control character, a bad escape, no closing quote). plain reports that it has no escape and is
// valid UTF-8, so that it stands for what it spells.
func (s *scanner) stringToken() (tok string, plain, ok bool) {
	d, start := s.data, s.i
	if start >= len(d) || d[start] != '"' {
		return "", false, false
	}
	plain, ascii := true, true
	for j := start + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			s.i = j + 1
			tok = d[start:s.i]
			return tok, plain && (ascii || utf8.ValidString(tok)), true
		case c == '\\':
			n := escapeLen(d[j+1:])
			if n == 0 {
				return "", false, false
			}
			plain = false
			j += n
		case c < ' ':
			return "", false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false, false
}

// escapeLen is the length of the valid JSON escape that rest starts with, after its backslash; 0 if it is not one.
func escapeLen(rest string) int {
	if rest == "" {
		return 0
	}
	switch rest[0] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 1
	case 'u':
		if len(rest) < 5 {
			return 0
		}
		for _, c := range []byte(rest[1:5]) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return 0
			}
		}
		return 5
	}
	return 0
}

// integer reads a number into *dst as encoding/json decodes it into an int64: an integer that strconv.ParseInt
// takes (no fraction, no exponent, no overflow); false for any other value.
func (s *scanner) integer(dst *int64) bool {
	s.space()
	tok, ok := s.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

// number reads a JSON number and returns its text; false if there is none at the cursor.
func (s *scanner) number() (string, bool) {
	d, i := s.data, s.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		return "", false
	}
	if i < len(d) && d[i] == '.' {
		if i = digits(d, i+1); d[i-1] == '.' {
			return "", false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return "", false
		}
		i = j
	}
	tok := d[s.i:i]
	s.i = i
	return tok, true
}

// digits returns the index of the first byte at or after i in d that is not a decimal digit.
func digits(d string, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// boolean reads true or false into *dst; false for any other value.
func (s *scanner) boolean(dst *bool) bool {
	s.space()
	switch {
	case s.literal("true"):
		*dst = true
	case s.literal("false"):
		*dst = false
	default:
		return false
	}
	return true
}

// literal moves the cursor past lit if it is next and reports whether it was. What follows is checked by the
// caller, as after any value.
func (s *scanner) literal(lit string) bool {
	if !strings.HasPrefix(s.data[s.i:], lit) {
		return false
	}
	s.i += len(lit)
	return true
}

// skip moves the cursor past the value at it, whatever it is; false if it is not valid JSON or nests more than
// depth arrays and objects.
func (s *scanner) skip(depth int) bool {
	s.space()
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '"':
		_, _, ok := s.stringToken()
		return ok
	case '{':
		return depth > 0 && s.members(func(string, bool) bool { return s.skip(depth - 1) })
	case '[':
		return depth > 0 && s.elements(depth-1)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, ok := s.number()
	return ok
}

// elements moves the cursor past the array at it; false if it is not valid JSON or its elements nest more than
// depth arrays and objects.
func (s *scanner) elements(depth int) bool {
	if !s.consume('[') {
		return false
	}
	if s.consume(']') {
		return true
	}
	for {
		if !s.skip(depth) {
			return false
		}
		if s.consume(']') {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// consume moves the cursor past white space and c, if c is next; it reports whether it was.
func (s *scanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.data)
}

// space moves the cursor past white space.
func (s *scanner) space() {
	for s.i < len(s.data) && isSpace(s.data[s.i]) {
		s.i++
	}
}

// isSpace reports whether c is JSON white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}
