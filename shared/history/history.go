// Package history owns what a meeting's public chat looks like from the events stream: it folds the stored events
// (messages, clears, edits, deletions, reactions, pins, and the gaps when no relay listened) into the public chat's
// messages, page by page (Read, for getChatHistory; All, for transcripts), and writes and reads transcripts in
// their formats (json, text, html; format.go). Both binaries use it: ingress to answer, relay to write the
// transcript of an ended meeting.
//
// A page is the next public messages after a cursor, in BBB's order (the stream's), each in its state after every
// event stored so far: the page's messages are read first, then the edits, deletions, reactions and pins stored
// from the page's first message on are applied to them. A clear of the public chat hides everything stored before
// it. Private chats never appear. Memory is bounded by a page: events are read in batches and only the page's
// messages are kept.
//
// It reads the stream only through shared/state's narrow reads and must not write anything, nor know about HTTP,
// bridges or callbacks.
package history

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// PublicChatID is the id of every meeting's public chat: the only chat a history shows.
const PublicChatID = "MAIN-PUBLIC-GROUP-CHAT"

// Limits of a page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ErrNoHistory reports that the stream holds no event of the meeting.
var ErrNoHistory = errors.New("history: no events of this meeting are stored")

// ErrBadCursor reports a cursor that no answer gave.
var ErrBadCursor = errors.New("history: not a cursor of this API")

// Message is one public chat message in its state after the events stored so far.
type Message struct {
	MessageID  string         `json:"message_id"`
	UserName   string         `json:"user_name"`
	SenderID   string         `json:"sender_id"`
	SenderRole string         `json:"sender_role"`
	Message    string         `json:"message"` // plain text; "" when deleted
	Timestamp  int64          `json:"timestamp"`
	ReplyTo    string         `json:"reply_to_message_id,omitempty"`
	EditedAt   int64          `json:"edited_at,omitempty"`
	Deleted    bool           `json:"deleted,omitempty"`
	Reactions  map[string]int `json:"reactions,omitempty"` // emoji → count
	Pinned     bool           `json:"pinned,omitempty"`

	reactors map[string]map[string]bool // emoji → users who reacted with it, when the events name them
}

// Gap is a time during which no relay listened to BBB: events of that window may be missing from the history.
type Gap struct {
	From           int64  `json:"from"` // ms
	To             int64  `json:"to"`   // ms
	Server         string `json:"server,omitempty"`
	AfterMessageID string `json:"after_message_id,omitempty"` // the last message stored before it ("" before all)
}

// Page is one answer of Read.
type Page struct {
	Messages  []Message
	Gaps      []Gap
	Next      string // cursor of the next page; "" when nothing more is stored
	ClearedAt int64  // ms of the last clear of the public chat, which hides what came before it; 0 if none
	EndedAt   int64  // ms of the meeting's end; 0 while it runs
}

// Meeting is what the stream says of a meeting as a whole.
type Meeting struct {
	MeetingID         string
	ExternalMeetingID string
	Name              string
	FirstSeq          uint64
	StartedAt         int64 // ms of its first stored event
	EndedAt           int64 // ms of its end; 0 while it runs
	ClearSeq          uint64
	ClearedAt         int64
}

// Store is the part of shared/state that history reads.
type Store interface {
	FirstStored(ctx context.Context, subject string, from uint64) (state.Stored, error)
	LastStored(ctx context.Context, subject string) (state.Stored, error)
	ReadStored(ctx context.Context, filters []string, from uint64, fn func(state.Stored) (bool, error)) error
}

// ParseCursor reads a cursor of an earlier answer: the stream sequence the page ended at.
func ParseCursor(c string) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(c, 10, 64)
	if err != nil || n == 0 || n == math.MaxUint64 || cursor(n) != c {
		return 0, ErrBadCursor
	}
	return n, nil
}

func cursor(seq uint64) string { return strconv.FormatUint(seq, 10) }

// Lookup finds what the stream says of a meeting as a whole: its first event, its end and its last public clear.
// ErrNoHistory when no event of it is stored.
func Lookup(ctx context.Context, s Store, meetingID string) (Meeting, error) {
	m := Meeting{MeetingID: meetingID}
	first, err := s.FirstStored(ctx, state.MeetingFilter(meetingID), 1)
	if errors.Is(err, state.ErrNotFound) {
		return m, ErrNoHistory
	}
	if err != nil {
		return m, err
	}
	var e state.Event
	if err := state.DecodeEvent(first.Data, &e); err == nil {
		m.StartedAt, m.ExternalMeetingID, m.Name = e.Timestamp, e.ExternalMeetingID, e.MeetingName
	}
	m.FirstSeq = first.Seq
	if m.StartedAt == 0 {
		m.StartedAt = first.Time.UnixMilli()
	}
	if end, err := s.LastStored(ctx, state.EventSubject(meetingID, state.TypeMeetingEnded)); err == nil {
		var e state.Event
		if state.DecodeEvent(end.Data, &e) == nil && e.Timestamp != 0 {
			m.EndedAt = e.Timestamp
		} else {
			m.EndedAt = end.Time.UnixMilli()
		}
	} else if !errors.Is(err, state.ErrNotFound) {
		return m, err
	}
	if err := lastClear(ctx, s, meetingID, &m); err != nil {
		return m, err
	}
	return m, nil
}

// lastClear finds the last clear of the public chat. BBB clears only the public chat; a clear naming another chat
// (which relay never stores) is passed over by reading the clears in order.
func lastClear(ctx context.Context, s Store, meetingID string, m *Meeting) error {
	subj := state.EventSubject(meetingID, state.TypeCleared)
	last, err := s.LastStored(ctx, subj)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if clearOf(last, m) {
		return nil
	}
	return s.ReadStored(ctx, []string{subj}, m.FirstSeq, func(st state.Stored) (bool, error) {
		clearOf(st, m)
		return true, nil
	})
}

func clearOf(st state.Stored, m *Meeting) bool {
	var e state.Event
	if state.DecodeEvent(st.Data, &e) != nil || (e.ChatID != "" && e.ChatID != PublicChatID) {
		return false
	}
	m.ClearSeq, m.ClearedAt = st.Seq, e.Timestamp
	if m.ClearedAt == 0 {
		m.ClearedAt = st.Time.UnixMilli()
	}
	return true
}

// Read returns the page of at most limit public messages stored after the cursor after ("" from the start).
func Read(ctx context.Context, s Store, meetingID, after string, limit int) (Page, error) {
	from, err := ParseCursor(after)
	if err != nil {
		return Page{}, err
	}
	m, err := Lookup(ctx, s, meetingID)
	if err != nil {
		return Page{}, err
	}
	p, _, err := m.page(ctx, s, from+1, limit, "")
	return p, err
}

// page reads the page from sequence from on; last is the id of the last message before it, if known. It returns
// the page and the last message id on it (or last).
func (m Meeting) page(ctx context.Context, s Store, from uint64, limit int, last string) (Page, string, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	p := Page{ClearedAt: m.ClearedAt, EndedAt: m.EndedAt}
	from = max(from, m.FirstSeq, m.ClearSeq+1)
	byID := map[string]int{}
	var consumed uint64
	filters := []string{state.EventSubject(m.MeetingID, state.TypeMessage), state.SubjectGap}
	err := s.ReadStored(ctx, filters, from, func(st state.Stored) (bool, error) {
		var e state.Event
		if err := state.DecodeEvent(st.Data, &e); err != nil {
			consumed = st.Seq
			return true, nil // not relay's: nothing to show
		}
		switch e.Type {
		case state.TypeGap:
			if e.To >= m.StartedAt && (m.EndedAt == 0 || e.From <= m.EndedAt) {
				p.Gaps = append(p.Gaps, Gap{From: e.From, To: e.To, Server: e.Server, AfterMessageID: last})
			}
		case state.TypeMessage:
			if e.ChatID != "" && e.ChatID != PublicChatID {
				break
			}
			if len(p.Messages) == limit {
				p.Next = cursor(consumed)
				return false, nil
			}
			id := e.MessageID
			if id == "" {
				id = e.ID
			}
			if _, dup := byID[id]; dup {
				break
			}
			byID[id] = len(p.Messages)
			p.Messages = append(p.Messages, Message{MessageID: id, UserName: e.SenderName, SenderID: e.SenderID,
				SenderRole: e.SenderRole, Message: e.Text, Timestamp: e.Timestamp, ReplyTo: e.ReplyTo})
			last = id
		}
		consumed = st.Seq
		return true, nil
	})
	if err != nil || len(p.Messages) == 0 {
		return p, last, err
	}
	// The later events of the page's messages: from the page's first message to the end of what is stored.
	later := []string{
		state.SubjectRoot + "." + state.Key(m.MeetingID) + ".message.*",
		state.SubjectRoot + "." + state.Key(m.MeetingID) + ".reaction.*",
	}
	// Most meetings have none (BBB 2.x has no edits, reactions or pins): two direct gets say so without a read.
	none := true
	for _, subj := range later {
		_, err := s.FirstStored(ctx, subj, from)
		if err == nil {
			none = false
			break
		}
		if !errors.Is(err, state.ErrNotFound) {
			return p, last, err
		}
	}
	if none {
		return p, last, nil
	}
	err = s.ReadStored(ctx, later, from, func(st state.Stored) (bool, error) {
		var e state.Event
		if state.DecodeEvent(st.Data, &e) != nil {
			return true, nil
		}
		if i, ok := byID[e.MessageID]; ok {
			apply(&p.Messages[i], e)
		}
		return true, nil
	})
	return p, last, err
}

// apply is what a later event does to a message.
func apply(msg *Message, e state.Event) {
	switch e.Type {
	case state.TypeMessageEdited:
		if !msg.Deleted {
			msg.Message, msg.EditedAt = e.Text, e.Timestamp
		}
	case state.TypeMessageDeleted:
		msg.Deleted, msg.Message, msg.Reactions, msg.reactors, msg.Pinned = true, "", nil, nil, false
	case state.TypeMessagePinned:
		msg.Pinned = !msg.Deleted
	case state.TypeMessageUnpinned:
		msg.Pinned = false
	case state.TypeReactionAdded, state.TypeReactionRemoved:
		if msg.Deleted || e.Emoji == "" {
			return
		}
		add := e.Type == state.TypeReactionAdded
		if e.UserID != "" {
			// A user reacts with an emoji once: a repeated event (another relay, a retry) changes nothing.
			users := msg.reactors[e.Emoji]
			if users[e.UserID] == add {
				return
			}
			if msg.reactors == nil {
				msg.reactors = map[string]map[string]bool{}
			}
			if users == nil {
				users = map[string]bool{}
				msg.reactors[e.Emoji] = users
			}
			if add {
				users[e.UserID] = true
			} else {
				delete(users, e.UserID)
			}
		}
		if msg.Reactions == nil {
			msg.Reactions = map[string]int{}
		}
		if add {
			msg.Reactions[e.Emoji]++
		} else if msg.Reactions[e.Emoji] > 0 {
			msg.Reactions[e.Emoji]--
		}
		if msg.Reactions[e.Emoji] == 0 {
			delete(msg.Reactions, e.Emoji)
		}
		if len(msg.Reactions) == 0 {
			msg.Reactions = nil
		}
	}
}

// All calls fn with every public message of the meeting, in order, in its final state, reading a page of size
// at a time. It is what transcripts are made of (their gaps come from Gaps).
func (m Meeting) All(ctx context.Context, s Store, size int, fn func(Message) error) error {
	from, last := uint64(0), ""
	for {
		p, l, err := m.page(ctx, s, from, size, last)
		if err != nil {
			return err
		}
		for _, msg := range p.Messages {
			if err := fn(msg); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		last = l
		n, err := ParseCursor(p.Next)
		if err != nil {
			return fmt.Errorf("history: %w", err)
		}
		from = n + 1
	}
}
