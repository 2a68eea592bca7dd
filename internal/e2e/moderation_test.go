package e2e

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/apispec"
	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

const (
	callEditMsg   = "editChatMessage"
	callDeleteMsg = "deleteChatMessage"
)

// waitStored waits until relay has stored the chat message with BBB's id messageID.
func (e *env) waitStored(meetingID, messageID string) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, "relay stores message "+messageID, func() bool {
		_, err := e.store.FindMessage(context.Background(), meetingID, messageID)
		return err == nil
	})
}

// joinBridge starts a bridge on a new meeting (opts) whose chat user joins with role, and a human viewer who says
// something; it returns the meeting, the chat user's id and the human's message.
func (e *env) joinBridge(extID string, opts bbbsim.MeetingOptions, role string) (bbbsim.Meeting, string, bbbsim.ChatMessage) {
	e.t.Helper()
	ctx := e.t.Context()
	m, err := e.sim.CreateMeetingWith(ctx, extID, "Moderation "+extID, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitKnown(m.IntID)
	expect(e.t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Chat Bridge"), 200, "started")
	uid, err := e.sim.Join(ctx, m.IntID, "Chat Bridge", role)
	if err != nil {
		e.t.Fatal(err)
	}
	human, err := e.sim.Join(ctx, m.IntID, "Human", bbbsim.RoleViewer)
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Chat Bridge", true)
	said, err := e.sim.Say(ctx, m.IntID, human, "a human's words")
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitStored(m.IntID, said.ID)
	return m, uid, said
}

func chatHas(msgs []bbbsim.ChatMessage, id string) (bbbsim.ChatMessage, bool) {
	i := slices.IndexFunc(msgs, func(c bbbsim.ChatMessage) bool { return c.ID == id })
	if i < 0 {
		return bbbsim.ChatMessage{}, false
	}
	return msgs[i], true
}

// TestModeration shows editChatMessage and deleteChatMessage on BBB 3.0: the chat user edits and deletes its own
// messages, deletes others' as a moderator, and what BBB would refuse (and might eject the chat user for) is
// answered 403 without anything reaching BBB.
func TestModeration(t *testing.T) {
	for _, version := range []string{"3.0", "4.0"} {
		t.Run(version, func(t *testing.T) { testModeration(t, version) })
	}
}

func testModeration(t *testing.T, version string) {
	e := newEnv(t, version)
	doc, err := apispec.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// documented checks an answer of editChatMessage or deleteChatMessage against docs/openapi.yaml.
	documented := func(call string, a answer) answer {
		t.Helper()
		if err := apispec.CheckAnswer(t.Context(), doc, http.MethodPost, "/api/"+call, "/api/"+call, nil, a.Status,
			http.Header{"Content-Type": {"application/json"}}, []byte(a.Raw)); err != nil {
			t.Error(err)
		}
		return a
	}
	m, _, human := e.joinBridge("ext-mod-viewer-"+version, bbbsim.MeetingOptions{}, bbbsim.RoleViewer)

	a := e.send(m.IntID, "Alice", "tpyo")
	expect(t, a, 200, "sent successfully")
	own, _ := a.Body["message_id"].(string)
	e.waitStored(m.IntID, own)

	// Its own message: edited, templated like a post when user_name is given.
	a = documented(callEditMsg, e.call(callEditMsg, "meeting_id", m.IntID, "message_id", own, "message", "typo *fixed*", "user_name", "Alice"))
	expect(t, a, 200, "BBB shows it")
	if a.Body["message_id"] != own || a.Body["confirmed"] != true {
		t.Fatalf("edit answered %s", a.Raw)
	}
	if got, _ := chatHas(e.sim.Chat(m.IntID), own); got.Message != "Alice: typo *fixed*" {
		t.Fatalf("BBB shows %q after the edit", got.Message)
	}

	// Someone else's message: BBB would refuse (and might eject), so nothing is sent.
	expect(t, documented(callEditMsg, e.call(callEditMsg, "meeting_id", m.IntID, "message_id", human.ID, "message", "x")), 403, "author")
	expect(t, documented(callDeleteMsg, e.call(callDeleteMsg, "meeting_id", m.IntID, "message_id", human.ID)), 403, "make it one")
	if got, ok := chatHas(e.sim.Chat(m.IntID), human.ID); !ok || got.Message != human.Message {
		t.Fatalf("the human's message changed: %+v", got)
	}

	// Unknown message, bad parameters.
	expect(t, documented(callDeleteMsg, e.call(callDeleteMsg, "meeting_id", m.IntID, "message_id", "1730000000000-nosuchid")), 404, "Message was not found")
	expect(t, e.call(callDeleteMsg, "meeting_id", m.IntID), 400, "message_id")
	expect(t, e.call(callEditMsg, "meeting_id", m.IntID, "message_id", own), 400, "message")
	expect(t, e.call(callDeleteMsg, "meeting_id", "no-such-meeting", "message_id", own), 404, "Chat was not found")

	// Its own message: deleted.
	expect(t, documented(callDeleteMsg, e.call(callDeleteMsg, "meeting_id", m.IntID, "message_id", own)), 200, "BBB shows it")
	if _, ok := chatHas(e.sim.Chat(m.IntID), own); ok {
		t.Fatal("BBB still shows the deleted message")
	}

	// A moderator chat user deletes others' messages, except in a breakout room.
	m2, _, human2 := e.joinBridge("ext-mod-moderator-"+version, bbbsim.MeetingOptions{}, bbbsim.RoleModerator)
	expect(t, e.call(callDeleteMsg, "meeting_id", m2.IntID, "message_id", human2.ID), 200, "BBB shows it")
	if _, ok := chatHas(e.sim.Chat(m2.IntID), human2.ID); ok {
		t.Fatal("BBB still shows the message the moderator deleted")
	}
	m3, _, human3 := e.joinBridge("ext-mod-breakout-"+version, bbbsim.MeetingOptions{ParentID: m2.IntID}, bbbsim.RoleModerator)
	expect(t, e.call(callDeleteMsg, "meeting_id", m3.IntID, "message_id", human3.ID), 403, "breakout")

	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped requests: %+v", d)
	}
}

// TestModerationBefore30 shows that 2.x answers 409: it cannot edit or delete chat messages.
func TestModerationBefore30(t *testing.T) {
	e := newEnv(t, "2.7")
	m, _, human := e.joinBridge("ext-mod-27", bbbsim.MeetingOptions{}, bbbsim.RoleModerator)
	expect(t, e.call(callEditMsg, "meeting_id", m.IntID, "message_id", human.ID, "message", "x"), 409, "no such feature")
	expect(t, e.call(callDeleteMsg, "meeting_id", m.IntID, "message_id", human.ID), 409, "BBB 2.7 cannot")
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped requests: %+v", d)
	}
}
