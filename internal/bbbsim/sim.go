package bbbsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors.
var (
	ErrVersion       = errors.New("bbbsim: unknown BBB version")
	ErrNoMeeting     = errors.New("bbbsim: no such meeting")
	ErrNoUser        = errors.New("bbbsim: no such user in the meeting")
	ErrMeetingExists = errors.New("bbbsim: meeting already exists")
	ErrDropped       = errors.New("bbbsim: akka-apps dropped the message")
	ErrBadRole       = errors.New("bbbsim: role must be MODERATOR or VIEWER")
)

// Roles as akka-apps spells them.
const (
	RoleModerator = "MODERATOR"
	RoleViewer    = "VIEWER"
)

// Options configure a Sim.
type Options struct {
	// Version is the BBB version to play: one of Versions() ("2.2" … "2.7", "3.0", "4.0").
	Version string
	// Now is the clock for ids and timestamps; nil means time.Now. It is called from several goroutines.
	Now func() time.Time
	// Rand generates message, user and token ids; nil means one seeded from the clock. The Sim serialises its use.
	Rand *rand.Rand
	// OnEvent, if set, is called for every meeting, user and chat change and every drop, in order, while the Sim
	// holds its operation lock: it may call the read methods (Chat, Users, Dropped, Warnings) but must not call
	// the actions (CreateMeeting, Join, Say, SetLock …), which would deadlock.
	OnEvent func(Event)
}

// Meeting is a meeting created by CreateMeeting.
type Meeting struct {
	IntID       string // sha1_hex(ExtID) + "-" + CreatedTime
	ExtID       string
	Name        string
	CreatedTime int64 // epoch ms
}

// User is a user who joined a meeting (akka's Users2x).
type User struct {
	ID     string // internal id, "w_" + 12 lowercase alphanumerics for scripted users
	ExtID  string
	Name   string
	Role   string // MODERATOR or VIEWER
	Color  string // #rrggbb, assigned by the simulator
	Locked bool   // set on join from the meeting's lockOnJoin, which is always true here
	Bot    bool   // 3.0 RegisterUserReqMsg.bot
}

// ChatMessage is one accepted public chat message, as akka holds it and broadcast it.
type ChatMessage struct {
	ID            string // "<Timestamp>-<8 lowercase alphanumerics>"
	ChatID        string
	CorrelationID string
	SenderID      string // the akka user record's id, "SYSTEM" for system and API posts
	SenderName    string
	SenderRole    string // empty on 2.2–2.4, whose chat sender has no role
	Message       string
	Timestamp     int64 // akka's clock, epoch ms
	Emphasized    bool  // chatEmphasizedText (always false on 2.2–2.4)
	ReplyTo       string
}

// Drop is a message akka-apps would have dropped, with the reason.
type Drop struct {
	Name   string // envelope.name, when it could be read
	Reason string
	Raw    []byte
}

// Warning is something akka-apps accepts but that a correct producer does not send (an explicit null, a header
// name that differs from the envelope name), or a publish that failed.
type Warning struct {
	Name   string
	Reason string
	Raw    []byte
}

// EventKind says what an Event is about.
type EventKind string

// Event kinds.
const (
	EventMeetingCreated EventKind = "meeting-created"
	EventUserRegistered EventKind = "user-registered"
	EventUserJoined     EventKind = "user-joined"
	EventUserLeft       EventKind = "user-left"
	EventChat           EventKind = "chat"
	EventChatCleared    EventKind = "chat-cleared"
	EventMeetingEnded   EventKind = "meeting-ended"
	EventDropped        EventKind = "dropped"
	EventWarning        EventKind = "warning"
)

// Event is one thing that happened in the simulated akka-apps, for logs and demos.
type Event struct {
	Kind      EventKind
	MeetingID string
	UserID    string
	Text      string // one human-readable line
}

func (e Event) String() string { return fmt.Sprintf("%-15s %s", e.Kind, e.Text) }

// Sim is a simulated akka-apps of one BBB version on a real Redis.
type Sim struct {
	rdb     *redis.Client
	v       ver
	now     func() time.Time
	onEvent func(Event)

	// opMu serialises whole operations (a request from Redis or a scripted action) including their publishes, so
	// events leave in the order of the state changes that caused them, as from akka's single meeting actor.
	opMu sync.Mutex

	mu       sync.Mutex // guards everything below
	rnd      *rand.Rand
	meetings map[string]*meeting
	drops    []Drop
	warnings []Warning
	changed  chan struct{} // closed and replaced on every change, for the Wait methods

	ps        *redis.PubSub
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type meeting struct {
	Meeting
	dashboardToken string
	voiceConf      string
	lockPublicChat bool
	disabled       map[string]bool // disabledFeatures (2.5+), see locks.go
	isBreakout     bool
	parent         string              // the parent meeting of a breakout room
	userNoPubChat  map[string]bool     // 3.0 per-user lock settings: public chat disabled, by user id
	users          []*user             // joined, in join order
	registered     map[string]*regUser // by authToken
	chats          map[string]bool
	chat           []ChatMessage
	actions        chatActions // reactions and pins (chat_events.go)
	ended          bool
	colors         int
}

type user struct {
	User
	clientType string
}

type regUser struct {
	id, name, role, extID, guestStatus string
	bot, excludeFromDashboard          bool
	registeredOn                       int64
}

// Start subscribes to to-akka-apps-redis-channel on rdb and returns once Redis has confirmed the subscription.
// Requests are then handled in arrival order until Close.
func Start(ctx context.Context, rdb *redis.Client, opts Options) (*Sim, error) {
	v, err := parseVersion(opts.Version)
	if err != nil {
		return nil, err
	}
	s := &Sim{
		rdb:      rdb,
		v:        v,
		now:      opts.Now,
		onEvent:  opts.OnEvent,
		rnd:      opts.Rand,
		meetings: map[string]*meeting{},
		changed:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rnd == nil {
		seed := uint64(s.now().UnixNano())
		s.rnd = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	ps := rdb.Subscribe(ctx, ChannelToAkka)
	msg, err := ps.Receive(ctx)
	if err != nil {
		ps.Close()
		return nil, fmt.Errorf("bbbsim: subscribe %s: %w", ChannelToAkka, err)
	}
	if _, ok := msg.(*redis.Subscription); !ok {
		ps.Close()
		return nil, fmt.Errorf("bbbsim: subscribe %s: unexpected first reply %T", ChannelToAkka, msg)
	}
	s.ps = ps
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	ch := ps.Channel(redis.WithChannelSize(1000))
	go s.loop(runCtx, ch)
	return s, nil
}

func (s *Sim) loop(ctx context.Context, ch <-chan *redis.Message) {
	defer close(s.done)
	for m := range ch {
		s.process(ctx, []byte(m.Payload))
	}
}

// Close unsubscribes and waits for the request loop to stop. It does not close rdb.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.closeErr = s.ps.Close()
		<-s.done
	})
	return s.closeErr
}

// Version is the BBB version the Sim plays.
func (s *Sim) Version() string { return s.v.String() }

// outcome is what handling one request or action produced.
type outcome struct {
	outs   []outMsg
	events []Event
	chat   *ChatMessage
	drop   string // non-empty: akka drops the message for this reason
}

func dropped(format string, args ...any) outcome { return outcome{drop: fmt.Sprintf(format, args...)} }

// process handles one request exactly as if it came from Redis, and returns the chat message it produced, if any.
func (s *Sim) process(ctx context.Context, raw []byte) (*ChatMessage, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	req, err := parseRequest(raw, s.v)
	if err != nil {
		var pe *parseError
		errors.As(err, &pe)
		return nil, s.finishDrop(pe.name, pe.reason, raw, "")
	}
	s.mu.Lock()
	out := s.apply(req)
	for _, w := range req.warnings {
		s.warnings = append(s.warnings, Warning{Name: req.name, Reason: req.name + ": " + w, Raw: raw})
		out.events = append([]Event{{Kind: EventWarning, Text: req.name + ": " + w}}, out.events...)
	}
	s.notifyLocked()
	s.mu.Unlock()
	if out.drop != "" {
		s.emit(out.events...)
		return nil, s.finishDrop(req.name, req.name+": "+out.drop, raw, str(req.header, "meetingId"))
	}
	if err := s.publish(ctx, out.outs); err != nil {
		s.mu.Lock()
		s.warnings = append(s.warnings, Warning{Name: req.name, Reason: err.Error(), Raw: raw})
		s.notifyLocked()
		s.mu.Unlock()
		out.events = append(out.events, Event{Kind: EventWarning, Text: err.Error()})
		s.emit(out.events...)
		return out.chat, err
	}
	s.emit(out.events...)
	return out.chat, nil
}

// finishDrop records a drop and reports it; the caller holds opMu.
func (s *Sim) finishDrop(name, reason string, raw []byte, meetingID string) error {
	s.mu.Lock()
	s.drops = append(s.drops, Drop{Name: name, Reason: reason, Raw: slices.Clone(raw)})
	s.notifyLocked()
	s.mu.Unlock()
	s.emit(Event{Kind: EventDropped, MeetingID: meetingID, Text: reason})
	return fmt.Errorf("%w: %s", ErrDropped, reason)
}

func (s *Sim) publish(ctx context.Context, outs []outMsg) error {
	for _, m := range outs {
		if err := s.rdb.Publish(ctx, m.channel, m.data).Err(); err != nil {
			return fmt.Errorf("bbbsim: publish on %s: %w", m.channel, err)
		}
	}
	return nil
}

func (s *Sim) emit(events ...Event) {
	if s.onEvent == nil {
		return
	}
	for _, e := range events {
		s.onEvent(e)
	}
}

// notifyLocked wakes every waiter; the caller holds mu.
func (s *Sim) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Sim) nowMs() int64 { return s.now().UnixMilli() }

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

// randAlnum returns n random lowercase alphanumerics; the caller holds mu.
func (s *Sim) randAlnum(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[s.rnd.IntN(len(alnum))]
	}
	return string(b)
}

// palette is the set of user colours the simulator hands out in turn.
var palette = [...]string{"#7b1fa2", "#6a1b9a", "#4a148c", "#5e35b1", "#512da8", "#4527a0", "#311b92",
	"#3949ab", "#303f9f", "#283593", "#1a237e", "#1976d2", "#1565c0", "#0d47a1", "#0277bd", "#01579b"}

func (m *meeting) nextColor() string {
	c := palette[m.colors%len(palette)]
	m.colors++
	return c
}

func (m *meeting) findUser(id string) *user {
	for _, u := range m.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// Chat returns the meeting's public chat as akka holds it: the accepted messages in order since the last clear.
func (s *Sim) Chat(meetingID string) []ChatMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.meetings[meetingID]; ok {
		return slices.Clone(m.chat)
	}
	return nil
}

// WaitChat waits until the meeting's public chat holds at least n messages and returns them, or until ctx ends.
func (s *Sim) WaitChat(ctx context.Context, meetingID string, n int) ([]ChatMessage, error) {
	for {
		s.mu.Lock()
		m, ok := s.meetings[meetingID]
		if !ok {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrNoMeeting, meetingID)
		}
		if len(m.chat) >= n {
			out := slices.Clone(m.chat)
			s.mu.Unlock()
			return out, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("bbbsim: waiting for %d chat messages in %s: %w", n, meetingID, ctx.Err())
		}
	}
}

// Dropped returns every message dropped so far, oldest first.
func (s *Sim) Dropped() []Drop {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.drops)
}

// WaitDropped waits until at least n messages have been dropped and returns them, or until ctx ends.
func (s *Sim) WaitDropped(ctx context.Context, n int) ([]Drop, error) {
	for {
		s.mu.Lock()
		if len(s.drops) >= n {
			out := slices.Clone(s.drops)
			s.mu.Unlock()
			return out, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("bbbsim: waiting for %d dropped messages: %w", n, ctx.Err())
		}
	}
}

// Warnings returns every warning so far, oldest first.
func (s *Sim) Warnings() []Warning {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.warnings)
}

// Users returns the users currently joined in the meeting, in join order.
func (s *Sim) Users(meetingID string) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.meetings[meetingID]
	if !ok {
		return nil
	}
	out := make([]User, len(m.users))
	for i, u := range m.users {
		out[i] = u.User
	}
	return out
}
