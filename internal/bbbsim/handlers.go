package bbbsim

import (
	"fmt"
	"slices"
)

// apply runs the akka-apps handler of a parsed request; the caller holds mu.
func (s *Sim) apply(req *request) outcome {
	meetingID := str(req.header, "meetingId")
	m, ok := s.meetings[meetingID]
	if !ok || m.ended {
		// akka publishes it on an internal bus channel nobody listens to (docs/protocol.md §2.2).
		return dropped("meeting %q is not running", meetingID)
	}
	switch req.name {
	case msgSendGroupChat:
		return s.onSendGroupChat(m, req)
	case msgSendChatFromAPI:
		return s.onSendChatFromAPI(m, req)
	case msgClearPublicChat:
		return s.onClearPublicChat(m, req)
	case msgRegisterUser:
		return s.onRegisterUser(m, req)
	case msgUserJoinMeeting:
		return s.onUserJoinMeeting(m, req)
	case msgUserLeave:
		return s.onUserLeave(m, req)
	}
	if o, ok := s.applyModeration(m, req); ok {
		return o
	}
	return dropped(notHandled)
}

// chatUser is akka's findGroupChatUser: a joined user, or the SYSTEM pseudo-user (2.2–3.0.x; 4.0 accepts only a
// joined user, docs/protocol.md §3.3 item 1, §3.8).
func (s *Sim) chatUser(m *meeting, id string) (chatSender, *user, bool) {
	if u := m.findUser(id); u != nil {
		cs := chatSender{id: u.ID, name: u.Name}
		if s.v >= v25 {
			cs.role = u.Role
		}
		return cs, u, true
	}
	if id == "SYSTEM" && s.v < v40 {
		if s.v <= v24 {
			return chatSender{id: "SYSTEM", name: "SYSTEM"}, nil, true
		}
		return chatSender{id: "SYSTEM", name: "", role: RoleViewer}, nil, true
	}
	return chatSender{}, nil, false
}

// onSendGroupChat is SendGroupChatMessageMsgHdlr (docs/protocol.md §3.3).
func (s *Sim) onSendGroupChat(m *meeting, req *request) outcome {
	senderID := str(req.header, "userId")
	chatID := str(req.body, "chatId")
	msg := sub(req.body, "msg")

	sender, u, ok := s.chatUser(m, senderID)
	if !ok {
		return dropped("sender %q (header.userId) is not a user in meeting %s", senderID, m.IntID)
	}
	if !m.chats[chatID] {
		return dropped("chat %q does not exist in meeting %s", chatID, m.IntID)
	}
	if s.v >= v25 && m.disabled["chat"] {
		return dropped("chat is a disabled feature of meeting %s", m.IntID)
	}
	if u != nil {
		if reason := m.chatLockedFor(u); reason != "" {
			return dropped("%s", reason)
		}
	}

	ts := s.nowMs()
	c := ChatMessage{
		ID:            fmt.Sprintf("%d-%s", ts, s.randAlnum(8)),
		ChatID:        chatID,
		CorrelationID: str(msg, "correlationId"),
		SenderID:      sender.id,
		SenderName:    sender.name,
		SenderRole:    sender.role,
		Message:       str(msg, "message"),
		Timestamp:     ts,
	}
	switch {
	case s.v <= v24:
	case s.v <= v27:
		c.Emphasized, _ = msg["chatEmphasizedText"].(bool) // copied from the client
	default:
		c.Emphasized = sender.role == RoleModerator // moderatorChatEmphasized (default true), public chat
		c.ReplyTo = str(msg, "replyToMessageId")
	}
	m.chat = append(m.chat, c)
	outs := chatBroadcast(s.v, m.IntID, senderID, chatID, &c, sender,
		msg["correlationId"], msg["color"], msg["message"], msg["replyToMessageId"], msgTypeDefault, msg["metadata"],
		s.nowMs())
	return outcome{
		outs:   outs,
		chat:   &c,
		events: []Event{chatEvent(m, &c)},
	}
}

// onSendChatFromAPI is 3.0's SendGroupChatMessageFromApiSysPubMsgHdlr (docs/protocol.md §3.5): public chat, no
// lock or role checks, sender SYSTEM carrying the given name, emphasised.
func (s *Sim) onSendChatFromAPI(m *meeting, req *request) outcome {
	userName := str(req.body, "userName")
	ts := s.nowMs()
	c := ChatMessage{
		ID:            fmt.Sprintf("%d-%s", ts, s.randAlnum(8)),
		ChatID:        MainPublicChat,
		CorrelationID: "SYSTEM",
		SenderID:      "SYSTEM",
		SenderName:    userName,
		SenderRole:    RoleViewer,
		Message:       str(req.body, "message"),
		Timestamp:     ts,
		Emphasized:    true,
	}
	m.chat = append(m.chat, c)
	sender := chatSender{id: "SYSTEM", name: userName, role: RoleViewer}
	outs := chatBroadcast(s.v, m.IntID, userName, MainPublicChat, &c, sender,
		"SYSTEM", nil, req.body["message"], "", msgTypeAPI, map[string]any{}, s.nowMs())
	return outcome{outs: outs, chat: &c, events: []Event{chatEvent(m, &c)}}
}

func chatEvent(m *meeting, c *ChatMessage) Event {
	return Event{Kind: EventChat, MeetingID: m.IntID, UserID: c.SenderID,
		Text: fmt.Sprintf("accepted %s from %s %q: %q", c.ID, c.SenderID, c.SenderName, c.Message)}
}

// onClearPublicChat is ClearPublicChatHistoryPubMsgHdlr (docs/protocol.md §3.6): moderators only.
func (s *Sim) onClearPublicChat(m *meeting, req *request) outcome {
	userID := str(req.header, "userId")
	u := m.findUser(userID)
	if u == nil || u.Role != RoleModerator {
		return dropped("only a moderator may clear the public chat, and %q is not one in meeting %s", userID, m.IntID)
	}
	chatID := str(req.body, "chatId")
	if !m.chats[chatID] {
		return dropped("chat %q does not exist in meeting %s", chatID, m.IntID)
	}
	m.chat = nil
	return outcome{
		outs: chatCleared(m.IntID, userID, chatID, s.nowMs()),
		events: []Event{{Kind: EventChatCleared, MeetingID: m.IntID, UserID: userID,
			Text: fmt.Sprintf("public chat of %s cleared by %s %q", m.IntID, userID, u.Name)}},
	}
}

// onRegisterUser is RegisterUserReqMsgHdlr (docs/protocol.md §4.4): remembers the user by auth token.
func (s *Sim) onRegisterUser(m *meeting, req *request) outcome {
	b := req.body
	r := &regUser{
		id:           str(b, "intUserId"),
		name:         str(b, "name"),
		role:         str(b, "role"),
		extID:        str(b, "extUserId"),
		guestStatus:  str(b, "guestStatus"),
		registeredOn: s.nowMs(),
	}
	r.bot, _ = b["bot"].(bool)
	r.excludeFromDashboard, _ = b["excludeFromDashboard"].(bool)
	m.registered[str(b, "authToken")] = r
	return outcome{
		outs: userRegistered(s.v, m.IntID, r, s.nowMs()),
		events: []Event{{Kind: EventUserRegistered, MeetingID: m.IntID, UserID: r.id,
			Text: fmt.Sprintf("%s %q %s registered in %s", r.id, r.name, r.role, m.IntID)}},
	}
}

// onUserJoinMeeting is UserJoinMeetingReqMsgHdlr (docs/protocol.md §4.4): the registered user with that auth token
// and id joins, locked because lockOnJoin is on.
func (s *Sim) onUserJoinMeeting(m *meeting, req *request) outcome {
	userID := str(req.body, "userId")
	r, ok := m.registered[str(req.body, "authToken")]
	if !ok || r.id != userID {
		return dropped("no user %q registered with that authToken in meeting %s", userID, m.IntID)
	}
	if r.guestStatus != "ALLOW" {
		return dropped("user %q has guestStatus %q, not ALLOW", userID, r.guestStatus)
	}
	if m.findUser(userID) != nil {
		return outcome{} // already joined: akka only resets the user-left flag
	}
	u := &user{
		User: User{ID: r.id, ExtID: r.extID, Name: r.name, Role: r.role, Color: m.nextColor(), Locked: true,
			Bot: r.bot},
		clientType: str(req.body, "clientType"),
	}
	m.users = append(m.users, u)
	return outcome{outs: userJoined(s.v, m.IntID, u, s.nowMs()), events: []Event{joinEvent(m, u)}}
}

func joinEvent(m *meeting, u *user) Event {
	return Event{Kind: EventUserJoined, MeetingID: m.IntID, UserID: u.ID,
		Text: fmt.Sprintf("%s %q %s joined %s", u.ID, u.Name, u.Role, m.IntID)}
}

// onUserLeave handles UserLeaveReqMsg. akka only sets a left flag and removes the user about 10 s later (or at
// once when meetingExpireWhenLastUserLeft is 0); the simulator removes the user at once.
func (s *Sim) onUserLeave(m *meeting, req *request) outcome {
	userID := str(req.body, "userId")
	if m.findUser(userID) == nil {
		return dropped("user %q is not in meeting %s", userID, m.IntID)
	}
	return s.removeUser(m, userID)
}

// removeUser takes a joined user out of the meeting; the caller holds mu.
func (s *Sim) removeUser(m *meeting, userID string) outcome {
	m.users = slices.DeleteFunc(m.users, func(u *user) bool { return u.ID == userID })
	return outcome{
		outs: userLeft(s.v, m.IntID, userID, s.nowMs()),
		events: []Event{{Kind: EventUserLeft, MeetingID: m.IntID, UserID: userID,
			Text: fmt.Sprintf("%s left %s", userID, m.IntID)}},
	}
}
