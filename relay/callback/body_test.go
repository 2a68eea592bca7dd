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
	"time"

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
		{"gap", state.GapEvent("bbb.example.org", time.UnixMilli(1730000001000), time.UnixMilli(1730000007500)),
			bridge, "gap"},
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
	if _, _, err := Body(state.Event{Type: state.TypeUserJoined}, bridge, unix); !errors.Is(err, ErrNoCallback) {
		t.Fatalf("user.joined: %v, want ErrNoCallback", err)
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
