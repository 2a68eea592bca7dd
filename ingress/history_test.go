package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// TestHistoryParams pins what getChatHistory and getChatTranscript accept and the messages of what they refuse.
func TestHistoryParams(t *testing.T) {
	cases := []struct {
		name, call, body string
		want             request // call and meetingID are checked; the rest when no error is wanted
		err              string
	}{
		{"defaults", callHistory, `{"meeting_id": "m"}`, request{meetingID: "m"}, ""},
		{"limit and cursor", callHistory, `{"meeting_id": "m", "limit": 5, "after": "42"}`, request{meetingID: "m", limit: 5, after: "42"}, ""},
		{"limit as text", callHistory, `{"meeting_id": "m", "limit": "1000"}`, request{meetingID: "m", limit: 1000}, ""},
		{"null limit", callHistory, `{"meeting_id": "m", "limit": null}`, request{meetingID: "m"}, ""},
		{"limit 0", callHistory, `{"meeting_id": "m", "limit": 0}`, request{}, "Parameter limit must be a whole number from 1 to 1000."},
		{"limit too big", callHistory, `{"meeting_id": "m", "limit": 1001}`, request{}, "from 1 to 1000"},
		{"limit float", callHistory, `{"meeting_id": "m", "limit": 2.5}`, request{}, "from 1 to 1000"},
		{"limit huge", callHistory, `{"meeting_id": "m", "limit": 1e999}`, request{}, "from 1 to 1000"},
		{"cursor not ours", callHistory, `{"meeting_id": "m", "after": "abc"}`, request{}, "Parameter after is not a cursor"},
		{"cursor zero", callHistory, `{"meeting_id": "m", "after": "0"}`, request{}, "Parameter after is not a cursor"},
		{"cursor long", callHistory, `{"meeting_id": "m", "after": "` + strings.Repeat("1", 40) + `"}`, request{}, "at most 32"},
		{"no meeting", callHistory, `{}`, request{}, "Parameter meeting_id is missing."},
		{"transcript default json", callTranscript, `{"meeting_id": "m"}`, request{meetingID: "m", format: history.FormatJSON}, ""},
		{"transcript html in a zone", callTranscript, `{"meeting_id": "m", "format": "html", "tz": "Europe/Vienna"}`, request{meetingID: "m", format: "html", tz: "Europe/Vienna"}, ""},
		{"transcript pdf", callTranscript, `{"meeting_id": "m", "format": "pdf"}`, request{}, "Parameter format must be json, text or html."},
		{"transcript format number", callTranscript, `{"meeting_id": "m", "format": 1}`, request{}, "must be a string"},
		{"delete", callDeleteHistory, `{"meeting_id": "m"}`, request{meetingID: "m"}, ""},
		{"delete without meeting", callDeleteHistory, `{"meeting_id": " "}`, request{}, "must not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pyjson.Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			r, err := decodeRequest(tc.call, p, "")
			if tc.err != "" {
				status, msg := statusOf(err)
				if err == nil || status != http.StatusBadRequest || !strings.Contains(msg, tc.err) {
					t.Fatalf("got %v (%d %q); want 400 with %q", err, status, msg, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.call = tc.call
			if r.call != tc.want.call || r.meetingID != tc.want.meetingID || r.limit != tc.want.limit ||
				r.after != tc.want.after || r.format != tc.want.format || r.tz != tc.want.tz {
				t.Fatalf("got %+v, want %+v", r, tc.want)
			}
		})
	}
}

// FuzzHistoryParams feeds arbitrary bodies to the history calls' parameters: nothing panics, every error is a 400
// naming a parameter, and what is accepted is within the limits.
func FuzzHistoryParams(f *testing.F) {
	f.Add(byte(0), []byte(`{"meeting_id": "m", "limit": 5, "after": "42"}`))
	f.Add(byte(1), []byte(`{"meeting_id": "m", "format": "html", "tz": "Europe/Vienna"}`))
	f.Add(byte(2), []byte(`{"meeting_id": "m"}`))
	f.Add(byte(0), []byte(`{"meeting_id": "m", "limit": "-1", "after": "18446744073709551615"}`))
	calls := []string{callHistory, callTranscript, callDeleteHistory}
	f.Fuzz(func(t *testing.T, callIdx byte, body []byte) {
		p, err := pyjson.Parse(body)
		if err != nil || p.Kind() != pyjson.KindObject {
			return
		}
		r, err := decodeRequest(calls[int(callIdx)%len(calls)], p, "")
		if err != nil {
			if status, msg := statusOf(err); status != http.StatusBadRequest || !strings.HasPrefix(msg, "Parameter") {
				t.Fatalf("error %v answers %d %q", err, status, msg)
			}
			return
		}
		if strings.TrimSpace(r.meetingID) == "" || r.limit < 0 || r.limit > history.MaxLimit {
			t.Fatalf("accepted %+v", r)
		}
		if _, err := history.ParseCursor(r.after); err != nil {
			t.Fatalf("accepted cursor %q", r.after)
		}
		switch r.format {
		case "", history.FormatJSON, history.FormatText, history.FormatHTML:
		default:
			t.Fatalf("accepted format %q", r.format)
		}
	})
}
