package callback

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// maxPingTimeout bounds a test event's attempt, so its answer reaches ingress within the API call's time.
const maxPingTimeout = 5 * time.Second

// maxPings is how many of ingress's requests (test events, target checks) one relay serves at a time; more wait.
const maxPings = 16

// serveRequests answers ingress's requests until ctx ends, in the relays' queue group: pingCallback's
// (bridge.PingSubject), each of which sends the bridge's receiver a test event, as the probes do, and answers what
// it said; and startChatForMeeting's checks of a callback URI (bridge.TargetSubject) against Options.CheckURL.
func (m *Manager) serveRequests(ctx context.Context) {
	ch := make(chan *nats.Msg, maxPings)
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	retry := backoff.Exponential{Min: 100 * time.Millisecond, Max: 5 * time.Second}.Start()
	for _, subject := range []string{bridge.PingSubject, bridge.TargetSubject} {
		for {
			s, err := m.o.Store.QueueSubscribe(subject, bridge.DeliverGroup, ch)
			if err == nil {
				subs = append(subs, s)
				break
			}
			wait := retry.Next()
			m.log.Warn("callback: cannot take requests, trying again", "subject", subject, "err", err, "in", wait)
			if !service.Sleep(ctx, wait) {
				return
			}
		}
	}
	slots := make(chan struct{}, maxPings)
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-ch:
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-slots }()
				if msg.Subject == bridge.TargetSubject {
					m.answerTarget(ctx, msg)
				} else {
					m.answerPing(ctx, msg)
				}
			}()
		}
	}
}

// answerTarget says whether relay would send callbacks to a URI.
func (m *Manager) answerTarget(ctx context.Context, msg *nats.Msg) {
	var req bridge.TargetRequest
	var a bridge.TargetAnswer
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		a.Refused = "bad request"
	} else if m.o.CheckURL != nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := m.o.CheckURL(cctx, req.URI); err != nil {
			a.Refused = err.Error()
		}
		cancel()
	}
	data, _ := json.Marshal(a)
	if err := msg.Respond(data); err != nil {
		m.log.Debug("callback: cannot answer a target check", "err", err)
	}
}

// answerPing sends one test event and answers the request with the receiver's answer.
func (m *Manager) answerPing(ctx context.Context, msg *nats.Msg) {
	var req bridge.PingRequest
	a := bridge.PingAnswer{}
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		a.Error = "bad request"
		m.respond(msg, a)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	b, err := m.o.Store.GetBridge(rctx, req.MeetingID)
	cancel()
	switch {
	case errors.Is(err, state.ErrNotFound):
		a.Error = "no such chat"
	case err != nil:
		a.Error = "cannot read the chat: " + err.Error()
	case !b.HasCallback():
		a.Error = "the chat has no callback"
	}
	if a.Error != "" {
		m.respond(msg, a)
		return
	}
	now := m.o.Now()
	start := time.Now()
	res := m.ping(b, now, min(m.o.Timeout, maxPingTimeout), bridge.PingExcerpt)
	a.TookMillis = time.Since(start).Milliseconds()
	a.Status = res.status
	a.Delivered = res.ok()
	a.Body = strings.ToValidUTF8(string(res.excerpt), "\uFFFD")
	if !res.ok() {
		a.Error = res.String()
	}
	m.log.Info("callback: test event sent", "meeting", b.MeetingID, "target", redact(b.CallbackURI),
		"status", res.status, "took", time.Since(start).Round(time.Millisecond), "err", a.Error)
	m.respond(msg, a)
}

func (m *Manager) respond(msg *nats.Msg, a bridge.PingAnswer) {
	data, _ := json.Marshal(a)
	if err := msg.Respond(data); err != nil {
		m.log.Debug("callback: cannot answer a test event request", "err", err)
	}
}
