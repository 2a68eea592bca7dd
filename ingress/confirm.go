package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// confirmer tells sendChatMessage when BBB showed a posted message, and editChatMessage and deleteChatMessage when
// BBB showed the edit or deletion. Relay stores every chat message, edit and deletion BBB broadcasts in the events
// stream; one core NATS subscription per ingress and event type, on every meeting's subject, sees each one as it
// is stored, and hands it to the request waiting for it, if any (docs/api.md, "Confirmation").
//
// A post as the chat user is recognised by its correlation id, which BBB echoes and which ingress makes unique
// (correlationID); a post through BBB's chat API carries none (BBB says "SYSTEM"), so it is recognised by meeting,
// name and text, the way relay recognises its echo (state.RecordAPIPost).
type confirmer struct {
	mu      sync.Mutex
	waiting map[string][]chan state.Event // by key, oldest first
	n       atomic.Int64                  // waiters, so that broadcasts nobody waits for are not decoded
	seq     atomic.Uint64                 // makes correlation ids unique within this process
	results *prometheus.CounterVec        // bbbchat_ingress_send_confirmations_total, by result
}

// newConfirmer subscribes on nc and waits until the NATS server has the subscription, so that no broadcast of a
// message posted afterwards is missed. seed starts the correlation sequence (random, so that two ingress processes
// posting as the same user in the same millisecond are unlikely to make the same id).
func newConfirmer(nc *nats.Conn, seed uint64, reg prometheus.Registerer) (*confirmer, func(), error) {
	c := &confirmer{waiting: map[string][]chan state.Event{}}
	c.seq.Store(seed)
	c.results = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bbbchat_ingress_send_confirmations_total",
		Help: "sendChatMessage answers by whether BBB showed the message in time (confirmed, unconfirmed).",
	}, []string{"result"})
	c.results.WithLabelValues("confirmed")
	c.results.WithLabelValues("unconfirmed")
	reg.MustRegister(c.results)
	var subs []*nats.Subscription
	unsubscribe := func() {
		for _, sub := range subs {
			sub.Unsubscribe()
		}
	}
	for _, typ := range []string{state.TypeMessage, state.TypeMessageEdited, state.TypeMessageDeleted} {
		sub, err := nc.Subscribe(state.EveryMeetingSubject(typ), c.onMessage)
		if err == nil {
			// Messages nobody waits for are dropped without decoding; a slow consumer must not be cut off.
			err = sub.SetPendingLimits(-1, 64<<20)
			subs = append(subs, sub)
		}
		if err != nil {
			unsubscribe()
			return nil, nil, fmt.Errorf("subscribe to %s events: %w", typ, err)
		}
	}
	return c, unsubscribe, nil
}

// correlationID is the correlation id of a post as userID: "<userID>-<digits>" like BBB's clients' (relay's echo
// rule depends on that form), the time in ms followed by three digits of a sequence, so that it is unique.
func (c *confirmer) correlationID(userID string, now time.Time) string {
	n := c.seq.Add(1) % 1000
	return userID + "-" + strconv.FormatInt(now.UnixMilli(), 10) + fmt.Sprintf("%03d", n)
}

func userPostKey(meetingID, correlationID string) string {
	return "u\x00" + meetingID + "\x00" + correlationID
}

func apiPostKey(meetingID, userName, text string) string {
	return "a\x00" + meetingID + "\x00" + userName + "\x00" + text
}

// actionKey is the key of an edit or deletion (typ) of message messageID.
func actionKey(typ, meetingID, messageID string) string {
	return typ + "\x00" + meetingID + "\x00" + messageID
}

// eventKey is the key a stored event answers.
func eventKey(e state.Event) string {
	if e.Type != state.TypeMessage {
		return actionKey(e.Type, e.MeetingID, e.MessageID)
	}
	if e.SenderID == "SYSTEM" {
		return apiPostKey(e.MeetingID, e.SenderName, e.Text)
	}
	return userPostKey(e.MeetingID, e.CorrelationID)
}

func (c *confirmer) onMessage(m *nats.Msg) {
	if c.n.Load() == 0 {
		return
	}
	var e state.Event
	if state.DecodeEvent(m.Data, &e) != nil {
		return
	}
	key := eventKey(e)
	c.mu.Lock()
	var ch chan state.Event
	if ws := c.waiting[key]; len(ws) > 0 {
		ch = ws[0]
		c.remove(key, ch)
	}
	c.mu.Unlock()
	if ch != nil {
		ch <- e // buffered: never blocks
	}
}

// remove takes ch out of the waiters; the caller holds mu.
func (c *confirmer) remove(key string, ch chan state.Event) bool {
	ws := c.waiting[key]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i:i], ws[i+1:]...)
			if len(ws) == 0 {
				delete(c.waiting, key)
			} else {
				c.waiting[key] = ws
			}
			c.n.Add(-1)
			return true
		}
	}
	return false
}

// confirmation is one post waiting for its broadcast. Register it before publishing the post.
type confirmation struct {
	c   *confirmer
	key string
	ch  chan state.Event
}

func (c *confirmer) expect(key string) *confirmation {
	w := &confirmation{c: c, key: key, ch: make(chan state.Event, 1)}
	c.mu.Lock()
	c.waiting[key] = append(c.waiting[key], w.ch)
	c.n.Add(1)
	c.mu.Unlock()
	return w
}

// wait returns the stored broadcast of the post, or false when none came within d (or ctx ended first).
func (w *confirmation) wait(ctx context.Context, d time.Duration) (state.Event, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var e state.Event
	ok := false
	select {
	case e = <-w.ch:
		ok = true
	case <-t.C:
	case <-ctx.Done():
	}
	result := "unconfirmed"
	if ok {
		result = "confirmed"
	}
	w.c.results.WithLabelValues(result).Inc()
	return e, ok
}

// cancel stops waiting; a broadcast arriving later is ignored. It is safe after wait, more than once, and on nil
// (no confirmation: see publishWatched).
func (w *confirmation) cancel() {
	if w == nil {
		return
	}
	w.c.mu.Lock()
	w.c.remove(w.key, w.ch)
	w.c.mu.Unlock()
}

// confirmWait is how long a request may wait for BBB's broadcast: BBB_CHAT_SEND_CONFIRM_TIMEOUT, or less when the
// request's own deadline (BBB_CHAT_REQUEST_TIMEOUT) comes first.
func (a *api) confirmWait(ctx context.Context) time.Duration {
	wait := a.cfg.SendConfirmTimeout
	if dl, ok := ctx.Deadline(); ok {
		// Leave a little time to write the answer.
		if left := dl.Sub(a.now()) - 50*time.Millisecond; left < wait {
			wait = max(left, 0).Round(time.Millisecond)
		}
	}
	return wait
}

// unconfirmedMessage is the answer's message when BBB did not show a post in time.
func unconfirmedMessage(d time.Duration) string {
	return fmt.Sprintf("The message was handed to BBB, but BBB did not show it within %s: BBB most likely dropped it "+
		"(the meeting's lock settings disable public chat for viewers such as the chat user, chat is a disabled "+
		"feature of the meeting, or the chat user has just left), or relay is not running or is behind. "+
		"getChatInfo shows the chat user's presence; BBB's akka-apps log says why it dropped a message.", d)
}

// publishWatched publishes payload on BBB's channel. With confirmation on (BBB_CHAT_SEND_CONFIRM_TIMEOUT), the
// confirmation it returns was waiting for key before the payload left, so BBB's broadcast cannot be missed; the
// caller waits on it and cancels it. With confirmation off it returns nil.
func (a *api) publishWatched(ctx context.Context, key string, payload []byte) (*confirmation, error) {
	var w *confirmation
	if a.confirm != nil && a.cfg.SendConfirmTimeout > 0 {
		w = a.confirm.expect(key)
	}
	n, err := a.rdb.Publish(ctx, bbb.ChannelToAkka, payload).Result()
	switch {
	case err != nil:
		err = fmt.Errorf("%w: %w", errRedis, err)
	case n == 0:
		err = errNoAkka
	}
	if err != nil {
		w.cancel()
		return nil, err
	}
	return w, nil
}
