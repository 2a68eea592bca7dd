package bbbsim

import (
	"fmt"
	"unicode/utf16"
)

// The edit and delete requests a bbb-chat chat user sends (3.0 and later, docs/protocol.md §9): strictly parsed,
// then run through the same handlers as a participant's scripted edit or deletion (chat_events.go).

// moderationSpec is the case class of an edit or delete request in version v (unchanged in 4.0); false before
// 3.0, which has none.
func moderationSpec(v ver, name string) (msgSpec, bool) {
	if v < firstEditsVersion {
		return msgSpec{}, false
	}
	switch name {
	case nameEditReq:
		return msgSpec{hdrClient, strs("chatId", "messageId", "message")}, true
	case nameDeleteReq:
		return msgSpec{hdrClient, strs("chatId", "messageId")}, true
	}
	return msgSpec{}, false
}

// applyModeration runs the edit and delete requests; false for any other request.
func (s *Sim) applyModeration(m *meeting, req *request) (outcome, bool) {
	userID, chatID, messageID := str(req.header, "userId"), str(req.body, "chatId"), str(req.body, "messageId")
	switch req.name {
	case nameEditReq:
		return s.applyEdit(m, userID, chatID, messageID, str(req.body, "message")), true
	case nameDeleteReq:
		return s.applyDelete(m, userID, chatID, messageID), true
	}
	return outcome{}, false
}

// editChecks are what akka-apps checks before an edit or deletion (feature is editChatMessage or
// deleteChatMessage) besides who wrote the message: chat and the feature enabled, the user not locked out of the
// public chat (docs/protocol.md §9 items 4 and 5). A failure is a silent drop, not an ejection.
func (m *meeting) editChecks(u *user, feature string) string {
	if m.disabled["chat"] || m.disabled[feature] {
		return fmt.Sprintf("the meeting's disabled features include chat or %s", feature)
	}
	return m.chatLockedFor(u)
}

// editLength checks an edit's text: 1 to 5,000 characters as Java counts them (docs/protocol.md §9 item 1).
func editLength(text string) string {
	if n := len(utf16.Encode([]rune(text))); n < 1 || n > 5000 {
		return fmt.Sprintf("message length %d out of bounds [1, 5000]", n)
	}
	return ""
}
