package state

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// chatEvent is a chat message event as relay writes it.
func chatEvent() Event {
	return Event{Type: TypeMessage, ID: "1730000000001-m", MeetingID: "m", Timestamp: 1730000000001,
		BBBVersion: "2.7", ChatID: "MAIN-PUBLIC-GROUP-CHAT", MessageID: "1730000000001-m", SenderID: "w_1",
		SenderName: "Ann", SenderRole: "VIEWER", Text: "hello wörld 👋"}
}

// encodeSeeds are events with every field set, none, and strings of each escape class.
func encodeSeeds() []Event {
	controls := make([]byte, 0x20)
	for i := range controls {
		controls[i] = byte(i)
	}
	return []Event{
		{},
		chatEvent(),
		{Type: "meeting.created", ID: "x", MeetingID: "m", ExternalMeetingID: "ext", Timestamp: -5,
			BBBVersion: "3.0", ChatID: "c", MessageID: "mi", SenderID: "s", SenderName: "sn", SenderRole: "MODERATOR",
			Text: "t", CorrelationID: "corr", ReplyTo: "r", UserID: "u", ExternalUserID: "eu", UserName: "un",
			UserRole: "VIEWER", MeetingName: "Class", IsBreakout: true, ParentID: "p"},
		{Type: TypeMessage, Timestamp: -1 << 63, Text: string(controls) + "\x7f"},
		{Timestamp: 1<<63 - 1, Text: `say "hi" \ bye`, SenderName: `\"`},
		{Text: "a <b> & c", MeetingName: "</script>"},
		{Text: "bad \xff utf-8 \xe2\x80 \xed\xa0\x80 \xc0\xaf end\xe2"},
		{Text: "line\u2028sep\u2029para\u2027\u202a", UserName: "\u2028"},
		{Text: "Grüße, 你好, Ελλάδα, emoji 👋🏽, \ufffd, \U0010ffff", SenderName: "Zoë"},
		{Type: TypeMessage, Text: strings.Repeat("a long chat message, with some words in it. ", 200) + "<end>"},
		{IsBreakout: true},
		{Type: TypeReactionAdded, ID: "r", MeetingID: "m", MessageID: "mi", UserID: "u", Emoji: "👍"},
		{Type: TypeGap, ID: "g", From: 1730000000001, To: 1730000000002, Server: "bbb1.example.org"},
		{From: -1, To: -1 << 63},
	}
}

func TestAppendEventExact(t *testing.T) {
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{}, `{"type":"","id":"","meeting_id":"","timestamp":0}`},
		{Event{Type: "cleared", ID: "c", MeetingID: "m", Timestamp: 1730000000001, IsBreakout: true, ParentID: "p"},
			`{"type":"cleared","id":"c","meeting_id":"m","timestamp":1730000000001,"is_breakout":true,"parent_meeting_id":"p"}`},
		{Event{Timestamp: -42, Text: "a\"b\\c/d"}, `{"type":"","id":"","meeting_id":"","timestamp":-42,"text":"a\"b\\c/d"}`},
		{Event{Text: "\x00\x01\b\t\n\v\f\r\x1b\x1f\x7f"},
			`{"type":"","id":"","meeting_id":"","timestamp":0,"text":"\u0000\u0001\b\t\n\u000b\f\r\u001b\u001f` + "\x7f" + `"}`},
		{Event{Text: "<a href='x'>&amp;</a>"},
			`{"type":"","id":"","meeting_id":"","timestamp":0,"text":"\u003ca href='x'\u003e\u0026amp;\u003c/a\u003e"}`},
		{Event{Text: "x\xffy\xe2\x80\xa8z\xe2\x80\xa9\xe2\x80"},
			`{"type":"","id":"","meeting_id":"","timestamp":0,"text":"x\ufffdy\u2028z\u2029\ufffd\ufffd"}`},
		{Event{SenderName: "Zoë 👋"}, `{"type":"","id":"","meeting_id":"","timestamp":0,"sender_name":"Zoë 👋"}`},
	} {
		if got := AppendEvent(nil, tc.e); string(got) != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.e, got, tc.want)
		}
		checkEncode(t, tc.e)
	}
}

func TestAppendEventSeeds(t *testing.T) {
	for _, e := range encodeSeeds() {
		checkEncode(t, e)
	}
	// AppendEvent appends: what dst holds stays.
	chat := chatEvent()
	got := AppendEvent([]byte("prefix "), chat)
	want, _ := json.Marshal(chat)
	if string(got) != "prefix "+string(want) {
		t.Fatalf("appending to a prefix: %s", got)
	}
	if enc, err := EncodeEvent(chat); err != nil || !bytes.Equal(enc, want) {
		t.Fatalf("EncodeEvent: %s, %v", enc, err)
	}
}

// TestAppendEventFields fails when Event has a field AppendEvent does not write: it sets each field alone, then
// all of them, through reflection, and compares with json.Marshal.
func TestAppendEventFields(t *testing.T) {
	typ := reflect.TypeFor[Event]()
	var all Event
	for i := range typ.NumField() {
		f := typ.Field(i)
		var one Event
		for _, e := range []*Event{&one, &all} {
			v := reflect.ValueOf(e).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				v.SetString(f.Name + " <\"é\">")
			case reflect.Int64:
				v.SetInt(int64(-1000 - i))
			case reflect.Bool:
				v.SetBool(true)
			default:
				t.Fatalf("Event.%s is a %s: teach AppendEvent (and this test) to encode it", f.Name, f.Type)
			}
		}
		want, _ := json.Marshal(one)
		if key := `"` + strings.Split(f.Tag.Get("json"), ",")[0] + `":`; !bytes.Contains(want, []byte(key)) {
			t.Fatalf("Event.%s: %s is missing from json.Marshal's %s", f.Name, key, want)
		}
		if got := AppendEvent(nil, one); !bytes.Equal(got, want) {
			t.Fatalf("Event.%s alone: AppendEvent\n %s\njson.Marshal\n %s", f.Name, got, want)
		}
	}
	checkEncode(t, all)
}

// checkEncode requires AppendEvent and EncodeEvent to produce json.Marshal's bytes, and DecodeEvent to give the
// event back when its strings are valid UTF-8 (json.Marshal replaces invalid bytes, so those do not round-trip).
func checkEncode(t *testing.T, e Event) {
	t.Helper()
	want, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", e, err)
	}
	if got := AppendEvent(nil, e); !bytes.Equal(got, want) {
		t.Fatalf("%+v: AppendEvent\n %s\njson.Marshal\n %s", e, got, want)
	}
	if got, err := EncodeEvent(e); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%+v: EncodeEvent %s, %v; json.Marshal %s", e, got, err, want)
	}
	valid := true
	v := reflect.ValueOf(e)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String && !utf8.ValidString(f.String()) {
			valid = false
		}
	}
	if !valid {
		return
	}
	var back Event
	if err := DecodeEvent(want, &back); err != nil || back != e {
		t.Fatalf("%+v: DecodeEvent of %s gave %+v, %v", e, want, back, err)
	}
}

func FuzzAppendEvent(f *testing.F) {
	for _, e := range encodeSeeds() {
		f.Add(e.Type, e.ID, e.MeetingID, e.ExternalMeetingID, e.Timestamp, e.BBBVersion,
			e.ChatID, e.MessageID, e.SenderID, e.SenderName, e.SenderRole, e.Text, e.CorrelationID, e.ReplyTo,
			e.UserID, e.ExternalUserID, e.UserName, e.UserRole, e.MeetingName, e.IsBreakout, e.ParentID,
			e.Emoji, e.From, e.To, e.Server)
	}
	f.Fuzz(func(t *testing.T, typ, id, meetingID, externalMeetingID string, timestamp int64, bbbVersion,
		chatID, messageID, senderID, senderName, senderRole, text, correlationID, replyTo,
		userID, externalUserID, userName, userRole, meetingName string, isBreakout bool, parentID string,
		emoji string, from, to int64, server string) {
		checkEncode(t, Event{Type: typ, ID: id, MeetingID: meetingID, ExternalMeetingID: externalMeetingID,
			Timestamp: timestamp, BBBVersion: bbbVersion, ChatID: chatID, MessageID: messageID,
			SenderID: senderID, SenderName: senderName, SenderRole: senderRole, Text: text,
			CorrelationID: correlationID, ReplyTo: replyTo, UserID: userID, ExternalUserID: externalUserID,
			UserName: userName, UserRole: userRole, MeetingName: meetingName, IsBreakout: isBreakout,
			ParentID: parentID, Emoji: emoji, From: from, To: to, Server: server})
	})
}

func BenchmarkAppendEvent(b *testing.B) {
	chat := chatEvent()
	b.Run("AppendEvent", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = AppendEvent(buf[:0], chat)
		}
	})
	b.Run("EncodeEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeEvent(chat); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(chat); err != nil {
				b.Fatal(err)
			}
		}
	})
}
