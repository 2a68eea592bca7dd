package state

import (
	"errors"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/nats-io/nats.go"
)

// TestPerServer: two bbb-chat servers on one NATS keep their own BBB version and presence; presence recorded
// unkeyed by an earlier release is still found, left and cleared, and an unkeyed version record is not read.
func TestPerServer(t *testing.T) {
	srv := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := t.Context()
	a, err := Open(ctx, nc, Options{Server: "bbb-a.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, nc, Options{Server: "bbb-b"})
	if err != nil {
		t.Fatal(err)
	}
	must(t, a.SetServerVersion(ctx, "bbb-a.example.org", ServerVersion{Version: "2.7", Source: "config", At: time.Now()}))
	must(t, b.SetServerVersion(ctx, "bbb-b", ServerVersion{Version: "3.0", Source: "events", At: time.Now()}))
	for server, want := range map[string]string{"bbb-a.example.org": "2.7", "bbb-b": "3.0"} {
		if v, err := a.GetServerVersion(ctx, server); err != nil || v.Version != want {
			t.Errorf("%s: version %+v, %v; want %s", server, v, err, want)
		}
	}
	if _, err := putJSON(ctx, a.meetings, "meta.bbb_version", ServerVersion{Version: "2.2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetServerVersion(ctx, "bbb-c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a server with no record of its own: %v, want ErrNotFound (the unkeyed record is not read)", err)
	}
	f, err := LookFootprint(ctx, nc)
	if err != nil || !f.Stream || len(f.Servers) != 2 || f.Servers[0] != "bbb-a.example.org" || f.Servers[1] != "bbb-b" {
		t.Errorf("footprint %+v, %v", f, err)
	}

	must(t, a.UserJoined(ctx, "m-1", Presence{UserID: "w_a", Name: "Bridge", JoinedAt: time.Now()}))
	if _, err := b.FindUser(ctx, "m-1", "Bridge"); !errors.Is(err, ErrNotFound) {
		t.Errorf("server b sees server a's presence: %v", err)
	}
	if p, err := a.FindUser(ctx, "m-1", "Bridge"); err != nil || p.UserID != "w_a" {
		t.Errorf("server a's own presence: %+v, %v", p, err)
	}
	must(t, b.ClearPresence(ctx, "m-1"))
	if _, err := a.FindUser(ctx, "m-1", "Bridge"); err != nil {
		t.Errorf("server b cleared server a's presence: %v", err)
	}

	// An earlier release's unkeyed entries.
	legacy := Presence{UserID: "w_old", Name: "Old Bot", JoinedAt: time.Now()}
	if _, err := putJSON(ctx, a.presence, presenceUserKey("m-2", "w_old"), legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := putJSON(ctx, a.presence, presenceNameKey("m-2", "Old Bot"), nameEntry{Users: []Presence{legacy}}); err != nil {
		t.Fatal(err)
	}
	if p, err := a.FindUser(ctx, "m-2", "Old Bot"); err != nil || p.UserID != "w_old" {
		t.Errorf("unkeyed presence not found: %+v, %v", p, err)
	}
	if us, err := a.MeetingUsers(ctx, "m-2"); err != nil || len(us) != 1 {
		t.Errorf("unkeyed presence not listed: %+v, %v", us, err)
	}
	must(t, a.ChangeUser(ctx, "m-2", "w_old", func(p *Presence) { p.Locked = true }))
	if p, err := a.FindUser(ctx, "m-2", "Old Bot"); err != nil || !p.Locked {
		t.Errorf("unkeyed presence not changed: %+v, %v", p, err)
	}
	must(t, a.ChangeUser(ctx, "m-1", "w_a", func(p *Presence) { p.Locked = true }))
	if p, err := a.FindUser(ctx, "m-1", "Bridge"); err != nil || !p.Locked {
		t.Errorf("keyed presence not changed: %+v, %v", p, err)
	}
	must(t, a.UserLeft(ctx, "m-2", "w_old"))
	if _, err := a.FindUser(ctx, "m-2", "Old Bot"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unkeyed presence after leaving: %v", err)
	}
	if _, err := putJSON(ctx, a.presence, presenceUserKey("m-3", "w_old"), legacy); err != nil {
		t.Fatal(err)
	}
	must(t, a.ClearPresence(ctx, "m-3"))
	if ks, _ := keys(ctx, a.presence, presenceUserKey("m-3", "w_old")); len(ks) != 0 {
		t.Errorf("unkeyed presence not cleared: %v", ks)
	}
}

// TestRoomsAndEnded: a followed room's record and the record of ended meetings, by either id.
func TestRoomsAndEnded(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	if _, err := s.CreateRoom(ctx, Room{ExternalID: "weekly", Bridge: Bridge{ChatUser: "Bot"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRoom(ctx, Room{ExternalID: "weekly"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second room: %v", err)
	}
	r, moved, err := s.MoveRoom(ctx, "weekly", "m-1")
	if err != nil || !moved || r.Bridge.MeetingID != "m-1" || r.Previous != "" {
		t.Fatalf("move: %+v %v %v", r, moved, err)
	}
	if _, moved, _ := s.MoveRoom(ctx, "weekly", "m-1"); moved {
		t.Fatal("moved twice to the same meeting")
	}
	if r, _, _ := s.MoveRoom(ctx, "weekly", "m-2"); r.Previous != "m-1" || r.Bridge.MeetingID != "m-2" {
		t.Fatalf("second move: %+v", r)
	}
	must(t, s.DeleteRoom(ctx, "weekly"))
	if _, err := s.GetRoom(ctx, "weekly"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted room: %v", err)
	}
	if _, moved, err := s.MoveRoom(ctx, "weekly", "m-3"); moved || err != nil {
		t.Fatalf("move of a room not followed: %v %v", moved, err)
	}

	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	must(t, s.PutEnded(ctx, EndedMeeting{InternalID: "m-1", ExternalID: "weekly", EndedAt: at}))
	for _, id := range []string{"m-1", "weekly"} {
		if e, err := s.Ended(ctx, id); err != nil || !e.EndedAt.Equal(at) || e.InternalID != "m-1" {
			t.Errorf("Ended(%q) = %+v, %v", id, e, err)
		}
	}
	must(t, s.ForgetEnded(ctx, "weekly"))
	if _, err := s.Ended(ctx, "weekly"); !errors.Is(err, ErrNotFound) {
		t.Errorf("forgotten by external id: %v", err)
	}
	if _, err := s.Ended(ctx, "m-1"); err != nil {
		t.Errorf("the meeting itself is still remembered: %v", err)
	}
}
