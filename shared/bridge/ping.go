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
