package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/apispec"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/relay/callback"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// startFollowing calls startChatForMeeting with follow_room true (a JSON boolean).
func (e *env) startFollowing(meetingID, chatUser, uri, secret string) answer {
	e.t.Helper()
	ms := strs("meeting_id", meetingID, "chat_user", chatUser, "callback_uri", uri, "callback_secret", secret,
		"nonce", strconv.FormatInt(time.Now().UnixNano(), 10))
	ms = append(ms, pyjson.Member{Key: "follow_room", Value: pyjson.Bool(true)})
	return e.post("/api/"+callStart, sign(callStart, ms, e.secret, time.Now().Unix()))
}

// waitBridge waits until the meeting has a bridge and returns it.
func (e *env) waitBridge(meetingID string) state.Bridge {
	e.t.Helper()
	var b state.Bridge
	testenv.Eventually(e.t, 10*time.Second, "bridge of "+meetingID, func() bool {
		var err error
		b, err = e.store.GetBridge(context.Background(), meetingID)
		return err == nil
	})
	return b
}

// lastEvent is the newest event of a meeting's type in the stream.
func (e *env) lastEvent(meetingID, typ string) state.Event {
	e.t.Helper()
	msg, err := e.events().GetLastMsgForSubject(context.Background(), state.EventSubject(meetingID, typ))
	if err != nil {
		e.t.Fatalf("last %s of %s: %v", typ, meetingID, err)
	}
	var ev state.Event
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// TestFollowRoom: a chat started with follow_room before its room meets waits for it, gets a bridge (the same
// callback) for each of the room's meetings, tells its receiver when each ends, and stops following at
// endChatForMeeting. A call for a room with no running meeting, or for a chat whose meeting ended, says so.
func TestFollowRoom(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	recv := newReceiver(t)

	doc, err := apispec.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Every answer about a followed room is as docs/openapi.yaml describes it.
	described := func(call string, a answer) {
		t.Helper()
		if err := apispec.CheckAnswer(ctx, doc, http.MethodPost, "/api/"+call, "/api/"+call, nil, a.Status,
			http.Header{"Content-Type": {"application/json"}}, []byte(a.Raw)); err != nil {
			t.Errorf("%s: %v", call, err)
		}
	}
	a := e.startFollowing("weekly", "Bridge", recv.URL(), "cb-weekly")
	expect(t, a, 200, "started")
	described(callStart, a)
	if a.Body["waiting"] != true || a.Body["follow_room"] != true || !strings.Contains(fmt.Sprint(a.Body["warning"]), "next meeting") {
		t.Fatalf("start before the room meets: %s", a.Raw)
	}
	expect(t, e.startFollowing("weekly", "Bridge", recv.URL(), "cb-weekly"), 409, "already registered")
	expect(t, e.call(callStart, "meeting_id", "weekly", "chat_user", "Bridge"), 409, `a chat follows room "weekly"`)
	info := e.call(callInfo, "meeting_id", "weekly")
	expect(t, info, 200, "Chat info")
	if info.Body["waiting"] != true || info.Body["follow_room"] != true {
		t.Fatalf("info of a waiting room: %s", info.Raw)
	}
	described(callInfo, info)
	expect(t, e.send("weekly", "a", "too early"), 404, "room whose meeting is not running")
	running := e.call(callRunning)
	expect(t, running, 200, "Running chats")
	described(callRunning, running)
	if rooms, _ := running.Body["rooms"].([]any); len(rooms) != 1 || rooms[0].(map[string]any)["waiting"] != true ||
		rooms[0].(map[string]any)["external_meeting_id"] != "weekly" {
		t.Fatalf("runningChats of a waiting room: %s", running.Raw)
	}

	var want []string
	for week := 1; week <= 2; week++ {
		m := e.meeting("weekly", fmt.Sprintf("Week %d", week))
		b := e.waitBridge(m.IntID)
		if !b.FollowRoom || b.CallbackURI != recv.URL() || b.RequestedID != "weekly" || b.ChatUser != "Bridge" {
			t.Fatalf("week %d: bridge %+v", week, b)
		}
		created := e.lastEvent(m.IntID, state.TypeMeetingCreated)
		if created.ExternalMeetingID != "weekly" {
			t.Fatalf("week %d: meeting.created event without the room: %+v", week, created)
		}
		want = append(want, callback.WebhookID(created))
		info := e.call(callInfo, "meeting_id", "weekly")
		expect(t, info, 200, "Chat info")
		if info.Body["meeting_id"] != m.IntID || info.Body["follow_room"] != true {
			t.Fatalf("week %d: info %s", week, info.Raw)
		}
		if _, err := e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER"); err != nil {
			t.Fatal(err)
		}
		talker, err := e.sim.Join(ctx, m.IntID, "Talker", "VIEWER")
		if err != nil {
			t.Fatal(err)
		}
		e.waitPresent(m.IntID, "Bridge", true)
		expect(t, e.send("weekly", "Ann", fmt.Sprintf("week %d", week)), 200, "sent")
		e.waitChat(m.IntID, 1)
		msg, err := e.sim.Say(ctx, m.IntID, talker, fmt.Sprintf("hello week %d", week))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, msg.ID)
		if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
			t.Fatal(err)
		}
		want = append(want, "ended-"+m.IntID)
		if ev := e.lastEvent(m.IntID, state.TypeMeetingEnded); ev.ExternalMeetingID != "weekly" {
			t.Fatalf("week %d: meeting.ended event without the room: %+v", week, ev)
		}
		testenv.Eventually(t, 10*time.Second, "callbacks of week "+fmt.Sprint(week), func() bool {
			return len(recv.deliveries()) >= len(want)
		})
		checkDelivered(t, "room receiver", recv.deliveries(), want)
		testenv.Eventually(t, 10*time.Second, "week's bridge gone", func() bool {
			_, err := e.store.GetBridge(context.Background(), m.IntID)
			return errors.Is(err, state.ErrNotFound)
		})
		a := e.call(callInfo, "meeting_id", "weekly")
		expect(t, a, 200, "Chat info")
		if a.Body["waiting"] != true || a.Body["last_meeting_id"] != m.IntID || a.Body["last_meeting_ended_at"] == nil {
			t.Fatalf("week %d: room after its meeting: %s", week, a.Raw)
		}
		described(callInfo, a)
		expect(t, e.send("weekly", "a", "late"), 404, "whose last meeting ended at ")
		expect(t, e.call(callInfo, "meeting_id", m.IntID), 404, "the meeting ended at ")
	}
	kinds := map[string]int{}
	for _, d := range recv.deliveries() {
		if d.Body["meeting_id"] != "weekly" {
			t.Fatalf("callback for %v, want the room's id the client gave", d.Body["meeting_id"])
		}
		if k, ok := d.Body["type"].(string); ok {
			kinds[k]++
			if d.Body["external_meeting_id"] != "weekly" || d.Body["internal_meeting_id"] == nil {
				t.Fatalf("%s callback without the room or the meeting: %v", k, d.Body)
			}
		}
	}
	if kinds["meeting.created"] != 2 || kinds["meeting.ended"] != 2 {
		t.Fatalf("room callbacks %v, want two starts and two ends", kinds)
	}

	expect(t, e.call(callEnd, "meeting_id", "weekly"), 200, "ended")
	expect(t, e.call(callEnd, "meeting_id", "weekly"), 404, "")
	m := e.meeting("weekly", "Week 3")
	if _, err := e.store.GetRoom(ctx, "weekly"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("room still followed: %v", err)
	}
	expect(t, e.call(callInfo, "meeting_id", "weekly"), 404, "Chat was not found")
	if _, err := e.store.GetBridge(ctx, m.IntID); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("a bridge for a room no longer followed: %v", err)
	}
}

// TestFollowRoomRunning: follow_room for a room whose meeting runs starts its bridge at once; ending it ends that
// bridge too.
func TestFollowRoomRunning(t *testing.T) {
	e := newEnv(t, "3.0")
	m := e.meeting("daily", "Daily")
	recv := newReceiver(t)
	a := e.startFollowing("daily", "Bridge", recv.URL(), "cb-daily")
	expect(t, a, 200, "started")
	if a.Body["meeting_id"] != m.IntID || a.Body["waiting"] != false {
		t.Fatalf("start for a running room: %s", a.Raw)
	}
	if b := e.waitBridge(m.IntID); !b.FollowRoom {
		t.Fatalf("bridge %+v", b)
	}
	expect(t, e.call(callEnd, "meeting_id", m.IntID), 200, "ended")
	if _, err := e.store.GetBridge(t.Context(), m.IntID); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("bridge left after the end: %v", err)
	}
	if _, err := e.store.GetRoom(t.Context(), "daily"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("room left after the end: %v", err)
	}
}

// TestUnknownAndEndedMeeting: without follow_room, a meeting no one knows is started with a warning, and a chat
// whose meeting ended answers 404 with the time it ended, by either id.
func TestUnknownAndEndedMeeting(t *testing.T) {
	e := newEnv(t, "2.7")
	a := e.call(callStart, "meeting_id", "no-such-meeting", "chat_user", "Bridge")
	expect(t, a, 200, "started")
	if a.Body["meeting_known"] != false || !strings.Contains(fmt.Sprint(a.Body["warning"]), "follow_room") {
		t.Fatalf("unknown meeting: %s", a.Raw)
	}
	known := e.call(callStart, "meeting_id", e.meeting("once", "Once").IntID, "chat_user", "Bridge")
	expect(t, known, 200, "started")
	if _, has := known.Body["warning"]; has {
		t.Fatalf("a known meeting's start warns: %s", known.Raw)
	}
	id := known.Body["meeting_id"].(string)
	if err := e.sim.EndMeeting(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "bridge gone with its meeting", func() bool {
		_, err := e.store.GetBridge(context.Background(), id)
		return errors.Is(err, state.ErrNotFound)
	})
	ended, err := e.store.Ended(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	at := ended.EndedAt.UTC().Format(time.RFC3339)
	for _, mid := range []string{id, "once"} {
		expect(t, e.call(callInfo, "meeting_id", mid), 404, "Chat was not found: the meeting ended at "+at)
		expect(t, e.send(mid, "a", "late"), 404, "the meeting ended at "+at)
		expect(t, e.call(callEnd, "meeting_id", mid), 404, "the meeting ended at "+at)
	}
	expect(t, e.call(callInfo, "meeting_id", "never-was"), 404, "Chat was not found")
}

// TestFollowRoomOrder: a followed room's receiver that is slow across two meetings gets them in order: the next
// meeting's callbacks wait until the previous meeting's, its end included, are delivered.
func TestFollowRoomOrder(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	recv := newReceiver(t)
	hold := make(chan struct{})
	recv.setAnswer(func(*http.Request) int {
		select { // a slow receiver: each callback takes 1.8 s (under the 2 s callback timeout) until released
		case <-hold:
		case <-time.After(1800 * time.Millisecond):
		}
		return http.StatusNoContent
	})
	expect(t, e.startFollowing("room-order", "Bridge", recv.URL(), "cb-order"), 200, "started")
	var want []string
	say := func(m string, text string) {
		t.Helper()
		talker, err := e.sim.Join(ctx, m, "Talker", "VIEWER")
		if err != nil {
			t.Fatal(err)
		}
		msg, err := e.sim.Say(ctx, m, talker, text)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, msg.ID)
	}
	m1 := e.meeting("room-order", "One")
	e.waitBridge(m1.IntID)
	want = append(want, callback.WebhookID(e.lastEvent(m1.IntID, state.TypeMeetingCreated)))
	say(m1.IntID, "first meeting")
	if err := e.sim.EndMeeting(ctx, m1.IntID); err != nil {
		t.Fatal(err)
	}
	want = append(want, "ended-"+m1.IntID)
	m2 := e.meeting("room-order", "Two")
	if b := e.waitBridge(m2.IntID); b.CallbackState != state.CallbackHeld || b.After != m1.IntID {
		t.Fatalf("second meeting's bridge while the first's callbacks go out: %+v", b)
	}
	want = append(want, callback.WebhookID(e.lastEvent(m2.IntID, state.TypeMeetingCreated)))
	say(m2.IntID, "second meeting")
	close(hold)
	testenv.Eventually(t, 15*time.Second, "both meetings' callbacks", func() bool {
		return len(recv.deliveries()) >= len(want)
	})
	checkDelivered(t, "room receiver", recv.deliveries(), want)
}

// TestFollowRoomTwoRelays: with two relays on the same BBB and NATS, each of a followed room's meetings gets one
// bridge, and its receiver each callback once, in order.
func TestFollowRoomTwoRelays(t *testing.T) {
	e := newEnv(t, "3.0")
	e.startRelayWith(nil)
	ctx := t.Context()
	recv := newReceiver(t)
	expect(t, e.startFollowing("pair", "Bridge", recv.URL(), "cb-pair"), 200, "started")
	var want []string
	for week := 1; week <= 2; week++ {
		m := e.meeting("pair", fmt.Sprintf("Pair %d", week))
		e.waitBridge(m.IntID)
		want = append(want, callback.WebhookID(e.lastEvent(m.IntID, state.TypeMeetingCreated)))
		talker, err := e.sim.Join(ctx, m.IntID, "Talker", "VIEWER")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			msg, err := e.sim.Say(ctx, m.IntID, talker, fmt.Sprintf("week %d, %d", week, i))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, msg.ID)
		}
		if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
			t.Fatal(err)
		}
		want = append(want, "ended-"+m.IntID)
		testenv.Eventually(t, 15*time.Second, fmt.Sprintf("week %d delivered", week), func() bool {
			return len(recv.deliveries()) >= len(want)
		})
	}
	if repeats := checkDelivered(t, "room receiver", recv.deliveries(), want); repeats != 0 {
		t.Errorf("%d callbacks came twice", repeats)
	}
}
