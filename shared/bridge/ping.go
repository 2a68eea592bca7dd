package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// PingSubject is where relays, in DeliverGroup, take requests to send a bridge's receiver a test event now
// (pingCallback). Ingress asks (Lifecycle.Ping) and relay's callback delivery answers, so every POST to a
// receiver goes out of one place, with one client, one signing and one egress guard.
const PingSubject = "_bbbchat.ping"

// PingRequest asks a relay to send the test event of a bridge (internal meeting id).
type PingRequest struct {
	MeetingID string `json:"meeting_id"`
}

// PingAnswer is what the receiver said to the test event.
type PingAnswer struct {
	Delivered  bool   `json:"delivered"`       // it answered 2xx
	Status     int    `json:"status"`          // its HTTP status; 0 when it did not answer
	Body       string `json:"body"`            // the start of its answer's body (valid UTF-8, at most PingExcerpt bytes)
	TookMillis int64  `json:"took_ms"`         // from sending to its answer (or to giving up)
	Error      string `json:"error,omitempty"` // why it did not answer 2xx
}

// PingExcerpt bounds PingAnswer.Body.
const PingExcerpt = 512

// ErrNoRelay: no relay answered a request (none runs, or none is connected to NATS).
var ErrNoRelay = errors.New("bridge: no relay answers")

// Ping has a relay send the bridge's receiver a test event now and returns what the receiver said. ErrNoRelay when
// no relay listens.
func (l *Lifecycle) Ping(ctx context.Context, meetingID string) (PingAnswer, error) {
	req, err := json.Marshal(PingRequest{MeetingID: meetingID})
	if err != nil {
		return PingAnswer{}, err
	}
	data, err := l.s.Request(ctx, PingSubject, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return PingAnswer{}, ErrNoRelay
	}
	if err != nil {
		return PingAnswer{}, err
	}
	var a PingAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return PingAnswer{}, fmt.Errorf("bridge: a relay's answer to a ping: %w", err)
	}
	return a, nil
}

// TargetSubject is where relays, in DeliverGroup, take requests to check a callback URI against the allow list
// they deliver with (BBB_CHAT_CALLBACK_ALLOW, at the addresses its host resolves to from relay's host), so
// startChatForMeeting refuses what relay would refuse.
const TargetSubject = "_bbbchat.target"

// TargetRequest asks a relay whether it would send callbacks to URI.
type TargetRequest struct {
	URI string `json:"uri"`
}

// TargetAnswer is a relay's verdict: Refused says why it would not send there; "" when it would.
type TargetAnswer struct {
	Refused string `json:"refused,omitempty"`
}

// CheckTarget asks a relay whether it would send callbacks to uri, and returns its reason to refuse ("" when it
// would send). ErrNoRelay when no relay listens.
func (l *Lifecycle) CheckTarget(ctx context.Context, uri string) (string, error) {
	req, err := json.Marshal(TargetRequest{URI: uri})
	if err != nil {
		return "", err
	}
	data, err := l.s.Request(ctx, TargetSubject, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return "", ErrNoRelay
	}
	if err != nil {
		return "", err
	}
	var a TargetAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return "", fmt.Errorf("bridge: a relay's answer about a callback target: %w", err)
	}
	return a.Refused, nil
}
