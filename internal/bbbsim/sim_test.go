package bbbsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
)

// The expected shapes below are written out from docs/protocol.md independently of the simulator's own tables.

func broadcastMsgKeys(v string) []string {
	switch {
	case upTo24(v):
		return []string{"id", "timestamp", "correlationId", "sender", "color", "message"}
	case is40(v):
		return []string{"id", "timestamp", "correlationId", "sender", "chatEmphasizedText", "message",
			"messageAsHtml", "replyToMessageId", "messageType", "metadata"}
	case v == "3.0":
		return []string{"id", "timestamp", "correlationId", "sender", "chatEmphasizedText", "message",
			"replyToMessageId"}
	default:
		return []string{"id", "timestamp", "correlationId", "sender", "chatEmphasizedText", "message"}
	}
}

func senderKeys(v string) []string {
	if upTo24(v) {
		return []string{"id", "name"}
	}
	return []string{"id", "name", "role"}
}

func joinedKeys(v string) []string {
	switch v {
	case "2.2", "2.3", "2.4":
		return []string{"intId", "extId", "name", "role", "guest", "authed", "guestStatus", "emoji", "presenter",
			"locked", "avatar", "clientType"}
	case "2.5":
		return []string{"intId", "extId", "name", "role", "guest", "authed", "guestStatus", "emoji", "pin",
			"presenter", "locked", "avatar", "clientType"}
	case "2.6":
		return []string{"intId", "extId", "name", "role", "guest", "authed", "guestStatus", "emoji", "pin",
			"presenter", "locked", "avatar", "color", "clientType"}
	case "2.7":
		return []string{"intId", "extId", "name", "role", "guest", "authed", "guestStatus", "emoji",
			"reactionEmoji", "raiseHand", "away", "pin", "presenter", "locked", "avatar", "color", "clientType"}
	case "3.0":
		return []string{"intId", "extId", "name", "role", "bot", "guest", "authed", "guestStatus",
			"reactionEmoji", "raiseHand", "away", "pin", "presenter", "locked", "avatar", "webcamBackground",
			"color", "clientType", "userMetadata"}
	default:
		return []string{"intId", "extId", "name", "role", "bot", "guest", "authed", "guestStatus",
			"reactionEmoji", "raiseHand", "away", "pin", "presenter", "locked", "avatar", "webcamBackground",
			"color", "clientType", "joinRequestMetadata", "userMetadata"}
	}
}

func leftKeys(v string) []string {
	if upTo24(v) {
		return []string{"intId"}
	}
	return []string{"intId", "eject", "ejectedBy", "reason", "reasonCode"}
}

// chatMsg is a correctly shaped body.msg of SendGroupChatMessageMsg for version v.
func chatMsg(v, senderID, text string) M {
	corr := senderID + "-1698771232678"
	switch {
	case upTo24(v):
		return M{"color": "#abcdef", "correlationId": corr, "sender": M{"id": senderID, "name": "client-sent-name"},
			"message": text}
	case from30(v):
		return M{"correlationId": corr, "sender": M{"id": senderID, "name": "", "role": ""}, "message": text,
			"replyToMessageId": "1698771232706-9idm9pxf", "metadata": M{}}
	default:
		return M{"correlationId": corr, "sender": M{"id": senderID, "name": "", "role": ""},
			"chatEmphasizedText": true, "message": text}
	}
}

func request(name string, routing, header, body M) M {
	return M{
		"envelope": M{"name": name, "routing": routing, "timestamp": 1698771232680},
		"core":     M{"header": header, "body": body},
	}
}

func clientRequest(name, meetingID, userID string, body M) M {
	return request(name, M{"meetingId": meetingID, "userId": userID},
		M{"name": name, "meetingId": meetingID, "userId": userID}, body)
}

func sendChat(meetingID, userID string, msg M) M {
	return clientRequest("SendGroupChatMessageMsg", meetingID, userID, M{"chatId": publicChat, "msg": msg})
}

func registerBody(v, meetingID, userID, token string) M {
	b := M{"meetingId": meetingID, "intUserId": userID, "name": "Chat Bridge", "role": "VIEWER",
		"extUserId": "chat-bridge", "authToken": token, "avatarURL": "", "guest": false, "authed": true,
		"guestStatus": "ALLOW"}
	switch v {
	case "2.2", "2.3":
	case "3.0", "4.0":
		extra := M{"firstName": "Chat", "lastName": "Bridge", "sessionToken": "st", "webcamBackgroundURL": "",
			"bot": true, "excludeFromDashboard": true, "enforceLayout": "", "logoutUrl": "", "userMetadata": M{}}
		if v == "4.0" {
			extra["joinRequestMetadata"] = M{}
		}
		for k, x := range extra {
			b[k] = x
		}
	default:
		b["excludeFromDashboard"] = true
	}
	return b
}

func joinBody(v, userID, token string) M {
	b := M{"userId": userID, "authToken": token, "clientType": "HTML5"}
	if from30(v) {
		b["clientIsMobile"] = false
	}
	return b
}

func leaveBody(v, meetingID, userID string) M {
	b := M{"userId": userID, "sessionId": meetingID}
	if v != "2.2" {
		b["loggedOut"] = true
	}
	return b
}

var msgID = regexp.MustCompile(`^([0-9]{13})-[a-z0-9]{8}$`)

// checkBroadcast asserts the full key set of a GroupChatMessageBroadcastEvtMsg at every level and returns body.msg.
func checkBroadcast(t *testing.T, v string, p published, meetingID, headerUserID string) M {
	t.Helper()
	assertEnvelope(t, p.m, routingMeeting, headerClient)
	bodyKeys := []string{"chatId", "msg"}
	if is40(v) {
		bodyKeys = []string{"chatId", "chatParticipants", "msg"}
	}
	assertKeys(t, p.m, bodyKeys, "core", "body")
	assertKeys(t, p.m, broadcastMsgKeys(v), "core", "body", "msg")
	assertKeys(t, p.m, senderKeys(v), "core", "body", "msg", "sender")
	for path, want := range map[string]string{
		"envelope.routing.msgType":   "BROADCAST_TO_MEETING",
		"envelope.routing.meetingId": meetingID,
		"envelope.routing.userId":    headerUserID,
		"core.header.name":           "GroupChatMessageBroadcastEvtMsg",
		"core.header.meetingId":      meetingID,
		"core.header.userId":         headerUserID,
		"core.body.chatId":           publicChat,
	} {
		if got := str(p.m, strings.Split(path, ".")...); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	msg := obj(p.m, "core", "body", "msg")
	mm := msgID.FindStringSubmatch(str(msg, "id"))
	if mm == nil {
		t.Fatalf("msg.id %q is not <ms>-<8 lowercase alnum>", str(msg, "id"))
	}
	if ts := msg["timestamp"].(json.Number).String(); ts != mm[1] {
		t.Errorf("msg.timestamp %s does not match the id %s", ts, str(msg, "id"))
	}
	return msg
}

func TestVersions(t *testing.T) {
	for _, v := range bbbsim.Versions() {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			testVersion(t, v)
		})
	}
}

func testVersion(t *testing.T, v string) {
	h := newHarness(t, v)
	ctx := t.Context()
	if h.sim.Version() != v {
		t.Fatalf("Version() = %q", h.sim.Version())
	}

	mt, err := h.sim.CreateMeeting(ctx, "random-9019868", "random-9019868")
	if err != nil {
		t.Fatal(err)
	}
	const wantIntID = "8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700"
	if mt.IntID != wantIntID || mt.CreatedTime != startMs || mt.ExtID != "random-9019868" {
		t.Fatalf("meeting %+v, want internal id %s", mt, wantIntID)
	}
	mid := mt.IntID
	p := h.expect(mainCh, "MeetingCreatedEvtMsg")
	assertEnvelope(t, p.m, routingSystem, headerBase)
	assertKeys(t, p.m, []string{"props"}, "core", "body")
	if str(p.m, "core", "body", "props", "meetingProp", "intId") != mid ||
		str(p.m, "core", "body", "props", "meetingProp", "extId") != "random-9019868" {
		t.Errorf("meetingProp does not carry both ids: %s", p.raw)
	}
	h.expectAlsoFrontend(p)

	alice, err := h.sim.Join(ctx, mid, "Alice", bbbsim.RoleModerator)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^w_[a-z0-9]{12}$`).MatchString(alice) {
		t.Errorf("user id %q is not w_ + 12 lowercase alnum", alice)
	}
	p = h.expect(mainCh, "UserJoinedMeetingEvtMsg")
	assertEnvelope(t, p.m, routingMeeting, headerClient)
	assertKeys(t, p.m, joinedKeys(v), "core", "body")
	if str(p.m, "core", "body", "intId") != alice || str(p.m, "core", "body", "role") != "MODERATOR" ||
		get(p.m, "core", "body", "locked") != true {
		t.Errorf("joined event: %s", p.raw)
	}
	bob, err := h.sim.Join(ctx, mid, "Bob", bbbsim.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	h.expect(mainCh, "UserJoinedMeetingEvtMsg")
	if us := h.sim.Users(mid); len(us) != 2 || us[0].ID != alice || us[1].ID != bob || us[1].Name != "Bob" {
		t.Fatalf("Users = %+v", us)
	}

	t.Run("accepted chat has the exact shape", func(t *testing.T) {
		h := h.at(t)
		text := `hello <b>&amp;</b> "x" 'y'`
		h.publish(sendChat(mid, bob, chatMsg(v, bob, text)))
		p := h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
		msg := checkBroadcast(t, v, p, mid, bob)
		if got := str(msg, "sender", "id"); got != bob {
			t.Errorf("sender.id = %q", got)
		}
		if got := str(msg, "sender", "name"); got != "Bob" {
			t.Errorf("sender.name = %q, want akka's record %q, not what the client sent", got, "Bob")
		}
		if !upTo24(v) && str(msg, "sender", "role") != "VIEWER" {
			t.Errorf("sender.role = %q", str(msg, "sender", "role"))
		}
		if got := str(msg, "correlationId"); got != bob+"-1698771232678" {
			t.Errorf("correlationId = %q", got)
		}
		if got := str(msg, "message"); got != text {
			t.Errorf("message = %q, want it unchanged", got)
		}
		if !strings.Contains(p.raw, `hello <b>&amp;</b>`) {
			t.Errorf("akka writes < > & raw, got %s", p.raw)
		}
		switch {
		case upTo24(v):
			if str(msg, "color") != "#abcdef" {
				t.Errorf("color not echoed: %s", p.raw)
			}
		case from30(v):
			if msg["chatEmphasizedText"] != false {
				t.Errorf("3.0 computes chatEmphasizedText (false for a viewer): %s", p.raw)
			}
			if str(msg, "replyToMessageId") != "1698771232706-9idm9pxf" {
				t.Errorf("replyToMessageId not echoed: %s", p.raw)
			}
		default:
			if msg["chatEmphasizedText"] != true {
				t.Errorf("2.5–2.7 copy chatEmphasizedText from the request: %s", p.raw)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, waitFor)
		defer cancel()
		chat, err := h.sim.WaitChat(wctx, mid, 1)
		if err != nil {
			t.Fatal(err)
		}
		c := chat[0]
		if c.ID != str(msg, "id") || c.SenderID != bob || c.SenderName != "Bob" || c.Message != text ||
			c.ChatID != publicChat || c.CorrelationID != bob+"-1698771232678" {
			t.Errorf("Chat()[0] = %+v", c)
		}
	})

	t.Run("violations are dropped and nothing is published", func(t *testing.T) {
		h := h.at(t)
		other := "3.0" // a shape of another family
		if from30(v) {
			other = "2.7"
		}
		neighbour := "2.4" // the neighbouring shape change (§3.2)
		if upTo24(v) {
			neighbour = "2.7"
		}
		good := func() M { return sendChat(mid, bob, chatMsg(v, bob, "x")) }
		edit := func(f func(m M)) M { m := good(); f(m); return m }
		msgOf := func(m M) M { return obj(m, "core", "body", "msg") }
		type tc struct {
			name string
			in   any
			want string // substring of the drop reason
		}
		cases := []tc{
			{"extra field in body.msg", edit(func(m M) { msgOf(m)["bogus"] = "1" }),
				`SendGroupChatMessageMsg: body.msg: unknown field "bogus" for ` + v},
			{"missing field in body.msg", edit(func(m M) { delete(msgOf(m), "message") }),
				`body.msg: missing field "message" for ` + v},
			{"wrong type", edit(func(m M) { msgOf(m)["message"] = 42 }),
				`body.msg.message: want string, got integer for ` + v},
			{"wrong type in sender", edit(func(m M) { obj(msgOf(m), "sender")["id"] = true }),
				`body.msg.sender.id: want string, got boolean`},
			{"extra field in body", edit(func(m M) { obj(m, "core", "body")["color"] = "0" }),
				`body: unknown field "color"`},
			{"header without userId", edit(func(m M) { delete(obj(m, "core", "header"), "userId") }),
				`header: missing field "userId" for ` + v},
			{"header with an extra field", edit(func(m M) { obj(m, "core", "header")["sender"] = "x" }),
				`header: unknown field "sender"`},
			{"non-string routing value", edit(func(m M) { obj(m, "envelope", "routing")["userId"] = 5 }),
				`envelope.routing.userId: want string, got integer`},
			{"routing not an object", edit(func(m M) { obj(m, "envelope")["routing"] = "x" }),
				`envelope.routing: want object, got string`},
			{"missing envelope timestamp", edit(func(m M) { delete(obj(m, "envelope"), "timestamp") }),
				`envelope: missing field "timestamp"`},
			{"fractional timestamp", edit(func(m M) { obj(m, "envelope")["timestamp"] = 1.5 }),
				`envelope.timestamp: want integer, got number`},
			{"extra top-level field", edit(func(m M) { m["extra"] = M{} }), `message: unknown field "extra"`},
			{"extra core field", edit(func(m M) { obj(m, "core")["extra"] = M{} }), `core: unknown field "extra"`},
			{"null sender", edit(func(m M) { msgOf(m)["sender"] = nil }),
				`body.msg.sender: null where akka needs an object`},
			{"other family's shape", sendChat(mid, bob, chatMsg(other, bob, "x")), `body.msg: unknown field`},
			{"neighbouring version's shape", sendChat(mid, bob, chatMsg(neighbour, bob, "x")),
				`body.msg: unknown field`},
			{"unknown sender", sendChat(mid, "w_nobody00000", chatMsg(v, "w_nobody00000", "x")),
				`sender "w_nobody00000" (header.userId) is not a user in meeting`},
			{"unknown chat", edit(func(m M) { obj(m, "core", "body")["chatId"] = "1698771232706-nochat00" }),
				`chat "1698771232706-nochat00" does not exist`},
			{"unknown meeting", sendChat("0000000000000000000000000000000000000000-1", bob, chatMsg(v, bob, "x")),
				`is not running`},
			{"not JSON", `{"envelope":`, `invalid JSON`},
			{"unknown message name", clientRequest("SomethingElseReqMsg", mid, bob, M{}),
				`SomethingElseReqMsg: not handled by simulator`},
		}
		switch {
		case upTo24(v):
			cases = append(cases, tc{"2.5 field on " + v, edit(func(m M) { msgOf(m)["chatEmphasizedText"] = true }),
				`body.msg: unknown field "chatEmphasizedText" for ` + v})
		case from30(v):
			cases = append(cases, tc{"2.x field on " + v, edit(func(m M) { msgOf(m)["chatEmphasizedText"] = true }),
				`body.msg: unknown field "chatEmphasizedText" for ` + v})
		default:
			cases = append(cases,
				tc{"color on " + v, edit(func(m M) { msgOf(m)["color"] = "0" }),
					`SendGroupChatMessageMsg: body.msg: unknown field "color" for ` + v},
				tc{"string boolean", edit(func(m M) { msgOf(m)["chatEmphasizedText"] = "true" }),
					`body.msg.chatEmphasizedText: want boolean, got string for ` + v})
		}
		base := len(h.sim.Dropped())
		for i, c := range cases {
			h.publish(c.in)
			d := h.waitDrop(base + i + 1)
			if !strings.Contains(d.Reason, c.want) {
				t.Errorf("%s: reason %q, want it to contain %q", c.name, d.Reason, c.want)
			}
			if len(d.Raw) == 0 {
				t.Errorf("%s: drop without the raw message", c.name)
			}
		}
		// The simulator handles requests in order and publishes before it takes the next, so if any of the
		// dropped requests had produced an event it would come before this one.
		h.publish(sendChat(mid, alice, chatMsg(v, alice, "marker")))
		p := h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
		if got := str(p.m, "core", "body", "msg", "message"); got != "marker" {
			t.Fatalf("first event after the drops is %q, want the marker", got)
		}
	})

	t.Run("null is accepted with a warning", func(t *testing.T) {
		h := h.at(t)
		m := sendChat(mid, bob, chatMsg(v, bob, "x"))
		obj(m, "core", "body", "msg")["correlationId"] = nil
		h.publish(m)
		p := h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
		if _, ok := obj(p.m, "core", "body", "msg")["correlationId"]; ok {
			t.Errorf("akka leaves null fields out of its events: %s", p.raw)
		}
		ws := h.sim.Warnings()
		if len(ws) == 0 || !strings.Contains(ws[len(ws)-1].Reason, "body.msg.correlationId: null") {
			t.Errorf("warnings = %+v", ws)
		}
	})

	t.Run("locked viewer, moderator and SYSTEM", func(t *testing.T) {
		h := h.at(t)
		h.sim.SetLock(mid, true)
		n := len(h.sim.Dropped())
		h.publish(sendChat(mid, bob, chatMsg(v, bob, "locked out")))
		if d := h.waitDrop(n + 1); !strings.Contains(d.Reason, "locked viewer") {
			t.Errorf("reason %q", d.Reason)
		}
		h.publish(sendChat(mid, alice, chatMsg(v, alice, "moderators are never locked")))
		p := h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
		msg := checkBroadcast(t, v, p, mid, alice)
		if from30(v) && msg["chatEmphasizedText"] != true {
			t.Errorf("3.0 emphasises moderators: %s", p.raw)
		}

		h.publish(sendChat(mid, "SYSTEM", chatMsg(v, "SYSTEM", "from the system")))
		if is40(v) { // 4.0 accepts only a joined user here (docs/protocol.md §3.8)
			if d := h.waitDrop(n + 2); !strings.Contains(d.Reason, `sender "SYSTEM" (header.userId) is not a user`) {
				t.Errorf("SYSTEM on 4.0: reason %q", d.Reason)
			}
			h.sim.SetLock(mid, false)
			h.publish(sendChat(mid, bob, chatMsg(v, bob, "unlocked")))
			h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
			return
		}
		p = h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
		msg = checkBroadcast(t, v, p, mid, "SYSTEM")
		wantSender := M{"id": "SYSTEM", "name": "", "role": "VIEWER"}
		if upTo24(v) {
			wantSender = M{"id": "SYSTEM", "name": "SYSTEM"}
		}
		if got := jsonLine(t, msg["sender"]); got != jsonLine(t, wantSender) {
			t.Errorf("SYSTEM sender = %s, want %s", got, jsonLine(t, wantSender))
		}

		h.sim.SetLock(mid, false)
		h.publish(sendChat(mid, bob, chatMsg(v, bob, "unlocked")))
		h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
	})

	t.Run("API post", func(t *testing.T) {
		h := h.at(t)
		api := request("SendGroupChatMessageFromApiSysPubMsg", M{"sender": "bbb-web"},
			M{"name": "SendGroupChatMessageFromApiSysPubMsg", "meetingId": mid, "userId": "not-used"},
			M{"userName": "Chat Bridge", "message": "Hello from outside"})
		n := len(h.sim.Dropped())
		h.publish(api)
		if !from30(v) {
			d := h.waitDrop(n + 1)
			if !strings.Contains(d.Reason, "not handled by simulator") {
				t.Errorf("reason %q", d.Reason)
			}
			return
		}
		p := h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
		msg := checkBroadcast(t, v, p, mid, "Chat Bridge")
		want := M{"id": "SYSTEM", "name": "Chat Bridge", "role": "VIEWER"}
		if jsonLine(t, msg["sender"]) != jsonLine(t, want) || str(msg, "correlationId") != "SYSTEM" ||
			msg["chatEmphasizedText"] != true || str(msg, "replyToMessageId") != "" ||
			str(msg, "message") != "Hello from outside" {
			t.Errorf("API broadcast: %s", p.raw)
		}
	})

	t.Run("bot joins, posts and leaves over Redis", func(t *testing.T) {
		h := h.at(t)
		const bot, token = "w_chatbridge01", "secret-token"
		h.publish(request("RegisterUserReqMsg", M{"sender": "bbb-web"},
			M{"name": "RegisterUserReqMsg", "meetingId": mid}, registerBody(v, mid, bot, token)))
		p := h.expect(mainCh, "UserRegisteredRespMsg")
		assertEnvelope(t, p.m, routingSystem, headerMeeting)
		h.publish(clientRequest("UserJoinMeetingReqMsg", mid, bot, joinBody(v, bot, token)))
		p = h.expect(mainCh, "UserJoinedMeetingEvtMsg")
		assertKeys(t, p.m, joinedKeys(v), "core", "body")
		if str(p.m, "core", "body", "extId") != "chat-bridge" || str(p.m, "core", "body", "name") != "Chat Bridge" {
			t.Errorf("joined: %s", p.raw)
		}
		if from30(v) && get(p.m, "core", "body", "bot") != true {
			t.Errorf("3.0 bot flag: %s", p.raw)
		}

		h.publish(sendChat(mid, bot, chatMsg(v, bot, "bridged")))
		p = h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
		checkBroadcast(t, v, p, mid, bot)

		h.publish(clientRequest("UserLeaveReqMsg", mid, bot, leaveBody(v, mid, bot)))
		p = h.expect(mainCh, "UserLeftMeetingEvtMsg")
		assertEnvelope(t, p.m, routingMeeting, headerClient)
		assertKeys(t, p.m, leftKeys(v), "core", "body")
		h.expectAlsoFrontend(p)

		n := len(h.sim.Dropped())
		h.publish(sendChat(mid, bot, chatMsg(v, bot, "gone")))
		if d := h.waitDrop(n + 1); !strings.Contains(d.Reason, "is not a user") {
			t.Errorf("reason %q", d.Reason)
		}
		// Wrong shapes of the user requests are dropped too.
		wrong := registerBody(v, mid, "w_other", "t2")
		wrong["excludeFromDashboard"] = "yes"
		if v == "2.2" || v == "2.3" {
			delete(wrong, "authed")
		}
		h.publish(request("RegisterUserReqMsg", M{"sender": "bbb-web"},
			M{"name": "RegisterUserReqMsg", "meetingId": mid, "userId": "x"}, wrong))
		if d := h.waitDrop(n + 2); !strings.Contains(d.Reason, `header: unknown field "userId"`) {
			t.Errorf("reason %q", d.Reason)
		}
	})

	t.Run("scripted Say applies the HTML5 server's processing on 2.x", func(t *testing.T) {
		h := h.at(t)
		in := "  <i>hi</i> it's \"here\": https://example.com/a?b=1  "
		want := in // 3.0 keeps the Markdown text as it is
		if is2x(v) {
			want = `&lt;i&gt;hi&lt;/i&gt; it&#39;s &quot;here&quot;: ` +
				`<a href='event:https://example.com/a?b=1'><u>https://example.com/a?b=1</u></a>`
		}
		c, err := h.sim.Say(ctx, mid, bob, in)
		if err != nil {
			t.Fatal(err)
		}
		if c.Message != want {
			t.Errorf("Say stored %q, want %q", c.Message, want)
		}
		p := h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg")
		msg := checkBroadcast(t, v, p, mid, bob)
		if str(msg, "message") != want || str(msg, "id") != c.ID || str(msg, "sender", "name") != "Bob" {
			t.Errorf("broadcast %s, Say returned %+v", p.raw, c)
		}
		if !strings.HasPrefix(c.CorrelationID, bob+"-") {
			t.Errorf("correlationId %q", c.CorrelationID)
		}

		h.sim.SetLock(mid, true)
		if _, err := h.sim.Say(ctx, mid, bob, "no"); !errors.Is(err, bbbsim.ErrDropped) {
			t.Errorf("locked Say: %v", err)
		}
		h.sim.SetLock(mid, false)
		if _, err := h.sim.Say(ctx, mid, "w_nobody00000", "no"); !errors.Is(err, bbbsim.ErrDropped) {
			t.Errorf("Say by a stranger: %v", err)
		}
	})

	t.Run("clear chat", func(t *testing.T) {
		h := h.at(t)
		if len(h.sim.Chat(mid)) == 0 {
			t.Fatal("nothing to clear")
		}
		if err := h.sim.ClearChat(ctx, mid, bob); !errors.Is(err, bbbsim.ErrDropped) {
			t.Errorf("viewer clears: %v", err)
		}
		n := len(h.sim.Dropped())
		h.publish(clientRequest("ClearPublicChatHistoryPubMsg", mid, "SYSTEM", M{"chatId": publicChat}))
		if d := h.waitDrop(n + 1); !strings.Contains(d.Reason, "only a moderator") {
			t.Errorf("SYSTEM clears: %q", d.Reason)
		}
		if err := h.sim.ClearChat(ctx, mid, alice); err != nil {
			t.Fatal(err)
		}
		p := h.expect(chatCh, "ClearPublicChatHistoryEvtMsg")
		assertEnvelope(t, p.m, routingMeeting, headerClient)
		assertKeys(t, p.m, []string{"chatId"}, "core", "body")
		if str(p.m, "core", "header", "userId") != alice {
			t.Errorf("clear event: %s", p.raw)
		}
		if c := h.sim.Chat(mid); len(c) != 0 {
			t.Errorf("chat after clear: %+v", c)
		}
	})

	t.Run("leave and end", func(t *testing.T) {
		h := h.at(t)
		if err := h.sim.Leave(ctx, mid, bob); err != nil {
			t.Fatal(err)
		}
		p := h.expect(mainCh, "UserLeftMeetingEvtMsg")
		assertKeys(t, p.m, leftKeys(v), "core", "body")
		if str(p.m, "core", "body", "intId") != bob {
			t.Errorf("left: %s", p.raw)
		}
		h.expectAlsoFrontend(p)
		if err := h.sim.Leave(ctx, mid, bob); !errors.Is(err, bbbsim.ErrNoUser) {
			t.Errorf("second Leave: %v", err)
		}

		if err := h.sim.EndMeeting(ctx, mid); err != nil {
			t.Fatal(err)
		}
		p = h.expect(mainCh, "MeetingEndingEvtMsg")
		assertEnvelope(t, p.m, routingMeeting, headerClient)
		assertKeys(t, p.m, []string{"meetingId", "reason"}, "core", "body")
		h.expectAlsoFrontend(p)
		p = h.expect(mainCh, "MeetingEndedEvtMsg")
		assertEnvelope(t, p.m, routingSystem, headerBase)
		assertKeys(t, p.m, []string{"meetingId"}, "core", "body")
		p = h.expect(mainCh, "MeetingDestroyedEvtMsg")
		assertEnvelope(t, p.m, routingSystem, headerBase)
		if str(p.m, "core", "body", "meetingId") != mid {
			t.Errorf("destroyed: %s", p.raw)
		}
		h.expectAlsoFrontend(p)

		n := len(h.sim.Dropped())
		h.publish(sendChat(mid, alice, chatMsg(v, alice, "too late")))
		if d := h.waitDrop(n + 1); !strings.Contains(d.Reason, "is not running") {
			t.Errorf("reason %q", d.Reason)
		}
		if _, err := h.sim.Join(ctx, mid, "Late", bbbsim.RoleViewer); !errors.Is(err, bbbsim.ErrNoMeeting) {
			t.Errorf("Join after end: %v", err)
		}
		if u := h.sim.Users(mid); len(u) != 0 {
			t.Errorf("users after end: %+v", u)
		}
	})
}

func TestStartUnknownVersion(t *testing.T) {
	_, err := bbbsim.Start(t.Context(), nil, bbbsim.Options{Version: "2.8"})
	if !errors.Is(err, bbbsim.ErrVersion) {
		t.Fatalf("err = %v", err)
	}
}

func TestScriptedActionErrors(t *testing.T) {
	h := newHarness(t, "2.7")
	m, err := h.sim.CreateMeeting(t.Context(), "x", "x")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := h.sim.CreateMeeting(t.Context(), "x", "other name"); err != nil || again != m {
		t.Fatalf("creating a running meeting again: %+v, %v; want %+v", again, err, m)
	}
	if _, err := h.sim.Join(t.Context(), m.IntID, "A", "PRESENTER"); !errors.Is(err, bbbsim.ErrBadRole) {
		t.Fatalf("err = %v", err)
	}
	if _, err := h.sim.Join(t.Context(), "nope", "A", bbbsim.RoleViewer); !errors.Is(err, bbbsim.ErrNoMeeting) {
		t.Fatalf("err = %v", err)
	}
}

// TestShapesMatchCapture27 compares the structure of the 2.7 events with the events captured on a real 2.7
// server: the same keys at every level and the same JSON types.
func TestShapesMatchCapture27(t *testing.T) {
	captured := map[string]M{}
	for _, line := range readLines(t, "testdata/bbb-2.7-captured-raw.jsonl") {
		m := decode(t, line)
		captured[str(m, "envelope", "name")] = m
	}
	h := newHarness(t, "2.7")
	ctx := t.Context()
	mt, err := h.sim.CreateMeeting(ctx, "random-9019868", "random-9019868")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]M{}
	got["MeetingCreatedEvtMsg"] = h.expect(mainCh, "MeetingCreatedEvtMsg").m
	h.expect(frontendCh, "MeetingCreatedEvtMsg")
	u, _ := h.sim.Join(ctx, mt.IntID, "John Doe", bbbsim.RoleModerator)
	got["UserJoinedMeetingEvtMsg"] = h.expect(mainCh, "UserJoinedMeetingEvtMsg").m
	if _, err := h.sim.Say(ctx, mt.IntID, u, "Public chat test"); err != nil {
		t.Fatal(err)
	}
	got["GroupChatMessageBroadcastEvtMsg"] = h.expect(mainCh, "GroupChatMessageBroadcastEvtMsg").m
	if err := h.sim.Leave(ctx, mt.IntID, u); err != nil {
		t.Fatal(err)
	}
	got["UserLeftMeetingEvtMsg"] = h.expect(mainCh, "UserLeftMeetingEvtMsg").m
	h.expect(frontendCh, "UserLeftMeetingEvtMsg")
	if err := h.sim.EndMeeting(ctx, mt.IntID); err != nil {
		t.Fatal(err)
	}
	h.expect(mainCh, "MeetingEndingEvtMsg")
	h.expect(frontendCh, "MeetingEndingEvtMsg")
	h.expect(mainCh, "MeetingEndedEvtMsg")
	got["MeetingDestroyedEvtMsg"] = h.expect(mainCh, "MeetingDestroyedEvtMsg").m

	for name, g := range got {
		c, ok := captured[name]
		if !ok {
			t.Fatalf("no captured %s", name)
		}
		if diff := structureDiff("", c, g); diff != "" {
			t.Errorf("%s differs from the capture:\n%s", name, diff)
		}
	}
	// The captured meeting's ids are reproduced.
	if want := str(captured["MeetingCreatedEvtMsg"], "core", "body", "props", "meetingProp", "intId"); mt.IntID != want {
		t.Errorf("internal id %s, captured %s", mt.IntID, want)
	}
}

// structureDiff lists where b's keys or JSON types differ from a's.
func structureDiff(path string, a, b any) string {
	ta, tb := fmt.Sprintf("%T", a), fmt.Sprintf("%T", b)
	if ta != tb {
		return fmt.Sprintf("%s: %s vs %s\n", path, ta, tb)
	}
	ma, ok := a.(M)
	if !ok {
		return ""
	}
	mb := b.(M)
	var out strings.Builder
	ka, kb := keys(ma), keys(mb)
	if strings.Join(ka, ",") != strings.Join(kb, ",") {
		fmt.Fprintf(&out, "%s: keys %v vs %v\n", path, ka, kb)
	}
	for _, k := range ka {
		if vb, ok := mb[k]; ok {
			out.WriteString(structureDiff(path+"."+k, ma[k], vb))
		}
	}
	return out.String()
}
