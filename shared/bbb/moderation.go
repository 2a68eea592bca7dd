package bbb

import "fmt"

// ChatEdit is an EditGroupChatMessageReqMsg: the user UserID replaces the text of its message MessageID in the
// public chat. akka-apps accepts it only from the message's author (any other sender may be ejected), and only
// where chat, and editing it, are enabled and not locked for the user.
type ChatEdit struct {
	MeetingID string // internal meeting id
	UserID    string // the acting user's internal id: header.userId and routing.userId
	MessageID string // BBB's id of the message
	Message   string // the new text, already rendered with Render
	Timestamp int64  // envelope.timestamp in ms
}

// ChatDelete is a DeleteGroupChatMessageReqMsg: the user UserID deletes message MessageID of the public chat.
// akka-apps accepts it from the message's author, or from a moderator outside breakout rooms; any other sender
// may be ejected.
type ChatDelete struct {
	MeetingID string
	UserID    string
	MessageID string
	Timestamp int64
}

// EncodeChatEdit encodes e as the EditGroupChatMessageReqMsg of version v (docs/protocol.md §9): routing
// {meetingId, userId}, header {name, meetingId, userId}, body {chatId: PublicChatID, messageId, message}, the same
// in 3.0 and 4.0. Before 3.0 the message does not exist: ErrUnsupported. An empty field, a non-positive timestamp
// or invalid UTF-8 fails with ErrInvalid.
func EncodeChatEdit(v Version, e ChatEdit) ([]byte, error) {
	const name = "EditGroupChatMessageReqMsg"
	if !v.HasMessageEdits() {
		return nil, fmt.Errorf("bbb: encode %s for version %s: %w", name, v, ErrUnsupported)
	}
	if err := validateModeration("chat edit", e.MeetingID, e.UserID, e.MessageID, e.Timestamp); err != nil {
		return nil, err
	}
	if err := checkText("chat edit", "Message", e.Message); err != nil {
		return nil, err
	}
	return marshal(message[clientRouting, clientHeader, editBody]{
		envelope[clientRouting]{Name: name, Routing: clientRouting{MeetingID: e.MeetingID, UserID: e.UserID}, Timestamp: e.Timestamp},
		core[clientHeader, editBody]{
			clientHeader{Name: name, MeetingID: e.MeetingID, UserID: e.UserID},
			editBody{ChatID: PublicChatID, MessageID: e.MessageID, Message: e.Message},
		},
	})
}

// EncodeChatDelete encodes d as the DeleteGroupChatMessageReqMsg of version v (docs/protocol.md §9): routing
// {meetingId, userId}, header {name, meetingId, userId}, body {chatId: PublicChatID, messageId}, the same in 3.0
// and 4.0. Before 3.0: ErrUnsupported. An empty field, a non-positive timestamp or invalid UTF-8: ErrInvalid.
func EncodeChatDelete(v Version, d ChatDelete) ([]byte, error) {
	const name = "DeleteGroupChatMessageReqMsg"
	if !v.HasMessageEdits() {
		return nil, fmt.Errorf("bbb: encode %s for version %s: %w", name, v, ErrUnsupported)
	}
	if err := validateModeration("chat delete", d.MeetingID, d.UserID, d.MessageID, d.Timestamp); err != nil {
		return nil, err
	}
	return marshal(message[clientRouting, clientHeader, deleteBody]{
		envelope[clientRouting]{Name: name, Routing: clientRouting{MeetingID: d.MeetingID, UserID: d.UserID}, Timestamp: d.Timestamp},
		core[clientHeader, deleteBody]{
			clientHeader{Name: name, MeetingID: d.MeetingID, UserID: d.UserID},
			deleteBody{ChatID: PublicChatID, MessageID: d.MessageID},
		},
	})
}

func validateModeration(what, meetingID, userID, messageID string, ts int64) error {
	for _, f := range [...]struct{ name, val string }{
		{"MeetingID", meetingID},
		{"UserID", userID},
		{"MessageID", messageID},
	} {
		if err := checkText(what, f.name, f.val); err != nil {
			return err
		}
	}
	if ts <= 0 {
		return fmt.Errorf("bbb: %s: Timestamp %d: %w", what, ts, ErrInvalid)
	}
	return nil
}

// EditGroupChatMessageReqMsgBody, in the case class's order.
type editBody struct {
	ChatID    string `json:"chatId"`
	MessageID string `json:"messageId"`
	Message   string `json:"message"`
}

// DeleteGroupChatMessageReqMsgBody.
type deleteBody struct {
	ChatID    string `json:"chatId"`
	MessageID string `json:"messageId"`
}
