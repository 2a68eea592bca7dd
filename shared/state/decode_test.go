package state

import (
	"encoding/json"
	"reflect"
	"testing"
)

var decodeSeeds = []string{
	`{"type":"message","id":"1730000000001-m","meeting_id":"m","timestamp":1730000000001,"bbb_version":"2.7","chat_id":"MAIN-PUBLIC-GROUP-CHAT","message_id":"1730000000001-m","sender_id":"w_1","sender_name":"Ann","sender_role":"VIEWER","text":"hello wörld 👋"}`,
	`{"type":"meeting.created","id":"x","meeting_id":"m","timestamp":-5,"meeting_name":"Class","is_breakout":true,"parent_meeting_id":"p"}`,
	`{"type":"cleared","id":"c","meeting_id":"m","timestamp":0,"is_breakout":false}`,
	` { "type" : "message" , "text" : "a" } `,
	`{}`,
	`{"text":"a \u003c b \u0026 c"}`, // escapes
	`{"text":null}`,
	`{"Type":"message"}`,    // another spelling: encoding/json matches it
	`{"extra":{"a":[1,2]}}`, // unknown member
	`{"timestamp":1.5}`,     // not an integer: an error either way
	`{"timestamp":1e3}`,     // an error either way
	`{"timestamp":99999999999999999999}`,
	`{"timestamp":012}`,
	`{"text":"a"} x`,
	`{"text":"a",}`,
	`{"text":"\xff"}`,
	`{"type":"a","type":"b"}`,
	`[]`,
	``,
}

func TestDecodeEvent(t *testing.T) {
	for _, in := range decodeSeeds {
		checkDecode(t, []byte(in))
	}
	// The short path is taken for what relay writes.
	e := Event{Type: TypeMessage, ID: "1-m", MeetingID: "m", Timestamp: 1730000000001, BBBVersion: "3.0",
		SenderName: "Zoë", Text: "Grüße", IsBreakout: true, Emoji: "👍", From: 1, To: 2, Server: "bbb1"}
	raw, _ := json.Marshal(e)
	var got Event
	if !decodeShort(raw, &got) || got != e {
		t.Fatalf("short path: %+v from %s", got, raw)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, in := range decodeSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

// checkDecode requires DecodeEvent to agree with json.Unmarshal, error for error and field for field.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var want, got Event
	werr := json.Unmarshal(data, &want)
	gerr := DecodeEvent(data, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: DecodeEvent error %v, json.Unmarshal error %v", data, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: DecodeEvent\n %+v\njson.Unmarshal\n %+v", data, got, want)
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	raw := []byte(decodeSeeds[0])
	b.Run("DecodeEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Event
			if err := DecodeEvent(raw, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Event
			if err := json.Unmarshal(raw, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
