package bbbsim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// edit30 and delete30 are the 3.0 requests of docs/protocol.md §9.
const edit30 = `{"envelope":{"name":"EditGroupChatMessageReqMsg","routing":{"meetingId":"m","userId":"w_bot"},"timestamp":1730000001000},` +
	`"core":{"header":{"name":"EditGroupChatMessageReqMsg","meetingId":"m","userId":"w_bot"},` +
	`"body":{"chatId":"MAIN-PUBLIC-GROUP-CHAT","messageId":"1730000000900-ab12cd34","message":"fixed"}}}`

const delete30 = `{"envelope":{"name":"DeleteGroupChatMessageReqMsg","routing":{"meetingId":"m","userId":"w_bot"},"timestamp":1730000001000},` +
	`"core":{"header":{"name":"DeleteGroupChatMessageReqMsg","meetingId":"m","userId":"w_bot"},` +
	`"body":{"chatId":"MAIN-PUBLIC-GROUP-CHAT","messageId":"1730000000900-ab12cd34"}}}`

func TestParseModeration(t *testing.T) {
	cases := []struct {
		name    string
		version ver
		raw     string
		reason  string
	}{
		{"edit on 3.0", v30, edit30, ""},
		{"delete on 3.0", v30, delete30, ""},
		{"edit on 2.7", v27, edit30, "EditGroupChatMessageReqMsg: not handled by simulator: akka-apps 2.7 has no such message"},
		{"delete on 2.4", v24, delete30, "DeleteGroupChatMessageReqMsg: not handled by simulator: akka-apps 2.4 has no such message"},
		{"edit with metadata", v30, replace(edit30, `"message":"fixed"}`, `"message":"fixed","metadata":{}}`),
			`EditGroupChatMessageReqMsg: body: unknown field "metadata" for 3.0`},
		{"edit without text", v30, replace(edit30, `,"message":"fixed"`, ``),
			`EditGroupChatMessageReqMsg: body: missing field "message" for 3.0`},
		{"delete with text", v30, replace(delete30, `"messageId":"1730000000900-ab12cd34"}`, `"messageId":"1730000000900-ab12cd34","message":"x"}`),
			`DeleteGroupChatMessageReqMsg: body: unknown field "message" for 3.0`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseRequest([]byte(c.raw), c.version)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != c.reason {
				t.Fatalf("reason\n got %q\nwant %q", got, c.reason)
			}
		})
	}
}

// TestModerationHandlers runs the edit and delete handlers on a meeting: who may, and what they broadcast.
func TestModerationHandlers(t *testing.T) {
	setup := func(role string, breakout bool) (*Sim, *meeting) {
		s := &Sim{v: v30, now: func() time.Time { return time.UnixMilli(1730000002000) }, meetings: map[string]*meeting{}}
		m := &meeting{Meeting: Meeting{IntID: "m"}, chats: map[string]bool{MainPublicChat: true}, isBreakout: breakout}
		m.users = []*user{{User: User{ID: "w_bot", Role: role, Locked: true}}, {User: User{ID: "w_human", Role: RoleViewer, Locked: true}}}
		m.chat = []ChatMessage{
			{ID: "1730000000900-ab12cd34", ChatID: MainPublicChat, SenderID: "w_bot", Message: "tpyo"},
			{ID: "1730000000950-ef56gh78", ChatID: MainPublicChat, SenderID: "w_human", Message: "human"},
		}
		s.meetings["m"] = m
		return s, m
	}
	run := func(s *Sim, raw string) outcome {
		req, err := parseRequest([]byte(raw), s.v)
		if err != nil {
			t.Fatal(err)
		}
		return s.apply(req)
	}
	ofHuman := func(raw string) string {
		return strings.ReplaceAll(raw, "1730000000900-ab12cd34", "1730000000950-ef56gh78")
	}

	s, m := setup(RoleViewer, false)
	out := run(s, edit30)
	if out.drop != "" || m.chat[0].Message != "fixed" || len(out.outs) != 1 {
		t.Fatalf("own edit: %+v", out)
	}
	var ev struct {
		Envelope struct{ Name string }
		Core     struct{ Body map[string]any }
	}
	if err := json.Unmarshal(out.outs[0].data, &ev); err != nil || ev.Envelope.Name != "GroupChatMessageEditedEvtMsg" ||
		ev.Core.Body["messageId"] != "1730000000900-ab12cd34" || ev.Core.Body["message"] != "fixed" || len(ev.Core.Body) != 3 {
		t.Fatalf("edit broadcast %s (%v)", out.outs[0].data, err)
	}
	if out := run(s, ofHuman(edit30)); !strings.Contains(out.drop, "permission check failed") {
		t.Fatalf("edit of another's message: %+v", out)
	}
	if out := run(s, ofHuman(delete30)); !strings.Contains(out.drop, "permission check failed") {
		t.Fatalf("viewer deletes another's message: %+v", out)
	}
	m.lockPublicChat = true
	if out := run(s, delete30); !strings.Contains(out.drop, "locked viewer") {
		t.Fatalf("locked viewer deletes: %+v", out)
	}
	m.lockPublicChat = false
	if out := run(s, delete30); out.drop != "" || len(m.chat) != 1 {
		t.Fatalf("own delete: %+v", out)
	}

	s, m = setup(RoleModerator, false)
	if out := run(s, ofHuman(delete30)); out.drop != "" || len(m.chat) != 1 || m.chat[0].SenderID != "w_bot" {
		t.Fatalf("moderator deletes another's message: %+v", out)
	}
	s, _ = setup(RoleModerator, true)
	if out := run(s, ofHuman(delete30)); !strings.Contains(out.drop, "breakout") {
		t.Fatalf("moderator in a breakout room deletes another's message: %+v", out)
	}
	s, m = setup(RoleModerator, false)
	m.disabled = map[string]bool{"deleteChatMessage": true}
	if out := run(s, delete30); !strings.Contains(out.drop, "disabled features") {
		t.Fatalf("delete with the feature disabled: %+v", out)
	}
}
