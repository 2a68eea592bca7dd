package state

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the buckets and the stream.
const (
	BucketBridges   = "bbbchat_bridges"
	BucketPresence  = "bbbchat_presence"
	BucketMeetings  = "bbbchat_meetings"
	BucketCallbacks = "bbbchat_callbacks"
	BucketFailed    = "bbbchat_failed"
	BucketNonces    = "bbbchat_nonces"
	BucketAPIPosts  = "bbbchat_api_posts"
	BucketEnded     = "bbbchat_ended"
	StreamEvents    = "BBBCHAT_EVENTS"
	SubjectRoot     = "bbbchat"
	SubjectRetry    = "bbbchat-retry"
)

// Event types, the last tokens of an event's subject.
const (
	TypeMessage        = "message"
	TypeCleared        = "cleared"
	TypeUserJoined     = "user.joined"
	TypeUserLeft       = "user.left"
	TypeMeetingCreated = "meeting.created"
	TypeMeetingEnded   = "meeting.ended"

	// The rest of the chat (BBB 3.0 and later; docs/nats.md): message_id names the message concerned; text is the
	// new text of an edit, emoji the reaction.
	TypeMessageEdited   = "message.edited"
	TypeMessageDeleted  = "message.deleted"
	TypeReactionAdded   = "reaction.added"
	TypeReactionRemoved = "reaction.removed"
	TypeMessagePinned   = "message.pinned"
	TypeMessageUnpinned = "message.unpinned"

	// What keeps a user out of the public chat (docs/nats.md): the meeting's lock settings (public_chat_locked),
	// a user locked or unlocked (user_id, locked), a user's own lock settings (3.0: user_id, public_chat_locked),
	// a user's new role (user_id, user_role). Relay keeps them in the meetings and presence buckets, where ingress
	// reads them to refuse a post BBB would drop.
	TypeMeetingLocks = "meeting.locks"
	TypeUserLocked   = "user.locked"
	TypeUserLocks    = "user.locks"
	TypeUserRole     = "user.role"

	// TypeGap says that no relay was subscribed to BBB's Redis from From to To (ms) on Server: events of that window
	// may be missing. It is the one event that belongs to no meeting (subject bbbchat.gap).
	TypeGap = "gap"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrReplay   = errors.New("already used")
)

// Options sizes the stream and buckets. Services pass the configured values to Open, which creates or updates the
// definitions with them; checks pass the same values to Inspect, which only compares.
type Options struct {
	Replicas       int           // 1 for a single server
	EventsMaxAge   time.Duration // how long events are kept (0: 7 days)
	EventsMaxBytes int64         // how many bytes of events are kept (0: 1 GiB)
	NonceTTL       time.Duration // how long a used checksum is remembered; 0: the nonce bucket is left alone (relay)
	FailedMaxAge   time.Duration // how long failed deliveries are kept (0: 30 days)
	// Server is this BBB server's id (BBB_CHAT_SERVER_ID; "": DefaultServer), under which the Store keeps the
	// facts of this server only (presence). It changes no definition.
	Server string
}

// DefaultServer is the server id of a Store opened without one (config.LocalServerID is the same).
const DefaultServer = "local"

func (o Options) withDefaults() Options {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.EventsMaxAge <= 0 {
		o.EventsMaxAge = 7 * 24 * time.Hour
	}
	if o.EventsMaxBytes <= 0 {
		o.EventsMaxBytes = 1 << 30
	}
	if o.FailedMaxAge <= 0 {
		o.FailedMaxAge = 30 * 24 * time.Hour
	}
	if o.Server == "" {
		o.Server = DefaultServer
	}
	return o
}

// Store is the handle on bbb-chat's JetStream state. It is safe for concurrent use. Its NATS connection and
// JetStream handles stay inside: callers get the narrow methods they need (see consumers.go).
type Store struct {
	nc        *nats.Conn
	js        jetstream.JetStream
	events    jetstream.Stream
	bridges   jetstream.KeyValue
	presence  jetstream.KeyValue
	meetings  jetstream.KeyValue
	callbacks jetstream.KeyValue
	failed    jetstream.KeyValue
	nonces    jetstream.KeyValue
	apiPosts  jetstream.KeyValue
	// revocations: viewer links revoked, per meeting (viewers.go)
	revocations jetstream.KeyValue
	coverage    jetstream.KeyValue
	ended       jetstream.KeyValue
	server      string // Options.Server
	// lost is when the connection was seen down (AwaitConnected); nil before.
	lost atomic.Pointer[lost]
}

// bucketDef is one KV bucket as Open makes it; slot is where the Store keeps its handle.
type bucketDef struct {
	cfg  jetstream.KeyValueConfig
	slot func(*Store) *jetstream.KeyValue
}

// definitions are the buckets and the stream as Open makes them with o (after withDefaults): the one place
// they are defined.
func definitions(o Options) ([]bucketDef, jetstream.StreamConfig) {
	kv := func(name, desc string, ttl time.Duration, slot func(*Store) *jetstream.KeyValue) bucketDef {
		return bucketDef{cfg: jetstream.KeyValueConfig{
			Bucket: name, Description: desc, TTL: ttl, History: 1,
			Storage: jetstream.FileStorage, Replicas: o.Replicas,
		}, slot: slot}
	}
	buckets := []bucketDef{
		kv(BucketBridges, "bbb-chat bridges: meeting to chat user and callback", 0, func(s *Store) *jetstream.KeyValue { return &s.bridges }),
		kv(BucketPresence, "bbb-chat: users present in meetings", 0, func(s *Store) *jetstream.KeyValue { return &s.presence }),
		kv(BucketMeetings, "bbb-chat: internal and external meeting ids", 0, func(s *Store) *jetstream.KeyValue { return &s.meetings }),
		kv(BucketCallbacks, "bbb-chat: callback delivery statistics per bridge", 0, func(s *Store) *jetstream.KeyValue { return &s.callbacks }),
		kv(BucketFailed, "bbb-chat: callbacks given up after their retry schedule", o.FailedMaxAge, func(s *Store) *jetstream.KeyValue { return &s.failed }),
		kv(BucketAPIPosts, "bbb-chat: posts made through BBB 3.0's chat API, to recognise their echo", apiPostTTL, func(s *Store) *jetstream.KeyValue { return &s.apiPosts }),
		kv(BucketViewerRevocations, "bbb-chat: revoked viewer links, per meeting", viewerRevocationTTL, func(s *Store) *jetstream.KeyValue { return &s.revocations }),
		{cfg: coverageBucket(o.Replicas), slot: func(s *Store) *jetstream.KeyValue { return &s.coverage }},
		kv(BucketEnded, "bbb-chat: meetings that ended lately", EndedTTL, func(s *Store) *jetstream.KeyValue { return &s.ended }),
	}
	if o.NonceTTL > 0 {
		// Only ingress, which knows the checksum time window, defines this bucket.
		buckets = append(buckets, kv(BucketNonces, "bbb-chat: checksums already used", o.NonceTTL, func(s *Store) *jetstream.KeyValue { return &s.nonces }))
	}
	stream := jetstream.StreamConfig{
		Name:        StreamEvents,
		Description: "bbb-chat: chat events of every meeting on the BBB server",
		Subjects:    []string{SubjectRoot + ".>", SubjectRetry + ".>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      o.EventsMaxAge,
		MaxBytes:    o.EventsMaxBytes,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Duplicates:  2 * time.Minute,
		AllowDirect: true,
		// One consumer per bridge with a callback plus the subscribers'; nats-server's default is 1,000.
		MaxConsumers: 20000,
	}
	return buckets, stream
}

// Open creates or updates the buckets and the stream with o and returns the store. The services (ingress and
// relay) call it at start with the configured values, so the definitions here are the only ones. Checks never
// call it: they use Inspect, which changes nothing.
func Open(ctx context.Context, nc *nats.Conn, o Options) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, wrap("jetstream", err)
	}
	o = o.withDefaults()
	s := &Store{nc: nc, js: js, server: o.Server}
	buckets, stream := definitions(o)
	for _, d := range buckets {
		b, err := js.CreateOrUpdateKeyValue(ctx, d.cfg)
		if err != nil {
			return nil, wrap("bucket "+d.cfg.Bucket, explainOpen(err, o.Replicas))
		}
		*d.slot(s) = electionKV{b}
	}
	if s.events, err = js.CreateOrUpdateStream(ctx, stream); err != nil {
		return nil, wrap("stream "+StreamEvents, explainOpen(err, o.Replicas))
	}
	return s, nil
}

// Key encodes an id as a KV key or subject token: the id itself when it is made of [A-Za-z0-9_-] (every id BBB
// makes), else "=" followed by its unpadded base64url, so no id can reach outside its place in a key or subject.
func Key(id string) string {
	if id != "" && len(id) <= 200 && isPlain(id) {
		return id
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// ParseKey reverses Key.
func ParseKey(k string) (string, error) {
	if rest, ok := strings.CutPrefix(k, "="); ok {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil {
			return "", fmt.Errorf("state: bad key %q: %w", k, err)
		}
		return string(b), nil
	}
	return k, nil
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

// EventSubject is the subject of an event of type typ in meeting (internal id).
func EventSubject(meetingID, typ string) string {
	if typ == TypeGap {
		return SubjectGap // a gap belongs to no meeting
	}
	return SubjectRoot + "." + Key(meetingID) + "." + typ
}

// EveryMeetingSubject is the subject filter of the events of type typ in every meeting. A core NATS subscription
// on it sees each such event as the stream stores it (ingress confirms its posts this way).
func EveryMeetingSubject(typ string) string { return SubjectRoot + ".*." + typ }

// RetrySubject is the subject on which retryCallbacks puts a meeting's failed deliveries back.
func RetrySubject(meetingID string) string { return SubjectRetry + "." + Key(meetingID) }

// ParseSubject splits an event subject into meeting id and event type (or "retry"); SubjectGap has no meeting id.
func ParseSubject(subject string) (meetingID, typ string, err error) {
	if subject == SubjectGap {
		return "", TypeGap, nil
	}
	root, rest, _ := strings.Cut(subject, ".")
	mk, typ, _ := strings.Cut(rest, ".")
	switch root {
	case SubjectRoot:
	case SubjectRetry:
		typ = "retry"
	default:
		return "", "", fmt.Errorf("state: not an event subject: %q", subject)
	}
	if mk == "" || typ == "" {
		return "", "", fmt.Errorf("state: not an event subject: %q", subject)
	}
	meetingID, err = ParseKey(mk)
	return meetingID, typ, err
}

func getJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("get %s/%s", kv.Bucket(), key), err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, wrap(fmt.Sprintf("decode %s/%s", kv.Bucket(), key), err)
	}
	return e.Revision(), nil
}

func putJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, wrap(fmt.Sprintf("encode %s/%s", kv.Bucket(), key), err)
	}
	rev, err := kv.Put(ctx, key, b)
	if err != nil {
		return 0, wrap(fmt.Sprintf("put %s/%s", kv.Bucket(), key), err)
	}
	return rev, nil
}

func createJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, wrap(fmt.Sprintf("encode %s/%s", kv.Bucket(), key), err)
	}
	rev, err := kv.Create(ctx, key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("create %s/%s", kv.Bucket(), key), err)
	}
	return rev, nil
}

func updateJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any, rev uint64) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, wrap(fmt.Sprintf("encode %s/%s", kv.Bucket(), key), err)
	}
	nrev, err := kv.Update(ctx, key, b, rev)
	if err != nil {
		return 0, wrap(fmt.Sprintf("update %s/%s", kv.Bucket(), key), err)
	}
	return nrev, nil
}

func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound)
}

// keys lists the keys of kv under prefix (a key prefix ending in '.'). A listing cut short (its context ended
// before the last key) is an error, never a partial list.
func keys(ctx context.Context, kv jetstream.KeyValue, filter string) ([]string, error) {
	var out []string
	err := Retry(ctx, func(ctx context.Context) error {
		out = out[:0]
		l, err := kv.ListKeysFiltered(ctx, filter)
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for k := range l.Keys() {
			out = append(out, k)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, wrap(fmt.Sprintf("list %s/%s", kv.Bucket(), filter), err)
	}
	return out, nil
}

// Ping checks that JetStream answers.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.js.AccountInfo(ctx); err != nil {
		return wrap("jetstream", err)
	}
	return nil
}

// HashKey is the short hash that stands for a string too long or too odd for a key or a name.
func HashKey(s string) string { return hashKey(s) }
