package bbbsim

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
)

// The scripted actions below play the parts of BBB that are not akka-apps: bbb-web creating and ending meetings,
// and humans in browsers joining, leaving, typing and clearing the chat. Chat and clear go through the same strict
// parser and handlers as requests from Redis, built the way that version's client would build them.

// CreateMeeting starts a meeting whose internal id is sha1_hex(extID) + "-" + the creation time in ms, and
// publishes MeetingCreatedEvtMsg in the version's shape (on the frontend channel too on 2.3+). As with bbb-web's
// create call, if a meeting with that external id is running it is returned unchanged and nothing is published.
func (s *Sim) CreateMeeting(ctx context.Context, extID, name string) (Meeting, error) {
	return s.CreateMeetingWith(ctx, extID, name, MeetingOptions{})
}

// CreateMeetingWith is CreateMeeting with the meeting's options (disabled features, breakout room) set.
func (s *Sim) CreateMeetingWith(ctx context.Context, extID, name string, opts MeetingOptions) (Meeting, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	created := s.nowMs()
	sum := sha1.Sum([]byte(extID))
	intID := hex.EncodeToString(sum[:]) + "-" + strconv.FormatInt(created, 10)

	s.mu.Lock()
	for _, m := range s.meetings {
		if m.ExtID == extID && !m.ended {
			s.mu.Unlock()
			return m.Meeting, nil
		}
	}
	if _, ok := s.meetings[intID]; ok { // ended in the same millisecond
		s.mu.Unlock()
		return Meeting{}, fmt.Errorf("%w: %s", ErrMeetingExists, intID)
	}
	m := &meeting{
		Meeting:        Meeting{IntID: intID, ExtID: extID, Name: name, CreatedTime: created},
		dashboardToken: s.randAlnum(12),
		voiceConf:      strconv.Itoa(70000 + s.rnd.IntN(10000)),
		registered:     map[string]*regUser{},
		chats:          map[string]bool{MainPublicChat: true},
	}
	opts.apply(s.v, m)
	s.meetings[intID] = m
	s.notifyLocked()
	s.mu.Unlock()

	ev := Event{Kind: EventMeetingCreated, MeetingID: intID,
		Text: fmt.Sprintf("meeting %q created as %s (BBB %s)", extID, intID, s.v)}
	return m.Meeting, s.finishAction(ctx, meetingCreated(s.v, m, s.nowMs()), ev)
}

// finishAction publishes a scripted action's events and reports it; the caller holds opMu.
func (s *Sim) finishAction(ctx context.Context, outs []outMsg, events ...Event) error {
	if err := s.publish(ctx, outs); err != nil {
		return err
	}
	s.emit(events...)
	return nil
}

// act is one scripted action on the running meeting meetingID: change runs under mu and says what the action
// publishes, which is then published and reported; or, when it says akka drops the request (named request), the
// drop is recorded. opMu is held throughout, so actions reach Redis in the order they were made.
func (s *Sim) act(ctx context.Context, meetingID, request string, change func(*meeting) (outcome, error)) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	m, err := s.runningLocked(meetingID)
	var out outcome
	if err == nil {
		out, err = change(m)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.notifyLocked()
	s.mu.Unlock()
	if out.drop != "" {
		s.emit(out.events...)
		return s.finishDrop(request, request+": "+out.drop, nil, meetingID)
	}
	return s.finishAction(ctx, out.outs, out.events...)
}

// SetLock sets the meeting's lock setting disablePublicChat. Joined users are locked (lockOnJoin), so with it on,
// viewers can no longer post to the public chat; moderators and SYSTEM still can. It publishes nothing.
func (s *Sim) SetLock(meetingID string, disablePublicChat bool) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.meetings[meetingID]; ok {
		m.lockPublicChat = disablePublicChat
	}
}

// Join makes a browser user with a new id ("w_" + 12 lowercase alphanumerics) join the meeting and publishes
// UserJoinedMeetingEvtMsg in the version's shape. The user is locked (lockOnJoin). role is MODERATOR or VIEWER.
func (s *Sim) Join(ctx context.Context, meetingID, name, role string) (string, error) {
	if role != RoleModerator && role != RoleViewer {
		return "", fmt.Errorf("%w: %q", ErrBadRole, role)
	}
	id := ""
	err := s.act(ctx, meetingID, "", func(m *meeting) (outcome, error) {
		id = "w_" + s.randAlnum(12)
		u := &user{
			User:       User{ID: id, ExtID: id, Name: name, Role: role, Color: m.nextColor(), Locked: true},
			clientType: "HTML5",
		}
		m.users = append(m.users, u)
		return outcome{outs: userJoined(s.v, meetingID, u, s.nowMs()), events: []Event{joinEvent(m, u)}}, nil
	})
	return id, err
}

// runningLocked returns a meeting that has not ended; the caller holds mu.
func (s *Sim) runningLocked(meetingID string) (*meeting, error) {
	m, ok := s.meetings[meetingID]
	if !ok || m.ended {
		return nil, fmt.Errorf("%w: %s", ErrNoMeeting, meetingID)
	}
	return m, nil
}

// Leave removes a joined user at once and publishes UserLeftMeetingEvtMsg (2.2–2.4 {intId}; 2.5+ with eject,
// ejectedBy, reason, reasonCode), on the frontend channel too on 2.3+.
func (s *Sim) Leave(ctx context.Context, meetingID, userID string) error {
	return s.act(ctx, meetingID, "", func(m *meeting) (outcome, error) {
		if m.findUser(userID) == nil {
			return outcome{}, fmt.Errorf("%w: %s in %s", ErrNoUser, userID, meetingID)
		}
		return s.removeUser(m, userID), nil
	})
}

// Say is a browser user typing text into the public chat. On 2.x the HTML5 server's processing (HTML5Process) is
// applied first; on 3.0 the text goes verbatim (Markdown). The request is built in the version's exact client shape
// and handled as akka would: a user who is not joined, or a locked viewer while public chat is locked, gets an error
// wrapping ErrDropped (and the drop is recorded).
func (s *Sim) Say(ctx context.Context, meetingID, userID, text string) (ChatMessage, error) {
	s.mu.Lock()
	m, err := s.runningLocked(meetingID)
	if err != nil {
		s.mu.Unlock()
		return ChatMessage{}, err
	}
	name, color := "", "0"
	if u := m.findUser(userID); u != nil {
		name = u.Name
		if s.v >= v23 {
			color = u.Color // the 2.3/2.4 client sends the user's avatar colour
		}
	}
	s.mu.Unlock()

	ts := s.nowMs()
	correlationID := fmt.Sprintf("%s-%d", userID, ts)
	var msg ordered
	switch {
	case s.v <= v24:
		msg = o("color", color, "correlationId", correlationID, "sender", o("id", userID, "name", name),
			"message", HTML5Process(text))
	case s.v <= v27:
		msg = o("correlationId", correlationID, "sender", o("id", userID, "name", "", "role", ""),
			"chatEmphasizedText", true, "message", HTML5Process(text))
	default:
		msg = o("correlationId", correlationID, "sender", o("id", userID, "name", "", "role", ""),
			"message", text, "replyToMessageId", "", "metadata", map[string]any{})
	}
	raw := clientRequest(msgSendGroupChat, meetingID, userID, ts, o("msg", msg, "chatId", MainPublicChat))
	c, err := s.process(ctx, raw)
	if err != nil {
		return ChatMessage{}, err
	}
	return *c, nil
}

// ClearChat is a user clearing the public chat from the browser (ClearPublicChatHistoryPubMsg). Only moderators
// may; otherwise the error wraps ErrDropped.
func (s *Sim) ClearChat(ctx context.Context, meetingID, userID string) error {
	raw := clientRequest(msgClearPublicChat, meetingID, userID, s.nowMs(), o("chatId", MainPublicChat))
	_, err := s.process(ctx, raw)
	return err
}

// clientRequest builds a request as the HTML5 server or graphql-actions publish it.
func clientRequest(name, meetingID, userID string, ts int64, body ordered) []byte {
	return envelopeJSON(name, o("meetingId", meetingID, "userId", userID), ts,
		headerClient(name, meetingID, userID), body)
}

// EndMeeting ends the meeting as the end API does: MeetingEndingEvtMsg, MeetingEndedEvtMsg, then
// MeetingDestroyedEvtMsg (without akka's 2.5 s delay). BBB sends no UserLeftMeetingEvtMsg at meeting end. The
// meeting's chat stays readable through Chat; requests for it are dropped from then on.
func (s *Sim) EndMeeting(ctx context.Context, meetingID string) error {
	return s.act(ctx, meetingID, "", func(m *meeting) (outcome, error) {
		m.ended = true
		m.users = nil
		m.registered = map[string]*regUser{}
		return outcome{outs: meetingEnd(s.v, meetingID, s.nowMs()),
			events: []Event{{Kind: EventMeetingEnded, MeetingID: meetingID, Text: fmt.Sprintf("meeting %s ended", meetingID)}}}, nil
	})
}
