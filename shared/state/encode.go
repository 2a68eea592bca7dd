package state

import (
	"strconv"
	"unicode/utf8"
)

// AppendEvent appends the JSON encoding of e to dst and returns the extended slice: exactly the bytes
// json.Marshal(e) produces (members in declaration order, the same omitempty rules, the same string escaping with
// HTML escaping on), without reflection and without allocating beyond growing dst. Relay encodes every event it
// writes to the events stream with it; a test fails when Event gains a field this function does not write.
func AppendEvent(dst []byte, e Event) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, e.Type)
	dst = append(dst, `,"id":`...)
	dst = appendJSONString(dst, e.ID)
	dst = append(dst, `,"meeting_id":`...)
	dst = appendJSONString(dst, e.MeetingID)
	dst = appendMember(dst, `,"external_meeting_id":`, e.ExternalMeetingID)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, e.Timestamp, 10)
	dst = appendMember(dst, `,"bbb_version":`, e.BBBVersion)

	dst = appendMember(dst, `,"chat_id":`, e.ChatID)
	dst = appendMember(dst, `,"message_id":`, e.MessageID)
	dst = appendMember(dst, `,"sender_id":`, e.SenderID)
	dst = appendMember(dst, `,"sender_name":`, e.SenderName)
	dst = appendMember(dst, `,"sender_role":`, e.SenderRole)
	dst = appendMember(dst, `,"text":`, e.Text)
	dst = appendMember(dst, `,"correlation_id":`, e.CorrelationID)
	dst = appendMember(dst, `,"reply_to_message_id":`, e.ReplyTo)

	dst = appendMember(dst, `,"user_id":`, e.UserID)
	dst = appendMember(dst, `,"external_user_id":`, e.ExternalUserID)
	dst = appendMember(dst, `,"user_name":`, e.UserName)
	dst = appendMember(dst, `,"user_role":`, e.UserRole)

	dst = appendMember(dst, `,"meeting_name":`, e.MeetingName)
	if e.IsBreakout {
		dst = append(dst, `,"is_breakout":true`...)
	}
	dst = appendMember(dst, `,"parent_meeting_id":`, e.ParentID)

	dst = appendMember(dst, `,"emoji":`, e.Emoji)

	if e.Locked {
		dst = append(dst, `,"locked":true`...)
	}
	if e.PublicChatLocked {
		dst = append(dst, `,"public_chat_locked":true`...)
	}
	dst = appendMember(dst, `,"disabled_features":`, e.DisabledFeatures)

	if e.From != 0 {
		dst = append(dst, `,"from":`...)
		dst = strconv.AppendInt(dst, e.From, 10)
	}
	if e.To != 0 {
		dst = append(dst, `,"to":`...)
		dst = strconv.AppendInt(dst, e.To, 10)
	}
	dst = appendMember(dst, `,"server":`, e.Server)
	return append(dst, '}')
}

// EncodeEvent is the JSON encoding of e, the same bytes as json.Marshal(e), in a new slice sized for it; it
// never fails (the error is there so that it can stand where json.Marshal stood).
func EncodeEvent(e Event) ([]byte, error) {
	return AppendEvent(make([]byte, 0, encodedSizeHint(e)), e), nil
}

// encodedSizeHint is the length of e's encoding when no string needs an escape, a little more: the punctuation
// and keys of every member plus the lengths of the strings.
func encodedSizeHint(e Event) int {
	return 256 + len(e.Type) + len(e.ID) + len(e.MeetingID) + len(e.ExternalMeetingID) + len(e.BBBVersion) +
		len(e.ChatID) + len(e.MessageID) + len(e.SenderID) + len(e.SenderName) + len(e.SenderRole) + len(e.Text) +
		len(e.CorrelationID) + len(e.ReplyTo) + len(e.UserID) + len(e.ExternalUserID) + len(e.UserName) +
		len(e.UserRole) + len(e.MeetingName) + len(e.ParentID) + len(e.Emoji) + len(e.DisabledFeatures) + len(e.Server)
}

// appendMember appends an omitempty string member: key (with its leading comma, quotes and colon) and the
// string, or nothing when v is empty.
func appendMember(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendJSONString(dst, v)
}

// escapedASCII has bit c set for every ASCII byte c below 64 that encoding/json escapes in a string: the control
// characters, '"', and the HTML-sensitive '&', '<' and '>'. The only other escaped ASCII byte is '\\'.
const escapedASCII = 1<<32 - 1 | 1<<'"' | 1<<'&' | 1<<'<' | 1<<'>'

// appendJSONString appends s as a quoted JSON string the way json.Marshal writes it: '"' and '\\' escaped with a
// backslash; the control characters as \b, \f, \n, \r, \t or \u00xx (lower-case hex); '<', '>' and '&' as
// \u003c, \u003e and \u0026; each byte that is not part of valid UTF-8 as \ufffd; U+2028 and U+2029 as \u2028
// and \u2029; everything else as it is.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is still to be copied as it is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 64 && c != '\\' || c < 64 && escapedASCII&(uint64(1)<<c) == 0 {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
