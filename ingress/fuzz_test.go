package main

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bbb-chat/bbb-chat/internal/chattext"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

var fuzzCalls = []string{callStart, callEnd, callSend, callInfo, callRunning, callRetry, callPing, callEdit, callDelete}

// fuzzTemplates are message templates an operator might configure, hostile ones included.
var fuzzTemplates = []string{
	bbb.DefaultTemplate,
	"<b>{user_name}</b>: {message}",
	"{message}",
	`<a href="{user_name}">{message}</a>`,
	"{user_name}{message}{user_name}'\"&",
}

// FuzzAPIRequest feeds arbitrary bodies and paths through what a request goes through before any I/O: the checksum
// verification, then decodeRequest, then (for sendChatMessage) the rendering into chat text. Nothing may panic;
// every error maps to a 4xx answer with a message (never 500); what decodes is within the limits, valid UTF-8,
// and renders to 2.x chat text without markup. A body signed with the right secret must verify to the same
// parameters.
func FuzzAPIRequest(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	const secret = "fuzz-secret"
	// The seed corpus is in testdata/fuzz/FuzzAPIRequest.
	f.Fuzz(func(t *testing.T, callIdx byte, body []byte, path string) {
		call := fuzzCalls[int(callIdx)%len(fuzzCalls)]
		v := checksum.Verifier{Secrets: []string{secret}, Delta: 1, Now: func() time.Time { return now }}

		// As it arrives: the checksum is almost always wrong, and the error must be a clean 4xx.
		if _, _, err := v.Verify(call, body); err != nil {
			checkClientError(t, err)
			checkClientError(t, v.Explain(call, body, fuzzCalls))
		}

		// As if it were signed: parse the way Verify does, then decode the parameters.
		doc, err := pyjson.Parse(body)
		if err != nil {
			checkClientError(t, err)
			return
		}
		if doc.Kind() != pyjson.KindObject {
			return
		}
		params := doc.Without(checksum.Key)
		signed := checksum.SignedBody(call, params, secret, now.Unix())
		got, _, err := v.Verify(call, signed)
		if err != nil {
			t.Fatalf("a body signed with the secret is refused: %v\n%q", err, signed)
		}
		if string(pyjson.Dumps(got)) != string(pyjson.Dumps(params)) {
			t.Fatalf("verified params differ:\n got %s\nwant %s", pyjson.Dumps(got), pyjson.Dumps(params))
		}
		req, err := decodeRequest(call, got, path)
		if err != nil {
			if _, ok := errors.AsType[*paramError](err); !ok {
				t.Fatalf("decodeRequest error %T %v is not a *paramError", err, err)
			}
			checkClientError(t, err)
			return
		}
		checkRequest(t, req)
	})
}

// checkClientError asserts an error is answered with a 4xx status and a non-empty message of bounded size.
func checkClientError(t *testing.T, err error) {
	t.Helper()
	status, msg := statusOf(err)
	if status < 400 || status >= 500 {
		t.Fatalf("error %v answers %d %q; want a 4xx", err, status, msg)
	}
	if msg == "" || len(msg) > 1024 || !utf8.ValidString(msg) {
		t.Fatalf("error %v answers an unfit message %q", err, msg)
	}
}

// checkRequest asserts what decodeRequest let through.
func checkRequest(t *testing.T, r request) {
	t.Helper()
	for name, s := range map[string]string{"meeting_id": r.meetingID, "chat_user": r.chatUser, "callback_uri": r.callbackURI,
		"callback_secret": r.callbackSecret, "user_name": r.userName, "message": r.message} {
		if !utf8.ValidString(s) {
			t.Fatalf("%s %q is not valid UTF-8", name, s)
		}
	}
	limit := func(name, s string, max int) {
		if n := utf8.RuneCountInString(s); n > max {
			t.Fatalf("%s has %d characters, over %d", name, n, max)
		}
	}
	limit("meeting_id", r.meetingID, maxIDLen)
	limit("chat_user", r.chatUser, maxUserNameLen)
	limit("user_name", r.userName, maxUserNameLen)
	limit("message", r.message, maxMessageLen)
	limit("callback_uri", r.callbackURI, maxURILen)
	limit("callback_secret", r.callbackSecret, maxSecretLen)
	switch r.call {
	case callStart:
		if strings.TrimSpace(r.meetingID) == "" || strings.TrimSpace(r.chatUser) == "" {
			t.Fatalf("start without meeting or chat user: %+v", r)
		}
		if (r.callbackURI == "") != (r.callbackSecret == "") {
			t.Fatalf("half a callback: %+v", r)
		}
		if r.callbackURI != "" {
			u, err := url.Parse(r.callbackURI)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
				t.Fatalf("callback_uri %q let through", r.callbackURI)
			}
		}
		for _, e := range r.callbackEvents {
			if k, ok := state.NormaliseKind(e); !ok || k == state.TypeMessage {
				t.Fatalf("callback event %q let through", e)
			}
		}
	case callSend:
		if strings.TrimSpace(r.userName) == "" || strings.TrimSpace(r.message) == "" || r.meetingID == "" {
			t.Fatalf("send without user, message or meeting: %+v", r)
		}
		for _, tmpl := range fuzzTemplates {
			for _, v := range []bbb.Version{{Major: 2, Minor: 2}, {Major: 2, Minor: 7}} {
				checkChatTextSafe(t, bbb.Render(v, tmpl, r.userName, r.message))
			}
		}
		name := bbb.SanitizeName(r.userName)
		if strings.ContainsAny(name, "\r\n\u2028\u2029\u0085") {
			t.Fatalf("user name %q keeps a line break: %q", r.userName, name)
		}
	case callEnd, callInfo, callRetry, callPing:
		if strings.TrimSpace(r.meetingID) == "" {
			t.Fatalf("%s without meeting: %+v", r.call, r)
		}
	case callEdit, callDelete:
		limit("message_id", r.messageID, maxIDLen)
		if strings.TrimSpace(r.meetingID) == "" || strings.TrimSpace(r.messageID) == "" {
			t.Fatalf("%s without meeting or message id: %+v", r.call, r)
		}
		if r.call == callEdit && strings.TrimSpace(r.message) == "" {
			t.Fatalf("edit without text: %+v", r)
		}
	}
}

// checkChatTextSafe asserts that chat text for a 2.x client holds no markup (see internal/chattext).
func checkChatTextSafe(t *testing.T, s string) {
	t.Helper()
	if err := chattext.Safe(s); err != nil {
		t.Fatal(err)
	}
}

// TestDecodeRequestErrors pins the messages of decodeRequest's errors for malformed parameters.
func TestDecodeRequestErrors(t *testing.T) {
	cases := []struct {
		name, call, body, path string
		want                   string
	}{
		{"missing", callEnd, `{}`, "", "Parameter meeting_id is missing."},
		{"null is absent", callEnd, `{"meeting_id": null}`, "", "Parameter meeting_id is missing."},
		{"number", callEnd, `{"meeting_id": 5}`, "", "Parameter meeting_id must be a string, not int."},
		{"huge number", callEnd, `{"meeting_id": 1e999999}`, "", "Parameter meeting_id must be a string, not float."},
		{"array", callEnd, `{"meeting_id": ["x"]}`, "", "Parameter meeting_id must be a string, not array."},
		{"object", callEnd, `{"meeting_id": {}}`, "", "Parameter meeting_id must be a string, not object."},
		{"bool", callEnd, `{"meeting_id": true}`, "", "Parameter meeting_id must be a string, not bool."},
		{"empty", callEnd, `{"meeting_id": ""}`, "", "Parameter meeting_id must not be empty."},
		{"blank", callEnd, `{"meeting_id": " \t"}`, "", "Parameter meeting_id must not be empty."},
		{"long id", callEnd, `{"meeting_id": "` + strings.Repeat("é", 257) + `"}`, "", "Parameter meeting_id is 257 characters long; at most 256 are allowed."},
		{"long user name", callSend, `{"user_name": "` + strings.Repeat("a", 256) + `", "message": "m"}`, "m1", "Parameter user_name is 256 characters long; at most 255 are allowed."},
		{"long message", callSend, `{"user_name": "a", "message": "` + strings.Repeat("😀", 5001) + `"}`, "m1", "Parameter message is 5001 characters long; at most 5000 are allowed."},
		{"long path id", callSend, `{"user_name": "a", "message": "m"}`, strings.Repeat("m", 257), "Parameter meeting_id in the path must be 1 to 256 characters."},
		{"invalid path id", callSend, `{"user_name": "a", "message": "m"}`, "\xff", "Parameter meeting_id in the path must be valid UTF-8."},
		{"long chat user", callStart, `{"meeting_id": "m", "chat_user": "` + strings.Repeat("a", 256) + `"}`, "", "Parameter chat_user is 256 characters long; at most 255 are allowed."},
		{"half a callback", callStart, `{"meeting_id": "m", "chat_user": "u", "callback_secret": "s"}`, "", "callback_uri and callback_secret go together"},
		{"relative callback", callStart, `{"meeting_id": "m", "chat_user": "u", "callback_uri": "/hook", "callback_secret": "s"}`, "", "must be an absolute http or https URL"},
		{"callback with password", callStart, `{"meeting_id": "m", "chat_user": "u", "callback_uri": "https://a:b@example.com/", "callback_secret": "s"}`, "", "must not carry a user name or password"},
		{"unknown event", callStart, `{"meeting_id": "m", "chat_user": "u", "callback_uri": "https://example.com/", "callback_secret": "s", "callback_events": ["` + strings.Repeat("x", 500) + `"]}`, "", "has \"" + strings.Repeat("x", 64) + "…\""},
		{"too many events", callStart, `{"meeting_id": "m", "chat_user": "u", "callback_uri": "https://example.com/", "callback_secret": "s", "callback_events": [` + strings.Repeat(`"chatCleared",`, 32) + `"chatCleared"]}`, "", "has 33 entries"},
		{"bad pending", callRetry, `{"meeting_id": "m", "pending": "yes"}`, "", "Parameter pending must be true or false, not string."},
		{"events without callback", callStart, `{"meeting_id": "m", "chat_user": "u", "callback_events": "chatCleared"}`, "", "needs callback_uri"},
		{"events of numbers", callStart, `{"meeting_id": "m", "chat_user": "u", "callback_events": [1]}`, "", "must be a list of strings"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pyjson.Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeRequest(tc.call, p, tc.path)
			if err == nil {
				t.Fatal("accepted")
			}
			status, msg := statusOf(err)
			if status != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
				t.Fatalf("got %d %q; want 400 with %q", status, msg, tc.want)
			}
		})
	}
	// Lone surrogates become U+FFFD; what comes out is valid UTF-8.
	p, _ := pyjson.Parse([]byte(`{"user_name": "a\ud800b", "message": "\udfff"}`))
	r, err := decodeRequest(callSend, p, "m1")
	if err != nil || r.userName != "a\uFFFDb" || r.message != "\uFFFD" {
		t.Fatalf("lone surrogates: %+v, %v", r, err)
	}
}
