// Package keep owns what relay keeps in NATS besides the events: it opens the state (the stream and the KV
// buckets) with the configured settings and opens it again whenever NATS comes back or the stream did not answer
// (Keeper), applies what each stored event means for presence, meeting ids, the bridges of ended meetings and of
// followed rooms' new meetings, and the record of ended meetings (Updater; a bridge's start and end go through
// shared/bridge), and records the BBB version of this server in the meetings bucket. It
// reports in bbbchat_relay_state_open and bbbchat_relay_state_updates_total.
//
// It must not read Redis nor publish events (it sees an event only once the stream stored it), and must keep every
// update idempotent: both relays of a pair apply the same updates.
package keep

import (
	"context"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/publish"
	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/bridge"
	sharedmetrics "github.com/bbb-chat/bbb-chat/shared/metrics"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/prometheus/client_golang/prometheus"
)

// Updater applies what events mean for the KV buckets (presence, meeting ids, bridges of ended meetings), after
// the event is in the stream. Updates run on a few workers; all updates of one meeting go to the same worker, so
// they keep their order. Both relays of a pair apply the same updates; every update is idempotent.
type Updater struct {
	log     *slog.Logger
	updates *sharedmetrics.Capped // bbbchat_relay_state_updates_total, by result: ok, error
	store   func() *state.Store   // nil until the state is open
	ready   func() bool           // NATS connected
	now     func() time.Time
	shards  []chan *publish.Item
	wg      sync.WaitGroup

	attempts   int
	opTimeout  time.Duration
	backoffMin time.Duration
}

// UpdaterOptions are what an Updater is built from; all are required.
type UpdaterOptions struct {
	Log     *slog.Logger
	Now     func() time.Time
	Store   func() *state.Store // the state, nil until it is open (Keeper.Store)
	Ready   func() bool         // NATS connected
	Workers int                 // updates running at once (all of one meeting on the same one)
	Depth   int                 // updates waiting per worker
}

// NewUpdater returns an Updater; its metric is registered in reg. Start it with Start.
func NewUpdater(o UpdaterOptions, reg prometheus.Registerer) *Updater {
	u := &Updater{log: o.Log, store: o.Store, ready: o.Ready, now: o.Now, attempts: 5, opTimeout: 5 * time.Second,
		backoffMin: 100 * time.Millisecond}
	u.updates = sharedmetrics.NewCapped(reg, "bbbchat_relay_state_updates_total", "Presence, meeting and bridge updates, by result.",
		"result", 2, "ok", "error")
	workers, depth := o.Workers, o.Depth
	for range workers {
		u.shards = append(u.shards, make(chan *publish.Item, depth))
	}
	return u
}

// hasEffect reports whether an event type changes the buckets.
func hasEffect(typ string) bool {
	switch typ {
	case state.TypeUserJoined, state.TypeUserLeft, state.TypeMeetingCreated, state.TypeMeetingEnded,
		state.TypeMeetingLocks, state.TypeUserLocked, state.TypeUserLocks, state.TypeUserRole:
		return true
	}
	return false
}

// Start runs the workers until the shards are closed and drained, or ctx (the shutdown deadline) ends.
func (u *Updater) Start(ctx context.Context) {
	for _, ch := range u.shards {
		u.wg.Go(func() {
			for it := range ch {
				if ctx.Err() != nil {
					continue // drain without work: the deadline passed
				}
				u.apply(ctx, it)
			}
		})
	}
}

// Submit queues an event's update on its meeting's worker, waiting when that worker is busy.
func (u *Updater) Submit(ctx context.Context, it *publish.Item, _ publish.Result) {
	if !hasEffect(it.Event.Type) {
		return
	}
	h := fnv.New32a()
	h.Write([]byte(it.Event.MeetingID))
	select {
	case u.shards[int(h.Sum32()%uint32(len(u.shards)))] <- it:
	case <-ctx.Done():
	}
}

// Close tells the workers that no more updates come (no Submit after it); Wait waits for them.
func (u *Updater) Close() {
	for _, ch := range u.shards {
		close(ch)
	}
}

func (u *Updater) Wait() { u.wg.Wait() }

// apply runs one event's update, waiting for NATS when it is down and retrying errors a few times.
func (u *Updater) apply(ctx context.Context, it *publish.Item) {
	var err error
	retry := backoff.Exponential{Min: u.backoffMin, Max: 2 * time.Second}
	for i := 1; i <= u.attempts; i++ {
		wait := retry.Delay(i)
		for !u.ready() || u.store() == nil {
			if !service.Sleep(ctx, wait) {
				return
			}
		}
		octx, cancel := context.WithTimeout(ctx, u.opTimeout)
		err = u.update(octx, u.store(), it)
		cancel()
		if err == nil {
			u.updates.Inc("ok")
			return
		}
		if !service.Sleep(ctx, wait) {
			break
		}
	}
	u.updates.Inc("error")
	u.log.Error("state update failed", "type", it.Event.Type, "meeting", it.Event.MeetingID, "id", it.Event.ID, "err", err)
}

// update is what one event means for the buckets.
func (u *Updater) update(ctx context.Context, s *state.Store, it *publish.Item) error {
	ev := it.Event
	switch ev.Type {
	case state.TypeUserJoined:
		at := time.UnixMilli(ev.Timestamp)
		if ev.Timestamp == 0 {
			at = u.now()
		}
		return s.UserJoined(ctx, ev.MeetingID, state.Presence{UserID: ev.UserID, Name: ev.UserName, Role: ev.UserRole, JoinedAt: at,
			Locked: ev.Locked})
	case state.TypeUserLeft:
		return s.UserLeft(ctx, ev.MeetingID, ev.UserID)
	case state.TypeMeetingCreated:
		m := state.Meeting{InternalID: ev.MeetingID, ExternalID: ev.ExternalMeetingID, Name: ev.MeetingName,
			IsBreakout: ev.IsBreakout, ParentID: ev.ParentID, PublicChatLocked: ev.PublicChatLocked,
			Server: ev.Server}
		if ev.DisabledFeatures != "" {
			m.DisabledFeatures = strings.Split(ev.DisabledFeatures, ",")
		}
		if it.CreatedAt != 0 {
			m.CreatedAt = time.UnixMilli(it.CreatedAt).UTC()
		} else if ev.Timestamp != 0 {
			m.CreatedAt = time.UnixMilli(ev.Timestamp).UTC()
		}
		if err := s.PutMeeting(ctx, m); err != nil {
			return err
		}
		return u.roomMeeting(ctx, s, m)
	case state.TypeMeetingEnded:
		if err := u.recordEnded(ctx, s, ev); err != nil {
			return err
		}
		return u.meetingEnded(ctx, s, ev.MeetingID)
	case state.TypeMeetingLocks:
		return s.ChangeMeeting(ctx, ev.MeetingID, func(m *state.Meeting) { m.PublicChatLocked = ev.PublicChatLocked })
	case state.TypeUserLocked:
		return s.ChangeUser(ctx, ev.MeetingID, ev.UserID, func(p *state.Presence) { p.Locked = ev.Locked })
	case state.TypeUserLocks:
		return s.ChangeUser(ctx, ev.MeetingID, ev.UserID, func(p *state.Presence) { p.PublicChatLocked = ev.PublicChatLocked })
	case state.TypeUserRole:
		return s.ChangeUser(ctx, ev.MeetingID, ev.UserID, func(p *state.Presence) { p.Role = ev.UserRole })
	}
	return nil
}

// meetingEnded forgets the meeting's users and ids and ends its bridge: at once when it has no callback to
// deliver, else by marking it Ending, so the callback worker ends it once its queue (which ends with this very
// event) is delivered.
func (u *Updater) meetingEnded(ctx context.Context, s *state.Store, meetingID string) error {
	if err := s.ClearPresence(ctx, meetingID); err != nil {
		return err
	}
	if err := s.DeleteMeeting(ctx, meetingID); err != nil {
		return err
	}
	switch outcome, err := bridge.New(s, bridge.Options{Now: u.now}).MeetingEnded(ctx, meetingID); {
	case err != nil:
		return err
	case outcome == bridge.Ended:
		u.log.Info("bridge ended with its meeting", "meeting", meetingID)
	case outcome == bridge.EndsAfterQueue:
		u.log.Info("meeting ended: bridge ends after its pending callbacks", "meeting", meetingID)
	}
	return nil
}
