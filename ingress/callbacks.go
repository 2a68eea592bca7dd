package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// The calls about a chat's callback besides its start: retryCallbacks and pingCallback. Ingress sends no callback
// itself: pingCallback asks a relay over NATS (bridge.Lifecycle.Ping), so every POST to a receiver goes out of
// relay's one client, with its one signing and its egress guard, and ingress answers what the receiver said.

// checkTarget refuses a callback URI that relay would not send to: against BBB_CHAT_CALLBACK_ALLOW as ingress
// read it, then as a relay reads it and resolves the URI's host (bridge.Lifecycle.CheckTarget), so a relay
// started with another value, or on a host that resolves the name elsewhere, cannot disagree unnoticed. When no
// relay answers in time, ingress's own check stands.
func (a *api) checkTarget(ctx context.Context, s *state.Store, uri string) error {
	if err := a.live.egress.Load().CheckURL(ctx, uri, nil); err != nil {
		return badParam("callback_uri", "is refused: %v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, targetCheckTimeout)
	defer cancel()
	why, err := a.lifecycle(s).CheckTarget(rctx, uri)
	switch {
	case errors.Is(err, bridge.ErrNoRelay):
	case err != nil:
		a.logFor(ctx).Warn("cannot ask relay about a callback target; ingress's own check stands", "err", err)
	case why != "":
		return badParam("callback_uri", "is refused by relay: %s", why)
	}
	return nil
}

// targetCheckTimeout bounds the wait for relay's verdict on a callback URI.
const targetCheckTimeout = 5 * time.Second

// callbackBridge finds the chat of req and makes sure it has a callback.
func (a *api) callbackBridge(ctx context.Context, s *state.Store, req request) (state.Bridge, error) {
	b, err := a.bridge(ctx, s, req.meetingID)
	if err != nil {
		return b, err
	}
	if !b.HasCallback() {
		return b, &paramError{"Parameter meeting_id names a chat without a callback."}
	}
	return b, nil
}

// retry puts the failed deliveries back in the queue (turning a gone callback back on, from now) and, with
// pending, has the ones that wait out a retry delay go now.
func (a *api) retry(ctx context.Context, s *state.Store, req request) (response, error) {
	b, err := a.callbackBridge(ctx, s, req)
	if err != nil {
		return response{}, err
	}
	lc := a.lifecycle(s)
	n, err := lc.Retry(ctx, b)
	if err != nil {
		return response{}, err
	}
	msg := fmt.Sprintf("%d failed callbacks will be sent again", n)
	extra := map[string]any{"retried": n}
	if req.pending {
		released, err := lc.Release(ctx, b.MeetingID, 0)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return response{}, err
		}
		extra["released"] = released
		if released {
			msg += "; the pending ones are sent now"
		} else {
			msg += "; none was waiting for a retry"
		}
	}
	return ok(msg, extra), nil
}

// ping has a relay send the bridge's receiver a signed test event now and answers what the receiver said: 200
// in any case the relay could try, with delivered false when the receiver did not answer 2xx.
func (a *api) ping(ctx context.Context, s *state.Store, req request) (response, error) {
	b, err := a.callbackBridge(ctx, s, req)
	if err != nil {
		return response{}, err
	}
	ans, err := a.lifecycle(s).Ping(ctx, b.MeetingID)
	if errors.Is(err, bridge.ErrNoRelay) {
		return response{}, errNoRelay
	}
	if err != nil {
		return response{}, err
	}
	msg := fmt.Sprintf("The receiver answered HTTP %d", ans.Status)
	switch {
	case ans.Status == 0:
		msg = "The receiver did not answer: " + ans.Error
	case !ans.Delivered:
		msg += "; callbacks need a 2xx"
	}
	a.logFor(ctx).Info("test event sent", "meeting_id", b.MeetingID, "status", ans.Status, "delivered", ans.Delivered)
	return ok(msg, map[string]any{"meeting_id": b.MeetingID, "delivered": ans.Delivered, "status": ans.Status,
		"body": ans.Body, "took_ms": ans.TookMillis, "error": ans.Error}), nil
}
