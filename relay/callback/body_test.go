package callback

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"flag"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sha512Checksum recomputes the original checksum independently of package checksum.
func sha512Checksum(call string, params pyjson.Value, secret string, unix int64) string {
	sum := sha512.Sum512([]byte(call + string(pyjson.Dumps(params)) + secret + strconv.FormatInt(unix, 10)))
	return hex.EncodeToString(sum[:])
}

// checkBodyChecksum parses a callback body, recomputes its checksum over the other members and compares.
func checkBodyChecksum(t *testing.T, call string, body []byte, secret string, unix int64) pyjson.Value {
	t.Helper()
	v, err := pyjson.Parse(body)
	if err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	sum, ok := v.Lookup("checksum")
	if !ok {
		t.Fatalf("no checksum in %s", body)
	}
	got, _ := sum.Str()
	if want := sha512Checksum(call, v.Without("checksum"), secret, unix); got != want {
		t.Fatalf("checksum %s, want %s", got, want)
	}
	return v
}

func TestBody(t *testing.T) {
	bridge := state.Bridge{MeetingID: "int-1", RequestedID: "ext 1", ChatUser: "Bridge", CallbackSecret: "s3cret"}
	all := bridge
	all.CallbackEvents = []string{state.KindAll}
	const unix = 1764072000
	for _, tc := range []struct {
		name   string
		event  state.Event
		bridge state.Bridge
		call   string
	}{
		{"message", state.Event{Type: state.TypeMessage, ID: "1730000000120-k3j9x0ab", MeetingID: "int-1",
			Timestamp: 1730000000120, ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", SenderID: "w_abc",
			SenderName: "Alice Ä", SenderRole: "MODERATOR", Text: "hello <b>\"world\"</b> ✓ 😀"}, bridge, "sendChatMessage"},
		{"message without requested id or message id", state.Event{Type: state.TypeMessage, ID: "m-2",
			MeetingID: "int-1", Timestamp: 5, ChatID: PublicChatID, SenderID: "SYSTEM", SenderName: "",
			Text: "x"}, state.Bridge{MeetingID: "int-1", CallbackSecret: "k"}, "sendChatMessage"},
		{"cleared", state.Event{Type: state.TypeCleared, ID: "c-1", MeetingID: "int-1", Timestamp: 1730000000500,
			ChatID: PublicChatID}, bridge, "chatCleared"},
		{"meeting ended", state.Event{Type: state.TypeMeetingEnded, ID: "e-1", MeetingID: "int-1",
			Timestamp: 1730000009000}, bridge, "meetingEnded"},
		// The kinds asked for by name: a body with "type", signed under the kind.
		{"typed cleared", state.Event{Type: state.TypeCleared, ID: "c-1", MeetingID: "int-1", Timestamp: 1730000000500,
			ChatID: PublicChatID}, all, "cleared"},
		{"typed meeting ended", state.Event{Type: state.TypeMeetingEnded, ID: "e-1", MeetingID: "int-1",
			Timestamp: 1730000009000}, all, "meeting.ended"},
		{"user joined", state.Event{Type: state.TypeUserJoined, ID: "j-1", MeetingID: "int-1", Timestamp: 1730000000600,
			UserID: "w_bob", ExternalUserID: "ext-bob", UserName: "Bob", UserRole: "VIEWER"}, all, "user.joined"},
		{"user left", state.Event{Type: state.TypeUserLeft, ID: "l-1", MeetingID: "int-1", Timestamp: 1730000000700,
			UserID: "w_bob", UserName: "Bob", UserRole: "VIEWER"}, all, "user.left"},
		{"message edited", state.Event{Type: state.TypeMessageEdited, ID: "ed-1", MeetingID: "int-1",
			Timestamp: 1730000000800, ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_abc",
			UserName: "Alice Ä", Text: "hello again"}, all, "message.edited"},
		{"message deleted", state.Event{Type: state.TypeMessageDeleted, ID: "d-1", MeetingID: "int-1",
			Timestamp: 1730000000900, ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_mod",
			UserName: "Mod"}, all, "message.deleted"},
		{"reaction added", state.Event{Type: state.TypeReactionAdded, ID: "r-1", MeetingID: "int-1",
			Timestamp: 1730000001000, ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_bob",
			UserName: "Bob", Emoji: "👍"}, all, "reaction.added"},
		{"reaction removed", state.Event{Type: state.TypeReactionRemoved, ID: "r-2", MeetingID: "int-1",
			Timestamp: 1730000001100, ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_bob",
			UserName: "Bob", Emoji: "👍"}, all, "reaction.removed"},
		{"message pinned", state.Event{Type: state.TypeMessagePinned, ID: "p-1", MeetingID: "int-1",
			Timestamp: 1730000001200, ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_mod",
			UserName: "Mod"}, all, "message.pinned"},
		{"message unpinned", state.Event{Type: state.TypeMessageUnpinned, ID: "p-2", MeetingID: "int-1",
			Timestamp: 1730000001300, ChatID: PublicChatID, MessageID: "1730000000120-k3j9x0ab", UserID: "w_mod",
			UserName: "Mod"}, all, "message.unpinned"},
		{"gap", state.Event{Type: state.TypeGap, ID: "gap-1", Timestamp: 1730000007500, Server: "bbb.example.org",
			From: 1730000001000, To: 1730000007500}, bridge, "gap"},
		{"ping", state.Event{Type: TypePing, ID: "ping-1", MeetingID: "int-1", Timestamp: 1730000003000,
			Text: "a test event from bbb-chat"}, bridge, "ping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call, body, err := Body(tc.event, tc.bridge, unix)
			if err != nil || call != tc.call {
				t.Fatalf("Body = %q, %v; want call %q", call, err, tc.call)
			}
			checkBodyChecksum(t, call, body, tc.bridge.CallbackSecret, unix)
			v := checksum.Verifier{Secrets: []string{tc.bridge.CallbackSecret}, Delta: 5}
			if _, _, err := v.Verify(call, body); err == nil {
				t.Fatal("a body signed long ago must not verify now")
			}
			testenv.Golden(t, filepath.Join("testdata", "golden", filepath.Base(tc.name)+".json"), append(body, '\n'), *update)
		})
	}
	if _, _, err := Body(state.Event{Type: state.TypeMeetingCreated}, bridge, unix); !errors.Is(err, ErrNoCallback) {
		t.Fatalf("meeting.created: %v, want ErrNoCallback", err)
	}
}

func TestWebhookID(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		kept     bool
	}{
		{"BBB message id", "1730000000120-k3j9x0ab", true},
		{"underscores and colons", "retry_1:x", true},
		{"dot is hashed", "a.b", false},
		{"space is hashed", "a b", false},
		{"empty is hashed", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WebhookID(state.Event{ID: tc.id})
			if (got == tc.id) != tc.kept {
				t.Fatalf("WebhookID(%q) = %q, kept %v", tc.id, got, tc.kept)
			}
			if got == "" || bytes.ContainsAny([]byte(got), ". \n") {
				t.Fatalf("WebhookID(%q) = %q: not a header-safe id", tc.id, got)
			}
			if got != WebhookID(state.Event{ID: tc.id}) {
				t.Fatalf("WebhookID(%q) is not stable", tc.id)
			}
		})
	}
}
