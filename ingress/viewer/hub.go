package viewer

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// frame is one Server-Sent Event, ready to write; its id is the event's stream sequence.
type frame struct {
	seq uint64
	b   []byte
}

// follower reads a meeting's events from the stream (state.Store.FollowMeeting).
type follower func(ctx context.Context, meetingID string, after uint64, f func(seq uint64, payload []byte) bool) error

// revocationReader reads when a meeting's links were last revoked (state.Store.ViewerLinksNotBefore).
type revocationReader func(ctx context.Context, meetingID string) (time.Time, error)

// hubs holds one hub per meeting that has viewers: one consumer of the stream per meeting, however many viewers.
type hubs struct {
	log     *slog.Logger
	follow  func() follower         // nil while NATS is not open
	revoked func() revocationReader // nil while NATS is not open
	keep    int                     // frames a hub keeps for viewers who join or come back
	linger  time.Duration           // how long a hub without viewers lives on
	beat    time.Duration           // how often a hub's viewers get a heartbeat (heartbeat)

	mu sync.Mutex
	m  map[string]*hub
}

// hub is one meeting's events as frames, appended in stream order by one consumer and read by every viewer; and
// the meeting's heartbeat: one timer and one read of the meeting's revocation time per heartbeat for all its
// viewers, not one each.
type hub struct {
	meetingID string
	cancel    context.CancelFunc

	mu      sync.RWMutex  // read by every viewer on every wake; written by the consumer, the heartbeat, joins and leaves
	frames  []frame       // ascending seq; frames are never changed once appended
	trimmed uint64        // the highest sequence no longer in frames (0: none dropped)
	wake    chan struct{} // closed when frames grow and on every heartbeat
	beats   uint64        // heartbeats so far
	viewers int
	idle    *time.Timer

	// notBefore is the meeting's revocation time read at the last heartbeat, in Unix ns (0: none): links issued
	// before it are revoked.
	notBefore atomic.Int64
}

// join returns the meeting's hub, started if it was not running (it runs until ctx ends at the latest), counted
// as one more viewer's.
func (hs *hubs) join(ctx context.Context, meetingID string) *hub {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.m == nil {
		hs.m = map[string]*hub{}
	}
	h := hs.m[meetingID]
	if h == nil {
		hctx, cancel := context.WithCancel(ctx)
		h = &hub{meetingID: meetingID, cancel: cancel, wake: make(chan struct{})}
		hs.m[meetingID] = h
		go hs.run(hctx, h)
		go hs.heartbeat(hctx, h)
	}
	h.mu.Lock()
	h.viewers++
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	h.mu.Unlock()
	return h
}

// leave counts a viewer gone; a hub without viewers stops after linger.
func (hs *hubs) leave(h *hub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.viewers--; h.viewers > 0 {
		return
	}
	h.idle = time.AfterFunc(hs.linger, func() {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.viewers == 0 && hs.m[h.meetingID] == h {
			delete(hs.m, h.meetingID)
			h.cancel()
		}
	})
}

// run follows the meeting's events into the hub from the stream's start, again from where it was after a failure.
func (hs *hubs) run(ctx context.Context, h *hub) {
	var last uint64
	retry := backoff.Exponential{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 1; ctx.Err() == nil; attempt++ {
		var err error
		if follow := hs.follow(); follow == nil {
			err = state.ErrUnavailable
		} else {
			err = follow(ctx, h.meetingID, last, func(seq uint64, payload []byte) bool {
				last = seq
				if b, ok := render(seq, payload); ok {
					h.append(frame{seq: seq, b: b}, hs.keep)
				}
				attempt = 0
				return true
			})
		}
		if ctx.Err() != nil {
			return
		}
		if attempt == 1 || attempt%20 == 0 {
			hs.log.Warn("cannot read a meeting's events for its viewers; retrying", "meeting_id", h.meetingID, "err", err)
		}
		if !service.Sleep(ctx, retry.Delay(max(attempt, 1))) {
			return
		}
	}
}

// heartbeat wakes the hub's viewers every hs.beat, having read the meeting's revocation time for them; when it
// cannot be read, the last one read stands.
func (hs *hubs) heartbeat(ctx context.Context, h *hub) {
	t := time.NewTicker(hs.beat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		nb, ok := time.Time{}, false
		if read := hs.revoked(); read != nil {
			var err error
			if nb, err = read(ctx, h.meetingID); err == nil {
				ok = true
			} else if ctx.Err() == nil {
				hs.log.Debug("cannot read a meeting's revocation time for its viewers", "meeting_id", h.meetingID, "err", err)
			}
		}
		if ok {
			h.notBefore.Store(unixNano(nb))
		}
		h.mu.Lock()
		h.beats++
		h.wakeLocked()
		h.mu.Unlock()
	}
}

func (h *hub) append(f frame, keep int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.frames = append(h.frames, f)
	if keep > 0 && len(h.frames) > keep {
		drop := len(h.frames) - keep/2
		h.trimmed = h.frames[drop-1].seq
		h.frames = append([]frame(nil), h.frames[drop:]...)
	}
	h.wakeLocked()
}

// wakeLocked wakes every viewer waiting on the hub; h.mu is held.
func (h *hub) wakeLocked() {
	close(h.wake)
	h.wake = make(chan struct{})
}

// since returns the frames after sequence after, a channel closed when there are more or on the next heartbeat,
// and the heartbeats so far. When frames after after were dropped already, it returns behind = the last dropped
// sequence: the viewer reads up to it from the stream itself.
func (h *hub) since(after uint64) (fs []frame, wake <-chan struct{}, beats, behind uint64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if after < h.trimmed {
		return nil, h.wake, h.beats, h.trimmed
	}
	i := sort.Search(len(h.frames), func(i int) bool { return h.frames[i].seq > after })
	return h.frames[i:len(h.frames):len(h.frames)], h.wake, h.beats, 0
}

// revoked reports whether a link issued at issuedAt was revoked, as the meeting's revocation time read at the last
// heartbeat says.
func (h *hub) revoked(issuedAt time.Time) bool {
	nb := h.notBefore.Load()
	return nb != 0 && unixNano(issuedAt) < nb
}

// unixNano is t in Unix ns, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// view is what the page gets of an event: only what it shows.
type view struct {
	Type      string `json:"type"`
	MessageID string `json:"message_id,omitempty"`
	Name      string `json:"name,omitempty"`
	Role      string `json:"role,omitempty"`
	Text      string `json:"text,omitempty"`
	Emoji     string `json:"emoji,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"`
}

// render turns a stream event into the frame the page gets, or false when the page does not show it (private
// chats, presence, other events).
func render(seq uint64, payload []byte) ([]byte, bool) {
	var e state.Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, false
	}
	public := e.ChatID == "" || e.ChatID == bbb.PublicChatID
	v := view{Type: e.Type, MessageID: e.MessageID, Timestamp: e.Timestamp}
	switch e.Type {
	case state.TypeMessage:
		if !public {
			return nil, false
		}
		if v.MessageID == "" {
			v.MessageID = e.ID
		}
		v.Name, v.Role, v.Text = e.SenderName, e.SenderRole, e.Text
	case state.TypeMessageEdited:
		if !public {
			return nil, false
		}
		v.Text = e.Text
	case state.TypeMessageDeleted:
		if !public {
			return nil, false
		}
	case state.TypeReactionAdded, state.TypeReactionRemoved:
		if !public {
			return nil, false
		}
		v.Emoji = e.Emoji
	case state.TypeCleared:
		if !public {
			return nil, false
		}
	case state.TypeMeetingEnded:
	default:
		return nil, false
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	b := make([]byte, 0, len(data)+48)
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, e.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...), true
}
