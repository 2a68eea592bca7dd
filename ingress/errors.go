package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/bbb-chat/bbb-chat/ingress/viewer"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// Domain errors of the API. Their HTTP status and message are in errorTable, and nowhere else.
var (
	errNotObject       = errors.New("the body is not a JSON object")
	errTooLarge        = errors.New("the body is too large")
	errHeadersTooLarge = errors.New("the request headers are too large")
	errBodyTimeout     = errors.New("the body was not received in time")
	errBodyRead        = errors.New("the body could not be read")
	errChatNotFound    = errors.New("chat not found")
	errMeetingEnded    = errors.New("chat not found: the meeting ended")
	errRoomWaiting     = errors.New("chat follows a room with no running meeting")
	errChatExists      = errors.New("chat already registered")
	errUserAbsent      = errors.New("chat user not in the meeting")
	errRedis           = errors.New("redis unreachable")
	errNoAkka          = errors.New("no BBB subscriber on redis")
	errVersionUnknown  = errors.New("BBB version unknown")
	errTooManyBridges  = errors.New("too many bridges")
	errNotFoundPath    = errors.New("unknown path")
	errMethod          = errors.New("method not allowed")
	errPanic           = errors.New("internal error")
	errNoRelay         = errors.New("no relay answers")
	errNoFeature       = errors.New("BBB version lacks the feature")
	errNotAllowed      = errors.New("BBB would refuse the request")
	errMessageNotFound = errors.New("message not found")
)

// paramError is a missing or mistyped parameter; its text names the parameter.
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

func missing(name string) error { return &paramError{fmt.Sprintf("Parameter %s is missing.", name)} }
func badParam(name, format string, args ...any) error {
	return &paramError{fmt.Sprintf("Parameter %s %s.", name, fmt.Sprintf(format, args...))}
}

// errorTable maps every domain error to its HTTP status and the message clients read.
func errorTable() []struct {
	err    error
	status int
	msg    string
} {
	return []struct {
		err    error
		status int
		msg    string
	}{
		{checksum.ErrMissing, http.StatusUnauthorized, "No checksum was given."},
		{checksum.ErrIncorrect, http.StatusUnauthorized, "Checksum was incorrect."},
		{state.ErrReplay, http.StatusUnauthorized, "Checksum was already used."},
		{errNotObject, http.StatusBadRequest, "The body must be a JSON object."},
		{pyjson.ErrNotObject, http.StatusBadRequest, "The body must be a JSON object."},
		{pyjson.ErrSyntax, http.StatusBadRequest, "The body must be a JSON object."},
		{errTooLarge, http.StatusRequestEntityTooLarge, "The body is too large."},
		{errHeadersTooLarge, http.StatusRequestHeaderFieldsTooLarge, "The request headers are too large"},
		{errBodyTimeout, http.StatusRequestTimeout, "The body was not received in time"},
		{errBodyRead, http.StatusBadRequest, "The body could not be read"},
		{errMeetingEnded, http.StatusNotFound, "Chat was not found"},
		{errRoomWaiting, http.StatusNotFound, "The chat follows a room whose meeting is not running"},
		{errChatNotFound, http.StatusNotFound, "Chat was not found"},
		{state.ErrNotFound, http.StatusNotFound, "Chat was not found"},
		{errChatExists, http.StatusConflict, "Chat is already registered"},
		{state.ErrExists, http.StatusConflict, "Chat is already registered"},
		{errUserAbsent, http.StatusConflict, "The chat user is not in the meeting"},
		{errTooManyBridges, http.StatusTooManyRequests, "Too many chats are running"},
		{errRedis, http.StatusServiceUnavailable, "BBB's Redis is unreachable; the message was not sent"},
		{errNoAkka, http.StatusServiceUnavailable, "BBB is not listening on Redis (nobody subscribes to to-akka-apps-redis-channel); the message was not sent"},
		{state.ErrReplicas, http.StatusServiceUnavailable, "NATS cannot keep bbb-chat's state with the configured BBB_CHAT_NATS_REPLICAS; see ingress's log"},
		{state.ErrUnavailable, http.StatusServiceUnavailable, "NATS is unreachable; try again"},
		{errVersionUnknown, http.StatusServiceUnavailable, "The BBB version is not known yet: set BBB_CHAT_BBB_VERSION, or wait until relay has seen an event from BBB"},
		{errNoRelay, http.StatusServiceUnavailable, "No relay answers (relay sends the callbacks): start relay, or wait until it is connected to NATS"},
		{errNoFeature, http.StatusConflict, "The server's BBB version has no such feature"},
		{errNotAllowed, http.StatusForbidden, "BBB would refuse this request, so it was not sent"},
		{errMessageNotFound, http.StatusNotFound, "Message was not found"},
		{errChatBlocked, http.StatusConflict, "BBB would drop this message, so it was not sent"},
		{history.ErrNoHistory, http.StatusNotFound, "No chat history is stored for this meeting"},
		{errNotFoundPath, http.StatusNotFound, "No such API call"},
		{errMethod, http.StatusMethodNotAllowed, "Method not allowed: use POST"},
		{viewer.ErrLinkInvalid, http.StatusNotFound, "This chat link is not valid"},
		{viewer.ErrLinkExpired, http.StatusGone, "This chat link has expired"},
		{viewer.ErrLinkRevoked, http.StatusGone, "This chat link was revoked"},
		{viewer.ErrReadOnly, http.StatusForbidden, "This chat link is read-only"},
		{viewer.ErrBadPost, http.StatusBadRequest, "The body must be a JSON object with name and message"},
		{viewer.ErrName, http.StatusBadRequest, fmt.Sprintf("The name must be 1 to %d characters", viewer.MaxNameLen)},
		{viewer.ErrMessage, http.StatusBadRequest, fmt.Sprintf("The message must be 1 to %d characters", viewer.MaxMessageLen)},
		{viewer.ErrBlocked, http.StatusUnprocessableEntity, "The message was not sent: it contains a word that is not allowed here"},
		{viewer.ErrSlowMode, http.StatusTooManyRequests, "Slow mode: wait a moment before sending again"},
		{viewer.ErrTooManyStreams, http.StatusTooManyRequests, "Too many chat pages are open from your address"},
		{viewer.ErrMethod, http.StatusMethodNotAllowed, "Method not allowed"},
		{viewer.ErrNotFound, http.StatusNotFound, "No such page"},
	}
}

// statusOf maps an error to its status and message. Errors not in the table are internal.
func statusOf(err error) (int, string) {
	if re, ok := errors.AsType[*remoteError](err); ok {
		return re.status, re.msg // the meeting's server's own answer (fleet.go)
	}
	var pe *paramError
	if errors.As(err, &pe) {
		return http.StatusBadRequest, pe.msg
	}
	if se, ok := errors.AsType[*pyjson.SyntaxError](err); ok {
		return http.StatusBadRequest, fmt.Sprintf("The body must be a JSON object: %s at byte %d.", se.Msg, se.Offset)
	}
	for _, row := range errorTable() {
		if errors.Is(err, row.err) {
			if h, ok := errors.AsType[hinter](err); ok && h.Hint() != "" {
				return row.status, row.msg + " " + h.Hint()
			}
			if detail, ok := errors.AsType[*detailError](err); ok {
				return row.status, row.msg + ": " + detail.detail
			}
			return row.status, row.msg
		}
	}
	return http.StatusInternalServerError, "Internal error"
}

// hinter is an error that carries advice for the client, in whole sentences added after the table's message
// (checksum.Mismatch: why a checksum was refused).
type hinter interface {
	error
	Hint() string
}

// detailError adds a detail for the client to a domain error (never a secret).
type detailError struct {
	err    error
	detail string
}

func (e *detailError) Error() string { return e.err.Error() + ": " + e.detail }
func (e *detailError) Unwrap() error { return e.err }

func withDetail(err error, format string, args ...any) error {
	return &detailError{err: err, detail: fmt.Sprintf(format, args...)}
}
