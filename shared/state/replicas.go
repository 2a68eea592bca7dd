package state

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrReplicas is the kind of Open's errors that no retry cures: the NATS servers cannot keep the stream and buckets
// with the configured number of replicas (BBB_CHAT_NATS_REPLICAS), e.g. 3 on a single server or on a cluster with
// fewer JetStream servers. It is not ErrUnavailable: NATS answers, and says no.
var ErrReplicas = errors.New("the NATS servers cannot keep the configured replicas")

// Error codes of nats-server's JetStream API that mean the replicas cannot be placed.
const (
	codeReplicasNotSupported = 10074 // "replicas > 1 not supported in non-clustered mode"
	codeInsufficientRes      = 10023 // "insufficient resources": fewer servers (or less room) than replicas
	codeNoSuitablePeers      = 10005 // "no suitable peers for placement"
)

// explainOpen marks an error of Open that says the replicas cannot be placed as ErrReplicas and tells the operator
// what to change; other errors are returned as they are. "Insufficient resources" also comes while a cluster is
// forming: it stays ErrUnavailable too, so callers go on retrying.
func explainOpen(err error, replicas int) error {
	ae, ok := errors.AsType[*jetstream.APIError](err)
	if !ok || replicas <= 1 {
		return err
	}
	switch ae.ErrorCode {
	case codeReplicasNotSupported, codeInsufficientRes, codeNoSuitablePeers:
		return fmt.Errorf("%w: BBB_CHAT_NATS_REPLICAS=%d needs a NATS cluster of at least %d JetStream servers "+
			"with room for the stream (docs/fleet.md): %w", ErrReplicas, replicas, replicas, err)
	}
	return err
}
