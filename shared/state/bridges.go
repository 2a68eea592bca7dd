package state

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Callback event names a bridge may ask for with callback_events. Messages are always sent to a bridge with a
// callback; the other two only when asked.
const (
	CallbackMessage      = "sendChatMessage"
	CallbackChatCleared  = "chatCleared"
	CallbackMeetingEnded = "meetingEnded"
	// CallbackMeetingStarted is sent to a bridge that follows its room (Bridge.FollowRoom) when the room's meeting
	// starts; such a bridge gets meetingEnded too.
	CallbackMeetingStarted = "meetingStarted"
)

// Callback states of a bridge.
const (
	CallbackActive = "active"
	CallbackGone   = "gone" // the receiver answered 410 Gone: no more callbacks
	// CallbackHeld: a followed room's bridge whose callbacks wait until the room's previous meeting's are done
	// (Bridge.After), so the room's receiver gets them in order.
	CallbackHeld = "held"
)

// Bridge is one meeting opened to the outside by startChatForMeeting.
type Bridge struct {
	MeetingID      string    `json:"meeting_id"`          // internal meeting id
	ExternalID     string    `json:"external_meeting_id"` // external id when known
	RequestedID    string    `json:"requested_id"`        // meeting_id as the client gave it (callbacks carry it back)
	ChatUser       string    `json:"chat_user"`
	CallbackURI    string    `json:"callback_uri,omitempty"`
	CallbackSecret string    `json:"callback_secret,omitempty"`
	CallbackEvents []string  `json:"callback_events,omitempty"`
	CallbackState  string    `json:"callback_state,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Ending         bool      `json:"ending,omitempty"` // the meeting ended; the bridge ends once its queue is done
	Revision       uint64    `json:"-"`

	// FollowRoom: made for its room (Room), whose next meeting gets a bridge too.
	FollowRoom bool `json:"follow_room,omitempty"`
	// After is the room's previous meeting, whose callbacks go first (CallbackHeld).
	After string `json:"after,omitempty"`
}

// HasCallback reports whether the bridge sends callbacks.
func (b Bridge) HasCallback() bool { return b.CallbackURI != "" }

// Wants reports whether the bridge asked for callbacks of the named kind.
func (b Bridge) Wants(name string) bool {
	if name == CallbackMessage {
		return b.HasCallback()
	}
	for _, e := range b.CallbackEvents {
		if e == name {
			return true
		}
	}
	return false
}

// CreateBridge stores a new bridge; ErrExists when the meeting has one.
func (s *Store) CreateBridge(ctx context.Context, b Bridge) (Bridge, error) {
	rev, err := createJSON(ctx, s.bridges, Key(b.MeetingID), b)
	if err != nil {
		return b, err
	}
	b.Revision = rev
	return b, nil
}

// GetBridge returns the bridge of an internal meeting id; ErrNotFound when there is none.
func (s *Store) GetBridge(ctx context.Context, meetingID string) (Bridge, error) {
	var b Bridge
	rev, err := getJSON(ctx, s.bridges, Key(meetingID), &b)
	b.Revision = rev
	return b, err
}

// UpdateBridge changes a bridge with compare-and-set on its revision, retrying on a concurrent change. change
// returns false to leave it as it is.
func (s *Store) UpdateBridge(ctx context.Context, meetingID string, change func(*Bridge) bool) (Bridge, error) {
	for i := 0; ; i++ {
		b, err := s.GetBridge(ctx, meetingID)
		if err != nil {
			return b, err
		}
		if !change(&b) {
			return b, nil
		}
		rev, err := updateJSON(ctx, s.bridges, Key(meetingID), b, b.Revision)
		if err == nil {
			b.Revision = rev
			return b, nil
		}
		if !isConflict(err) || i > 20 {
			return b, err
		}
	}
}

// DeleteBridge removes a bridge; ErrNotFound when there is none. Its statistics and failed deliveries go with it.
func (s *Store) DeleteBridge(ctx context.Context, meetingID string) error {
	key := Key(meetingID)
	if _, err := s.bridges.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNotFound
	} else if err != nil {
		return wrap("get bridge", err)
	}
	if err := s.bridges.Purge(ctx, key); err != nil {
		return wrap("delete bridge", err)
	}
	if err := s.callbacks.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return wrap("delete callback stats", err)
	}
	return nil
}

// Bridges lists every bridge.
func (s *Store) Bridges(ctx context.Context) ([]Bridge, error) {
	ks, err := keys(ctx, s.bridges, ">")
	if err != nil {
		return nil, err
	}
	out := make([]Bridge, 0, len(ks))
	for _, k := range ks {
		id, err := ParseKey(k)
		if err != nil {
			continue
		}
		b, err := s.GetBridge(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// CountBridges returns how many bridges exist. It lists the keys (the bucket's message count would also count the
// markers that deleted bridges leave behind), so it costs a pass over the bridges.
func (s *Store) CountBridges(ctx context.Context) (int, error) {
	ks, err := keys(ctx, s.bridges, ">")
	if err != nil {
		return 0, wrap("count bridges", err)
	}
	return len(ks), nil
}

// BridgeChange is one change seen by WatchBridges: the bridge, or Deleted with only MeetingID set.
type BridgeChange struct {
	Bridge  Bridge
	Deleted bool
}

// WatchBridges sends every bridge, then every change, until ctx ends. A nil change marks the end of the
// initial values.
func (s *Store) WatchBridges(ctx context.Context) (<-chan *BridgeChange, error) {
	w, err := s.bridges.WatchAll(ctx)
	if err != nil {
		return nil, wrap("watch bridges", err)
	}
	out := make(chan *BridgeChange, 64)
	go func() {
		defer close(out)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				var c *BridgeChange
				if e != nil {
					id, err := ParseKey(e.Key())
					if err != nil {
						continue
					}
					c = &BridgeChange{Bridge: Bridge{MeetingID: id}}
					if e.Operation() != jetstream.KeyValuePut {
						c.Deleted = true
					} else if err := unmarshal(e.Value(), &c.Bridge); err != nil {
						continue
					} else {
						c.Bridge.Revision = e.Revision()
					}
				}
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
