package keep

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/relay/publish"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

func TestHasEffect(t *testing.T) {
	for typ, want := range map[string]bool{
		state.TypeMessage:        false,
		state.TypeCleared:        false,
		state.TypeUserJoined:     true,
		state.TypeUserLeft:       true,
		state.TypeMeetingCreated: true,
		state.TypeMeetingEnded:   true,
		"":                       false,
	} {
		if got := hasEffect(typ); got != want {
			t.Errorf("hasEffect(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestStateOptions(t *testing.T) {
	cfg := config.Relay{}
	cfg.Replicas, cfg.StreamMaxAge, cfg.StreamMaxBytes, cfg.ServerID = 3, 48*time.Hour, 1<<30, "bbb-1"
	want := state.Options{Replicas: 3, EventsMaxAge: 48 * time.Hour, EventsMaxBytes: 1 << 30, Server: "bbb-1"}
	if got := StateOptions(cfg); got != want {
		t.Errorf("StateOptions = %+v, want %+v", got, want)
	}
	// A configuration without a server id and a Store opened without one name the same server.
	if config.LocalServerID != state.DefaultServer {
		t.Errorf("config.LocalServerID %q, state.DefaultServer %q", config.LocalServerID, state.DefaultServer)
	}
}

type versions struct {
	v       bbb.Version
	changed chan struct{}
}

func (v versions) Get() (bbb.Version, string) { return v.v, "config" }
func (v versions) Changed() <-chan struct{}   { return v.changed }

// The keeper opens the state on a real nats-server; the updater applies what each event means for the buckets,
// in order per meeting; the BBB version is recorded once the state is open.
func TestKeeperAndUpdater(t *testing.T) {
	t.Parallel()
	ns := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(ns), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	now := func() time.Time { return time.UnixMilli(1_700_000_000_000) }

	k := NewKeeper(state.Options{}, log, reg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opened := make(chan *state.Store, 1)
	go k.Run(ctx, nc, func(s *state.Store) { opened <- s })
	v := versions{v: bbb.Version{Major: 2, Minor: 7}, changed: make(chan struct{}, 1)}
	v.changed <- struct{}{}
	go RecordVersion(ctx, k, "bbb-1", v, log, now)
	var s *state.Store
	select {
	case s = <-opened:
	case <-time.After(20 * time.Second):
		t.Fatal("the state did not open")
	}
	if k.Store() != s || !k.open.Load() {
		t.Fatal("the keeper does not hand out the store it opened")
	}

	u := NewUpdater(UpdaterOptions{Log: log, Now: now, Store: k.Store, Ready: nc.IsConnected, Workers: 2, Depth: 8}, reg)
	u.Start(ctx)
	seq := uint64(0)
	submit := func(ev state.Event, createdAt int64) {
		seq++
		u.Submit(ctx, &publish.Item{Seq: seq, Event: ev, CreatedAt: createdAt}, publish.Stored)
	}
	submit(state.Event{Type: state.TypeMeetingCreated, MeetingID: "int-1", ExternalMeetingID: "ext-1", MeetingName: "Room"}, 4)
	submit(state.Event{Type: state.TypeUserJoined, MeetingID: "int-1", UserID: "w_a", UserName: "Alice", UserRole: "VIEWER"}, 0)
	submit(state.Event{Type: state.TypeUserJoined, MeetingID: "int-1", UserID: "w_b", UserName: "Bob", UserRole: "VIEWER"}, 0)
	submit(state.Event{Type: state.TypeUserLeft, MeetingID: "int-1", UserID: "w_b"}, 0)
	submit(state.Event{Type: state.TypeMessage, MeetingID: "int-1", ID: "1-a"}, 0) // no effect
	submit(state.Event{Type: state.TypeMeetingCreated, MeetingID: "int-2", ExternalMeetingID: "ext-2"}, 0)
	submit(state.Event{Type: state.TypeMeetingEnded, MeetingID: "int-2"}, 0)
	u.Close()
	u.Wait()

	cases := []struct {
		name  string
		check func(ctx context.Context) error
	}{
		{"meeting created", func(ctx context.Context) error {
			m, err := s.MeetingByInternal(ctx, "int-1")
			if err == nil && (m.ExternalID != "ext-1" || m.Name != "Room" || !m.CreatedAt.Equal(time.UnixMilli(4))) {
				return errors.New("wrong meeting")
			}
			return err
		}},
		{"presence after join, join, leave", func(ctx context.Context) error {
			users, err := s.MeetingUsers(ctx, "int-1")
			if err == nil && (len(users) != 1 || users[0].UserID != "w_a" || users[0].Name != "Alice") {
				return errors.New("wrong users")
			}
			return err
		}},
		{"ended meeting forgotten", func(ctx context.Context) error {
			if _, err := s.MeetingByInternal(ctx, "int-2"); !errors.Is(err, state.ErrNotFound) {
				return errors.New("still known")
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.check(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
	testenv.Eventually(t, 10*time.Second, "BBB version recorded", func() bool {
		sv, err := s.GetServerVersion(t.Context(), "bbb-1")
		return err == nil && sv.Version == "2.7" && sv.Source == "config"
	})
}
