package bridge

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// TestRoomMeetingOnce: the relays of a pair both apply a followed room's meeting.created; the meeting gets one
// bridge, made from the room's, with one consumer, whichever relay is first, meeting after meeting.
func TestRoomMeetingOnce(t *testing.T) {
	ts := openStore(t)
	lc := New(ts.s, Options{})
	ctx := t.Context()
	r, b, err := lc.Follow(ctx, state.Room{ExternalID: "room", Bridge: state.Bridge{RequestedID: "room", ChatUser: "Bridge",
		CallbackURI: "http://127.0.0.1:9/hook", CallbackSecret: "s", CallbackEvents: []string{state.CallbackMeetingEnded}}},
		state.Meeting{}, 10)
	if err != nil || b.MeetingID != "" || r.Bridge.MeetingID != "" {
		t.Fatalf("follow a room that is not meeting: %+v %+v %v", r, b, err)
	}
	if _, _, err := lc.Follow(ctx, state.Room{ExternalID: "room"}, state.Meeting{}, 10); !errors.Is(err, state.ErrExists) {
		t.Fatalf("following twice: %v", err)
	}
	for week := 1; week <= 3; week++ {
		m := state.Meeting{InternalID: fmt.Sprintf("m%d", week), ExternalID: "room", CreatedAt: time.Now().UTC()}
		var wg sync.WaitGroup
		var mu sync.Mutex
		started := 0
		for range 4 { // four relays at once
			wg.Go(func() {
				_, ok, err := New(ts.s, Options{}).RoomMeetingCreated(ctx, m)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					started++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if started != 1 {
			t.Fatalf("week %d: %d bridges started, want 1", week, started)
		}
		got, err := ts.s.GetBridge(ctx, m.InternalID)
		if err != nil || !got.FollowRoom || got.CallbackURI != "http://127.0.0.1:9/hook" || got.ChatUser != "Bridge" ||
			got.RequestedID != "room" || got.CallbackState != state.CallbackActive || !got.CreatedAt.Equal(m.CreatedAt.Add(-roomClockMargin)) {
			t.Fatalf("week %d: bridge %+v, %v", week, got, err)
		}
		if _, err := lc.Pending(ctx, m.InternalID); err != nil {
			t.Fatalf("week %d: no consumer: %v", week, err)
		}
		if r, err := ts.s.GetRoom(ctx, "room"); err != nil || r.Bridge.MeetingID != m.InternalID {
			t.Fatalf("week %d: room %+v, %v", week, r, err)
		}
		if err := lc.Finish(ctx, m.InternalID); err != nil {
			t.Fatal(err)
		}
	}
	// Another room's meeting and a breakout of this room get nothing.
	for _, m := range []state.Meeting{{InternalID: "x1", ExternalID: "other"}, {InternalID: "b1", ExternalID: "room", IsBreakout: true}} {
		if _, ok, err := lc.RoomMeetingCreated(ctx, m); ok || err != nil {
			t.Fatalf("%+v: started %v, %v", m, ok, err)
		}
	}
	if _, err := lc.Unfollow(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := lc.RoomMeetingCreated(ctx, state.Meeting{InternalID: "m4", ExternalID: "room"}); ok || err != nil {
		t.Fatalf("after unfollow: started %v, %v", ok, err)
	}
	if _, err := lc.Unfollow(ctx, "room"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("unfollow twice: %v", err)
	}
}

// TestFollowRunningMeeting: following a room whose meeting runs starts its bridge at once, and a bridge made for
// it by a relay first is taken as the one; Unfollow ends it.
func TestFollowRunningMeeting(t *testing.T) {
	ts := openStore(t)
	lc := New(ts.s, Options{})
	ctx := t.Context()
	cur := state.Meeting{InternalID: "m1", ExternalID: "room"}
	r, b, err := lc.Follow(ctx, state.Room{ExternalID: "room", Bridge: state.Bridge{ChatUser: "Bridge"}}, cur, 10)
	if err != nil || b.MeetingID != "m1" || !b.FollowRoom || r.Bridge.MeetingID != "m1" {
		t.Fatalf("follow a running room: %+v %+v %v", r, b, err)
	}
	if _, ok, err := lc.RoomMeetingCreated(ctx, cur); ok || err != nil {
		t.Fatalf("a relay late for the meeting: started %v, %v", ok, err)
	}
	if _, err := lc.Unfollow(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.s.GetBridge(ctx, "m1"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("bridge left after Unfollow: %v", err)
	}
	// A meeting with a chat of its own cannot be followed as well, and the room is then not left behind.
	if _, err := lc.Start(ctx, state.Bridge{MeetingID: "m2", ChatUser: "Bridge"}, 10); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lc.Follow(ctx, state.Room{ExternalID: "room2"}, state.Meeting{InternalID: "m2", ExternalID: "room2"}, 10); !errors.Is(err, state.ErrExists) {
		t.Fatalf("follow over a chat of its own: %v", err)
	}
	if _, err := ts.s.GetRoom(ctx, "room2"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("room left behind: %v", err)
	}
}

// TestRoomCallbackOrder: while a followed room's meeting still has callbacks to deliver, the next meetings'
// bridges are held behind it, each released when the one before is finished, so the room's receiver gets its
// meetings in order.
func TestRoomCallbackOrder(t *testing.T) {
	ts := openStore(t)
	lc := New(ts.s, Options{})
	ctx := t.Context()
	if _, _, err := lc.Follow(ctx, state.Room{ExternalID: "room", Bridge: state.Bridge{ChatUser: "Bridge",
		CallbackURI: "http://127.0.0.1:9/hook", CallbackSecret: "s"}}, state.Meeting{}, 10); err != nil {
		t.Fatal(err)
	}
	meet := func(id string) state.Bridge {
		t.Helper()
		b, ok, err := lc.RoomMeetingCreated(ctx, state.Meeting{InternalID: id, ExternalID: "room", CreatedAt: time.Now()})
		if err != nil || !ok {
			t.Fatalf("%s: started %v, %v", id, ok, err)
		}
		return b
	}
	end := func(id string, want Outcome) {
		t.Helper()
		if got, err := lc.MeetingEnded(ctx, id); err != nil || got != want {
			t.Fatalf("%s ended: %v, %v; want %v", id, got, err, want)
		}
	}
	check := func(id, wantState, wantAfter string) {
		t.Helper()
		b, err := ts.s.GetBridge(ctx, id)
		if err != nil || b.CallbackState != wantState || b.After != wantAfter {
			t.Fatalf("%s: %+v, %v; want %s after %q", id, b, err, wantState, wantAfter)
		}
	}
	if b := meet("m1"); b.CallbackState != state.CallbackActive {
		t.Fatalf("first meeting: %+v", b)
	}
	end("m1", EndsAfterQueue) // its callbacks are still going out
	meet("m2")
	check("m2", state.CallbackHeld, "m1")
	end("m2", EndsAfterQueue)
	meet("m3")
	check("m3", state.CallbackHeld, "m2")
	if err := lc.Finish(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	check("m2", state.CallbackActive, "")
	check("m3", state.CallbackHeld, "m2")
	if err := lc.Finish(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	check("m3", state.CallbackActive, "")
	// A meeting whose predecessor is done already is not held.
	end("m3", EndsAfterQueue)
	if err := lc.Finish(ctx, "m3"); err != nil {
		t.Fatal(err)
	}
	if b := meet("m4"); b.CallbackState != state.CallbackActive {
		t.Fatalf("after a finished meeting: %+v", b)
	}
	// A predecessor whose end is not applied yet holds it too (BBB runs one meeting per external id); should that
	// end never come, retryCallbacks releases it.
	meet("m5")
	check("m5", state.CallbackHeld, "m4")
	b5, _ := ts.s.GetBridge(ctx, "m5")
	if _, err := lc.Retry(ctx, b5); err != nil {
		t.Fatal(err)
	}
	check("m5", state.CallbackActive, "")
	// Unfollow ends every bridge of the room, the one still delivering an ended meeting's callbacks too.
	end("m5", EndsAfterQueue)
	meet("m6")
	check("m6", state.CallbackHeld, "m5")
	if _, err := lc.Unfollow(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"m4", "m5", "m6"} {
		if _, err := ts.s.GetBridge(ctx, id); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("%s left after Unfollow: %v", id, err)
		}
	}
	// Finish for a bridge gone already (an earlier Finish could not release) still releases what is held after it.
	if _, err := ts.s.CreateBridge(ctx, state.Bridge{MeetingID: "x1", FollowRoom: true, ExternalID: "room2", CallbackURI: "http://127.0.0.1:9/hook",
		CallbackState: state.CallbackHeld, After: "gone-already"}); err != nil {
		t.Fatal(err)
	}
	if err := lc.Finish(ctx, "gone-already"); err != nil {
		t.Fatal(err)
	}
	check("x1", state.CallbackActive, "")
}
