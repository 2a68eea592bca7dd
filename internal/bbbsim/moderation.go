package bbbsim

import (
	"fmt"
	"slices"
	"unicode/utf16"
)

// Requests to edit and delete a public chat message (3.0 and later, docs/protocol.md §9).
const (
	msgEditGroupChat   = "EditGroupChatMessageReqMsg"
	msgDeleteGroupChat = "DeleteGroupChatMessageReqMsg"
)

// Event kinds of the moderation requests.
const (
	EventChatEdited  EventKind = "chat-edited"
	EventChatDeleted EventKind = "chat-deleted"
)

// moderationSpec is the case class of an edit or delete request in version v; false before 3.0, which has none.
func moderationSpec(v ver, name string) (msgSpec, bool) {
	if v < v30 {
		return msgSpec{}, false
	}
	switch name {
	case msgEditGroupChat:
		return msgSpec{hdrClient, strs("chatId", "messageId", "message")}, true
	case msgDeleteGroupChat:
		return msgSpec{hdrClient, strs("chatId", "messageId")}, true
	}
	return msgSpec{}, false
}

// applyModeration runs the edit and delete handlers; false for any other request.
func (s *Sim) applyModeration(m *meeting, req *request) (outcome, bool) {
	switch req.name {
	case msgEditGroupChat:
		return s.onEditGroupChat(m, req), true
	case msgDeleteGroupChat:
		return s.onDeleteGroupChat(m, req), true
	}
	return outcome{}, false
}

// moderationTarget runs the checks edit and delete share (docs/protocol.md §9 items 2–6) and returns the acting
// user and the index of the message in the chat.
func (s *Sim) moderationTarget(m *meeting, req *request, feature string) (*user, int, string) {
	userID := str(req.header, "userId")
	u := m.findUser(userID)
	if u == nil {
		return nil, 0, fmt.Sprintf("sender %q (header.userId) is not a user in meeting %s", userID, m.IntID)
	}
	chatID := str(req.body, "chatId")
	if !m.chats[chatID] {
		return nil, 0, fmt.Sprintf("chat %q does not exist in meeting %s", chatID, m.IntID)
	}
	if m.disabled["chat"] || m.disabled[feature] {
		return nil, 0, fmt.Sprintf("the meeting's disabled features include chat or %s", feature)
	}
	if reason := m.chatLockedFor(u); reason != "" {
		return nil, 0, reason
	}
	messageID := str(req.body, "messageId")
	i := slices.IndexFunc(m.chat, func(c ChatMessage) bool { return c.ID == messageID && c.ChatID == chatID })
	if i < 0 {
		return nil, 0, fmt.Sprintf("no message %q in chat %s", messageID, chatID)
	}
	return u, i, ""
}

// onEditGroupChat is EditGroupChatMessageReqMsgHdlr: only the author may edit, 1 to 5,000 characters.
func (s *Sim) onEditGroupChat(m *meeting, req *request) outcome {
	text := str(req.body, "message")
	if n := len(utf16.Encode([]rune(text))); n < 1 || n > 5000 {
		return dropped("message length %d out of bounds [1, 5000]", n)
	}
	u, i, reason := s.moderationTarget(m, req, "editChatMessage")
	if reason != "" {
		return dropped("%s", reason)
	}
	c := &m.chat[i]
	if c.SenderID != u.ID {
		return dropped("permission check failed (User doesn't have permission to edit chat message): %s is not the "+
			"author of %s; akka-apps ejects the sender where apps.ejectOnViolation is on", u.ID, c.ID)
	}
	c.Message = text
	const name = "GroupChatMessageEditedEvtMsg"
	data := envelopeJSON(name, routeMeeting(m.IntID, u.ID), s.nowMs(), headerClient(name, m.IntID, u.ID),
		o("chatId", c.ChatID, "messageId", c.ID, "message", text))
	return outcome{outs: []outMsg{{ChannelFromAkka, data}}, events: []Event{{Kind: EventChatEdited, MeetingID: m.IntID,
		UserID: u.ID, Text: fmt.Sprintf("%s edited %s: %q", u.ID, c.ID, text)}}}
}

// onDeleteGroupChat is DeleteGroupChatMessageReqMsgHdlr: the author, or a moderator outside breakout rooms.
func (s *Sim) onDeleteGroupChat(m *meeting, req *request) outcome {
	u, i, reason := s.moderationTarget(m, req, "deleteChatMessage")
	if reason != "" {
		return dropped("%s", reason)
	}
	c := m.chat[i]
	if c.SenderID != u.ID && (u.Role != RoleModerator || m.isBreakout) {
		return dropped("permission check failed (User doesn't have permission to delete chat message): %s is "+
			"neither the author of %s nor a moderator outside breakout rooms; akka-apps ejects the sender where "+
			"apps.ejectOnViolation is on", u.ID, c.ID)
	}
	m.chat = slices.Delete(m.chat, i, i+1)
	const name = "GroupChatMessageDeletedEvtMsg"
	data := envelopeJSON(name, routeMeeting(m.IntID, u.ID), s.nowMs(), headerClient(name, m.IntID, u.ID),
		o("chatId", c.ChatID, "messageId", c.ID))
	return outcome{outs: []outMsg{{ChannelFromAkka, data}}, events: []Event{{Kind: EventChatDeleted, MeetingID: m.IntID,
		UserID: u.ID, Text: fmt.Sprintf("%s deleted %s", u.ID, c.ID)}}}
}
