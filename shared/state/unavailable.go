package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable is the one kind of every error that means NATS or JetStream cannot be reached or did not answer
// in time (as opposed to a refusal or a missing key): the caller may try again later. Errors of that kind wrap it
// together with their cause; ingress answers them with 503.
var ErrUnavailable = errors.New("nats unavailable")

// Unavailable reports whether err means that NATS or JetStream cannot be reached or did not answer. It is the one
// place that knows which errors of nats.go and of the server say so; relay's publisher asks it too.
func Unavailable(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled),
		errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrNoServers),
		errors.Is(err, nats.ErrInvalidConnection),
		errors.Is(err, nats.ErrStaleConnection),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrServerShutdown),
		errors.Is(err, jetstream.ErrJetStreamPublisherClosed):
		return true
	}
	// The server's own "temporarily unavailable" answers (no quorum, leader election, JetStream starting), and
	// "JetStream cluster can not handle request": it reached a node that no longer leads.
	// nats.go's older API, under its key watches and listings, has an error type of its own.
	if ae, ok := errors.AsType[*jetstream.APIError](err); ok && (ae.Code == 503 || ae.ErrorCode == errCodeNotLeader) {
		return true
	}
	if ae, ok := errors.AsType[*nats.APIError](err); ok && (ae.Code == 503 || ae.ErrorCode == errCodeNotLeader) {
		return true
	}
	return false
}

// errCodeNotLeader is nats-server's JSClusterNotLeaderErr (nats.go names no constant for it).
const errCodeNotLeader = 10009

// wrap adds the operation's context to err and marks it ErrUnavailable when it is of that kind.
func wrap(op string, err error) error {
	if Unavailable(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("state: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("state: %s: %w", op, err)
}
