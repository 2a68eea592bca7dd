package main

import (
	"errors"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// notOpen is the error a call gets while the state cannot be used (s is nil or not connected): state.ErrReplicas
// when NATS answers but cannot keep the configured replicas (retrying will not help: the operator must change the
// cluster or BBB_CHAT_NATS_REPLICAS), else state.ErrUnavailable.
func (a *api) notOpen(s *state.Store) error {
	if s == nil && a.openErr != nil {
		if err, ok := a.openErr.Load().(error); ok && errors.Is(err, state.ErrReplicas) {
			return err
		}
	}
	return state.ErrUnavailable
}
