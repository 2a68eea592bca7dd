package redisfeed

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbmsg"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

func decode(t testing.TB, raw []byte) bbb.Event {
	t.Helper()
	e, err := bbb.Decode(raw)
	if err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return e
}

func TestBuildEvent(t *testing.T) {
	v27 := bbb.Version{Major: 2, Minor: 7}
	v30 := bbb.Version{Major: 3, Minor: 0}
	created := func(parent string, breakout bool) []byte {
		return bbbmsg.JSON(t, obj{
			"envelope": obj{"name": "MeetingCreatedEvtMsg", "timestamp": 5},
			"core": obj{"header": obj{"name": "MeetingCreatedEvtMsg"}, "body": obj{"props": obj{
				"meetingProp":   obj{"name": "Room", "extId": "ext-1", "intId": "int-1", "isBreakout": breakout},
				"breakoutProps": obj{"parentId": parent},
				"durationProps": obj{"createdTime": 4},
			}}},
		})
	}
	cases := []struct {
		name    string
		raw     []byte
		v       bbb.Version
		ext     string
		actor   string
		wantOK  bool
		check   func(t *testing.T, e state.Event)
		subject string
	}{
		{
			name: "2.x chat is unescaped", raw: bbbmsg.Chat(t, "m", "1-a", "w_a", "a &lt;b&gt; <a href='event:https://x.org'><u>https://x.org</u></a>", 9),
			v: v27, ext: "ext", wantOK: true, subject: "bbbchat.m.message",
			check: func(t *testing.T, e state.Event) {
				if e.Text != "a <b> https://x.org" || e.ID != "1-a" || e.MessageID != "1-a" || e.ExternalMeetingID != "ext" ||
					e.BBBVersion != "2.7" || e.SenderID != "w_a" || e.ChatID != bbb.PublicChatID || e.Timestamp != 9 {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "3.0 chat is Markdown, kept", raw: bbbmsg.Chat(t, "m", "1-a", "w_a", "a &lt;b&gt;", 9), v: v30, wantOK: true,
			check: func(t *testing.T, e state.Event) {
				if e.Text != "a &lt;b&gt;" || e.BBBVersion != "3.0" {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "unknown version: no version field", raw: bbbmsg.Chat(t, "m", "1-a", "w_a", "x", 9), wantOK: true,
			check: func(t *testing.T, e state.Event) {
				if e.BBBVersion != "" {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "meeting ended", raw: bbbmsg.MeetingEnded(t, "MeetingEndedEvtMsg", "m", 1), v: v27, wantOK: true,
			subject: "bbbchat.m.meeting.ended",
			check: func(t *testing.T, e state.Event) {
				if e.ID != "ended-m" || e.Type != state.TypeMeetingEnded {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "meeting destroyed: the same id", raw: bbbmsg.MeetingEnded(t, "MeetingDestroyedEvtMsg", "m", 2), wantOK: true,
			check: func(t *testing.T, e state.Event) {
				if e.ID != "ended-m" {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "meeting created, not a breakout", raw: created("bbb-none", false), wantOK: true,
			subject: "bbbchat.int-1.meeting.created",
			check: func(t *testing.T, e state.Event) {
				if e.ExternalMeetingID != "ext-1" || e.ParentID != "" || e.MeetingName != "Room" || e.IsBreakout ||
					!strings.HasPrefix(e.ID, "meeting.created-") {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "breakout keeps its parent", raw: created("parent-1", true), wantOK: true,
			check: func(t *testing.T, e state.Event) {
				if e.ParentID != "parent-1" || !e.IsBreakout {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "user joined", raw: bbbmsg.UserJoined(t, "m", "w_b", "Bob", 3), wantOK: true, subject: "bbbchat.m.user.joined",
			check: func(t *testing.T, e state.Event) {
				if e.UserID != "w_b" || e.UserName != "Bob" || e.UserRole != "VIEWER" || e.ExternalUserID != "w_b" {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "edit: the new text and who edited", raw: action(t, "GroupChatMessageEditedEvtMsg", obj{"message": "hi **all**", "messageAsHtml": "<p>x</p>"}),
			v: v30, ext: "ext", actor: "Alice", wantOK: true, subject: "bbbchat.m.message.edited",
			check: func(t *testing.T, e state.Event) {
				if e.Type != state.TypeMessageEdited || e.MessageID != "1-a" || e.ChatID != bbb.PublicChatID ||
					e.UserID != "w_a" || e.UserName != "Alice" || e.Text != "hi **all**" || e.Timestamp != 7 ||
					e.Emoji != "" || e.SenderID != "" || e.ExternalMeetingID != "ext" || e.BBBVersion != "3.0" ||
					!strings.HasPrefix(e.ID, "message.edited-") {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "delete", raw: action(t, "GroupChatMessageDeletedEvtMsg", obj{}), v: v30, wantOK: true,
			subject: "bbbchat.m.message.deleted",
			check: func(t *testing.T, e state.Event) {
				if e.MessageID != "1-a" || e.UserID != "w_a" || e.UserName != "" || e.Text != "" {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "reaction added", raw: action(t, "GroupChatMessageReactionSentEvtMsg", obj{"reactionEmoji": "👍", "reactionEmojiId": "+1"}),
			v: v30, actor: "Bob", wantOK: true, subject: "bbbchat.m.reaction.added",
			check: func(t *testing.T, e state.Event) {
				if e.Emoji != "👍" || e.UserName != "Bob" || e.MessageID != "1-a" || e.Text != "" {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "reaction removed", raw: action(t, "GroupChatMessageReactionDeletedEvtMsg", obj{"reactionEmoji": "👍"}),
			v: v30, wantOK: true, subject: "bbbchat.m.reaction.removed",
			check: func(t *testing.T, e state.Event) {
				if e.Emoji != "👍" || e.Type != state.TypeReactionRemoved {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "pinned", raw: action(t, "PinGroupChatMessageEvtMsg", obj{}), v: bbb.Version{Major: 4}, wantOK: true,
			subject: "bbbchat.m.message.pinned",
			check: func(t *testing.T, e state.Event) {
				if e.MessageID != "1-a" || e.BBBVersion != "4.0" {
					t.Errorf("%+v", e)
				}
			},
		},
		{
			name: "unpinned", raw: action(t, "UnpinGroupChatMessageEvtMsg", obj{}), v: bbb.Version{Major: 4}, wantOK: true,
			subject: "bbbchat.m.message.unpinned",
		},
		{
			name: "not published", raw: []byte(`{"envelope":{"name":"PresenterAssignedEvtMsg"},"core":{"header":{"name":"PresenterAssignedEvtMsg","meetingId":"m"},"body":{}}}`),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := buildEvent(decode(t, tc.raw), tc.raw, tc.v, tc.ext, tc.actor)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.wantOK, e)
			}
			if !ok {
				return
			}
			if tc.subject != "" && e.Subject() != tc.subject {
				t.Errorf("subject %q, want %q", e.Subject(), tc.subject)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// action is a BBB event about message 1-a of the public chat of meeting m, by w_a, at 7, with the body fields extra.
func action(t testing.TB, name string, extra obj) []byte {
	body := obj{"chatId": bbb.PublicChatID, "messageId": "1-a"}
	for k, v := range extra {
		body[k] = v
	}
	return bbbmsg.JSON(t, obj{
		"envelope": obj{"name": name, "routing": obj{"msgType": "BROADCAST_TO_MEETING", "meetingId": "m", "userId": "w_a"}, "timestamp": 7},
		"core":     obj{"header": obj{"name": name, "meetingId": "m", "userId": "w_a"}, "body": body},
	})
}

// Ids of events without a BBB id depend on the payload only: the same bytes give the same id in every relay, and
// two distinct events differ.
func TestEventIDStable(t *testing.T) {
	a := bbbmsg.UserJoined(t, "m", "w_a", "A", 1)
	b := bbbmsg.UserJoined(t, "m", "w_a", "A", 2)
	ea, _ := buildEvent(decode(t, a), a, bbb.Version{}, "", "")
	ea2, _ := buildEvent(decode(t, a), bytes.Clone(a), bbb.Version{Major: 2, Minor: 7}, "other", "")
	eb, _ := buildEvent(decode(t, b), b, bbb.Version{}, "", "")
	if ea.ID != ea2.ID {
		t.Errorf("same payload, ids %q and %q", ea.ID, ea2.ID)
	}
	if ea.ID == eb.ID {
		t.Errorf("distinct events share id %q", ea.ID)
	}
	// A reaction added and removed again, or added twice, are distinct events; one relay that knows the actor's
	// name and one that does not still give the same id.
	r1 := action(t, "GroupChatMessageReactionSentEvtMsg", obj{"reactionEmoji": "👍"})
	r2 := action(t, "GroupChatMessageReactionDeletedEvtMsg", obj{"reactionEmoji": "👍"})
	er1, _ := buildEvent(decode(t, r1), r1, bbb.Version{Major: 3}, "", "Alice")
	er1b, _ := buildEvent(decode(t, r1), bytes.Clone(r1), bbb.Version{Major: 3}, "", "")
	er2, _ := buildEvent(decode(t, r2), r2, bbb.Version{Major: 3}, "", "Alice")
	if er1.ID != er1b.ID || er1.ID == er2.ID {
		t.Errorf("reaction ids %q %q %q", er1.ID, er1b.ID, er2.ID)
	}
}

func TestDecodeReason(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"text", "hello", "not_json"},
		{"truncated", `{"a":`, "not_json"},
		{"array", `[1]`, "not_envelope"},
		{"number", `42`, "not_envelope"},
		{"no name", `{"core":{"header":{}}}`, "not_envelope"},
		{"name of wrong type", `{"envelope":{"name":1}}`, "not_envelope"},
		{"unknown name", `{"envelope":{"name":"X"}}`, "not_envelope"},
		{"header name only", `{"core":{"header":{"name":"UserLeftMeetingEvtMsg"}}}`, "bad_UserLeftMeetingEvtMsg"},
		{"known name", `{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg"}}`, "bad_GroupChatMessageBroadcastEvtMsg"},
		{"event about a message", `{"envelope":{"name":"PinGroupChatMessageEvtMsg"}}`, "bad_PinGroupChatMessageEvtMsg"},
		{"huge", `"` + strings.Repeat("a", bbb.MaxMessageSize) + `"`, "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decodeReason([]byte(tc.raw)); got != tc.want {
				t.Errorf("decodeReason(%.40q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

// FuzzBuildEvent feeds arbitrary Redis payloads through what relay does with them before publishing: nothing may
// panic, and whatever is published must have an id, a meeting, a valid subject and encode to JSON.
func FuzzBuildEvent(f *testing.F) {
	for _, line := range captured(f) {
		f.Add(line)
	}
	f.Add([]byte(`{"envelope":{"name":"MeetingEndedEvtMsg"},"core":{"header":{"name":"MeetingEndedEvtMsg"},"body":{"meetingId":"a.b*>"}}}`))
	for _, name := range []string{"GroupChatMessageEditedEvtMsg", "GroupChatMessageDeletedEvtMsg",
		"GroupChatMessageReactionSentEvtMsg", "GroupChatMessageReactionDeletedEvtMsg", "PinGroupChatMessageEvtMsg",
		"UnpinGroupChatMessageEvtMsg"} {
		f.Add(action(f, name, obj{"message": "x", "reactionEmoji": "🎉"}))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := bbb.Decode(raw)
		if err != nil {
			if r := decodeReason(raw); r == "" {
				t.Fatal("no reason")
			}
			return
		}
		ev, ok := buildEvent(e, raw, bbb.Version{Major: 3, Minor: 0}, "", "n")
		if !ok {
			return
		}
		if ev.ID == "" || ev.MeetingID == "" {
			t.Fatalf("published without id or meeting: %+v", ev)
		}
		id, typ, err := state.ParseSubject(ev.Subject())
		if err != nil || id != ev.MeetingID || typ != ev.Type {
			t.Fatalf("subject %q: %q %q %v", ev.Subject(), id, typ, err)
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMeetingCache(t *testing.T) {
	now := time.Unix(0, 0)
	c := newMeetingCache(2, time.Minute, func() time.Time { return now })
	c.put("a", "ext-a")
	c.put("b", "ext-b")
	if ext, known, cached := c.get("a"); ext != "ext-a" || !known || !cached {
		t.Fatalf("a: %q %v %v", ext, known, cached)
	}
	c.put("c", "ext-c") // evicts b, the least recently used
	if _, _, cached := c.get("b"); cached {
		t.Fatal("b not evicted")
	}
	if c.len() != 2 {
		t.Fatalf("len %d", c.len())
	}
	c.putUnknown("d")
	if _, known, cached := c.get("d"); known || !cached {
		t.Fatal("unknown entry")
	}
	now = now.Add(2 * time.Minute)
	if _, _, cached := c.get("d"); cached {
		t.Fatal("unknown entry outlived its TTL")
	}
	c.putUnknown("e")
	c.put("e", "ext-e")
	if ext, known, _ := c.get("e"); ext != "ext-e" || !known {
		t.Fatal("a meeting learnt later replaces the unknown entry")
	}
}
