package state

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// DecodeEvent decodes an event of the events stream into e, as json.Unmarshal would. Relay's callback workers
// decode every event they deliver; the events relay writes (flat objects of plain strings, one integer and one
// boolean) take a short path without reflection, anything else (escapes, null, other keys or spellings, nesting)
// goes through encoding/json.
func DecodeEvent(data []byte, e *Event) error {
	var fast Event
	if decodeFlat(data, &fast) {
		*e = fast
		return nil
	}
	return json.Unmarshal(data, e)
}

// decodeFlat decodes data when it is an object whose members are all known keys spelled exactly, with strings
// free of escapes and valid UTF-8, a plain integer timestamp and a literal boolean; false otherwise, e untouched
// then in what matters (the caller starts over).
func decodeFlat(raw []byte, e *Event) bool {
	data := string(raw) // one copy; the fields are parts of it
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		key, j, ok := plainString(data, i)
		if !ok {
			return false
		}
		i = skipSpace(data, j)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		switch key {
		case "timestamp":
			n, j, ok := plainInt(data, i)
			if !ok {
				return false
			}
			e.Timestamp, i = n, j
		case "is_breakout":
			switch {
			case strings.HasPrefix(data[i:], "true"):
				e.IsBreakout, i = true, i+4
			case strings.HasPrefix(data[i:], "false"):
				e.IsBreakout, i = false, i+5
			default:
				return false
			}
		default:
			field := e.stringField(key)
			if field == nil {
				return false
			}
			v, j, ok := plainString(data, i)
			if !ok {
				return false
			}
			*field, i = v, j
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
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
	}
	return nil
}

func skipSpace(data string, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at data[i] without escapes or control characters and with valid UTF-8, and
// returns it and the index after its closing quote.
func plainString(data string, i int) (string, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return "", i, false
	}
	ascii := true
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			s := data[i+1 : j]
			if !ascii && !utf8.ValidString(s) {
				return "", i, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return "", i, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", i, false
}

// plainInt reads a JSON integer (no fraction or exponent) that fits an int64.
func plainInt(data string, i int) (int64, int, bool) {
	j, neg := i, false
	if j < len(data) && data[j] == '-' {
		neg, j = true, j+1
	}
	start := j
	var n uint64
	for j < len(data) && data[j] >= '0' && data[j] <= '9' {
		if j-start >= 18 { // could overflow: leave it to encoding/json
			return 0, i, false
		}
		n = n*10 + uint64(data[j]-'0')
		j++
	}
	if j == start || j-start > 1 && data[start] == '0' {
		return 0, i, false
	}
	if j < len(data) && (data[j] == '.' || data[j] == 'e' || data[j] == 'E') {
		return 0, i, false
	}
	if neg {
		return -int64(n), j, true
	}
	return int64(n), j, true
}
