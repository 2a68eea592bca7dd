package bbb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic; it either
// returns an error wrapping ErrMalformed and a zero Event, or an Event whose
// kind-specific fields are all there; and it gives exactly what encoding/json
// alone gives (decodeJSON), whether or not the chat short path takes the input.
func FuzzDecode(f *testing.F) {
	for _, line := range capturedLines(f) {
		f.Add(line)
	}
	// Chat broadcasts the short path takes, and variants for each of its rules.
	for _, c := range shortCases(f) {
		if len(c.raw) <= MaxMessageSize {
			f.Add([]byte(c.raw))
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"core":{"header":{}}}`, `{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg"},"core":{"header":{"meetingId":"m"},"body":{"chatId":"c","msg":{"id":"i","timestamp":1,"sender":{"id":"s"},"message":""}}}}`} {
		f.Add([]byte(s))
	}
	// Kinds relay skips without decoding (SkipName), and a name spelled with an escape.
	f.Add([]byte(`{"envelope":{"name":"UserTalkingVoiceEvtMsg","routing":{"sender":"bbb-apps-akka"},"timestamp":1},"core":{"header":{"name":"UserTalkingVoiceEvtMsg","meetingId":"m"},"body":{"talking":true}}}`))
	f.Add([]byte(`{"envelope":{"name":"Foo","name":"GroupChatMessageBroadcastEvt\u004dsg"},"core":{"header":{"meetingId":"m"},"body":{}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Decode(raw)
		// What SkipName lets relay skip, Decode reads as a kind it does not interpret, or as malformed: never as
		// an event relay forwards. (Keys repeated in another case, which akka-apps never writes, can make the
		// names differ.)
		if name, ok := SkipName(raw); ok && err == nil && e.Kind != KindOther {
			t.Fatalf("SkipName = %q, but Decode gives %s", name, dump(e))
		}
		// The short path gives what encoding/json gives, or nothing.
		want, werr := decodeJSON(raw)
		if !reflect.DeepEqual(e, want) || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("Decode %s, %v; encoding/json %s, %v", dump(e), err, dump(want), werr)
		}
		if short, ok := decodeChatShort(raw); ok && (werr != nil || !reflect.DeepEqual(short, want)) {
			t.Fatalf("short path %s; encoding/json %s, %v", dump(short), dump(want), werr)
		}
		short, ok := decodeChatShort(raw)
		if fromString, sok := DecodeChat(string(raw)); sok != ok || !reflect.DeepEqual(fromString, short) {
			t.Fatalf("DecodeChat %s, %v; the short path %s, %v", dump(fromString), sok, dump(short), ok)
		}
		// The one-pass fast path must agree with the exact per-kind slow path.
		if len(raw) <= MaxMessageSize {
			slow, serr := decodeSlow(raw)
			if (err == nil) != (serr == nil) || !reflect.DeepEqual(e, slow) {
				t.Fatalf("fast path %s, %v; slow path %s, %v", dump(e), err, dump(slow), serr)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !reflect.DeepEqual(e, Event{}) {
				t.Fatalf("non-zero Event on error: %s", dump(e))
			}
			return
		}
		again, err := Decode(raw)
		if err != nil || !reflect.DeepEqual(e, again) {
			t.Fatalf("Decode is not deterministic: %s vs %s (%v)", dump(e), dump(again), err)
		}
		checkInvariants(t, e)
	})
}

func checkInvariants(t *testing.T, e Event) {
	t.Helper()
	fail := func(what string) { t.Fatalf("%s: %s", what, dump(e)) }
	if e.Name == "" {
		fail("empty Name")
	}
	if !e.Hint.IsZero() && e.Hint.Shape() == ShapeUnknown {
		fail("Hint is not a supported version")
	}
	if e.Kind != KindOther && e.MeetingID == "" {
		fail("interpreted event without MeetingID")
	}
	if (e.Chat != nil) != (e.Kind == KindChatMessage) {
		fail("Chat set iff KindChatMessage")
	}
	if (e.User != nil) != (e.Kind == KindUserJoined || e.Kind == KindUserLeft) {
		fail("User set iff KindUserJoined/KindUserLeft")
	}
	if (e.Meeting != nil) != (e.Kind == KindMeetingCreated) {
		fail("Meeting set iff KindMeetingCreated")
	}
	if (e.ChatID != "") != (e.Kind == KindChatCleared) {
		fail("ChatID set iff KindChatCleared")
	}
	if (e.Action != nil) != e.Kind.IsMessageAction() {
		fail("Action set iff an event about a message")
	}
	switch e.Kind {
	case KindChatMessage:
		if e.Chat.ChatID == "" || e.Chat.ID == "" || e.Chat.SenderID == "" {
			fail("chat without ids")
		}
	case KindUserJoined, KindUserLeft:
		if e.User.ID == "" {
			fail("user without id")
		}
	case KindMeetingCreated:
		if e.Meeting.InternalID != e.MeetingID || e.Meeting.ExternalID == "" {
			fail("meeting ids")
		}
	case KindOther, KindChatCleared, KindMeetingEnded:
	case KindMessageEdited, KindMessageDeleted, KindReactionAdded, KindReactionRemoved, KindMessagePinned,
		KindMessageUnpinned:
		a := e.Action
		if a.ChatID == "" || a.MessageID == "" || a.UserID == "" {
			fail("action without ids")
		}
		if (a.Emoji != "") != (e.Kind == KindReactionAdded || e.Kind == KindReactionRemoved) {
			fail("Emoji set iff a reaction")
		}
		if a.Text != "" && e.Kind != KindMessageEdited {
			fail("Text set on an event other than an edit")
		}
	default:
		fail("unknown Kind")
	}
}
