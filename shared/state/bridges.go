package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Callback kinds: what a bridge may ask for with callback_events (docs/api.md, "Callbacks"). A kind is the type
// of the events it delivers (the Type constants), plus KindTranscript (a meeting's transcript) and KindAll. New
// messages are always delivered to a bridge with a callback; every other kind only when asked for.
const (
	KindTranscript = "transcript"
	KindAll        = "all"
)

// SubjectGap is the subject of gap events (TypeGap): they belong to no meeting.
const SubjectGap = SubjectRoot + "." + TypeGap

// The spellings of the first callback_events, still accepted: they name the kinds message, cleared and
// meeting.ended, and a bridge that asked for a kind by one of them only gets that kind's callbacks in the body
// (and under the checksum call name) they always had.
const (
	CallbackMessage      = "sendChatMessage"
	CallbackChatCleared  = "chatCleared"
	CallbackMeetingEnded = "meetingEnded"
)

// CallbackKinds lists every callback kind, in the order getChatInfo shows them.
func CallbackKinds() []string {
	return []string{TypeMessage, TypeCleared, TypeUserJoined, TypeUserLeft, TypeMeetingEnded, TypeMessageEdited,
		TypeMessageDeleted, TypeReactionAdded, TypeReactionRemoved, TypeMessagePinned, TypeMessageUnpinned, TypeGap,
		KindTranscript}
}

// legacyKinds maps the first spellings to their kinds.
var legacyKinds = map[string]string{
	CallbackMessage:      TypeMessage,
	CallbackChatCleared:  TypeCleared,
	CallbackMeetingEnded: TypeMeetingEnded,
}

// NormaliseKind returns the kind a callback_events name stands for (a kind, KindAll, or a first spelling), and
// false when it names none.
func NormaliseKind(name string) (string, bool) {
	if k, ok := legacyKinds[name]; ok {
		return k, true
	}
	if name == KindAll {
		return KindAll, true
	}
	for _, k := range CallbackKinds() {
		if k == name {
			return k, true
		}
	}
	return "", false
}

// ErrUnknownKind reports a callback_events name that is no callback kind.
var ErrUnknownKind = errors.New("not a callback kind")

// CheckCallbackEvents checks the names a client gave as callback_events and returns what a bridge keeps: each name
// once, as given (a first spelling stays one, so the bridge keeps its bodies); the default kind, message, is
// left out. An unknown name is an error that wraps ErrUnknownKind and names it.
func CheckCallbackEvents(names []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		k, ok := NormaliseKind(n)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownKind, n)
		}
		if k == TypeMessage || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

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

// Wants reports whether the bridge asked for callbacks of a kind, named as a kind or by a first spelling.
// Stored names are normalised as they are read, so bridges stored with the first spellings keep working.
func (b Bridge) Wants(kind string) bool {
	if !b.HasCallback() {
		return false
	}
	if kind == TypeMeetingCreated {
		return b.FollowRoom // a followed room's meetings' starts (docs/api.md, "Following a room")
	}
	k, ok := NormaliseKind(kind)
	if !ok {
		return false
	}
	if k == TypeMessage {
		return true
	}
	for _, e := range b.CallbackEvents {
		if n, _ := NormaliseKind(e); n == k || n == KindAll && k != KindAll {
			return true
		}
	}
	return false
}

// Kinds lists the kinds the bridge's callback delivers, in CallbackKinds' order; nil without a callback.
func (b Bridge) Kinds() []string {
	if !b.HasCallback() {
		return nil
	}
	var out []string
	for _, k := range CallbackKinds() {
		if b.Wants(k) {
			out = append(out, k)
		}
	}
	return out
}

// LegacyBody reports whether the bridge gets a kind's callbacks in the body of the first version (no "type", the
// first call name in the checksum): always for messages, and for cleared and meeting.ended unless the bridge asked
// for them by their names here (or "all"); never for the other kinds, which had no callback then. So a bridge that asked with chatCleared or meetingEnded, as every bridge of the
// first version did, gets those bodies byte for byte.
func (b Bridge) LegacyBody(kind string) bool {
	switch kind {
	case TypeMessage:
		return true
	case TypeCleared, TypeMeetingEnded:
	default:
		return false // only those three had a body then
	}
	for _, e := range b.CallbackEvents {
		if e == KindAll || e == kind {
			return false
		}
	}
	return true
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

// GetBridge returns the bridge of an internal meeting id; ErrNotFound when there is none. A read is answered by any
// replica of the bucket (a direct get, which goes on through a leader election), and one that has not yet stored a
// bridge created a moment ago would say there is none: that answer is checked with the bucket's leader, so that a
// relay that sees a new bridge (WatchBridges) never takes it for deleted.
func (s *Store) GetBridge(ctx context.Context, meetingID string) (Bridge, error) {
	var b Bridge
	rev, err := getJSON(ctx, s.bridges, Key(meetingID), &b)
	if errors.Is(err, ErrNotFound) {
		var value []byte
		if value, rev = s.leaderGet(ctx, BucketBridges, Key(meetingID)); value != nil {
			err = nil
			if uerr := json.Unmarshal(value, &b); uerr != nil {
				err = wrap("decode bridge "+meetingID, uerr)
			}
		}
	}
	b.Revision = rev
	return b, err
}

// leaderGet reads key of bucket from the bucket's leader: its value and revision, or nil when the leader has none,
// or when it could not be asked (one attempt: an election is not waited for here). nats.go's own reads
// (KeyValue.Get, Stream.GetLastMsgForSubject) are direct gets whenever the bucket allows them, answered by any
// replica: the leader is asked with the JetStream API's message-get request itself.
func (s *Store) leaderGet(ctx context.Context, bucket, key string) ([]byte, uint64) {
	req, err := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	if err != nil {
		return nil, 0
	}
	msg, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0
	}
	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
	}
	if json.Unmarshal(msg.Data, &resp) != nil || resp.Message == nil || len(resp.Message.Data) == 0 {
		return nil, 0 // none, a deleted or purged key (no value), or an error
	}
	return resp.Message.Data, resp.Message.Seq
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
