package bbbsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Names of the requests the simulator handles (docs/protocol.md §3, §4).
const (
	msgSendGroupChat   = "SendGroupChatMessageMsg"
	msgSendChatFromAPI = "SendGroupChatMessageFromApiSysPubMsg"
	msgClearPublicChat = "ClearPublicChatHistoryPubMsg"
	msgRegisterUser    = "RegisterUserReqMsg"
	msgUserJoinMeeting = "UserJoinMeetingReqMsg"
	msgUserLeave       = "UserLeaveReqMsg"
)

// Header classes of common-message (docs/protocol.md §2.1). A header must have exactly the fields of its class.
var (
	hdrClient      = strs("name", "meetingId", "userId") // BbbClientMsgHeader
	hdrWithMeeting = strs("name", "meetingId")           // BbbCoreHeaderWithMeetingId
)

// topShape is BbbCommonEnvJsNodeMsg: akka first reads {envelope, core} strictly, with core kept as a JSON tree.
var topShape = object(
	f("envelope", object(f("name", tString), f("routing", tStrMap), f("timestamp", tLong))),
	f("core", tAnyMap),
)

// msgSpec is the case class of one request in one version: its header class and its body.
type msgSpec struct {
	header *shape
	body   *shape
}

// groupChatMsgFromUser is body.msg of SendGroupChatMessageMsg (docs/protocol.md §3.2).
func groupChatMsgFromUser(v ver) *shape {
	switch {
	case v <= v24:
		return object(f("correlationId", tString), f("sender", strs("id", "name")), f("color", tString),
			f("message", tString))
	case v <= v27:
		return object(f("correlationId", tString), f("sender", strs("id", "name", "role")),
			f("chatEmphasizedText", tBool), f("message", tString))
	default:
		return object(f("correlationId", tString), f("sender", strs("id", "name", "role")), f("message", tString),
			f("replyToMessageId", tString), f("metadata", tAnyMap))
	}
}

// registerUserBody is RegisterUserReqMsgBody (docs/protocol.md §4.4; 2.7 is assumed to equal 2.6).
func registerUserBody(v ver) *shape {
	switch {
	case v <= v23:
		return object(f("meetingId", tString), f("intUserId", tString), f("name", tString), f("role", tString),
			f("extUserId", tString), f("authToken", tString), f("avatarURL", tString), f("guest", tBool),
			f("authed", tBool), f("guestStatus", tString))
	case v <= v27:
		return object(f("meetingId", tString), f("intUserId", tString), f("name", tString), f("role", tString),
			f("extUserId", tString), f("authToken", tString), f("avatarURL", tString), f("guest", tBool),
			f("authed", tBool), f("guestStatus", tString), f("excludeFromDashboard", tBool))
	case v <= v30:
		return object(f("meetingId", tString), f("intUserId", tString), f("name", tString),
			f("firstName", tString), f("lastName", tString), f("role", tString), f("extUserId", tString),
			f("authToken", tString), f("sessionToken", tString), f("avatarURL", tString),
			f("webcamBackgroundURL", tString), f("bot", tBool), f("guest", tBool), f("authed", tBool),
			f("guestStatus", tString), f("excludeFromDashboard", tBool), f("enforceLayout", tString),
			f("logoutUrl", tString), f("userMetadata", tStrMap))
	default: // 4.0 adds joinRequestMetadata (docs/protocol.md §3.8)
		return object(f("meetingId", tString), f("intUserId", tString), f("name", tString),
			f("firstName", tString), f("lastName", tString), f("role", tString), f("extUserId", tString),
			f("authToken", tString), f("sessionToken", tString), f("avatarURL", tString),
			f("webcamBackgroundURL", tString), f("bot", tBool), f("guest", tBool), f("authed", tBool),
			f("guestStatus", tString), f("excludeFromDashboard", tBool), f("enforceLayout", tString),
			f("logoutUrl", tString), f("joinRequestMetadata", tStrMap), f("userMetadata", tStrMap))
	}
}

// requestSpec returns the case class akka-apps of version v deserialises the request name into.
func requestSpec(v ver, name string) (msgSpec, bool) {
	switch name {
	case msgSendGroupChat:
		return msgSpec{hdrClient, object(f("chatId", tString), f("msg", groupChatMsgFromUser(v)))}, true
	case msgSendChatFromAPI:
		if v < v30 {
			return msgSpec{}, false
		}
		return msgSpec{hdrClient, strs("userName", "message")}, true
	case msgClearPublicChat:
		return msgSpec{hdrClient, strs("chatId")}, true
	case msgRegisterUser:
		return msgSpec{hdrWithMeeting, registerUserBody(v)}, true
	case msgUserJoinMeeting:
		if v < v30 {
			return msgSpec{hdrClient, strs("userId", "authToken", "clientType")}, true
		}
		return msgSpec{hdrClient, object(f("userId", tString), f("authToken", tString), f("clientType", tString),
			f("clientIsMobile", tBool))}, true
	case msgUserLeave:
		if v <= v22 {
			return msgSpec{hdrClient, strs("userId", "sessionId")}, true
		}
		return msgSpec{hdrClient, object(f("userId", tString), f("sessionId", tString), f("loggedOut", tBool))}, true
	}
	return moderationSpec(v, name)
}

// request is a message that passed the strict parse.
type request struct {
	name     string
	routing  map[string]any
	ts       int64
	header   map[string]any
	body     map[string]any
	warnings []string
}

// parseError is a message akka-apps would drop before any handler saw it.
type parseError struct {
	name   string // envelope.name when it could be read
	reason string
}

func (e *parseError) Error() string { return e.reason }

const notHandled = "not handled by simulator"

// parseRequest parses raw as akka-apps of version v would (docs/protocol.md §2): the whole message strictly as
// {envelope, core}, then core strictly as the case class that envelope.name selects.
func parseRequest(raw []byte, v ver) (*request, error) {
	top, err := decodeJSON(raw)
	if err != nil {
		return nil, &parseError{reason: "invalid JSON: " + err.Error()}
	}
	m, ok := top.(map[string]any)
	if !ok {
		return nil, &parseError{reason: "message: want object, got " + jsonType(top)}
	}
	name := ""
	if env, ok := m["envelope"].(map[string]any); ok {
		name, _ = env["name"].(string)
	}
	label := name
	if label == "" {
		label = "(no envelope.name)"
	}

	var c checker
	c.value("", topShape, m)
	if len(c.probs) > 0 {
		return nil, &parseError{name: name, reason: label + ": " + strings.Join(c.probs, "; ")}
	}
	env := m["envelope"].(map[string]any)
	req := &request{name: name, warnings: c.warns}
	req.routing, _ = env["routing"].(map[string]any)
	if n, ok := env["timestamp"].(json.Number); ok {
		req.ts, _ = n.Int64()
	}

	spec, ok := requestSpec(v, name)
	if !ok {
		reason := label + ": " + notHandled
		if _, other := requestSpec(latest, name); other && name != "" {
			reason += fmt.Sprintf(": akka-apps %s has no such message", v)
		}
		return nil, &parseError{name: name, reason: reason}
	}

	core, ok := m["core"].(map[string]any)
	if !ok {
		return nil, &parseError{name: name, reason: name + ": core: null where akka needs an object"}
	}
	c = checker{warns: c.warns}
	c.object("core", object(f("header", spec.header), f("body", spec.body)), core)
	if len(c.probs) > 0 {
		for i, p := range c.probs {
			c.probs[i] = strings.TrimPrefix(p, "core.") + " for " + v.String()
		}
		return nil, &parseError{name: name, reason: name + ": " + strings.Join(c.probs, "; ")}
	}
	req.header = core["header"].(map[string]any)
	req.body = core["body"].(map[string]any)
	if hn, _ := req.header["name"].(string); hn != name {
		c.warn("header.name %q differs from envelope.name %q (akka routes on envelope.name)", hn, name)
	}
	for i, w := range c.warns {
		c.warns[i] = strings.TrimPrefix(w, "core.")
	}
	req.warnings = c.warns
	return req, nil
}

// decodeJSON decodes exactly one JSON value, keeping numbers as json.Number.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// str returns a string field of a parsed object ("" for null).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// sub returns an object field of a parsed object.
func sub(m map[string]any, key string) map[string]any {
	s, _ := m[key].(map[string]any)
	return s
}
