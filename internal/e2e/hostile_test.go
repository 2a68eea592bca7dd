package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bbb-chat/bbb-chat/internal/chattext"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// TestReplayAndRotation: a checksum is accepted once across all ingress processes on the same NATS, and during a
// rotation of the shared secret calls signed with either secret are accepted; afterwards only the new one.
func TestReplayAndRotation(t *testing.T) {
	e := newEnv(t, "2.7")
	m, err := e.sim.CreateMeeting(t.Context(), "ext-replay", "Replay")
	if err != nil {
		t.Fatal(err)
	}
	e.waitKnown(m.IntID)
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")

	// A second ingress in the middle of a rotation: the new secret, and the env's as the old one.
	const newSecret = "the-new-shared-secret"
	_, second := e.startIngressWith(map[string]string{
		"BBB_CHAT_SHARED_SECRET": newSecret, "BBB_CHAT_SHARED_SECRET_OLD": e.secret,
	})
	first := e.api()

	t.Run("replay to another process", func(t *testing.T) {
		body := sign(callInfo, strs("meeting_id", m.IntID), e.secret, time.Now().Unix())
		expect(t, first.post("/api/getChatInfo", body), 200, "Chat info")
		expect(t, second.post("/api/getChatInfo", body), 401, "Checksum was already used.")
		expect(t, first.post("/api/getChatInfo", body), 401, "Checksum was already used.")
		// And the other way round, with the new secret (which only the second process knows).
		body = sign(callInfo, strs("meeting_id", m.IntID), newSecret, time.Now().Unix())
		expect(t, second.post("/api/getChatInfo", body), 200, "Chat info")
		expect(t, second.post("/api/getChatInfo", body), 401, "Checksum was already used.")
		expect(t, first.post("/api/getChatInfo", body), 401, "Checksum was incorrect.")
	})
	t.Run("both secrets during the rotation", func(t *testing.T) {
		old := second
		old.secret = e.secret
		expect(t, old.call(callInfo, "meeting_id", m.IntID), 200, "Chat info")
		expect(t, second.call(callInfo, "meeting_id", m.IntID), 200, "Chat info")
		other := second
		other.secret = "neither"
		expect(t, other.call(callInfo, "meeting_id", m.IntID), 401, "Checksum was incorrect.")
	})
	t.Run("only the new secret after the rotation", func(t *testing.T) {
		_, after := e.startIngressWith(map[string]string{"BBB_CHAT_SHARED_SECRET": newSecret})
		expect(t, after.call(callInfo, "meeting_id", m.IntID), 200, "Chat info")
		old := after
		old.secret = e.secret
		expect(t, old.call(callInfo, "meeting_id", m.IntID), 401, "Checksum was incorrect.")
	})
}

// TestMalformedRequests sends every kind of malformed request: each gets a JSON error with the right status,
// the services stay up, and nothing stored changes.
func TestMalformedRequests(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-malformed", "Malformed")
	recv := newReceiver(t)
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge", "callback_uri", recv.URL(),
		"callback_secret", "cb-secret"), 200, "started")
	if _, err := e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER"); err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Bridge", true)
	before := e.snapshot()
	chatBefore := len(e.sim.Chat(m.IntID))

	now := time.Now().Unix()
	signed := func(call, params string) []byte { return signRaw(call, params, e.secret, now) }
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	digits := strings.Repeat("9", 5000)
	send := "/api/sendChatMessage/" + m.IntID
	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		status int
		msg    string
	}{
		{"not JSON", "POST", "/api/getChatInfo", []byte(`meeting_id=x&checksum=y`), 400, "The body must be a JSON object"},
		{"truncated", "POST", "/api/getChatInfo", []byte(`{"meeting_id": "x"`), 400, "The body must be a JSON object"},
		{"trailing garbage", "POST", "/api/getChatInfo", []byte(`{"meeting_id": "x"} {}`), 400, "The body must be a JSON object"},
		{"array", "POST", "/api/getChatInfo", []byte(`[{"meeting_id": "x"}]`), 400, "The body must be a JSON object."},
		{"null", "POST", "/api/getChatInfo", []byte(`null`), 400, "The body must be a JSON object."},
		{"number", "POST", "/api/getChatInfo", []byte(`12`), 400, "The body must be a JSON object."},
		{"string", "POST", "/api/getChatInfo", []byte(`"meeting_id"`), 400, "The body must be a JSON object."},
		{"empty", "POST", "/api/getChatInfo", nil, 400, "The body must be a JSON object"},
		{"invalid UTF-8", "POST", "/api/getChatInfo", []byte("{\"meeting_id\": \"\xff\xfe\", \"checksum\": \"x\"}"), 400, "The body must be a JSON object"},
		{"UTF-16", "POST", "/api/getChatInfo", []byte("\xff\xfe{\x00}\x00"), 400, "The body must be a JSON object"},
		{"NUL byte", "POST", "/api/getChatInfo", []byte("{\"meeting_id\": \"a\x00\"}"), 400, "The body must be a JSON object"},
		{"too deep", "POST", "/api/getChatInfo", []byte(`{"meeting_id": "x", "d": ` + deep(600) + `}`), 400, "The body must be a JSON object"},
		{"no checksum", "POST", "/api/getChatInfo", []byte(`{"meeting_id": "x"}`), 401, "No checksum was given."},
		{"checksum null", "POST", "/api/getChatInfo", []byte(`{"meeting_id": "x", "checksum": null}`), 401, "Checksum was incorrect."},
		{"checksum number", "POST", "/api/getChatInfo", []byte(`{"meeting_id": "x", "checksum": 1e999}`), 401, "Checksum was incorrect."},
		{"checksum upper case", "POST", "/api/getChatInfo", upperSum(signed(callInfo, `{"meeting_id":"x"}`)), 401, "Checksum was incorrect."},
		{"two checksums", "POST", "/api/getChatInfo", []byte(strings.Replace(string(signed(callInfo, `{"meeting_id":"x"}`)), `{`, `{"checksum":"00",`, 1)), 401, "Checksum was incorrect."},
		{"null for a string", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":null}`), 400, "Parameter meeting_id is missing."},
		{"number for a string", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":42}`), 400, "must be a string, not int"},
		{"huge integer", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":`+digits+`}`), 400, ""},
		{"huge float", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":1e999999}`), 400, "must be a string, not float"},
		{"NaN", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":NaN}`), 400, "must be a string, not float"},
		{"list for a string", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":["x"]}`), 400, "must be a string, not array"},
		{"object for a string", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":{"$ne":null}}`), 400, "must be a string, not object"},
		{"bool for a string", "POST", send, signed(callSend, `{"user_name":true,"message":"x"}`), 400, "user_name must be a string, not bool"},
		{"empty string", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":""}`), 400, "meeting_id must not be empty"},
		{"empty message", "POST", send, signed(callSend, `{"user_name":"a","message":""}`), 400, "message must not be empty"},
		{"blank user name", "POST", send, signed(callSend, `{"user_name":" \n\t","message":"x"}`), 400, "user_name must not be empty"},
		{"duplicate keys, last wins", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":"`+m.IntID+`","meeting_id":7}`), 400, "must be a string, not int"},
		{"duplicate keys to another meeting", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":"`+m.IntID+`","meeting_id":"nope"}`), 404, "Chat was not found"},
		{"lone surrogate", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":"\ud800"}`), 404, "Chat was not found"},
		{"deep but allowed", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":"nope","d":`+deep(500)+`}`), 404, "Chat was not found"},
		{"user name too long", "POST", send, signed(callSend, `{"user_name":"`+strings.Repeat("n", 256)+`","message":"x"}`), 400, "at most 255"},
		{"message too long", "POST", send, signed(callSend, `{"user_name":"a","message":"`+strings.Repeat("é", 5001)+`"}`), 400, "at most 5000"},
		{"meeting id too long", "POST", "/api/getChatInfo", signed(callInfo, `{"meeting_id":"`+strings.Repeat("m", 257)+`"}`), 400, "at most 256"},
		{"path id too long", "POST", "/api/sendChatMessage/" + strings.Repeat("m", 257), signed(callSend, `{"user_name":"a","message":"x"}`), 400, "in the path must be 1 to 256"},
		{"callback to loopback", "POST", "/api/startChatForMeeting", signed(callStart, `{"meeting_id":"other","chat_user":"u","callback_uri":"http://[::1]/x","callback_secret":"s"}`), 400, "loopback"},
		{"callback to metadata", "POST", "/api/startChatForMeeting", signed(callStart, `{"meeting_id":"other","chat_user":"u","callback_uri":"http://169.254.169.254/","callback_secret":"s"}`), 400, "link-local"},
		{"callback to a mapped address", "POST", "/api/startChatForMeeting", signed(callStart, `{"meeting_id":"other","chat_user":"u","callback_uri":"http://[::ffff:10.0.0.1]/","callback_secret":"s"}`), 400, "private"},
		{"callback to 0.0.0.0", "POST", "/api/startChatForMeeting", signed(callStart, `{"meeting_id":"other","chat_user":"u","callback_uri":"http://0.0.0.0:80/","callback_secret":"s"}`), 400, "callback_uri is refused"},
		{"callback to a name that does not resolve", "POST", "/api/startChatForMeeting", signed(callStart, `{"meeting_id":"other","chat_user":"u","callback_uri":"http://no-such-host.invalid/","callback_secret":"s"}`), 400, "does not resolve"},
		{"callback scheme", "POST", "/api/startChatForMeeting", signed(callStart, `{"meeting_id":"other","chat_user":"u","callback_uri":"file:///etc/passwd","callback_secret":"s"}`), 400, "http or https"},
		{"start again", "POST", "/api/startChatForMeeting", signed(callStart, `{"meeting_id":"`+m.IntID+`","chat_user":"Mallory"}`), 409, "Chat is already registered"},
		{"10 MB", "POST", "/api/getChatInfo", bytes.Repeat([]byte("x"), 10<<20), 413, "The body is too large.: at most 65536 bytes"},
		{"just over the limit", "POST", "/api/getChatInfo", bytes.Repeat([]byte(" "), 65537), 413, "too large"},
		{"GET", "GET", "/api/getChatInfo", nil, 405, "Method not allowed: use POST"},
		{"PUT", "PUT", "/api/startChatForMeeting", []byte(`{}`), 405, "Method not allowed"},
		{"DELETE", "DELETE", "/api/endChatForMeeting", nil, 405, "Method not allowed"},
		{"OPTIONS", "OPTIONS", "/api/endChatForMeeting", nil, 405, "Method not allowed"},
		{"unknown call", "POST", "/api/deleteEverything", []byte(`{}`), 404, "No such API call"},
		{"send without id", "POST", "/api/sendChatMessage", []byte(`{}`), 404, "No such API call"},
		{"send with empty id", "POST", "/api/sendChatMessage/", []byte(`{}`), 404, "No such API call"},
		{"send with two ids", "POST", "/api/sendChatMessage/a/b", []byte(`{}`), 404, "No such API call"},
		{"trailing slash", "POST", "/api/getChatInfo/", []byte(`{}`), 404, "No such API call"},
		{"dot segments", "POST", "/api/../api/getChatInfo", []byte(`{}`), 404, "No such API call"},
		{"root", "POST", "/", []byte(`{}`), 404, "No such API call"},
		{"case", "POST", "/api/GETCHATINFO", []byte(`{}`), 404, "No such API call"},
	}
	client := &http.Client{Timeout: 20 * time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.apiURL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			a := readAnswer(t, tc.path, resp)
			if a.Status != tc.status || a.Body["success"] != false || !strings.Contains(a.Body["message"].(string), tc.msg) {
				t.Fatalf("got %d %s; want %d with %q", a.Status, truncate(a.Raw, 300), tc.status, tc.msg)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
	if e.ingress.Exited() || e.relay.Exited() {
		t.Fatal("a service died")
	}
	testenv.WaitHTTP(t, e.apiURL+"/readyz", 5*time.Second)
	testenv.WaitHTTP(t, e.relayURL+"/readyz", 5*time.Second)
	if after := e.snapshot(); after != before {
		t.Fatalf("stored state changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if n := len(e.sim.Chat(m.IntID)); n != chatBefore {
		t.Fatalf("%d messages reached BBB", n-chatBefore)
	}
	if d := recv.deliveries(); len(d) != 0 {
		t.Fatalf("callbacks sent: %+v", d)
	}
	// The service still works.
	expect(t, e.send(m.IntID, "Alice", "still here"), 200, "sent")
}

// upperSum writes a body's checksum in upper case hex.
func upperSum(body []byte) []byte {
	i := bytes.Index(body, []byte(`"checksum":"`)) + len(`"checksum":"`)
	return append(append(body[:i:i], bytes.ToUpper(body[i:len(body)-2])...), body[len(body)-2:]...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// TestLimits: header size, slow clients (headers and bodies dribbled), and the number of bridges.
func TestLimits(t *testing.T) {
	e := newEnv(t, "2.7")
	host := strings.TrimPrefix(e.apiURL, "http://")

	t.Run("slow clients are cut off", func(t *testing.T) {
		// Both dribblers run at once: the header one is cut after ReadHeaderTimeout (5s), the body one after
		// ReadTimeout (15s) with a 408.
		type result struct {
			took   time.Duration
			answer string
			err    error
		}
		dribble := func(head string, each func(i int) string) chan result {
			out := make(chan result, 1)
			go func() {
				c, err := net.Dial("tcp", host)
				if err != nil {
					out <- result{err: err}
					return
				}
				defer c.Close()
				start := time.Now()
				c.Write([]byte(head))
				read := make(chan string, 1)
				go func() {
					b, _ := io.ReadAll(c)
					read <- string(b)
				}()
				for i := 0; ; i++ {
					select {
					case ans := <-read:
						out <- result{took: time.Since(start), answer: ans}
						return
					case <-time.After(300 * time.Millisecond):
					}
					if time.Since(start) > 40*time.Second {
						out <- result{err: errors.New("still connected after 40s")}
						return
					}
					c.Write([]byte(each(i)))
				}
			}()
			return out
		}
		headers := dribble("POST /api/getChatInfo HTTP/1.1\r\nHost: x\r\n", func(i int) string { return fmt.Sprintf("X-Slow-%d: y\r\n", i) })
		body := dribble("POST /api/getChatInfo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{", func(int) string { return " " })
		h := <-headers
		if h.err != nil || h.took < 4*time.Second || h.took > 8*time.Second {
			t.Errorf("header dribbler: cut after %s, %v (answer %q); want about 5s", h.took, h.err, h.answer)
		}
		b := <-body
		if b.err != nil || b.took > 20*time.Second {
			t.Errorf("body dribbler: cut after %s, %v; want within about 15s", b.took, b.err)
		}
		if !strings.HasPrefix(b.answer, "HTTP/1.1 408 ") || !strings.Contains(b.answer, `"success":false`) {
			t.Errorf("body dribbler got %q; want a 408 with a JSON error", b.answer)
		}
	})
	t.Run("headers too large", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.apiURL+"/api/getChatInfo", strings.NewReader(`{}`))
		req.Header.Set("X-Big", strings.Repeat("a", 40<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(string(body), `"success":false`) {
			t.Fatalf("status %d %q; want 431 with a JSON error", resp.StatusCode, body)
		}
	})
	t.Run("bridges are bounded", func(t *testing.T) {
		_, small := e.startIngressWith(map[string]string{"BBB_CHAT_MAX_BRIDGES": "2"})
		expect(t, small.call(callStart, "meeting_id", "bound-1", "chat_user", "u"), 200, "started")
		expect(t, small.call(callStart, "meeting_id", "bound-2", "chat_user", "u"), 200, "started")
		expect(t, small.call(callStart, "meeting_id", "bound-3", "chat_user", "u"), 429, "Too many chats are running: the limit is 2 (BBB_CHAT_MAX_BRIDGES)")
		expect(t, small.call(callEnd, "meeting_id", "bound-1"), 200, "ended")
		expect(t, small.call(callStart, "meeting_id", "bound-3", "chat_user", "u"), 200, "started")
	})
	if e.ingress.Exited() {
		t.Fatal("ingress died")
	}
	testenv.WaitHTTP(t, e.apiURL+"/readyz", 5*time.Second)
}

// TestHostileChatContent sends hostile user names, messages and templates through the real binaries into the
// BBB 2.7 simulator: no markup reaches the chat, the text is what the template says with the name made one clean
// line, and every message comes from the chat user.
func TestHostileChatContent(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-hostile", "Hostile")
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")
	uid, err := e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	e.waitPresent(m.IntID, "Bridge", true)

	names := []string{
		"Alice",
		"<script>alert(1)</script>",
		`"><img src=x onerror=alert(1)>`,
		"Bob\nAlice: forged line",
		"Eve\r\n\r\nMallory",
		"Trudy\u2028Victor\u2029Walter\u0085Zed",
		"\u202eevil\u202c.exe",
		"nul\x00and\x1bescape\x7f",
		"&lt;b&gt;already escaped&lt;/b&gt;",
		"'single' & \"double\" `tick`",
		"javascript:alert(1)",
		"{message}{user_name}",
		"lone \xed\xa0\x80 surrogate",
		"   padded   ",
		"😀 Jürgen",
	}
	messages := []string{
		"hello",
		"<img src=x onerror=alert(1)>",
		"<a href='javascript:alert(1)'>click</a>",
		"</div><div class=chat-message>Moderator: forged",
		"line one\nBob: line two",
		"&amp; &lt;b&gt; &#60;script&#62;",
		"<br/>break<br>",
		"{user_name} and {message}",
		"<!-- comment --> <![CDATA[x]]> <?php ?>",
	}
	templates := []string{
		bbb.DefaultTemplate,
		"<b>{user_name}</b> says: {message}",
		`<a href="{user_name}">{message}</a>`,
		"{message} — {user_name}'\"&",
	}
	v27 := bbb.Version{Major: 2, Minor: 7}
	n := len(e.sim.Chat(m.IntID))
	for ti, tmpl := range templates {
		c := e.api()
		if tmpl != bbb.DefaultTemplate {
			_, c = e.startIngressWith(map[string]string{"BBB_CHAT_MESSAGE_TEMPLATE": tmpl})
		}
		for i := range max(len(names), len(messages)) {
			name, msg := names[i%len(names)], messages[(i+ti)%len(messages)]
			t.Run(fmt.Sprintf("template %d case %d", ti, i), func(t *testing.T) {
				a := c.post("/api/sendChatMessage/"+m.IntID, sign(callSend, []pyjson.Member{
					{Key: "user_name", Value: pyjson.String(name)},
					{Key: "message", Value: pyjson.String(msg)},
					{Key: "nonce", Value: pyjson.Int(time.Now().UnixNano())},
				}, c.secret, time.Now().Unix()))
				expect(t, a, 200, "sent")
				n++
				got := e.waitChat(m.IntID, n)[n-1]
				if got.SenderID != uid || got.SenderName != "Bridge" {
					t.Fatalf("posted as %s %q, want the chat user %s", got.SenderID, got.SenderName, uid)
				}
				if err := chattext.Safe(got.Message); err != nil {
					t.Fatal(err)
				}
				// What a 2.x client shows, once its HTML is read: the template with the clean name and the message.
				shown := bbb.PlainText(v27, got.Message)
				clean := bbb.SanitizeName(asReceived(name))
				want := strings.NewReplacer("{user_name}", clean, "{message}", asReceived(msg)).Replace(tmpl)
				want = strings.ReplaceAll(want, "\r\n", "\n")
				if shown != want {
					t.Fatalf("chat shows %q, want %q", shown, want)
				}
				if strings.ContainsAny(clean, "\r\n\u2028\u2029\u0085\u202e") || !utf8.ValidString(clean) {
					t.Fatalf("name %q keeps a line break or an override: %q", name, clean)
				}
				if tmpl == bbb.DefaultTemplate && !strings.HasPrefix(shown, clean+": ") {
					t.Fatalf("chat %q does not start with the sender's clean name %q", shown, clean)
				}
			})
		}
	}
	if d := e.sim.Dropped(); len(d) != 0 {
		t.Fatalf("BBB dropped messages: %+v", d)
	}
}

// asReceived is a string as ingress reads it from a JSON body (lone surrogates become U+FFFD).
func asReceived(s string) string {
	v, err := pyjson.Parse(pyjson.Dumps(pyjson.String(s)))
	if err != nil {
		panic(err)
	}
	r, _ := v.Str()
	return r
}
