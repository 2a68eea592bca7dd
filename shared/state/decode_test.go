package state

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeCases are events of the stream as relay writes them, and JSON written otherwise, with what DecodeEvent
// reads from each: encoding/json's rules (keys in any case, the last of duplicates, null ignored).
var decodeCases = []struct {
	name, in string
	want     Event
	err      string // part of the error; "" for none
}{
	{"chat event", `{"type":"message","id":"1730000000001-m","meeting_id":"m","timestamp":1730000000001,"bbb_version":"2.7","chat_id":"MAIN-PUBLIC-GROUP-CHAT","message_id":"1730000000001-m","sender_id":"w_1","sender_name":"Ann","sender_role":"VIEWER","text":"hello wörld 👋"}`,
		chatEvent(), ""},
	{"meeting created", `{"type":"meeting.created","id":"x","meeting_id":"m","timestamp":-5,"meeting_name":"Class","is_breakout":true,"parent_meeting_id":"p"}`,
		Event{Type: TypeMeetingCreated, ID: "x", MeetingID: "m", Timestamp: -5, MeetingName: "Class", IsBreakout: true, ParentID: "p"}, ""},
	{"false breakout", `{"type":"cleared","id":"c","meeting_id":"m","timestamp":0,"is_breakout":false}`,
		Event{Type: TypeCleared, ID: "c", MeetingID: "m"}, ""},
	{"white space", ` { "type" : "message" , "text" : "a" } `, Event{Type: TypeMessage, Text: "a"}, ""},
	{"empty object", `{}`, Event{}, ""},
	{"escapes", `{"text":"a \u003c b \u0026 c \"q\" \ud83d\udc4b"}`, Event{Text: `a < b & c "q" 👋`}, ""},
	{"invalid UTF-8 replaced", "{\"text\":\"a\xffb\"}", Event{Text: "a\ufffdb"}, ""},
	{"null", `{"text":null,"timestamp":null}`, Event{}, ""},
	{"keys in another case", `{"Type":"message","MEETING_ID":"x"}`, Event{Type: TypeMessage, MeetingID: "x"}, ""},
	{"unknown member", `{"extra":{"a":[1,2]},"id":"i"}`, Event{ID: "i"}, ""},
	{"duplicate key", `{"type":"a","type":"b"}`, Event{Type: "b"}, ""},
	{"fraction", `{"timestamp":1.5}`, Event{}, "cannot unmarshal number 1.5"},
	{"exponent", `{"timestamp":1e3}`, Event{}, "cannot unmarshal number 1e3"},
	{"overflow", `{"timestamp":99999999999999999999}`, Event{}, "cannot unmarshal number"},
	{"leading zero", `{"timestamp":012}`, Event{}, "invalid character"},
	{"string for a bool", `{"is_breakout":"true"}`, Event{}, "cannot unmarshal string"},
	{"trailing data", `{"text":"a"} x`, Event{}, "invalid character"},
	{"trailing comma", `{"text":"a",}`, Event{}, "invalid character"},
	{"array", `[]`, Event{}, "cannot unmarshal array"},
	{"empty", ``, Event{}, "unexpected end of JSON input"},
}

func TestDecodeEvent(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			var got Event
			err := DecodeEvent([]byte(c.in), &got)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("DecodeEvent = %+v, %v; want an error with %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("DecodeEvent = %+v, %v\nwant %+v", got, err, c.want)
			}
		})
	}
}

// FuzzDecodeEvent feeds arbitrary bytes to DecodeEvent. It must never panic, and an event it reads must come back
// unchanged when encoded with AppendEvent and decoded again.
func FuzzDecodeEvent(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := DecodeEvent(data, &e); err != nil {
			if errors.Unwrap(err) == nil {
				t.Fatalf("error %v does not wrap encoding/json's", err)
			}
			return
		}
		raw := AppendEvent(nil, e)
		var back Event
		if err := DecodeEvent(raw, &back); err != nil || !reflect.DeepEqual(back, e) {
			t.Fatalf("%q: decoded %+v, encoded %s, decoded again %+v, %v", data, e, raw, back, err)
		}
	})
}

func BenchmarkDecodeEvent(b *testing.B) {
	raw := []byte(decodeCases[0].in)
	b.ReportAllocs()
	for b.Loop() {
		var e Event
		if err := DecodeEvent(raw, &e); err != nil {
			b.Fatal(err)
		}
	}
}
