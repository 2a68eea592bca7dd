package bbb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalid reports an outbound message or template that bbb-chat must not
// send: an empty required field, invalid UTF-8, or a value beyond BBB's limits.
var ErrInvalid = errors.New("invalid BBB message content")

// Limits bbb-web enforces on the 3.0 sendChatMessage API (docs/protocol.md §3.5),
// counted like Java's String.length (UTF-16 code units). EncodeAPIChatPost
// enforces them too, because akka-apps never sees a longer message from bbb-web.
const (
	APIMaxMessageLen  = 500
	APIMaxUserNameLen = 255
)

// ChatPost is a chat message to publish as SendGroupChatMessageMsg into the
// public chat of a meeting.
type ChatPost struct {
	// MeetingID is the internal meeting id.
	MeetingID string
	// UserID is the posting user's internal id; it becomes header.userId,
	// routing.userId and sender.id. akka-apps accepts only a user who has
	// joined the meeting, or "SYSTEM" (docs/protocol.md §3.3 item 1).
	UserID string
	// CorrelationID is echoed in the broadcast; BBB clients use "<userId>-<ms>".
	CorrelationID string
	// Message is the final text, already rendered with Render.
	Message string
	// Timestamp is envelope.timestamp in ms.
	Timestamp int64
}

// APIChatPost is a 3.0 SendGroupChatMessageFromApiSysPubMsg: a public chat
// message from the pseudo-user SYSTEM shown under UserName, the Redis form of
// the sendChatMessage API call.
type APIChatPost struct {
	MeetingID string // internal meeting id
	UserName  string // display name, at most APIMaxUserNameLen
	Message   string // 1 to APIMaxMessageLen
	Timestamp int64  // envelope.timestamp in ms
}

// EncodeChatPost encodes p as the SendGroupChatMessageMsg that version v's own
// client would publish (docs/protocol.md §3.2), field for field and in the same
// order:
//
//	2.2–2.4: msg{color:"0", correlationId, sender{id, name:""}, message}
//	2.5–2.7: msg{correlationId, sender{id, name:"", role:""}, chatEmphasizedText:true, message}
//	3.0+:    msg{correlationId, message, sender{id, name:"", role:""}, replyToMessageId:"", metadata:{}}
//
// with routing {meetingId, userId}, header {name, meetingId, userId} and body
// {msg, chatId: PublicChatID}. It fails with ErrUnsupported for an unknown or
// unsupported version and with ErrInvalid for an empty field, a non-positive
// timestamp or invalid UTF-8.
func EncodeChatPost(v Version, p ChatPost) ([]byte, error) {
	const name = "SendGroupChatMessageMsg"
	if err := p.validate(); err != nil {
		return nil, err
	}
	env := envelope[clientRouting]{Name: name, Routing: clientRouting{MeetingID: p.MeetingID, UserID: p.UserID}, Timestamp: p.Timestamp}
	hdr := clientHeader{Name: name, MeetingID: p.MeetingID, UserID: p.UserID}
	switch v.Shape() {
	case ShapeLegacy:
		return marshal(message[clientRouting, clientHeader, legacyBody]{env, core[clientHeader, legacyBody]{hdr, legacyBody{
			Msg: legacyMsg{
				Color:         "0",
				CorrelationID: p.CorrelationID,
				Sender:        legacySender{ID: p.UserID},
				Message:       p.Message,
			},
			ChatID: PublicChatID,
		}}})
	case ShapeRole:
		return marshal(message[clientRouting, clientHeader, roleBody]{env, core[clientHeader, roleBody]{hdr, roleBody{
			Msg: roleMsg{
				CorrelationID:      p.CorrelationID,
				Sender:             roleSender{ID: p.UserID},
				ChatEmphasizedText: true,
				Message:            p.Message,
			},
			ChatID: PublicChatID,
		}}})
	case ShapeV3:
		return marshal(message[clientRouting, clientHeader, v3Body]{env, core[clientHeader, v3Body]{hdr, v3Body{
			Msg: v3Msg{
				CorrelationID: p.CorrelationID,
				Message:       p.Message,
				Sender:        roleSender{ID: p.UserID},
			},
			ChatID: PublicChatID,
		}}})
	default:
		return nil, fmt.Errorf("bbb: encode %s for version %s: %w", name, v, ErrUnsupported)
	}
}

// EncodeAPIChatPost encodes p as the SendGroupChatMessageFromApiSysPubMsg bbb-web
// publishes for the 3.0 sendChatMessage API (docs/protocol.md §3.5): routing
// {"sender":"bbb-web"}, header {name, meetingId, userId:"not-used"}, body
// {userName, message}. The message does not exist before 3.0: ErrUnsupported.
// An empty field, a non-positive timestamp, invalid UTF-8 or a value beyond
// APIMaxMessageLen/APIMaxUserNameLen fails with ErrInvalid.
func EncodeAPIChatPost(v Version, p APIChatPost) ([]byte, error) {
	const name = "SendGroupChatMessageFromApiSysPubMsg"
	if !v.HasAPIChat() {
		return nil, fmt.Errorf("bbb: encode %s for version %s: %w", name, v, ErrUnsupported)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return marshal(message[sysRouting, clientHeader, apiBody]{
		envelope[sysRouting]{Name: name, Routing: sysRouting{Sender: "bbb-web"}, Timestamp: p.Timestamp},
		core[clientHeader, apiBody]{
			clientHeader{Name: name, MeetingID: p.MeetingID, UserID: "not-used"},
			apiBody{UserName: p.UserName, Message: p.Message},
		},
	})
}

func (p ChatPost) validate() error {
	for _, f := range [...]struct{ name, val string }{
		{"MeetingID", p.MeetingID},
		{"UserID", p.UserID},
		{"CorrelationID", p.CorrelationID},
		{"Message", p.Message},
	} {
		if err := checkText("chat post", f.name, f.val); err != nil {
			return err
		}
	}
	if p.Timestamp <= 0 {
		return fmt.Errorf("bbb: chat post: Timestamp %d: %w", p.Timestamp, ErrInvalid)
	}
	return nil
}

func (p APIChatPost) validate() error {
	for _, f := range [...]struct{ name, val string }{
		{"MeetingID", p.MeetingID},
		{"UserName", p.UserName},
		{"Message", p.Message},
	} {
		if err := checkText("API chat post", f.name, f.val); err != nil {
			return err
		}
	}
	if n := javaLen(p.Message); n > APIMaxMessageLen {
		return fmt.Errorf("bbb: API chat post: Message is %d UTF-16 units, more than %d: %w", n, APIMaxMessageLen, ErrInvalid)
	}
	if n := javaLen(p.UserName); n > APIMaxUserNameLen {
		return fmt.Errorf("bbb: API chat post: UserName is %d UTF-16 units, more than %d: %w", n, APIMaxUserNameLen, ErrInvalid)
	}
	if p.Timestamp <= 0 {
		return fmt.Errorf("bbb: API chat post: Timestamp %d: %w", p.Timestamp, ErrInvalid)
	}
	return nil
}

// checkText refuses empty strings and invalid UTF-8 (which encoding/json would
// silently turn into U+FFFD).
func checkText(what, field, s string) error {
	if s == "" {
		return fmt.Errorf("bbb: %s: %s empty: %w", what, field, ErrInvalid)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("bbb: %s: %s is not valid UTF-8: %w", what, field, ErrInvalid)
	}
	return nil
}

// javaLen is the length Java's String.length reports: UTF-16 code units.
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// marshal encodes like JSON.stringify: no HTML escaping of < > &, so the bytes
// match what BBB's own producers publish. (Jackson reads either form.)
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("bbb: encode: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Wire types. Field order is the order BBB's producers emit (Meteor's
// makeEnvelope, graphql-actions, bbb-web's Jackson case classes); do not
// reorder, the golden files pin it.

type message[R, H, B any] struct {
	Envelope envelope[R] `json:"envelope"`
	Core     core[H, B]  `json:"core"`
}

type envelope[R any] struct {
	Name      string `json:"name"`
	Routing   R      `json:"routing"`
	Timestamp int64  `json:"timestamp"`
}

type core[H, B any] struct {
	Header H `json:"header"`
	Body   B `json:"body"`
}

type clientRouting struct {
	MeetingID string `json:"meetingId"`
	UserID    string `json:"userId"`
}

type sysRouting struct {
	Sender string `json:"sender"`
}

type clientHeader struct {
	Name      string `json:"name"`
	MeetingID string `json:"meetingId"`
	UserID    string `json:"userId"`
}

type legacySender struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type roleSender struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// 2.2–2.4 GroupChatMsgFromUser, in the 2.3/2.4 client's order.
type legacyMsg struct {
	Color         string       `json:"color"`
	CorrelationID string       `json:"correlationId"`
	Sender        legacySender `json:"sender"`
	Message       string       `json:"message"`
}

type legacyBody struct {
	Msg    legacyMsg `json:"msg"`
	ChatID string    `json:"chatId"`
}

// 2.5–2.7 GroupChatMsgFromUser, in the 2.6 client's order.
type roleMsg struct {
	CorrelationID      string     `json:"correlationId"`
	Sender             roleSender `json:"sender"`
	ChatEmphasizedText bool       `json:"chatEmphasizedText"`
	Message            string     `json:"message"`
}

type roleBody struct {
	Msg    roleMsg `json:"msg"`
	ChatID string  `json:"chatId"`
}

// 3.0 GroupChatMsgFromUser, in bbb-graphql-actions' order.
type v3Msg struct {
	CorrelationID    string     `json:"correlationId"`
	Message          string     `json:"message"`
	Sender           roleSender `json:"sender"`
	ReplyToMessageID string     `json:"replyToMessageId"`
	Metadata         struct{}   `json:"metadata"`
}

type v3Body struct {
	Msg    v3Msg  `json:"msg"`
	ChatID string `json:"chatId"`
}

type apiBody struct {
	UserName string `json:"userName"`
	Message  string `json:"message"`
}
