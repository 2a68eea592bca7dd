package bbb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Redis channels and well-known ids (docs/protocol.md §1, §3.1).
const (
	// ChannelToAkka is where requests to akka-apps are published.
	ChannelToAkka = "to-akka-apps-redis-channel"
	// ChannelFromAkka carries chat broadcasts, user join/leave and meeting
	// lifecycle events in every version from 2.2 to 3.0.
	ChannelFromAkka = "from-akka-apps-redis-channel"
	// ChannelFromAkkaChat carries ClearPublicChatHistoryEvtMsg.
	ChannelFromAkkaChat = "from-akka-apps-chat-redis-channel"
	// PublicChatID is the id of every meeting's (and breakout's) public chat.
	PublicChatID = "MAIN-PUBLIC-GROUP-CHAT"
)

// MaxMessageSize is the largest Redis message Decode accepts. Real BBB events
// are a few KiB at most; anything this big is refused as malformed rather than
// parsed.
const MaxMessageSize = 1 << 20

// ErrMalformed reports a message that is not a BBB envelope, or one that lacks
// (or mistypes) a field bbb-chat needs.
var ErrMalformed = errors.New("malformed BBB message")

// Kind classifies a decoded event.
type Kind int

const (
	// KindOther is any message bbb-chat does not interpret.
	KindOther Kind = iota
	// KindChatMessage is GroupChatMessageBroadcastEvtMsg (public or private
	// chat; filter on ChatMessage.ChatID).
	KindChatMessage
	// KindChatCleared is ClearPublicChatHistoryEvtMsg.
	KindChatCleared
	// KindUserJoined is UserJoinedMeetingEvtMsg.
	KindUserJoined
	// KindUserLeft is UserLeftMeetingEvtMsg (both the 2.2–2.4 and the 2.5+ body).
	KindUserLeft
	// KindMeetingCreated is MeetingCreatedEvtMsg.
	KindMeetingCreated
	// KindMeetingEnded is MeetingEndedEvtMsg or MeetingDestroyedEvtMsg. BBB
	// sends both for one meeting, so consumers must treat it as idempotent.
	KindMeetingEnded
	// KindMessageEdited is GroupChatMessageEditedEvtMsg (3.0+).
	KindMessageEdited
	// KindMessageDeleted is GroupChatMessageDeletedEvtMsg (3.0+).
	KindMessageDeleted
	// KindReactionAdded is GroupChatMessageReactionSentEvtMsg (3.0+).
	KindReactionAdded
	// KindReactionRemoved is GroupChatMessageReactionDeletedEvtMsg (3.0+).
	KindReactionRemoved
	// KindMessagePinned is PinGroupChatMessageEvtMsg (4.0+).
	KindMessagePinned
	// KindMessageUnpinned is UnpinGroupChatMessageEvtMsg (4.0+).
	KindMessageUnpinned
)

// IsMessageAction reports whether k is an event about an earlier chat message
// (an edit, delete, reaction or pin), whose Event carries Action.
func (k Kind) IsMessageAction() bool { return k >= KindMessageEdited && k <= KindMessageUnpinned }

// String returns the kind's name for logs.
func (k Kind) String() string {
	switch k {
	case KindOther:
		return "other"
	case KindChatMessage:
		return "chat-message"
	case KindChatCleared:
		return "chat-cleared"
	case KindUserJoined:
		return "user-joined"
	case KindUserLeft:
		return "user-left"
	case KindMeetingCreated:
		return "meeting-created"
	case KindMeetingEnded:
		return "meeting-ended"
	case KindMessageEdited:
		return "message-edited"
	case KindMessageDeleted:
		return "message-deleted"
	case KindReactionAdded:
		return "reaction-added"
	case KindReactionRemoved:
		return "reaction-removed"
	case KindMessagePinned:
		return "message-pinned"
	case KindMessageUnpinned:
		return "message-unpinned"
	default:
		if name, ok := lockKindName(k); ok {
			return name
		}
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Event is one decoded BBB event, version-neutral.
type Event struct {
	Kind Kind
	// Name is the envelope name (or, for pre-2.0 style messages without an
	// envelope, core.header.name), e.g. "GroupChatMessageBroadcastEvtMsg".
	Name string
	// MeetingID is the internal meeting id: core.header.meetingId, or
	// core.body.meetingId for MeetingEnded/Destroyed, or
	// props.meetingProp.intId for MeetingCreated. For KindOther it is
	// core.header.meetingId when present, else "".
	MeetingID string
	// Timestamp is envelope.timestamp in ms (0 if absent).
	Timestamp int64

	Chat    *ChatMessage // KindChatMessage
	ChatID  string       // KindChatCleared
	User    *User        // KindUserJoined (full), KindUserLeft (ID and eject fields)
	Meeting *Meeting     // KindMeetingCreated
	Action  *Action      // the kinds for which Kind.IsMessageAction holds
	Locks   *Locks       // KindMeetingLocks, KindUserLocked, KindUserLocks, KindUserRole (locks.go)

	// Hint is the oldest version whose shape matches this event: "the server is
	// at least this version". It is zero when the event tells nothing.
	//
	//   GroupChatMessageBroadcastEvtMsg: msg.messageType → 4.0; replyToMessageId
	//     → 3.0; sender.role → 2.5; color → 2.2 (i.e. the 2.2–2.4 shape); none
	//     of them → zero.
	//   Edits, deletes and reactions → 3.0; pins → 4.0.
	//   UserJoinedMeetingEvtMsg: joinRequestMetadata → 4.0; bot → 3.0;
	//     reactionEmoji → 2.7; color → 2.6; pin → 2.5; else 2.2.
	//   UserLeftMeetingEvtMsg: eject → 2.5; else 2.2.
	//   Everything else: zero.
	//
	// Because every field added by a release stays in later ones, the highest
	// Hint seen on a server is a lower bound for its version, and Hint.Shape()
	// of a chat broadcast is exactly the shape that server speaks.
	Hint Version
}

// ChatMessage is the msg of a GroupChatMessageBroadcastEvtMsg (docs/protocol.md §3.4).
type ChatMessage struct {
	ChatID        string
	ID            string // "<ms>-<8 alphanumerics>"
	CorrelationID string // echoed from the request; "SYSTEM" for API/system posts
	Timestamp     int64  // akka's clock (ms); use it for ordering
	SenderID      string // intId, or "SYSTEM"
	SenderName    string
	SenderRole    string // "MODERATOR" / "VIEWER"; "" before 2.5
	Emphasized    bool
	// Message is exactly as BBB sent it: in 2.x HTML-escaped with link anchors
	// (see PlainText), in 3.0 Markdown.
	Message          string
	Color            string // 2.2–2.4 only
	ReplyToMessageID string // 3.0
	// HeaderUserID is core.header.userId. For API and system posts it is the
	// display name, not a user id (docs/protocol.md §3.4).
	HeaderUserID string
}

// Action is an event about an earlier chat message: an edit, a delete, a
// reaction added or removed, a pin or an unpin (docs/protocol.md §3.7).
type Action struct {
	ChatID    string
	MessageID string // BBB's id of the message concerned
	// UserID is core.header.userId: who edited, deleted, reacted or pinned.
	UserID string
	// Text is the new text of an edit, as BBB sent it (Markdown, like
	// ChatMessage.Message on 3.0+).
	Text string
	// Emoji is a reaction's reactionEmoji; EmojiID is reactionEmojiId, which
	// later builds add beside it ("" when absent).
	Emoji, EmojiID string
}

// User is the body of UserJoinedMeetingEvtMsg, or of UserLeftMeetingEvtMsg
// (ID, Eject and Reason only).
type User struct {
	ID, ExtID, Name, Role string
	Bot, Guest            bool // Bot: 3.0 only
	Eject                 bool // UserLeft 2.5+
	Reason                string
	Locked                bool // UserJoined: subject to the meeting's lock settings (docs/protocol.md §3.3)
}

// Meeting is what MeetingCreatedEvtMsg says about a meeting; it is the only
// Redis message that carries both the internal and the external id
// (docs/protocol.md §5).
type Meeting struct {
	InternalID, ExternalID, Name string
	IsBreakout                   bool
	// ParentID is breakoutProps.parentId as sent: the parent's internal id for
	// breakouts, "bbb-none" for ordinary meetings.
	ParentID    string
	CreatedTime int64 // ms
	// PublicChatLocked is lockSettingsProps.disablePublicChat: locked viewers cannot post to the public chat.
	PublicChatLocked bool
	// DisabledFeatures is meetingProp.disabledFeatures (2.5+), e.g. "chat".
	DisabledFeatures []string
}

// Decode decodes one Redis message. It is lenient: unknown fields are ignored
// and every shape from 2.2 to 3.0 is accepted. What bbb-chat needs must be
// present and well typed, otherwise the error wraps ErrMalformed and names the
// missing or bad field. Messages bbb-chat does not interpret decode to
// Event{Kind: KindOther, Name: ...} with a nil error, provided they are an
// envelope at all (a JSON object with core.header and a name); their body is
// not checked.
//
// Chat broadcasts as akka-apps writes them take a short path without
// reflection (decodeChatShort); every other message, and any chat broadcast
// that path is not sure of, goes through encoding/json (decodeJSON), with the
// same result either way.
func Decode(raw []byte) (Event, error) {
	if e, ok := decodeChatShort(raw); ok {
		return e, nil
	}
	return decodeJSON(raw)
}

// decodeJSON is Decode through encoding/json alone: it defines Decode's result
// for every input, the short path included.
func decodeJSON(raw []byte) (Event, error) {
	if len(raw) > MaxMessageSize {
		return Event{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(raw), MaxMessageSize)
	}
	if e, ok, err := decodeLocks(raw); ok {
		return e, err
	}
	// Fast path: one pass into a body that has the fields of every kind we
	// interpret. It fails on a body field whose type differs from what some
	// other kind expects; then the slow path decodes the body again with only
	// the fields of this message's kind, so that an unrelated message, or an
	// unrelated field, never makes a message malformed.
	var w wireMsg[*wireBody]
	if err := json.Unmarshal(raw, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && (te.Field == "core.body" || strings.HasPrefix(te.Field, "core.body.")) {
			return decodeSlow(raw)
		}
		return Event{}, malformed("", "", err)
	}
	e, err := decodeEnvelope(w.Envelope, w.Core)
	if err != nil {
		return Event{}, err
	}
	return decodeKind(e, w.Core.Header, w.Core.Body)
}

// decodeSlow decodes raw with the body kept raw, then decodes the body into
// only the field group the message's kind reads.
func decodeSlow(raw []byte) (Event, error) {
	var w wireMsg[json.RawMessage]
	if err := json.Unmarshal(raw, &w); err != nil {
		return Event{}, malformed("", "", err)
	}
	e, err := decodeEnvelope(w.Envelope, w.Core)
	if err != nil {
		return Event{}, err
	}
	var groups []any
	var b wireBody
	switch k := kindOf(e.Name); {
	case k == KindOther:
		return decodeKind(e, w.Core.Header, nil)
	case k == KindChatMessage:
		groups = []any{&b.chatIDField, &b.chatFields}
	case k == KindChatCleared:
		groups = []any{&b.chatIDField}
	case k == KindUserJoined, k == KindUserLeft:
		groups = []any{&b.userFields, &b.reactionField}
	case k == KindMeetingCreated, k == KindMeetingEnded:
		groups = []any{&b.meetingFields}
	case k.IsMessageAction():
		groups = []any{&b.chatIDField, &b.actionFields, &b.reactionField}
	}
	body := w.Core.Body
	if len(body) == 0 || bytes.Equal(body, []byte("null")) {
		return decodeKind(e, w.Core.Header, nil)
	}
	for _, g := range groups {
		if err := json.Unmarshal(body, g); err != nil {
			return Event{}, malformed(e.Name, "core.body", err)
		}
	}
	return decodeKind(e, w.Core.Header, &b)
}

// decodeEnvelope checks what every message needs: a header and a name.
func decodeEnvelope[B any](env *wireEnvelope, c *wireCore[B]) (Event, error) {
	if c == nil || c.Header == nil {
		return Event{}, malformed("", "core.header", errMissing)
	}
	e := Event{Name: c.Header.Name}
	if env != nil {
		e.Timestamp = env.Timestamp
		if env.Name != "" {
			e.Name = env.Name
		}
	}
	if e.Name == "" {
		return Event{}, malformed("", "envelope.name", errMissing)
	}
	return e, nil
}

// interpreted maps the names of the messages Decode interprets to their kind; every other name is KindOther.
var interpreted = map[string]Kind{
	"GroupChatMessageBroadcastEvtMsg": KindChatMessage,
	"ClearPublicChatHistoryEvtMsg":    KindChatCleared,
	"UserJoinedMeetingEvtMsg":         KindUserJoined,
	"UserLeftMeetingEvtMsg":           KindUserLeft,
	"MeetingCreatedEvtMsg":            KindMeetingCreated,
	"MeetingEndedEvtMsg":              KindMeetingEnded,
	"MeetingDestroyedEvtMsg":          KindMeetingEnded,

	"GroupChatMessageEditedEvtMsg":          KindMessageEdited,
	"GroupChatMessageDeletedEvtMsg":         KindMessageDeleted,
	"GroupChatMessageReactionSentEvtMsg":    KindReactionAdded,
	"GroupChatMessageReactionDeletedEvtMsg": KindReactionRemoved,
	"PinGroupChatMessageEvtMsg":             KindMessagePinned,
	"UnpinGroupChatMessageEvtMsg":           KindMessageUnpinned,
}

func kindOf(name string) Kind {
	if k, ok := lockNames[name]; ok {
		return k
	}
	return interpreted[name]
}

// skipGuards are strings one of which every name in interpreted contains (TestSkipGuards): SkipName looks for
// these, fewer than the names, in every message it lets relay skip.
var skipGuards = [][]byte{
	[]byte("GroupChatMessage"), // the chat broadcast and the events about a message
	[]byte("ClearPublicChatHistoryEvtMsg"),
	[]byte("UserJoinedMeetingEvtMsg"),
	[]byte("UserLeftMeetingEvtMsg"),
	[]byte("MeetingCreatedEvtMsg"),
	[]byte("MeetingEndedEvtMsg"),
	[]byte("MeetingDestroyedEvtMsg"),
}

// decodeKind fills e from the header and body (nil if absent or null).
func decodeKind(e Event, h *wireHeader, b *wireBody) (Event, error) {
	e.Kind = kindOf(e.Name)
	if e.Kind == KindOther {
		e.MeetingID = h.MeetingID
		return e, nil
	}
	if b == nil {
		return Event{}, malformed(e.Name, "core.body", errMissing)
	}
	var err error
	switch e.Kind {
	case KindChatMessage:
		err = decodeChat(&e, h, b)
	case KindChatCleared:
		err = decodeChatCleared(&e, h, b)
	case KindUserJoined:
		err = decodeUserJoined(&e, h, b)
	case KindUserLeft:
		err = decodeUserLeft(&e, h, b)
	case KindMeetingCreated:
		err = decodeMeetingCreated(&e, b)
	case KindMeetingEnded:
		err = decodeMeetingEnded(&e, b)
	default:
		err = decodeAction(&e, h, b)
	}
	if err != nil {
		return Event{}, err
	}
	return e, nil
}

// wireMsg is the envelope; B is the body: *wireBody on the fast path (nil
// when absent or null), json.RawMessage on the slow one.
type wireMsg[B any] struct {
	Envelope *wireEnvelope `json:"envelope"`
	Core     *wireCore[B]  `json:"core"`
}

type wireEnvelope struct {
	Name      string `json:"name"`
	Timestamp int64  `json:"timestamp"`
}

type wireCore[B any] struct {
	Header *wireHeader `json:"header"`
	Body   B           `json:"body"`
}

type wireHeader struct {
	Name      string `json:"name"`
	MeetingID string `json:"meetingId"`
	UserID    string `json:"userId"`
}

// wireBody has the body fields of every kind Decode interprets, in groups
// with no JSON key in common (encoding/json drops keys that two embedded
// structs share), so that the slow path can decode a kind's groups alone.
type wireBody struct {
	chatIDField
	chatFields
	actionFields
	reactionField
	userFields
	meetingFields
}

// chatIDField: every chat event.
type chatIDField struct {
	ChatID *string `json:"chatId"`
}

// chatFields: GroupChatMessageBroadcastEvtMsg.
type chatFields struct {
	Msg *wireChatMsg `json:"msg"`
}

// actionFields: the events about an earlier message (edit, delete, reaction, pin).
type actionFields struct {
	MessageID       *string `json:"messageId"`
	Message         *string `json:"message"`         // edit: the new text
	ReactionEmojiID *string `json:"reactionEmojiId"` // reactions, later builds
}

// reactionField is reactionEmoji, which two kinds carry with different meanings: a reaction's emoji (a string),
// and a user's reaction in UserJoinedMeetingEvtMsg 2.7+ (only its presence counts, for Event.Hint).
type reactionField struct {
	ReactionEmoji json.RawMessage `json:"reactionEmoji"`
}

type wireChatMsg struct {
	ID                 *string     `json:"id"`
	Timestamp          *int64      `json:"timestamp"`
	CorrelationID      string      `json:"correlationId"`
	Sender             *wireSender `json:"sender"`
	ChatEmphasizedText bool        `json:"chatEmphasizedText"`
	Message            *string     `json:"message"`
	Color              *string     `json:"color"`
	ReplyToMessageID   *string     `json:"replyToMessageId"`
	MessageType        *string     `json:"messageType"` // 4.0
}

// wireSender is msg.sender of a chat broadcast.
type wireSender struct {
	ID   *string `json:"id"`
	Name string  `json:"name"`
	Role *string `json:"role"`
}

// userFields: UserJoinedMeetingEvtMsg, UserLeftMeetingEvtMsg.
type userFields struct {
	IntID  *string `json:"intId"`
	ExtID  string  `json:"extId"`
	Name   *string `json:"name"`
	Role   string  `json:"role"`
	Guest  bool    `json:"guest"`
	Bot    *bool   `json:"bot"`
	Eject  *bool   `json:"eject"`
	Reason string  `json:"reason"`
	Locked bool    `json:"locked"` // UserJoined (locks.go)
	// Presence-only fields, used for Event.Hint; their types do not matter (reactionEmoji is in reactionField).
	Color               json.RawMessage `json:"color"`
	Pin                 json.RawMessage `json:"pin"`
	JoinRequestMetadata json.RawMessage `json:"joinRequestMetadata"`
}

// meetingFields: MeetingCreatedEvtMsg, MeetingEndedEvtMsg, MeetingDestroyedEvtMsg.
type meetingFields struct {
	MeetingID *string `json:"meetingId"`
	Props     *struct {
		MeetingProp *struct {
			Name       string  `json:"name"`
			ExtID      *string `json:"extId"`
			IntID      *string `json:"intId"`
			IsBreakout bool    `json:"isBreakout"`
			// Read leniently (locks.go): a value of another type must not make the event malformed.
			DisabledFeatures json.RawMessage `json:"disabledFeatures"`
		} `json:"meetingProp"`
		LockSettingsProps json.RawMessage `json:"lockSettingsProps"`
		BreakoutProps     struct {
			ParentID string `json:"parentId"`
		} `json:"breakoutProps"`
		DurationProps struct {
			CreatedTime int64 `json:"createdTime"`
		} `json:"durationProps"`
	} `json:"props"`
}

var (
	errMissing = errors.New("missing")
	errEmpty   = errors.New("empty")
)

// malformed builds "malformed BBB message: <name>: <field>: <cause>".
func malformed(name, field string, cause error) error {
	var te *json.UnmarshalTypeError
	if errors.As(cause, &te) {
		f := te.Field
		if field != "" && f != "" {
			f = field + "." + f
		} else if f == "" {
			f = field
		}
		want := "JSON object"
		if te.Type != nil && te.Type.Kind() != reflect.Struct {
			want = te.Type.String()
		}
		if f == "" {
			f = "message"
		}
		cause = fmt.Errorf("%s: want %s, got JSON %s", f, want, te.Value)
		field = ""
	}
	msg := ""
	if name != "" {
		msg += ": " + name
	}
	if field != "" {
		msg += ": " + field
	}
	return fmt.Errorf("%w%s: %v", ErrMalformed, msg, cause)
}

// requireID returns *p, which must be present and non-empty.
func requireID(name, field string, p *string) (string, error) {
	if p == nil {
		return "", malformed(name, field, errMissing)
	}
	if *p == "" {
		return "", malformed(name, field, errEmpty)
	}
	return *p, nil
}

func requireHeaderMeeting(e *Event, h *wireHeader) error {
	if h.MeetingID == "" {
		return malformed(e.Name, "core.header.meetingId", errMissing)
	}
	e.MeetingID = h.MeetingID
	return nil
}

// present reports whether a presence-only field was sent with a non-null value.
func present(r json.RawMessage) bool {
	return len(r) > 0 && !bytes.Equal(r, []byte("null"))
}

func decodeChat(e *Event, h *wireHeader, b *wireBody) error {
	if err := requireHeaderMeeting(e, h); err != nil {
		return err
	}
	chatID, err := requireID(e.Name, "core.body.chatId", b.ChatID)
	if err != nil {
		return err
	}
	m := b.Msg
	if m == nil {
		return malformed(e.Name, "core.body.msg", errMissing)
	}
	id, err := requireID(e.Name, "core.body.msg.id", m.ID)
	if err != nil {
		return err
	}
	if m.Timestamp == nil {
		return malformed(e.Name, "core.body.msg.timestamp", errMissing)
	}
	if m.Sender == nil {
		return malformed(e.Name, "core.body.msg.sender", errMissing)
	}
	senderID, err := requireID(e.Name, "core.body.msg.sender.id", m.Sender.ID)
	if err != nil {
		return err
	}
	if m.Message == nil {
		return malformed(e.Name, "core.body.msg.message", errMissing)
	}
	c := &ChatMessage{
		ChatID:        chatID,
		ID:            id,
		CorrelationID: m.CorrelationID,
		Timestamp:     *m.Timestamp,
		SenderID:      senderID,
		SenderName:    m.Sender.Name,
		Emphasized:    m.ChatEmphasizedText,
		Message:       *m.Message,
		HeaderUserID:  h.UserID,
	}
	switch {
	case m.MessageType != nil:
		e.Hint = Version{4, 0}
	case m.ReplyToMessageID != nil:
		e.Hint = Version{3, 0}
	case m.Sender.Role != nil:
		e.Hint = Version{2, 5}
	case m.Color != nil:
		e.Hint = Version{2, 2}
	}
	if m.Sender.Role != nil {
		c.SenderRole = *m.Sender.Role
	}
	if m.Color != nil {
		c.Color = *m.Color
	}
	if m.ReplyToMessageID != nil {
		c.ReplyToMessageID = *m.ReplyToMessageID
	}
	e.Chat = c
	return nil
}

func decodeChatCleared(e *Event, h *wireHeader, b *wireBody) error {
	if err := requireHeaderMeeting(e, h); err != nil {
		return err
	}
	id, err := requireID(e.Name, "core.body.chatId", b.ChatID)
	if err != nil {
		return err
	}
	e.ChatID = id
	return nil
}

// decodeAction decodes an event about an earlier message. It needs the header's meetingId and userId, chatId and
// messageId, an edit's message and a reaction's reactionEmoji (a string); everything else is ignored, since later
// builds add fields (messageAsHtml, reactionEmojiId).
func decodeAction(e *Event, h *wireHeader, b *wireBody) error {
	if err := requireHeaderMeeting(e, h); err != nil {
		return err
	}
	userID, err := requireID(e.Name, "core.header.userId", &h.UserID)
	if err != nil {
		return err
	}
	chatID, err := requireID(e.Name, "core.body.chatId", b.ChatID)
	if err != nil {
		return err
	}
	msgID, err := requireID(e.Name, "core.body.messageId", b.MessageID)
	if err != nil {
		return err
	}
	a := &Action{ChatID: chatID, MessageID: msgID, UserID: userID}
	e.Hint = Version{3, 0}
	switch e.Kind {
	case KindMessageEdited:
		if b.Message == nil {
			return malformed(e.Name, "core.body.message", errMissing)
		}
		a.Text = *b.Message
	case KindReactionAdded, KindReactionRemoved:
		if !present(b.ReactionEmoji) {
			return malformed(e.Name, "core.body.reactionEmoji", errMissing)
		}
		if err := json.Unmarshal(b.ReactionEmoji, &a.Emoji); err != nil {
			return malformed(e.Name, "core.body.reactionEmoji", err)
		}
		if a.Emoji == "" {
			return malformed(e.Name, "core.body.reactionEmoji", errEmpty)
		}
		if b.ReactionEmojiID != nil {
			a.EmojiID = *b.ReactionEmojiID
		}
	case KindMessagePinned, KindMessageUnpinned:
		e.Hint = Version{4, 0}
	}
	e.Action = a
	return nil
}

func decodeUserJoined(e *Event, h *wireHeader, b *wireBody) error {
	if err := requireHeaderMeeting(e, h); err != nil {
		return err
	}
	id, err := requireID(e.Name, "core.body.intId", b.IntID)
	if err != nil {
		return err
	}
	if b.Name == nil {
		return malformed(e.Name, "core.body.name", errMissing)
	}
	u := &User{ID: id, ExtID: b.ExtID, Name: *b.Name, Role: b.Role, Guest: b.Guest, Locked: b.Locked}
	if b.Bot != nil {
		u.Bot = *b.Bot
	}
	switch {
	case present(b.JoinRequestMetadata):
		e.Hint = Version{4, 0}
	case b.Bot != nil:
		e.Hint = Version{3, 0}
	case present(b.ReactionEmoji):
		e.Hint = Version{2, 7}
	case present(b.Color):
		e.Hint = Version{2, 6}
	case present(b.Pin):
		e.Hint = Version{2, 5}
	default:
		e.Hint = Version{2, 2}
	}
	e.User = u
	return nil
}

func decodeUserLeft(e *Event, h *wireHeader, b *wireBody) error {
	if err := requireHeaderMeeting(e, h); err != nil {
		return err
	}
	id, err := requireID(e.Name, "core.body.intId", b.IntID)
	if err != nil {
		return err
	}
	u := &User{ID: id, Reason: b.Reason}
	e.Hint = Version{2, 2}
	if b.Eject != nil {
		u.Eject = *b.Eject
		e.Hint = Version{2, 5}
	}
	e.User = u
	return nil
}

func decodeMeetingCreated(e *Event, b *wireBody) error {
	if b.Props == nil {
		return malformed(e.Name, "core.body.props", errMissing)
	}
	mp := b.Props.MeetingProp
	if mp == nil {
		return malformed(e.Name, "core.body.props.meetingProp", errMissing)
	}
	intID, err := requireID(e.Name, "core.body.props.meetingProp.intId", mp.IntID)
	if err != nil {
		return err
	}
	extID, err := requireID(e.Name, "core.body.props.meetingProp.extId", mp.ExtID)
	if err != nil {
		return err
	}
	e.MeetingID = intID
	e.Meeting = &Meeting{
		InternalID:  intID,
		ExternalID:  extID,
		Name:        mp.Name,
		IsBreakout:  mp.IsBreakout,
		ParentID:    b.Props.BreakoutProps.ParentID,
		CreatedTime: b.Props.DurationProps.CreatedTime,
	}
	e.Meeting.PublicChatLocked, e.Meeting.DisabledFeatures = meetingLocks(b.Props.LockSettingsProps, mp.DisabledFeatures)
	return nil
}

func decodeMeetingEnded(e *Event, b *wireBody) error {
	id, err := requireID(e.Name, "core.body.meetingId", b.MeetingID)
	if err != nil {
		return err
	}
	e.MeetingID = id
	return nil
}

// envelopePrefix is how akka-apps starts every message it publishes (Jackson writes the envelope first, its name
// first).
const envelopePrefix = `{"envelope":{"name":"`

// SkipName returns the envelope name of a message bbb-chat does not interpret, without decoding it: ok is false
// unless raw starts as akka-apps writes every message, names a kind other than those Decode interprets, is valid
// JSON, and holds neither the interpreted kinds' names anywhere nor a \u escape (which could spell one). Relay
// counts such a message by name and goes on (the envelope's other fields and core.header, which Decode checks,
// are not: a malformed message of such a kind is counted by its name, not as malformed); anything else goes
// through Decode. On a BBB server most of the Redis traffic (voice activity, cursor moves,
// presentation, polls) is of that kind, and decoding it into structs cost more than everything relay does for it.
func SkipName(raw []byte) (name string, ok bool) {
	if len(raw) > MaxMessageSize || !bytes.HasPrefix(raw, []byte(envelopePrefix)) {
		return "", false
	}
	rest := raw[len(envelopePrefix):]
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || end > 128 {
		return "", false
	}
	name = string(rest[:end])
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "", false
		}
	}
	if kindOf(name) != KindOther {
		return "", false
	}
	if bytes.Contains(raw, []byte(`\u`)) {
		return "", false
	}
	for _, g := range skipGuards {
		if bytes.Contains(raw, g) {
			return "", false
		}
	}
	if mayBeLockEvent(raw) {
		return "", false
	}
	if !json.Valid(raw) {
		return "", false
	}
	return name, true
}
