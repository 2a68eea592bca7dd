package main

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// The API's calls, as named in the checksum.
const (
	callStart   = "startChatForMeeting"
	callEnd     = "endChatForMeeting"
	callSend    = "sendChatMessage"
	callInfo    = "getChatInfo"
	callRunning = "runningChats"
	callRetry   = "retryCallbacks"
	callEdit    = "editChatMessage"
	callDelete  = "deleteChatMessage"

	callHistory           = "getChatHistory"
	callTranscript        = "getChatTranscript"
	callDeleteHistory     = "deleteChatHistory"
	callCreateViewerLink  = "createViewerLink"
	callRevokeViewerLinks = "revokeViewerLinks"
	callPing              = "pingCallback"
)

// request is one call's parameters, decoded and checked. Only the fields of its call are set.
type request struct {
	call           string
	meetingID      string // as the client gave it (for sendChatMessage: from the path)
	chatUser       string
	callbackURI    string
	callbackSecret string
	callbackEvents []string
	followRoom     bool // startChatForMeeting's follow_room
	userName       string
	message        string
	after          string       // getChatHistory's cursor
	limit          int          // getChatHistory's page size (0: the default)
	format         string       // getChatTranscript's format
	tz             string       // getChatTranscript's time zone (IANA name; "": UTC)
	viewer         viewerParams // createViewerLink
	template       string       // set by the viewer page: its template instead of BBB_CHAT_MESSAGE_TEMPLATE
	pending        bool         // retryCallbacks: send the pending deliveries now too
	messageID      string       // editChatMessage, deleteChatMessage: BBB's id of the message
}

// decodeRequest reads and checks the parameters of call from the body's object (checksum already removed) and,
// for sendChatMessage, the meeting id from the path. It does no I/O: what needs Redis, NATS or DNS is the
// handler's. Every error is a *paramError, whose text names the parameter; unknown calls and members are not
// errors here (the router knows the calls; unknown members are signed and ignored).
func decodeRequest(call string, p pyjson.Value, pathMeetingID string) (request, error) {
	r := request{call: call}
	var err error
	switch call {
	case callStart:
		if r.meetingID, err = param(p, "meeting_id", true, maxIDLen); err != nil {
			return r, err
		}
		if r.chatUser, err = param(p, "chat_user", true, maxUserNameLen); err != nil {
			return r, err
		}
		if r.callbackURI, err = param(p, "callback_uri", false, maxURILen); err != nil {
			return r, err
		}
		if r.callbackSecret, err = param(p, "callback_secret", false, maxSecretLen); err != nil {
			return r, err
		}
		if (r.callbackURI == "") != (r.callbackSecret == "") {
			return r, &paramError{"Parameters callback_uri and callback_secret go together: give both or neither."}
		}
		if r.callbackEvents, err = callbackEvents(p, r.callbackURI != ""); err != nil {
			return r, err
		}
		if r.callbackURI != "" {
			if err := checkCallbackURI(r.callbackURI); err != nil {
				return r, err
			}
		}
		if r.followRoom, err = boolParam(p, "follow_room"); err != nil {
			return r, err
		}
	case callSend:
		if pathMeetingID == "" || utf8.RuneCountInString(pathMeetingID) > maxIDLen {
			return r, badParam("meeting_id", "in the path must be 1 to %d characters", maxIDLen)
		}
		if !utf8.ValidString(pathMeetingID) {
			return r, badParam("meeting_id", "in the path must be valid UTF-8")
		}
		r.meetingID = pathMeetingID
		if r.userName, err = param(p, "user_name", true, maxUserNameLen); err != nil {
			return r, err
		}
		if r.message, err = param(p, "message", true, maxMessageLen); err != nil {
			return r, err
		}
	case callEdit, callDelete:
		return decodeModeration(call, p)
	case callCreateViewerLink:
		if r.meetingID, err = param(p, "meeting_id", true, maxIDLen); err != nil {
			return r, err
		}
		if r.viewer, err = decodeViewerParams(p); err != nil {
			return r, err
		}
	case callEnd, callInfo, callRetry, callRevokeViewerLinks, callPing:
		if r.meetingID, err = param(p, "meeting_id", true, maxIDLen); err != nil {
			return r, err
		}
		if call == callRetry {
			if r.pending, err = boolParam(p, "pending"); err != nil {
				return r, err
			}
		}
	case callDeleteHistory:
		if r.meetingID, err = param(p, "meeting_id", true, maxIDLen); err != nil {
			return r, err
		}
	case callHistory, callTranscript:
		if err := historyParams(p, &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// param reads a string parameter. Null counts as absent. Lone surrogates become U+FFFD (pyjson's Str), so what
// comes out is valid UTF-8.
func param(p pyjson.Value, name string, required bool, max int) (string, error) {
	v, present := p.Lookup(name)
	if !present || v.Kind() == pyjson.KindNull {
		if required {
			return "", missing(name)
		}
		return "", nil
	}
	s, isStr := v.Str()
	if !isStr {
		return "", badParam(name, "must be a string, not %s", v.Kind())
	}
	if required && strings.TrimSpace(s) == "" {
		return "", badParam(name, "must not be empty")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", badParam(name, "is %d characters long; at most %d are allowed", n, max)
	}
	return s, nil
}

// boolParam reads an optional true/false parameter; absent and null are false.
func boolParam(p pyjson.Value, name string) (bool, error) {
	v, present := p.Lookup(name)
	if !present || v.Kind() == pyjson.KindNull {
		return false, nil
	}
	b, ok := v.Boolean()
	if !ok {
		return false, badParam(name, "must be true or false, not %s", v.Kind())
	}
	return b, nil
}

// maxCallbackEvents bounds the callback_events list (every kind and spelling once, and a few repeats).
const maxCallbackEvents = 32

// callbackEvents reads callback_events: a list (or comma-separated string) of callback kinds (state.CallbackKinds,
// state.KindAll, or the first spellings).
func callbackEvents(p pyjson.Value, hasCallback bool) ([]string, error) {
	v, present := p.Lookup("callback_events")
	if !present || v.Kind() == pyjson.KindNull {
		return nil, nil
	}
	var names []string
	switch v.Kind() {
	case pyjson.KindString:
		s, _ := v.Str()
		for _, n := range strings.Split(s, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	case pyjson.KindArray:
		for i := range v.Len() {
			elem, _ := v.Index(i)
			s, ok := elem.Str()
			if !ok {
				return nil, badParam("callback_events", "must be a list of strings")
			}
			names = append(names, s)
		}
	default:
		return nil, badParam("callback_events", "must be a list of strings")
	}
	if len(names) > maxCallbackEvents {
		return nil, badParam("callback_events", "has %d entries; at most %d are allowed", len(names), maxCallbackEvents)
	}
	if len(names) > 0 && !hasCallback {
		return nil, &paramError{"Parameter callback_events needs callback_uri and callback_secret."}
	}
	out, err := state.CheckCallbackEvents(names)
	if err != nil {
		bad := ""
		for _, n := range names {
			if _, ok := state.NormaliseKind(n); !ok {
				bad = n
				break
			}
		}
		return nil, badParam("callback_events", "has %q, which is not a callback kind; allowed are %s and %s (and %s, %s, %s as before)",
			truncateRunes(bad, 64), strings.Join(state.CallbackKinds(), ", "), state.KindAll,
			state.CallbackMessage, state.CallbackChatCleared, state.CallbackMeetingEnded)
	}
	return out, nil
}

// truncateRunes cuts s to at most n characters, for quoting client input in an error.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i] + "…"
		}
		n--
	}
	return s
}

func checkCallbackURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return badParam("callback_uri", "must be an absolute http or https URL")
	}
	if u.User != nil {
		return badParam("callback_uri", "must not carry a user name or password")
	}
	return nil
}
