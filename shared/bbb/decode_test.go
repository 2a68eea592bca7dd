package bbb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const (
	capturedMeeting = "8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700"
	m22             = "5fa9e8b3c7a5f26c4aed1b0d3a42d0c1e3bd2a41-1616000000000"
	m26             = "9d2b1c4e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c-1690000000000"
	m30             = "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1730000000000"
	m40             = "6c1e0a9d3b2f4e5a6b7c8d9e0f1a2b3c4d5e6f7a-1760000000000"
)

// capturedLines returns the real 2.7 capture, one envelope per element.
func capturedLines(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "bbb-2.7-captured-raw.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, MaxMessageSize)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			lines = append(lines, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkEvent(t *testing.T, raw []byte, want Event) {
	t.Helper()
	got, err := Decode(raw)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode mismatch\n got: %s\nwant: %s", dump(got), dump(want))
	}
}

func dump(e Event) string {
	s := fmt.Sprintf("%+v", e)
	if e.Chat != nil {
		s += fmt.Sprintf("\n  Chat: %+v", *e.Chat)
	}
	if e.User != nil {
		s += fmt.Sprintf("\n  User: %+v", *e.User)
	}
	if e.Meeting != nil {
		s += fmt.Sprintf("\n  Meeting: %+v", *e.Meeting)
	}
	if e.Action != nil {
		s += fmt.Sprintf("\n  Action: %+v", *e.Action)
	}
	return s
}

func TestDecodeCaptured27(t *testing.T) {
	lines := capturedLines(t)
	want := []Event{
		{
			Kind: KindMeetingCreated, Name: "MeetingCreatedEvtMsg", MeetingID: capturedMeeting, Timestamp: 1698771158093,
			Meeting: &Meeting{
				InternalID: capturedMeeting, ExternalID: "random-9019868", Name: "random-9019868",
				IsBreakout: false, ParentID: "bbb-none", CreatedTime: 1698771157700,
			},
		},
		{
			Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: capturedMeeting, Timestamp: 1698771164638,
			User: &User{ID: "w_xfsb9gxtlfom", ExtID: "w_xfsb9gxtlfom", Name: "John Doe", Role: "MODERATOR", Locked: true},
			Hint: Version{2, 7},
		},
		{
			Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: capturedMeeting, Timestamp: 1698771232712,
			Chat: &ChatMessage{
				ChatID: PublicChatID, ID: "1698771232706-9idm9pxf", CorrelationID: "w_xfsb9gxtlfom-1698771232678",
				Timestamp: 1698771232706, SenderID: "w_xfsb9gxtlfom", SenderName: "John Doe", SenderRole: "MODERATOR",
				Emphasized: true, Message: "Public chat test", HeaderUserID: "w_xfsb9gxtlfom",
			},
			Hint: Version{2, 5},
		},
		{
			Kind: KindUserLeft, Name: "UserLeftMeetingEvtMsg", MeetingID: capturedMeeting, Timestamp: 1698771293000,
			User: &User{ID: "w_uxw0dzhtvk0l"},
			Hint: Version{2, 5},
		},
		{Kind: KindMeetingEnded, Name: "MeetingDestroyedEvtMsg", MeetingID: capturedMeeting, Timestamp: 1698771310209},
		{
			Kind: KindOther, Name: "PresenterAssignedEvtMsg",
			MeetingID: "a674bb9c6ff92bfa6d5a0a1e530fabb56023932e-1509387833678", // no envelope.timestamp
		},
	}
	if len(lines) != len(want) {
		t.Fatalf("capture has %d lines, table %d", len(lines), len(want))
	}
	for i, line := range lines {
		t.Run(fmt.Sprintf("line%d-%s", i+1, want[i].Name), func(t *testing.T) {
			checkEvent(t, line, want[i])
		})
	}
}

func TestDecodeConstructed(t *testing.T) {
	tests := []struct {
		file string
		want Event
	}{
		{"2.2-user-joined", Event{
			Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: m22, Timestamp: 1616000000500,
			User: &User{ID: "w_k2lqo1bw3yfz", ExtID: "alice-42", Name: "Alice", Role: "VIEWER", Locked: true},
			Hint: Version{2, 2},
		}},
		{"2.5-user-joined", Event{
			Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: m26, Timestamp: 1660000000500,
			User: &User{ID: "w_pq8d0x1mbnra", ExtID: "w_pq8d0x1mbnra", Name: "Bob", Role: "MODERATOR"},
			Hint: Version{2, 5},
		}},
		{"2.6-user-joined-guest", Event{
			Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: m26, Timestamp: 1690000000500,
			User: &User{ID: "w_0zq3e9r8t7yu", ExtID: "w_0zq3e9r8t7yu", Name: "Guest <Carol>", Role: "VIEWER", Guest: true, Locked: true},
			Hint: Version{2, 6},
		}},
		{"3.0-user-joined-bot", Event{
			Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: m30, Timestamp: 1730000000500,
			User: &User{ID: "w_chatbridge01", ExtID: "chat-bridge", Name: "Chat Bridge", Role: "VIEWER", Bot: true, Locked: true},
			Hint: Version{3, 0},
		}},
		{"4.0-user-joined", Event{
			Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: m40, Timestamp: 1760000000500,
			User: &User{ID: "w_bob000000001", ExtID: "bob", Name: "Bob", Role: "VIEWER", Locked: true},
			Hint: Version{4, 0},
		}},
		{"2.2-user-left", Event{
			Kind: KindUserLeft, Name: "UserLeftMeetingEvtMsg", MeetingID: m22, Timestamp: 1616000900000,
			User: &User{ID: "w_k2lqo1bw3yfz"},
			Hint: Version{2, 2},
		}},
		{"3.0-user-left-ejected", Event{
			Kind: KindUserLeft, Name: "UserLeftMeetingEvtMsg", MeetingID: m30, Timestamp: 1730000900000,
			User: &User{ID: "w_x1y2z3a4b5c6", Eject: true, Reason: "user ejected by moderator"},
			Hint: Version{2, 5},
		}},
		{"2.2-chat", Event{
			Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: m22, Timestamp: 1616000100012,
			Chat: &ChatMessage{
				ChatID: PublicChatID, ID: "1616000100010-a1b2c3d4", CorrelationID: "w_k2lqo1bw3yfz-1616000099990",
				Timestamp: 1616000100010, SenderID: "w_k2lqo1bw3yfz", SenderName: "Alice", Color: "0",
				Message:      "see <a href='event:https://example.org/a?b=1&c=2'><u>https://example.org/a?b=1&c=2</u></a> &lt;3 &quot;quoted&quot; it&#39;s",
				HeaderUserID: "w_k2lqo1bw3yfz",
			},
			Hint: Version{2, 2},
		}},
		{"2.4-chat-multiline", Event{
			Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: m22, Timestamp: 1640000100012,
			Chat: &ChatMessage{
				ChatID: PublicChatID, ID: "1640000100010-zz9yy8xx", CorrelationID: "w_k2lqo1bw3yfz-1640000099990",
				Timestamp: 1640000100010, SenderID: "w_k2lqo1bw3yfz", SenderName: "Alice", Color: "#7b1fa2",
				Message: "line one\n\rline two\nline three", HeaderUserID: "w_k2lqo1bw3yfz",
			},
			Hint: Version{2, 2},
		}},
		{"2.6-chat-private", Event{
			Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: m26, Timestamp: 1690000200012,
			Chat: &ChatMessage{
				ChatID: "1690000150005-ab12cd34", ID: "1690000200010-q1w2e3r4", CorrelationID: "w_pq8d0x1mbnra-1690000199990",
				Timestamp: 1690000200010, SenderID: "w_pq8d0x1mbnra", SenderName: "Bob", SenderRole: "MODERATOR",
				Emphasized: true, Message: "psst", HeaderUserID: "w_pq8d0x1mbnra",
			},
			Hint: Version{2, 5},
		}},
		{"2.6-chat-system-breakout", Event{
			Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: m26, Timestamp: 1690000300012,
			Chat: &ChatMessage{
				ChatID: PublicChatID, ID: "1690000300010-b0b0b0b0", CorrelationID: "SYSTEM",
				Timestamp: 1690000300010, SenderID: "SYSTEM", SenderName: "Bob", SenderRole: "VIEWER",
				Emphasized: true, Message: "Five minutes left", HeaderUserID: "Bob",
			},
			Hint: Version{2, 5},
		}},
		{"3.0-chat", Event{
			Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: m30, Timestamp: 1730000000123,
			Chat: &ChatMessage{
				ChatID: PublicChatID, ID: "1730000000120-k3j9x0ab", CorrelationID: "w_abc123def456-1730000000000",
				Timestamp: 1730000000120, SenderID: "w_abc123def456", SenderName: "Alice", SenderRole: "MODERATOR",
				Emphasized: true, Message: "hello **world** <b>not html</b>", ReplyToMessageID: "1730000000001-aaaabbbb",
				HeaderUserID: "w_abc123def456",
			},
			Hint: Version{3, 0},
		}},
		{"3.0-chat-api", Event{
			Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: m30, Timestamp: 1730000400012,
			Chat: &ChatMessage{
				ChatID: PublicChatID, ID: "1730000400010-c4c4c4c4", CorrelationID: "SYSTEM",
				Timestamp: 1730000400010, SenderID: "SYSTEM", SenderName: "Chat Bridge", SenderRole: "VIEWER",
				Emphasized: true, Message: "Hello from outside", HeaderUserID: "Chat Bridge",
			},
			Hint: Version{3, 0},
		}},
		{"4.0-chat", Event{
			Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: m40, Timestamp: 1760000000123,
			Chat: &ChatMessage{
				ChatID: PublicChatID, ID: "1760000000120-k3j9x0ab", CorrelationID: "w_abc123def456-1760000000000",
				Timestamp: 1760000000120, SenderID: "w_abc123def456", SenderName: "Alice", SenderRole: "MODERATOR",
				Emphasized: true, Message: "hello **world**", HeaderUserID: "w_abc123def456",
			},
			Hint: Version{4, 0},
		}},
		{"3.0-message-edited", Event{
			Kind: KindMessageEdited, Name: "GroupChatMessageEditedEvtMsg", MeetingID: m30, Timestamp: 1730000060000,
			Action: &Action{ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_abc123def456",
				Text: "hello **everyone**"},
			Hint: Version{3, 0},
		}},
		{"3.0-message-deleted", Event{
			Kind: KindMessageDeleted, Name: "GroupChatMessageDeletedEvtMsg", MeetingID: m30, Timestamp: 1730000070000,
			Action: &Action{ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_mod000000001"},
			Hint:   Version{3, 0},
		}},
		{"3.0-reaction-added", Event{
			Kind: KindReactionAdded, Name: "GroupChatMessageReactionSentEvtMsg", MeetingID: m30, Timestamp: 1730000080000,
			Action: &Action{ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_bob000000001",
				Emoji: "👍"},
			Hint: Version{3, 0},
		}},
		{"3.0-reaction-removed-private", Event{
			Kind: KindReactionRemoved, Name: "GroupChatMessageReactionDeletedEvtMsg", MeetingID: m30,
			Timestamp: 1730000090000,
			Action: &Action{ChatID: "1730000050005-ab12cd34", MessageID: "1730000055010-q1w2e3r4",
				UserID: "w_bob000000001", Emoji: "😂"},
			Hint: Version{3, 0},
		}},
		{"4.0-message-edited", Event{
			Kind: KindMessageEdited, Name: "GroupChatMessageEditedEvtMsg", MeetingID: m40, Timestamp: 1760000060000,
			Action: &Action{ChatID: PublicChatID, MessageID: "1760000000120-k3j9x0ab", UserID: "w_abc123def456",
				Text: "hello **everyone**"},
			Hint: Version{3, 0},
		}},
		{"4.0-reaction-added-emoji-id", Event{
			Kind: KindReactionAdded, Name: "GroupChatMessageReactionSentEvtMsg", MeetingID: m40, Timestamp: 1760000080000,
			Action: &Action{ChatID: PublicChatID, MessageID: "1760000000120-k3j9x0ab", UserID: "w_bob000000001",
				Emoji: "👍", EmojiID: "+1"},
			Hint: Version{3, 0},
		}},
		{"4.0-message-pinned", Event{
			Kind: KindMessagePinned, Name: "PinGroupChatMessageEvtMsg", MeetingID: m40, Timestamp: 1760000100000,
			Action: &Action{ChatID: PublicChatID, MessageID: "1760000000120-k3j9x0ab", UserID: "w_mod000000001"},
			Hint:   Version{4, 0},
		}},
		{"4.0-message-unpinned", Event{
			Kind: KindMessageUnpinned, Name: "UnpinGroupChatMessageEvtMsg", MeetingID: m40, Timestamp: 1760000110000,
			Action: &Action{ChatID: PublicChatID, MessageID: "1760000000120-k3j9x0ab", UserID: "w_mod000000001"},
			Hint:   Version{4, 0},
		}},
		{"2.6-chat-cleared", Event{
			Kind: KindChatCleared, Name: "ClearPublicChatHistoryEvtMsg", MeetingID: m26, Timestamp: 1690000500000,
			ChatID: PublicChatID,
		}},
		{"3.0-meeting-created-breakout", Event{
			Kind: KindMeetingCreated, Name: "MeetingCreatedEvtMsg",
			MeetingID: "2b9f1a6c2f7e0c8b9a4d5e6f7a8b9c0d1e2f3a4b-1730000600000", Timestamp: 1730000600100,
			Meeting: &Meeting{
				InternalID: "2b9f1a6c2f7e0c8b9a4d5e6f7a8b9c0d1e2f3a4b-1730000600000",
				ExternalID: "0d8ef36c5b5a0bd6f3a79a0e2fcf3e5e3c4b1f1b-1730000600000",
				Name:       "Room 1", IsBreakout: true, ParentID: m30, CreatedTime: 1730000600000,
			},
		}},
		{"2.4-meeting-ended", Event{Kind: KindMeetingEnded, Name: "MeetingEndedEvtMsg", MeetingID: m22, Timestamp: 1640000900000}},
		{"3.0-meeting-destroyed", Event{Kind: KindMeetingEnded, Name: "MeetingDestroyedEvtMsg", MeetingID: m30, Timestamp: 1730000902500}},
		{"2.6-meeting-ending", Event{Kind: KindOther, Name: "MeetingEndingEvtMsg", MeetingID: m26, Timestamp: 1690000899000}},
		{"2.6-group-chat-created", Event{Kind: KindOther, Name: "GroupChatCreatedEvtMsg", MeetingID: m26, Timestamp: 1698771400010}},
		{"3.0-graphql-pong-no-body", Event{Kind: KindOther, Name: "CheckGraphqlMiddlewareAlivePongSysMsg", Timestamp: 1730000000999}},
		{"legacy-no-envelope", Event{Kind: KindOther, Name: "PresenterAssignedEvtMsg", MeetingID: m22}},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("testdata/events has %d files, table %d: every file needs a case", len(files), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			checkEvent(t, readEvent(t, tc.file), tc.want)
		})
	}
}

// TestDecodeLenient covers shapes BBB may send that the fixtures do not:
// unknown fields, reordered fields, explicit nulls in optional fields.
func TestDecodeLenient(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Event
	}{
		{
			name: "unknown fields everywhere, later develop body",
			raw: `{"extra":1,"envelope":{"name":"GroupChatMessageBroadcastEvtMsg","routing":{"x":"y"},"timestamp":5,"new":[1]},
				"core":{"header":{"name":"GroupChatMessageBroadcastEvtMsg","meetingId":"m","userId":"u","more":{}},
				"body":{"chatId":"c","participants":["a"],"msg":{"id":"i","timestamp":7,"sender":{"id":"s","name":"n","role":"VIEWER","avatar":""},
				"message":"hi","metadata":{"pluginName":"p"},"messageType":"plugin"}}}}`,
			want: Event{Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: "m", Timestamp: 5,
				Chat: &ChatMessage{ChatID: "c", ID: "i", Timestamp: 7, SenderID: "s", SenderName: "n", SenderRole: "VIEWER", Message: "hi", HeaderUserID: "u"},
				Hint: Version{4, 0}}, // messageType is 4.0's
		},
		{
			name: "transitional 2.5-alpha chat without role or color tells nothing",
			raw: `{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"GroupChatMessageBroadcastEvtMsg","meetingId":"m","userId":"u"},
				"body":{"chatId":"c","msg":{"id":"i","timestamp":2,"correlationId":"k","sender":{"id":"s","name":"n"},"message":""}}}}`,
			want: Event{Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: "m", Timestamp: 1,
				Chat: &ChatMessage{ChatID: "c", ID: "i", CorrelationID: "k", Timestamp: 2, SenderID: "s", SenderName: "n", HeaderUserID: "u"}},
		},
		{
			name: "nulls in optional fields",
			raw: `{"envelope":{"name":"UserJoinedMeetingEvtMsg","routing":null,"timestamp":null},"core":{"header":{"name":"UserJoinedMeetingEvtMsg","meetingId":"m","userId":null},
				"body":{"intId":"w","extId":null,"name":"N","role":null,"guest":null,"bot":null,"reactionEmoji":null,"color":null,"pin":false}}}`,
			want: Event{Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: "m",
				User: &User{ID: "w", Name: "N"}, Hint: Version{2, 5}},
		},
		{
			name: "presence-only fields of any type",
			raw: `{"envelope":{"name":"UserJoinedMeetingEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"UserJoinedMeetingEvtMsg","meetingId":"m","userId":"w"},
				"body":{"intId":"w","name":"","reactionEmoji":{"emoji":"x"}}}}`,
			want: Event{Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: "m", Timestamp: 1,
				User: &User{ID: "w"}, Hint: Version{2, 7}},
		},
		{
			name: "envelope name wins over header name",
			raw:  `{"envelope":{"name":"MeetingEndedEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"Other"},"body":{"meetingId":"m"}}}`,
			want: Event{Kind: KindMeetingEnded, Name: "MeetingEndedEvtMsg", MeetingID: "m", Timestamp: 1},
		},
		{
			name: "empty envelope name falls back to header name",
			raw:  `{"envelope":{"name":"","routing":{}},"core":{"header":{"name":"MeetingDestroyedEvtMsg"},"body":{"meetingId":"m"}}}`,
			want: Event{Kind: KindMeetingEnded, Name: "MeetingDestroyedEvtMsg", MeetingID: "m"},
		},
		{
			name: "other message with odd body",
			raw:  `{"envelope":{"name":"SomethingNewEvtMsg","routing":{},"timestamp":3},"core":{"header":{"name":"SomethingNewEvtMsg"},"body":[1,"x",null]}}`,
			want: Event{Kind: KindOther, Name: "SomethingNewEvtMsg", Timestamp: 3},
		},
		{
			name: "other message without body",
			raw:  `{"envelope":{"name":"X","routing":{},"timestamp":3},"core":{"header":{"name":"X","meetingId":"m"}}}`,
			want: Event{Kind: KindOther, Name: "X", MeetingID: "m", Timestamp: 3},
		},
		{
			name: "request on to-akka is not an event",
			raw:  `{"envelope":{"name":"SendGroupChatMessageMsg","routing":{"meetingId":"m","userId":"u"},"timestamp":9},"core":{"header":{"name":"SendGroupChatMessageMsg","meetingId":"m","userId":"u"},"body":{"msg":{},"chatId":"c"}}}`,
			want: Event{Kind: KindOther, Name: "SendGroupChatMessageMsg", MeetingID: "m", Timestamp: 9},
		},
		{
			name: "fields another kind reads, with other types, are ignored (user joined)",
			raw: `{"envelope":{"name":"UserJoinedMeetingEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"UserJoinedMeetingEvtMsg","meetingId":"m","userId":"w"},
				"body":{"msg":5,"chatId":[],"props":"x","meetingId":{},"intId":"w","name":"N","role":"VIEWER"}}}`,
			want: Event{Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: "m", Timestamp: 1,
				User: &User{ID: "w", Name: "N", Role: "VIEWER"}, Hint: Version{2, 2}},
		},
		{
			name: "fields another kind reads, with other types, are ignored (chat)",
			raw: `{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"GroupChatMessageBroadcastEvtMsg","meetingId":"m","userId":"u"},
				"body":{"intId":7,"guest":"no","props":[],"chatId":"c","msg":{"id":"i","timestamp":2,"sender":{"id":"s","name":"n"},"message":"x"}}}}`,
			want: Event{Kind: KindChatMessage, Name: "GroupChatMessageBroadcastEvtMsg", MeetingID: "m", Timestamp: 1,
				Chat: &ChatMessage{ChatID: "c", ID: "i", Timestamp: 2, SenderID: "s", SenderName: "n", Message: "x", HeaderUserID: "u"}},
		},
		{
			name: "fields another kind reads, with other types, are ignored (meeting ended)",
			raw:  `{"envelope":{"name":"MeetingEndedEvtMsg"},"core":{"header":{"name":"MeetingEndedEvtMsg"},"body":{"meetingId":"m","name":1,"msg":"x"}}}`,
			want: Event{Kind: KindMeetingEnded, Name: "MeetingEndedEvtMsg", MeetingID: "m"},
		},
		{
			name: "other message whose body has our keys with other types",
			raw:  `{"envelope":{"name":"GroupChatCreatedEvtMsg","routing":{},"timestamp":2},"core":{"header":{"name":"GroupChatCreatedEvtMsg","meetingId":"m"},"body":{"chatId":1,"msg":[],"name":{},"props":true}}}`,
			want: Event{Kind: KindOther, Name: "GroupChatCreatedEvtMsg", MeetingID: "m", Timestamp: 2},
		},
		{
			name: "fields another kind reads, with other types, are ignored (reaction)",
			raw: `{"envelope":{"name":"GroupChatMessageReactionSentEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"GroupChatMessageReactionSentEvtMsg","meetingId":"m","userId":"u"},
				"body":{"intId":7,"msg":"x","props":[],"name":3,"chatId":"c","messageId":"i","reactionEmoji":"🎉","extra":{"a":[1]}}}}`,
			want: Event{Kind: KindReactionAdded, Name: "GroupChatMessageReactionSentEvtMsg", MeetingID: "m", Timestamp: 1,
				Action: &Action{ChatID: "c", MessageID: "i", UserID: "u", Emoji: "🎉"}, Hint: Version{3, 0}},
		},
		{
			name: "fields another kind reads, with other types, are ignored (user joined with a reaction's keys)",
			raw: `{"envelope":{"name":"UserJoinedMeetingEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"UserJoinedMeetingEvtMsg","meetingId":"m","userId":"w"},
				"body":{"messageId":5,"reactionEmojiId":[],"message":{},"intId":"w","name":"N","role":"VIEWER","reactionEmoji":"none"}}}`,
			want: Event{Kind: KindUserJoined, Name: "UserJoinedMeetingEvtMsg", MeetingID: "m", Timestamp: 1,
				User: &User{ID: "w", Name: "N", Role: "VIEWER"}, Hint: Version{2, 7}},
		},
		{
			name: "edit with later fields and reordered",
			raw:  `{"core":{"body":{"messageAsHtml":"<p>x</p>","message":"x","messageId":"i","chatId":"c","future":true},"header":{"userId":"u","meetingId":"m","name":"GroupChatMessageEditedEvtMsg"}},"envelope":{"timestamp":4,"name":"GroupChatMessageEditedEvtMsg"}}`,
			want: Event{Kind: KindMessageEdited, Name: "GroupChatMessageEditedEvtMsg", MeetingID: "m", Timestamp: 4,
				Action: &Action{ChatID: "c", MessageID: "i", UserID: "u", Text: "x"}, Hint: Version{3, 0}},
		},
		{
			name: "whitespace around",
			raw:  " \n\t{\"envelope\":{\"name\":\"MeetingEndedEvtMsg\"},\"core\":{\"header\":{},\"body\":{\"meetingId\":\"m\"}}}\n",
			want: Event{Kind: KindMeetingEnded, Name: "MeetingEndedEvtMsg", MeetingID: "m"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkEvent(t, []byte(tc.raw), tc.want)
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	chat := func(body string) string {
		return `{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg","routing":{},"timestamp":1},"core":{"header":{"name":"GroupChatMessageBroadcastEvtMsg","meetingId":"m","userId":"u"},"body":` + body + `}}`
	}
	named := func(name, header, body string) string {
		return `{"envelope":{"name":"` + name + `","routing":{},"timestamp":1},"core":{"header":` + header + `,"body":` + body + `}}`
	}
	okMsg := `"id":"i","timestamp":2,"correlationId":"k","sender":{"id":"s","name":"n"},"message":"x"`
	tests := []struct {
		name     string
		raw      string
		wantText string // substring of the error naming the field
	}{
		{"empty", ``, ""},
		{"garbage", `not json at all`, ""},
		{"truncated", `{"envelope":{"name":"X"`, ""},
		{"trailing garbage", `{"envelope":{"name":"X"},"core":{"header":{}}} trailing`, ""},
		{"two objects", `{"core":{"header":{"name":"X"}}}{"core":{"header":{"name":"X"}}}`, ""},
		{"null", `null`, "core.header"},
		{"empty object", `{}`, "core.header"},
		{"array", `[]`, ""},
		{"array of envelopes", `[{"envelope":{"name":"X"},"core":{"header":{"name":"X"}}}]`, ""},
		{"string", `"GroupChatMessageBroadcastEvtMsg"`, ""},
		{"number", `42`, ""},
		{"missing core", `{"envelope":{"name":"X","routing":{},"timestamp":1}}`, "core.header"},
		{"missing header", `{"envelope":{"name":"X","routing":{},"timestamp":1},"core":{"body":{}}}`, "core.header"},
		{"null header", `{"envelope":{"name":"X","routing":{},"timestamp":1},"core":{"header":null,"body":{}}}`, "core.header"},
		{"header not object", `{"envelope":{"name":"X","routing":{},"timestamp":1},"core":{"header":"X","body":{}}}`, "core.header"},
		{"core is array", `{"envelope":{"name":"X"},"core":[]}`, "core"},
		{"envelope is string", `{"envelope":"X","core":{"header":{"name":"X"}}}`, "envelope"},
		{"no name anywhere", `{"envelope":{"routing":{},"timestamp":1},"core":{"header":{},"body":{}}}`, "envelope.name"},
		{"name not string", `{"envelope":{"name":5},"core":{"header":{"name":"X"}}}`, "envelope.name"},
		{"header meetingId not string", named("X", `{"name":"X","meetingId":5}`, `{}`), "core.header.meetingId"},
		{"timestamp string", `{"envelope":{"name":"X","timestamp":"1"},"core":{"header":{"name":"X"}}}`, "envelope.timestamp"},
		{"timestamp float", `{"envelope":{"name":"X","timestamp":1.5},"core":{"header":{"name":"X"}}}`, "envelope.timestamp"},
		{"timestamp overflow", `{"envelope":{"name":"X","timestamp":99999999999999999999},"core":{"header":{"name":"X"}}}`, "envelope.timestamp"},

		{"chat no header meetingId", named("GroupChatMessageBroadcastEvtMsg", `{"name":"X"}`, `{"chatId":"c","msg":{`+okMsg+`}}`), "core.header.meetingId"},
		{"chat no body", named("GroupChatMessageBroadcastEvtMsg", `{"name":"X","meetingId":"m"}`, `null`), "core.body"},
		{"chat body array", chat(`[]`), "core.body"},
		{"chat body string", chat(`"hi"`), "core.body"},
		{"chat no chatId", chat(`{"msg":{` + okMsg + `}}`), "core.body.chatId"},
		{"chat empty chatId", chat(`{"chatId":"","msg":{` + okMsg + `}}`), "core.body.chatId"},
		{"chat chatId number", chat(`{"chatId":1,"msg":{` + okMsg + `}}`), "core.body.chatId"},
		{"chat no msg", chat(`{"chatId":"c"}`), "core.body.msg"},
		{"chat msg array", chat(`{"chatId":"c","msg":[]}`), "core.body.msg"},
		{"chat no id", chat(`{"chatId":"c","msg":{"timestamp":2,"sender":{"id":"s"},"message":"x"}}`), "core.body.msg.id"},
		{"chat no timestamp", chat(`{"chatId":"c","msg":{"id":"i","sender":{"id":"s"},"message":"x"}}`), "core.body.msg.timestamp"},
		{"chat timestamp string", chat(`{"chatId":"c","msg":{"id":"i","timestamp":"2","sender":{"id":"s"},"message":"x"}}`), "core.body.msg.timestamp"},
		{"chat no sender", chat(`{"chatId":"c","msg":{"id":"i","timestamp":2,"message":"x"}}`), "core.body.msg.sender"},
		{"chat sender string", chat(`{"chatId":"c","msg":{"id":"i","timestamp":2,"sender":"s","message":"x"}}`), "core.body.msg.sender"},
		{"chat no sender id", chat(`{"chatId":"c","msg":{"id":"i","timestamp":2,"sender":{"name":"n"},"message":"x"}}`), "core.body.msg.sender.id"},
		{"chat no message", chat(`{"chatId":"c","msg":{"id":"i","timestamp":2,"sender":{"id":"s"}}}`), "core.body.msg.message"},
		{"chat null message", chat(`{"chatId":"c","msg":{"id":"i","timestamp":2,"sender":{"id":"s"},"message":null}}`), "core.body.msg.message"},
		{"chat message number", chat(`{"chatId":"c","msg":{"id":"i","timestamp":2,"sender":{"id":"s"},"message":5}}`), "core.body.msg.message"},
		{"chat emphasized string", chat(`{"chatId":"c","msg":{` + okMsg + `,"chatEmphasizedText":"true"}}`), "core.body.msg.chatEmphasizedText"},
		{"chat role number", chat(`{"chatId":"c","msg":{"id":"i","timestamp":2,"sender":{"id":"s","role":1},"message":"x"}}`), "core.body.msg.sender.role"},

		{"chat own field bad behind unrelated bad field", chat(`{"props":1,"chatId":"c","msg":{"id":1,"timestamp":2,"sender":{"id":"s"},"message":"x"}}`), "core.body.msg.id"},
		{"joined own field bad behind unrelated bad field", named("UserJoinedMeetingEvtMsg", `{"name":"X","meetingId":"m"}`, `{"msg":1,"intId":"w","name":"n","role":5}`), "core.body.role"},
		{"cleared no chatId", named("ClearPublicChatHistoryEvtMsg", `{"name":"X","meetingId":"m"}`, `{}`), "core.body.chatId"},

		{"edit no header userId", named("GroupChatMessageEditedEvtMsg", `{"name":"X","meetingId":"m"}`, `{"chatId":"c","messageId":"i","message":"x"}`), "core.header.userId"},
		{"edit no meeting", named("GroupChatMessageEditedEvtMsg", `{"name":"X","userId":"u"}`, `{"chatId":"c","messageId":"i","message":"x"}`), "core.header.meetingId"},
		{"edit no chatId", named("GroupChatMessageEditedEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"messageId":"i","message":"x"}`), "core.body.chatId"},
		{"edit no messageId", named("GroupChatMessageEditedEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","message":"x"}`), "core.body.messageId"},
		{"edit messageId number", named("GroupChatMessageEditedEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","messageId":1,"message":"x"}`), "core.body.messageId"},
		{"edit no message", named("GroupChatMessageEditedEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","messageId":"i"}`), "core.body.message"},
		{"edit no body", named("GroupChatMessageEditedEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `null`), "core.body"},
		{"delete empty messageId", named("GroupChatMessageDeletedEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","messageId":""}`), "core.body.messageId"},
		{"reaction no emoji", named("GroupChatMessageReactionSentEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","messageId":"i"}`), "core.body.reactionEmoji"},
		{"reaction emoji null", named("GroupChatMessageReactionDeletedEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","messageId":"i","reactionEmoji":null}`), "core.body.reactionEmoji"},
		{"reaction emoji object", named("GroupChatMessageReactionSentEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","messageId":"i","reactionEmoji":{}}`), "core.body.reactionEmoji"},
		{"reaction emoji empty", named("GroupChatMessageReactionSentEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","messageId":"i","reactionEmoji":""}`), "core.body.reactionEmoji"},
		{"reaction emoji id number", named("GroupChatMessageReactionSentEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c","messageId":"i","reactionEmoji":"x","reactionEmojiId":1}`), "core.body.reactionEmojiId"},
		{"pin no messageId", named("PinGroupChatMessageEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":"c"}`), "core.body.messageId"},
		{"unpin chatId array", named("UnpinGroupChatMessageEvtMsg", `{"name":"X","meetingId":"m","userId":"u"}`, `{"chatId":[],"messageId":"i"}`), "core.body.chatId"},
		{"cleared no meeting", named("ClearPublicChatHistoryEvtMsg", `{"name":"X"}`, `{"chatId":"c"}`), "core.header.meetingId"},

		{"joined no intId", named("UserJoinedMeetingEvtMsg", `{"name":"X","meetingId":"m"}`, `{"name":"n"}`), "core.body.intId"},
		{"joined no name", named("UserJoinedMeetingEvtMsg", `{"name":"X","meetingId":"m"}`, `{"intId":"w"}`), "core.body.name"},
		{"joined bot string", named("UserJoinedMeetingEvtMsg", `{"name":"X","meetingId":"m"}`, `{"intId":"w","name":"n","bot":"true"}`), "core.body.bot"},
		{"joined guest number", named("UserJoinedMeetingEvtMsg", `{"name":"X","meetingId":"m"}`, `{"intId":"w","name":"n","guest":0}`), "core.body.guest"},
		{"joined no meeting", named("UserJoinedMeetingEvtMsg", `{"name":"X"}`, `{"intId":"w","name":"n"}`), "core.header.meetingId"},

		{"left no intId", named("UserLeftMeetingEvtMsg", `{"name":"X","meetingId":"m"}`, `{"eject":false}`), "core.body.intId"},
		{"left eject string", named("UserLeftMeetingEvtMsg", `{"name":"X","meetingId":"m"}`, `{"intId":"w","eject":"no"}`), "core.body.eject"},

		{"created no props", named("MeetingCreatedEvtMsg", `{"name":"X"}`, `{}`), "core.body.props"},
		{"created no meetingProp", named("MeetingCreatedEvtMsg", `{"name":"X"}`, `{"props":{}}`), "core.body.props.meetingProp"},
		{"created no intId", named("MeetingCreatedEvtMsg", `{"name":"X"}`, `{"props":{"meetingProp":{"extId":"e"}}}`), "core.body.props.meetingProp.intId"},
		{"created no extId", named("MeetingCreatedEvtMsg", `{"name":"X"}`, `{"props":{"meetingProp":{"intId":"i"}}}`), "core.body.props.meetingProp.extId"},
		{"created intId number", named("MeetingCreatedEvtMsg", `{"name":"X"}`, `{"props":{"meetingProp":{"intId":1,"extId":"e"}}}`), "core.body.props.meetingProp.intId"},
		{"created createdTime string", named("MeetingCreatedEvtMsg", `{"name":"X"}`, `{"props":{"meetingProp":{"intId":"i","extId":"e"},"durationProps":{"createdTime":"1"}}}`), "core.body.props.durationProps.createdTime"},

		{"ended no meetingId", named("MeetingEndedEvtMsg", `{"name":"X"}`, `{}`), "core.body.meetingId"},
		{"destroyed meetingId number", named("MeetingDestroyedEvtMsg", `{"name":"X"}`, `{"meetingId":1}`), "core.body.meetingId"},
		{"destroyed no body", `{"envelope":{"name":"MeetingDestroyedEvtMsg"},"core":{"header":{"name":"MeetingDestroyedEvtMsg"}}}`, "core.body"},

		{"huge", `{"envelope":{"name":"X"},"core":{"header":{"name":"X"},"body":{"pad":"` + strings.Repeat("a", MaxMessageSize) + `"}}}`, "bytes"},
		{"deeply nested", `{"envelope":{"name":"X"},"core":{"header":{"name":"X"},"body":` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + `}}`, ""},
		{"deeply nested chat", chat(strings.Repeat(`{"a":`, 100000) + `1` + strings.Repeat(`}`, 100000)), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode([]byte(tc.raw))
			if err == nil {
				t.Fatalf("Decode succeeded: %s", dump(e))
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !reflect.DeepEqual(e, Event{}) {
				t.Errorf("on error Decode returned a non-zero Event: %s", dump(e))
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not name %q", err, tc.wantText)
			}
			if len(err.Error()) > 500 {
				t.Errorf("error is %d bytes long; it must not echo the input", len(err.Error()))
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k := KindOther; k <= KindMessageUnpinned; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "kind(") {
			t.Errorf("Kind(%d).String() = %q", int(k), s)
		}
	}
	if s := Kind(99).String(); s != "kind(99)" {
		t.Errorf("Kind(99).String() = %q", s)
	}
}

func BenchmarkDecodeChat(b *testing.B) {
	raw := capturedLines(b)[2]
	if e, err := Decode(raw); err != nil || e.Kind != KindChatMessage {
		b.Fatalf("fixture line 3 is not a chat message: %v %v", e.Kind, err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeOther(b *testing.B) {
	raw := capturedLines(b)[0] // MeetingCreatedEvtMsg, the largest
	raw = bytes.Replace(raw, []byte("MeetingCreatedEvtMsg"), []byte("MeetingCreatedEvtMsX"), -1)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWireBodyGroupsDisjoint guards the fast path: encoding/json silently
// drops a key that two embedded structs of wireBody both declare.
func TestWireBodyGroupsDisjoint(t *testing.T) {
	seen := map[string]string{}
	typ := reflect.TypeFor[wireBody]()
	for group := range typ.Fields() {
		if !group.Anonymous {
			t.Fatalf("wireBody.%s is not an embedded group", group.Name)
		}
		for field := range group.Type.Fields() {
			key, _, _ := strings.Cut(field.Tag.Get("json"), ",")
			if other, dup := seen[key]; dup {
				t.Errorf("JSON key %q is in both %s and %s", key, other, group.Name)
			}
			seen[key] = group.Name
		}
	}
}

func TestSkipName(t *testing.T) {
	voice := `{"envelope":{"name":"UserTalkingVoiceEvtMsg","routing":{"sender":"bbb-apps-akka","meetingId":"m"},"timestamp":1},"core":{"header":{"name":"UserTalkingVoiceEvtMsg","meetingId":"m"},"body":{"talking":true}}}`
	for _, c := range []struct {
		name, raw, want string
	}{
		{"voice activity", voice, "UserTalkingVoiceEvtMsg"},
		{"chat message", strings.ReplaceAll(voice, "UserTalkingVoiceEvtMsg", "GroupChatMessageBroadcastEvtMsg"), ""},
		{"an interpreted name elsewhere", strings.Replace(voice, `"talking":true`, `"x":"UserJoinedMeetingEvtMsg"`, 1), ""},
		{"an escape", strings.Replace(voice, `"talking":true`, `"x":"\u0041"`, 1), ""},
		{"not JSON", voice[:len(voice)-1], ""},
		{"another first key", `{"core":{"header":{"name":"X"}},"envelope":{"name":"X"}}`, ""},
		{"odd name", strings.ReplaceAll(voice, "UserTalkingVoiceEvtMsg", "User Talking"), ""},
	} {
		got, ok := SkipName([]byte(c.raw))
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s: SkipName = %q, %v; want %q", c.name, got, ok, c.want)
		}
	}
	for _, line := range capturedLines(t) {
		e, err := Decode(line)
		if _, ok := SkipName(line); ok && (err != nil || e.Kind != KindOther) {
			t.Errorf("captured %s skipped", e.Name)
		}
	}
}

func TestSkipGuards(t *testing.T) {
	for name := range interpreted {
		if !slices.ContainsFunc(skipGuards, func(g []byte) bool { return strings.Contains(name, string(g)) }) {
			t.Errorf("%s contains none of skipGuards: SkipName could let relay skip it", name)
		}
	}
}

func BenchmarkSkipName(b *testing.B) {
	raw := []byte(`{"envelope":{"name":"UserTalkingVoiceEvtMsg","routing":{"sender":"bbb-apps-akka","meetingId":"8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700","userId":"w_abc"},"timestamp":1698771158093},"core":{"header":{"name":"UserTalkingVoiceEvtMsg","meetingId":"8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700","userId":"w_abc"},"body":{"voiceConf":"74839","intId":"w_abc","voiceUserId":"3","talking":true}}}`)
	b.Run("SkipName", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := SkipName(raw); !ok {
				b.Fatal("not skipped")
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
