package bbbsim

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

const mid = "8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700"

// chat27 is the 2.6/2.7 request of docs/protocol.md §3.2, whose broadcast is the captured one.
const chat27 = `{"envelope":{"name":"SendGroupChatMessageMsg","routing":{"meetingId":"` + mid + `","userId":"w_xfsb9gxtlfom"},"timestamp":1698771232680},` +
	`"core":{"header":{"name":"SendGroupChatMessageMsg","meetingId":"` + mid + `","userId":"w_xfsb9gxtlfom"},` +
	`"body":{"msg":{"correlationId":"w_xfsb9gxtlfom-1698771232678","sender":{"id":"w_xfsb9gxtlfom","name":"","role":""},"chatEmphasizedText":true,"message":"Public chat test"},"chatId":"MAIN-PUBLIC-GROUP-CHAT"}}}`

// chat24 is the 2.2–2.4 request of docs/protocol.md §3.2.
const chat24 = `{"envelope":{"name":"SendGroupChatMessageMsg","routing":{"meetingId":"m","userId":"w_abc"},"timestamp":1616000000000},` +
	`"core":{"header":{"name":"SendGroupChatMessageMsg","meetingId":"m","userId":"w_abc"},` +
	`"body":{"msg":{"color":"0","correlationId":"w_abc-1616000000000","sender":{"id":"w_abc","name":"Bot"},"message":"hello"},"chatId":"MAIN-PUBLIC-GROUP-CHAT"}}}`

// chat30 is the 3.0 request of docs/protocol.md §3.2.
const chat30 = `{"envelope":{"name":"SendGroupChatMessageMsg","routing":{"meetingId":"m","userId":"w_abc"},"timestamp":1730000000000},` +
	`"core":{"header":{"name":"SendGroupChatMessageMsg","meetingId":"m","userId":"w_abc"},` +
	`"body":{"chatId":"MAIN-PUBLIC-GROUP-CHAT","msg":{"correlationId":"w_abc-1730000000000","sender":{"id":"w_abc","name":"","role":""},"message":"hello **world**","replyToMessageId":"","metadata":{}}}}}`

// api30 is the 3.0 API post of docs/protocol.md §3.5.
const api30 = `{"envelope":{"name":"SendGroupChatMessageFromApiSysPubMsg","routing":{"sender":"bbb-web"},"timestamp":1730000000000},` +
	`"core":{"header":{"name":"SendGroupChatMessageFromApiSysPubMsg","meetingId":"m","userId":"not-used"},` +
	`"body":{"userName":"Chat Bridge","message":"Hello from outside"}}}`

// register26 and join26 are a 2.6 registration and join (docs/protocol.md §4.4).
const register26 = `{"envelope":{"name":"RegisterUserReqMsg","routing":{"sender":"bbb-web"},"timestamp":1698771160000},` +
	`"core":{"header":{"name":"RegisterUserReqMsg","meetingId":"m"},` +
	`"body":{"meetingId":"m","intUserId":"w_chatbridge01","name":"Chat Bridge","role":"VIEWER","extUserId":"chat-bridge","authToken":"s","avatarURL":"","guest":false,"authed":true,"guestStatus":"ALLOW","excludeFromDashboard":true}}}`

const join26 = `{"envelope":{"name":"UserJoinMeetingReqMsg","routing":{"meetingId":"m","userId":"w_chatbridge01"},"timestamp":1698771160500},` +
	`"core":{"header":{"name":"UserJoinMeetingReqMsg","meetingId":"m","userId":"w_chatbridge01"},` +
	`"body":{"userId":"w_chatbridge01","authToken":"s","clientType":"HTML5"}}}`

// replace edits a request string for a negative case.
func replace(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic("test fixture does not contain " + old)
	}
	return strings.Replace(s, old, new, 1)
}

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name    string
		version ver
		raw     string
		reason  string // "" = accepted
		warning string // substring of a warning, if any
	}{
		{"2.7 request of the capture", v27, chat27, "", ""},
		{"2.5 takes the 2.7 shape", v25, chat27, "", ""},
		{"2.4 shape on 2.4", v24, chat24, "", ""},
		{"2.2 shape on 2.2", v22, chat24, "", ""},
		{"3.0 shape on 3.0", v30, chat30, "", ""},
		{"API post on 3.0", v30, api30, "", ""},
		{"register on 2.6", v26, register26, "", ""},
		{"join on 2.7", v27, join26, "", ""},
		{"2.4 shape on 2.7", v27, chat24,
			`SendGroupChatMessageMsg: body.msg: unknown field "color" for 2.7; body.msg.sender: missing field "role" for 2.7; body.msg: missing field "chatEmphasizedText" for 2.7`, ""},
		{"2.7 shape on 2.4", v24, chat27,
			`SendGroupChatMessageMsg: body.msg: unknown field "chatEmphasizedText" for 2.4; body.msg.sender: unknown field "role" for 2.4; body.msg: missing field "color" for 2.4`, ""},
		{"2.7 shape on 3.0", v30, chat27,
			`SendGroupChatMessageMsg: body.msg: unknown field "chatEmphasizedText" for 3.0; body.msg: missing field "replyToMessageId" for 3.0; body.msg: missing field "metadata" for 3.0`, ""},
		{"3.0 shape on 2.7", v27, chat30,
			`SendGroupChatMessageMsg: body.msg: unknown field "metadata" for 2.7; body.msg: unknown field "replyToMessageId" for 2.7; body.msg: missing field "chatEmphasizedText" for 2.7`, ""},
		{"API post on 2.7", v27, api30,
			`SendGroupChatMessageFromApiSysPubMsg: not handled by simulator: akka-apps 2.7 has no such message`, ""},
		{"2.6 register on 2.3", v23, register26,
			`RegisterUserReqMsg: body: unknown field "excludeFromDashboard" for 2.3`, ""},
		{"2.7 join on 3.0", v30, join26, `UserJoinMeetingReqMsg: body: missing field "clientIsMobile" for 3.0`, ""},
		{"register with a client header", v26,
			replace(register26, `"meetingId":"m"},`, `"meetingId":"m","userId":"w_chatbridge01"},`),
			`RegisterUserReqMsg: header: unknown field "userId" for 2.6`, ""},
		{"missing timestamp", v27, replace(chat27, `,"timestamp":1698771232680`, ``),
			`SendGroupChatMessageMsg: envelope: missing field "timestamp"`, ""},
		{"string timestamp", v27, replace(chat27, `1698771232680`, `"1698771232680"`),
			`SendGroupChatMessageMsg: envelope.timestamp: want integer, got string`, ""},
		{"routing value a number", v27, replace(chat27, `"userId":"w_xfsb9gxtlfom"},"timestamp"`, `"userId":7},"timestamp"`),
			`SendGroupChatMessageMsg: envelope.routing.userId: want string, got integer`, ""},
		{"no envelope name", v27, replace(chat27, `"name":"SendGroupChatMessageMsg","routing"`, `"routing"`),
			`(no envelope.name): envelope: missing field "name"`, ""},
		{"array instead of object", v27, `[]`, `message: want object, got array`, ""},
		{"trailing data", v27, chat27 + `{}`, `invalid JSON: trailing data after the JSON value`, ""},
		{"core is null", v27, replace(chat27, `"core":{"header"`, `"core":null,"x":{"header"`),
			`SendGroupChatMessageMsg: message: unknown field "x"`, ""},
		{"null string accepted with a warning", v27, replace(chat27, `"message":"Public chat test"`, `"message":null`),
			"", `body.msg.message: null`},
		{"null header refused", v27,
			replace(chat27, `"header":{"name":"SendGroupChatMessageMsg","meetingId":"`+mid+`","userId":"w_xfsb9gxtlfom"}`, `"header":null`),
			`SendGroupChatMessageMsg: header: null where akka needs an object for 2.7`, ""},
		{"header name differs", v27,
			replace(chat27, `"header":{"name":"SendGroupChatMessageMsg"`, `"header":{"name":"Other"`),
			"", `header.name "Other" differs`},
		{"metadata must be an object", v30, replace(chat30, `"metadata":{}`, `"metadata":[]`),
			`SendGroupChatMessageMsg: body.msg.metadata: want object, got array for 3.0`, ""},
		{"userMetadata values must be strings", v30, registerUser30(`{"k":1}`),
			`RegisterUserReqMsg: body.userMetadata.k: want string, got integer for 3.0`, ""},
		{"userMetadata of strings", v30, registerUser30(`{"k":"v"}`), "", ""},
		{"unknown name", v27, replace(chat27, `"name":"SendGroupChatMessageMsg","routing"`, `"name":"PresenterAssignedEvtMsg","routing"`),
			`PresenterAssignedEvtMsg: not handled by simulator`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := parseRequest([]byte(c.raw), c.version)
			if c.reason != "" {
				if err == nil {
					t.Fatalf("accepted, want %q", c.reason)
				}
				if err.Error() != c.reason {
					t.Fatalf("reason\n got %s\nwant %s", err, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("dropped: %v", err)
			}
			warnings := strings.Join(req.warnings, "\n")
			if c.warning == "" && warnings != "" || !strings.Contains(warnings, c.warning) {
				t.Errorf("warnings %q, want %q", warnings, c.warning)
			}
		})
	}
}

func registerUser30(userMetadata string) string {
	return `{"envelope":{"name":"RegisterUserReqMsg","routing":{"sender":"bbb-web"},"timestamp":1},` +
		`"core":{"header":{"name":"RegisterUserReqMsg","meetingId":"m"},"body":{"meetingId":"m","intUserId":"w_x",` +
		`"name":"n","firstName":"","lastName":"","role":"VIEWER","extUserId":"x","authToken":"t","sessionToken":"s",` +
		`"avatarURL":"","webcamBackgroundURL":"","bot":true,"guest":false,"authed":true,"guestStatus":"ALLOW",` +
		`"excludeFromDashboard":true,"enforceLayout":"","logoutUrl":"","userMetadata":` + userMetadata + `}}}`
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{chat27, chat24, chat30, api30, register26, join26, `{}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, v := range allVersions {
			req, err := parseRequest(raw, v)
			if (req == nil) == (err == nil) {
				t.Fatalf("%s: request %v and error %v", v, req, err)
			}
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("%s: empty reason", v)
				}
				continue
			}
			// Whatever passes has exactly its case class's header and body.
			spec, ok := requestSpec(v, req.name)
			if !ok || req.header == nil || req.body == nil {
				t.Fatalf("%s: accepted %q without a spec", v, req.name)
			}
			var c checker
			c.value("body", spec.body, req.body)
			c.value("header", spec.header, req.header)
			if len(c.probs) > 0 {
				t.Fatalf("%s: accepted a message with problems %v", v, c.probs)
			}
		}
	})
}

func TestHTML5Process(t *testing.T) {
	cases := []struct{ in, want string }{
		{"  hello  ", "hello"},
		{`<script>alert("x")</script>`, `&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;`},
		{"it's & fine", "it&#39;s & fine"},
		{"a<br/>b<BR>c<br />d", "a\n\rb\n\rc\n\rd"},
		{"see https://example.com/path?q=1#f now",
			"see <a href='event:https://example.com/path?q=1#f'><u>https://example.com/path?q=1#f</u></a> now"},
		{"http://bbb.example.org", "<a href='event:http://bbb.example.org'><u>http://bbb.example.org</u></a>"},
		{"HTTPS://EXAMPLE.COM", "<a href='event:HTTPS://EXAMPLE.COM'><u>HTTPS://EXAMPLE.COM</u></a>"},
		{"ftp://files.example.net:2121/x", "<a href='event:ftp://files.example.net:2121/x'><u>ftp://files.example.net:2121/x</u></a>"},
		{"http://localhost/x", "http://localhost/x"}, // no TLD: not a URL to the HTML5 server
		{"example.com", "example.com"}, // no scheme
		{"https://example.com/<b>", "<a href='event:https://example.com/&lt;b&gt;'><u>https://example.com/&lt;b&gt;</u></a>"},
	}
	for _, c := range cases {
		if got := HTML5Process(c.in); got != c.want {
			t.Errorf("HTML5Process(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestEncodeLikeJackson(t *testing.T) {
	got := string(encode(o("a", "<b>&é\u2028", "skip", nil, "n", int64(-3), "ok", true, "ctl", "x\n\t\x01\"\\",
		"arr", []string{}, "m", map[string]string{"z": "1", "a": "2"})))
	want := "{\"a\":\"<b>&é\u2028\",\"n\":-3,\"ok\":true,\"ctl\":\"x\\n\\t\\u0001\\\"\\\\\",\"arr\":[],\"m\":{\"a\":\"2\",\"z\":\"1\"}}"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	var v any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Fatal(err)
	}
}

// TestEventsGolden pins every event the simulator builds, per version, in testdata/golden/events-<version>.jsonl.
// Run with -update after a deliberate change and review the diff.
func TestEventsGolden(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			m := &meeting{
				Meeting:        Meeting{IntID: mid, ExtID: "random-9019868", Name: "random-9019868", CreatedTime: 1698771157700},
				dashboardToken: "igucwyjkab6i", voiceConf: "71347",
			}
			u := &user{User: User{ID: "w_xfsb9gxtlfom", ExtID: "w_xfsb9gxtlfom", Name: "John Doe", Role: RoleModerator,
				Color: "#7b1fa2", Locked: true}, clientType: "HTML5"}
			c := &ChatMessage{ID: "1698771232706-9idm9pxf", Timestamp: 1698771232706, Emphasized: v >= v25}
			var outs []outMsg
			outs = append(outs, meetingCreated(v, m, 1698771158093)...)
			outs = append(outs, userRegistered(v, mid, &regUser{id: u.ID, name: u.Name, role: u.Role,
				excludeFromDashboard: false, registeredOn: 1698771164000}, 1698771164001)...)
			outs = append(outs, userJoined(v, mid, u, 1698771164638)...)
			sender := chatSender{id: u.ID, name: u.Name}
			if v >= v25 {
				sender.role = u.Role
			}
			c.Message = "Public chat test <b>&amp;</b>"
			outs = append(outs, chatBroadcast(v, mid, u.ID, MainPublicChat, c, sender,
				"w_xfsb9gxtlfom-1698771232678", "0", c.Message, "", msgTypeDefault, map[string]any{}, 1698771232712)...)
			if v >= firstEditsVersion {
				// Edits, deletes and reactions (3.0+), pins (4.0+), as the scripted actions publish them.
				s := &Sim{v: v, now: func() time.Time { return time.UnixMilli(1698771240000) }}
				mt := &meeting{Meeting: m.Meeting, users: []*user{u}, chats: map[string]bool{MainPublicChat: true},
					chat: []ChatMessage{{ID: c.ID, ChatID: MainPublicChat, SenderID: u.ID, Message: c.Message}}}
				steps := []outcome{
					s.applyEdit(mt, u.ID, MainPublicChat, c.ID, "Public chat test, **edited**\nline two"),
					s.applyReaction(mt, u.ID, MainPublicChat, c.ID, "👍", true),
					s.applyReaction(mt, u.ID, MainPublicChat, c.ID, "👍", false),
				}
				if v >= firstPinsVersion {
					steps = append(steps, s.applyPin(mt, u.ID, MainPublicChat, c.ID, true),
						s.applyPin(mt, u.ID, MainPublicChat, c.ID, false))
				}
				steps = append(steps, s.applyDelete(mt, u.ID, MainPublicChat, c.ID))
				for _, st := range steps {
					if st.drop != "" || len(st.outs) != 1 {
						t.Fatalf("action: %+v", st)
					}
					outs = append(outs, st.outs...)
				}
			}
			outs = append(outs, chatCleared(mid, u.ID, MainPublicChat, 1698771290000)...)
			outs = append(outs, userLeft(v, mid, "w_uxw0dzhtvk0l", 1698771293000)...)
			outs = append(outs, meetingEnd(v, mid, 1698771310209)...)
			var b bytes.Buffer
			for _, o := range outs {
				b.WriteString(o.channel)
				b.WriteByte(' ')
				b.Write(o.data)
				b.WriteByte('\n')
				if !json.Valid(o.data) {
					t.Errorf("invalid JSON on %s: %s", o.channel, o.data)
				}
			}
			testenv.Golden(t, filepath.Join("testdata", "golden", "events-"+v.String()+".txt"), b.Bytes(), *update)
		})
	}
}

// TestCaptured27IsRebuiltExactly checks that, given the captured meeting's values, the 2.7 builders reproduce the
// captured chat broadcast and user events byte for byte.
func TestCaptured27IsRebuiltExactly(t *testing.T) {
	lines, err := os.ReadFile(filepath.Join("testdata", "bbb-2.7-captured-raw.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	captured := strings.Split(strings.TrimSpace(string(lines)), "\n")
	u := &user{User: User{ID: "w_xfsb9gxtlfom", ExtID: "w_xfsb9gxtlfom", Name: "John Doe", Role: RoleModerator,
		Color: "#7b1fa2", Locked: true}, clientType: "HTML5"}
	c := &ChatMessage{ID: "1698771232706-9idm9pxf", Timestamp: 1698771232706, Emphasized: true}
	for _, tc := range []struct {
		line int
		got  []outMsg
	}{
		{1, userJoined(v27, mid, u, 1698771164638)},
		{2, chatBroadcast(v27, mid, u.ID, MainPublicChat, c, chatSender{u.ID, u.Name, u.Role},
			"w_xfsb9gxtlfom-1698771232678", nil, "Public chat test", nil, msgTypeDefault, nil, 1698771232712)},
		{3, userLeft(v27, mid, "w_uxw0dzhtvk0l", 1698771293000)},
		{4, meetingEnd(v27, mid, 1698771310209)[3:4]},
	} {
		if got := string(tc.got[0].data); got != captured[tc.line] {
			t.Errorf("line %d:\n got %s\nwant %s", tc.line+1, got, captured[tc.line])
		}
	}
}
