package bbbsim

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Edits, deletes, reactions and pins of chat messages (docs/protocol.md §3.7): 3.0 has the first three, 4.0 adds
// pins. A participant acting in the browser is a scripted action: the simulator applies akka-apps' checks and
// publishes the event akka-apps would, in the version's shape. The handlers below (applyEdit …) take the
// meeting and return an outcome like the request handlers, so that a request handler can use them too.

// ErrNoFeature reports an action the simulated BBB version does not have (an edit before 3.0, a pin before 4.0).
var ErrNoFeature = errors.New("bbbsim: this BBB version has no such feature")

// Event kinds of the actions on chat messages.
const (
	EventMessageEdited   EventKind = "message-edited"
	EventMessageDeleted  EventKind = "message-deleted"
	EventReactionAdded   EventKind = "reaction-added"
	EventReactionRemoved EventKind = "reaction-removed"
	EventMessagePinned   EventKind = "message-pinned"
	EventMessageUnpinned EventKind = "message-unpinned"
)

// Names of the requests and events (common-message GroupChatMsg.scala).
const (
	nameEditReq          = "EditGroupChatMessageReqMsg"
	nameDeleteReq        = "DeleteGroupChatMessageReqMsg"
	nameReactReq         = "SendGroupChatMessageReactionReqMsg"
	nameUnreactReq       = "DeleteGroupChatMessageReactionReqMsg"
	namePinReq           = "PinGroupChatMessageReqMsg"
	nameUnpinReq         = "UnpinGroupChatMessageReqMsg"
	nameEdited           = "GroupChatMessageEditedEvtMsg"
	nameDeleted          = "GroupChatMessageDeletedEvtMsg"
	nameReacted          = "GroupChatMessageReactionSentEvtMsg"
	nameUnreacted        = "GroupChatMessageReactionDeletedEvtMsg"
	namePinned           = "PinGroupChatMessageEvtMsg"
	nameUnpinned         = "UnpinGroupChatMessageEvtMsg"
	firstEditsVersion    = v30
	firstPinsVersion     = v40
	ejectOnViolationNote = "; akka-apps ejects the user for it where apps.ejectOnViolation is on"
)

// Reaction is one user's emoji on a message.
type Reaction struct {
	UserID, Emoji string
}

// chatActions is what a meeting keeps about its messages beyond their text.
type chatActions struct {
	reactions map[string][]Reaction // by message id
	pinned    []string              // message ids, in pin order
}

// EditMessage is user editing the text of their own public chat message (3.0+): GroupChatMessageEditedEvtMsg.
// Another user's message, an unknown message or a user not in the meeting is dropped (ErrDropped).
func (s *Sim) EditMessage(ctx context.Context, meetingID, userID, messageID, text string) error {
	return s.chatAction(ctx, meetingID, firstEditsVersion, nameEditReq, func(m *meeting) outcome {
		return s.applyEdit(m, userID, MainPublicChat, messageID, text)
	})
}

// DeleteMessage is user deleting a public chat message, their own or, as a moderator, anyone's (3.0+):
// GroupChatMessageDeletedEvtMsg.
func (s *Sim) DeleteMessage(ctx context.Context, meetingID, userID, messageID string) error {
	return s.chatAction(ctx, meetingID, firstEditsVersion, nameDeleteReq, func(m *meeting) outcome {
		return s.applyDelete(m, userID, MainPublicChat, messageID)
	})
}

// React is user reacting to a public chat message with an emoji (3.0+): GroupChatMessageReactionSentEvtMsg. A
// locked viewer cannot while public chat is locked.
func (s *Sim) React(ctx context.Context, meetingID, userID, messageID, emoji string) error {
	return s.chatAction(ctx, meetingID, firstEditsVersion, nameReactReq, func(m *meeting) outcome {
		return s.applyReaction(m, userID, MainPublicChat, messageID, emoji, true)
	})
}

// Unreact is user taking their reaction back (3.0+): GroupChatMessageReactionDeletedEvtMsg.
func (s *Sim) Unreact(ctx context.Context, meetingID, userID, messageID, emoji string) error {
	return s.chatAction(ctx, meetingID, firstEditsVersion, nameUnreactReq, func(m *meeting) outcome {
		return s.applyReaction(m, userID, MainPublicChat, messageID, emoji, false)
	})
}

// Pin is a moderator pinning a public chat message (4.0+): PinGroupChatMessageEvtMsg. Pinning a pinned message
// does nothing; a viewer's pin is dropped.
func (s *Sim) Pin(ctx context.Context, meetingID, userID, messageID string) error {
	return s.chatAction(ctx, meetingID, firstPinsVersion, namePinReq, func(m *meeting) outcome {
		return s.applyPin(m, userID, MainPublicChat, messageID, true)
	})
}

// Unpin is a moderator unpinning a message (4.0+): UnpinGroupChatMessageEvtMsg.
func (s *Sim) Unpin(ctx context.Context, meetingID, userID, messageID string) error {
	return s.chatAction(ctx, meetingID, firstPinsVersion, nameUnpinReq, func(m *meeting) outcome {
		return s.applyPin(m, userID, MainPublicChat, messageID, false)
	})
}

// Reactions returns the reactions on a message, in the order they were made.
func (s *Sim) Reactions(meetingID, messageID string) []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.meetings[meetingID]; ok {
		return slices.Clone(m.actions.reactions[messageID])
	}
	return nil
}

// Pinned returns the ids of the meeting's pinned messages, in pin order.
func (s *Sim) Pinned(meetingID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.meetings[meetingID]; ok {
		return slices.Clone(m.actions.pinned)
	}
	return nil
}

// chatAction runs a scripted action on a chat message of a running meeting: since is the first version that has
// it, request the name its request has in akka-apps (for drops).
func (s *Sim) chatAction(ctx context.Context, meetingID string, since ver, request string, f func(*meeting) outcome) error {
	if s.v < since {
		return fmt.Errorf("%w: %s needs BBB %s, this is %s", ErrNoFeature, request, since, s.v)
	}
	return s.act(ctx, meetingID, request, func(m *meeting) (outcome, error) { return f(m), nil })
}

// chatMsgIndex finds a message of the meeting's chat; the caller holds mu.
func (m *meeting) chatMsgIndex(chatID, id string) (int, bool) {
	i := slices.IndexFunc(m.chat, func(c ChatMessage) bool { return c.ID == id && c.ChatID == chatID })
	return i, i >= 0
}

// chatActor finds the joined user who acts, and the message acted on; a non-empty drop says why akka-apps ignores
// the request.
func (s *Sim) chatActor(m *meeting, userID, chatID, messageID string) (u *user, i int, drop string) {
	u = m.findUser(userID)
	if u == nil {
		return nil, 0, fmt.Sprintf("user %q (header.userId) is not in meeting %s", userID, m.IntID)
	}
	if !m.chats[chatID] {
		return nil, 0, fmt.Sprintf("chat %q does not exist in meeting %s", chatID, m.IntID)
	}
	i, ok := m.chatMsgIndex(chatID, messageID)
	if !ok {
		return nil, 0, fmt.Sprintf("message %q is not in chat %s of meeting %s", messageID, chatID, m.IntID)
	}
	return u, i, ""
}

// applyEdit is EditGroupChatMessageReqMsgHdlr: only the author may edit, where chat and editing are enabled and
// the author is not locked out of the public chat (moderation.go); the caller holds mu.
func (s *Sim) applyEdit(m *meeting, userID, chatID, messageID, text string) outcome {
	if drop := editLength(text); drop != "" {
		return dropped("%s", drop)
	}
	u, i, drop := s.chatActor(m, userID, chatID, messageID)
	if drop != "" {
		return dropped("%s", drop)
	}
	if drop := m.editChecks(u, "editChatMessage"); drop != "" {
		return dropped("%s", drop)
	}
	if m.chat[i].SenderID != u.ID {
		return dropped("permission check failed: %s may not edit message %s of %s%s", u.ID, messageID,
			m.chat[i].SenderID, ejectOnViolationNote)
	}
	m.chat[i].Message = text
	body := o("chatId", chatID, "messageId", messageID, "message", text,
		"messageAsHtml", opt(s.v >= v40, messageAsHTML(text)))
	return outcome{
		outs: clientEvent(nameEdited, m.IntID, u.ID, body, s.nowMs()),
		events: []Event{{Kind: EventMessageEdited, MeetingID: m.IntID, UserID: u.ID,
			Text: fmt.Sprintf("%s edited by %s: %q", messageID, u.ID, text)}},
	}
}

// applyDelete is DeleteGroupChatMessageReqMsgHdlr: the author or a moderator may delete, a moderator not in a
// breakout room, where chat and deleting are enabled and the user is not locked out of the public chat
// (moderation.go); the caller holds mu.
func (s *Sim) applyDelete(m *meeting, userID, chatID, messageID string) outcome {
	u, i, drop := s.chatActor(m, userID, chatID, messageID)
	if drop != "" {
		return dropped("%s", drop)
	}
	if drop := m.editChecks(u, "deleteChatMessage"); drop != "" {
		return dropped("%s", drop)
	}
	if m.chat[i].SenderID != u.ID && u.Role != RoleModerator {
		return dropped("permission check failed: %s, a viewer, may not delete message %s of %s%s", u.ID, messageID,
			m.chat[i].SenderID, ejectOnViolationNote)
	}
	if m.chat[i].SenderID != u.ID && m.isBreakout {
		return dropped("permission check failed: in a breakout room %s, even as a moderator, may not delete message %s of %s%s",
			u.ID, messageID, m.chat[i].SenderID, ejectOnViolationNote)
	}
	m.chat = slices.Delete(m.chat, i, i+1)
	delete(m.actions.reactions, messageID)
	m.actions.pinned = slices.DeleteFunc(m.actions.pinned, func(id string) bool { return id == messageID })
	return outcome{
		outs: clientEvent(nameDeleted, m.IntID, u.ID, o("chatId", chatID, "messageId", messageID), s.nowMs()),
		events: []Event{{Kind: EventMessageDeleted, MeetingID: m.IntID, UserID: u.ID,
			Text: fmt.Sprintf("%s deleted by %s", messageID, u.ID)}},
	}
}

// applyReaction is SendGroupChatMessageReactionReqMsgHdlr (add) and DeleteGroupChatMessageReactionReqMsgHdlr: a locked
// viewer cannot react while public chat is locked; a reaction is taken back only by who made it; the caller
// holds mu.
func (s *Sim) applyReaction(m *meeting, userID, chatID, messageID, emoji string, add bool) outcome {
	u, _, drop := s.chatActor(m, userID, chatID, messageID)
	if drop != "" {
		return dropped("%s", drop)
	}
	if drop := m.chatLockedFor(u); drop != "" {
		return dropped("%s", drop)
	}
	r := Reaction{UserID: u.ID, Emoji: emoji}
	have := slices.Contains(m.actions.reactions[messageID], r)
	name, kind, verb := nameReacted, EventReactionAdded, "added"
	switch {
	case add && have:
		return dropped("%s already reacted with %q to %s", u.ID, emoji, messageID)
	case add:
		if m.actions.reactions == nil {
			m.actions.reactions = map[string][]Reaction{}
		}
		m.actions.reactions[messageID] = append(m.actions.reactions[messageID], r)
	case !have:
		return dropped("%s has no reaction %q on %s", u.ID, emoji, messageID)
	default:
		m.actions.reactions[messageID] = slices.DeleteFunc(m.actions.reactions[messageID],
			func(x Reaction) bool { return x == r })
		name, kind, verb = nameUnreacted, EventReactionRemoved, "removed"
	}
	body := o("chatId", chatID, "messageId", messageID, "reactionEmoji", emoji)
	return outcome{
		outs: clientEvent(name, m.IntID, u.ID, body, s.nowMs()),
		events: []Event{{Kind: kind, MeetingID: m.IntID, UserID: u.ID,
			Text: fmt.Sprintf("reaction %q on %s %s by %s", emoji, messageID, verb, u.ID)}},
	}
}

// applyPin is PinGroupChatMessageReqMsgHdlr and UnpinGroupChatMessageReqMsgHdlr: moderators only; pinning a pinned
// message, or unpinning one that is not, does nothing; the caller holds mu.
func (s *Sim) applyPin(m *meeting, userID, chatID, messageID string, pin bool) outcome {
	u, _, drop := s.chatActor(m, userID, chatID, messageID)
	if drop != "" {
		return dropped("%s", drop)
	}
	if u.Role != RoleModerator {
		return dropped("%s, a viewer, may not pin or unpin messages%s", u.ID, ejectOnViolationNote)
	}
	pinned := slices.Contains(m.actions.pinned, messageID)
	if pinned == pin {
		return outcome{} // nothing to do, nothing published
	}
	name, kind, verb := namePinned, EventMessagePinned, "pinned"
	if pin {
		m.actions.pinned = append(m.actions.pinned, messageID)
	} else {
		m.actions.pinned = slices.DeleteFunc(m.actions.pinned, func(id string) bool { return id == messageID })
		name, kind, verb = nameUnpinned, EventMessageUnpinned, "unpinned"
	}
	return outcome{
		outs: clientEvent(name, m.IntID, u.ID, o("chatId", chatID, "messageId", messageID), s.nowMs()),
		events: []Event{{Kind: kind, MeetingID: m.IntID, UserID: u.ID,
			Text: fmt.Sprintf("%s %s by %s", messageID, verb, u.ID)}},
	}
}

// clientEvent builds an event with the client header and routing of the user who acted, on the main channel
// (the events of docs/protocol.md §3.7, and of lock and role changes).
func clientEvent(name, meetingID, userID string, body ordered, ts int64) []outMsg {
	return []outMsg{{ChannelFromAkka, envelopeJSON(name, routeMeeting(meetingID, userID), ts,
		headerClient(name, meetingID, userID), body)}}
}
