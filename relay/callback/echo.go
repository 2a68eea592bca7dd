package callback

import (
	"context"
	"errors"
	"strings"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// skipReason says why a message is not sent to a bridge ("" when it is sent).
type skipReason string

const (
	skipNone    skipReason = ""
	skipPrivate skipReason = "private"
	skipEcho    skipReason = "echo"
)

// ClientCorrelation reports whether a message's correlation id has the form "<sender id>-<digits>", which BBB's
// clients (and ingress, posting as the chat user) generate.
func ClientCorrelation(e state.Event) bool {
	rest, ok := strings.CutPrefix(e.CorrelationID, e.SenderID+"-")
	return ok && e.SenderID != "" && isDigits(rest)
}

// echoByName is echo rule (b): the bridge's chat user's name with a client correlation id. It catches posts of
// a chat user who has left since.
func echoByName(e state.Event, b state.Bridge) bool {
	return b.ChatUser != "" && e.SenderName == b.ChatUser && ClientCorrelation(e)
}

// classify decides whether a message event goes to the bridge. chatUserID looks up the id of the present user
// named like the bridge's chat user (state.ErrNotFound when there is none).
func classify(ctx context.Context, e state.Event, b state.Bridge, chatUserID func(context.Context) (string, error),
	isEcho func(state.Event, state.Bridge) bool) (skipReason, error) {
	if e.ChatID != PublicChatID {
		return skipPrivate, nil
	}
	if echoByName(e, b) {
		return skipEcho, nil
	}
	if isEcho != nil && isEcho(e, b) {
		return skipEcho, nil
	}
	if e.SenderID == "SYSTEM" { // BBB's own messages are never the chat user's
		return skipNone, nil
	}
	return skipIfChatUser(ctx, b, e.SenderName, e.SenderID, chatUserID)
}

// classifyAction decides whether an edit, deletion, reaction or pin is skipped: one in a private chat, or one the
// bridge's chat user made itself (its id is the present chat user's), which the bridge knows of already (through
// the API). An event that names no chat is taken as the public chat's.
func classifyAction(ctx context.Context, e state.Event, b state.Bridge, chatUserID func(context.Context) (string, error)) (skipReason, error) {
	if e.ChatID != "" && e.ChatID != PublicChatID {
		return skipPrivate, nil
	}
	return skipIfChatUser(ctx, b, e.UserName, e.UserID, chatUserID)
}

// skipIfChatUser is skipEcho when the user who acted (name, id) is the bridge's chat user: named like it, with the
// id of the present user of that name.
func skipIfChatUser(ctx context.Context, b state.Bridge, name, id string, chatUserID func(context.Context) (string, error)) (skipReason, error) {
	if b.ChatUser == "" || name != b.ChatUser || id == "" {
		return skipNone, nil
	}
	present, err := chatUserID(ctx)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return skipNone, err
	}
	if err == nil && present == id {
		return skipEcho, nil
	}
	return skipNone, nil
}
