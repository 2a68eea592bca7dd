package bbb

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

var allVersions = []Version{{2, 2}, {2, 3}, {2, 4}, {2, 5}, {2, 6}, {2, 7}, {3, 0}}

func goldenChatPost(v Version) ChatPost {
	return ChatPost{
		MeetingID:     capturedMeeting,
		UserID:        "w_xfsb9gxtlfom",
		CorrelationID: "w_xfsb9gxtlfom-1698771232678",
		// Render output, so the golden files also pin the per-version text.
		Message:   Render(v, DefaultTemplate, "Ada *Lovelace*", "a < b & \"c\" 'd'\nnext line"),
		Timestamp: 1698771232680,
	}
}

func goldenAPIChatPost() APIChatPost {
	return APIChatPost{MeetingID: m30, UserName: "Chat Bridge", Message: "Hello from outside", Timestamp: 1730000000000}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", "golden", name), got, *update)
}

func TestGoldenEncodeChatPost(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			got, err := EncodeChatPost(v, goldenChatPost(v))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "chat-post-"+v.String()+".json", got)
		})
	}
}

func TestGoldenEncodeAPIChatPost(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			got, err := EncodeAPIChatPost(v, goldenAPIChatPost())
			if !v.HasAPIChat() {
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("EncodeAPIChatPost(%v) = %s, %v; want ErrUnsupported", v, got, err)
				}
				if got != nil {
					t.Errorf("output on error: %s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "api-chat-post-"+v.String()+".json", got)
		})
	}
}

// Wire shapes, written by hand from docs/protocol.md §3.2 (SendGroupChatMessageMsg)
// and §3.5 (SendGroupChatMessageFromApiSysPubMsg): every key at every level, in
// the order BBB's own producers emit them, with the JSON type of each leaf
// (s string, n number, b bool, {} empty object). Order: the envelope as the 2.x
// HTML5 server, 3.0's GraphQL actions and bbb-web build it; 2.2–2.4 msg as the
// 2.3/2.4 client sends it; 2.5–2.7 msg as the 2.6 client; 3.0 msg as the GraphQL
// actions (the §3.2 3.0 example lists the same keys in another order, which
// Jackson ignores).
const (
	envelopeClient = `envelope:{name:s,routing:{meetingId:s,userId:s},timestamp:n}`
	headerClient   = `header:{name:s,meetingId:s,userId:s}`
	shapeLegacy    = `{` + envelopeClient + `,core:{` + headerClient + `,body:{msg:{color:s,correlationId:s,sender:{id:s,name:s},message:s},chatId:s}}}`
	shapeRole      = `{` + envelopeClient + `,core:{` + headerClient + `,body:{msg:{correlationId:s,sender:{id:s,name:s,role:s},chatEmphasizedText:b,message:s},chatId:s}}}`
	shapeV3        = `{` + envelopeClient + `,core:{` + headerClient + `,body:{msg:{correlationId:s,message:s,sender:{id:s,name:s,role:s},replyToMessageId:s,metadata:{}},chatId:s}}}`
	shapeAPI       = `{envelope:{name:s,routing:{sender:s},timestamp:n},core:{` + headerClient + `,body:{userName:s,message:s}}}`
)

func TestWireShapes(t *testing.T) {
	want := map[Shape]string{ShapeLegacy: shapeLegacy, ShapeRole: shapeRole, ShapeV3: shapeV3}
	for _, v := range append(allVersions, Version{3, 1}) {
		t.Run("chat-"+v.String(), func(t *testing.T) {
			shape := want[v.Shape()]
			raw, err := EncodeChatPost(v, goldenChatPost(v))
			if err != nil {
				t.Fatal(err)
			}
			if got := shapeOf(t, raw); got != shape {
				t.Errorf("wire shape for %v\n got: %s\nwant: %s", v, got, shape)
			}
			// The golden files must have the same shape, so that a careless
			// -update cannot bless a wrong one.
			golden, err := os.ReadFile(filepath.Join("testdata", "golden", "chat-post-"+v.String()+".json"))
			if errors.Is(err, os.ErrNotExist) && v == (Version{3, 1}) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := shapeOf(t, golden); got != shape {
				t.Errorf("golden file shape for %v\n got: %s\nwant: %s", v, got, shape)
			}
		})
	}
	t.Run("api-3.0", func(t *testing.T) {
		for _, raw := range [][]byte{mustEncodeAPI(t, goldenAPIChatPost()), readGolden(t, "api-chat-post-3.0.json")} {
			if got := shapeOf(t, raw); got != shapeAPI {
				t.Errorf("wire shape\n got: %s\nwant: %s", got, shapeAPI)
			}
		}
	})
}

func mustEncodeAPI(t *testing.T, p APIChatPost) []byte {
	t.Helper()
	raw, err := EncodeAPIChatPost(Version{3, 0}, p)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodeMatchesProtocolExamples encodes the inputs of the examples in
// docs/protocol.md §3.2 and §3.5 and compares with them. The 2.6 and API
// examples are what BBB's producers publish, byte for byte. The 2.2 example (as
// another bridge sent it) has a sender name and the 3.0 one lists keys in
// another order; both are compared as JSON values, with the name blanked.
func TestEncodeMatchesProtocolExamples(t *testing.T) {
	compact := func(s string) string {
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(s)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	sameValue := func(t *testing.T, got []byte, want string) {
		t.Helper()
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("value differs\n got: %s\nwant: %s", got, want)
		}
	}

	t.Run("2.6 byte for byte", func(t *testing.T) {
		const doc = `{"envelope":{"name":"SendGroupChatMessageMsg","routing":{"meetingId":"8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700","userId":"w_xfsb9gxtlfom"},"timestamp":1698771232680},
 "core":{"header":{"name":"SendGroupChatMessageMsg","meetingId":"8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700","userId":"w_xfsb9gxtlfom"},
  "body":{"msg":{"correlationId":"w_xfsb9gxtlfom-1698771232678","sender":{"id":"w_xfsb9gxtlfom","name":"","role":""},"chatEmphasizedText":true,"message":"Public chat test"},"chatId":"MAIN-PUBLIC-GROUP-CHAT"}}}`
		got, err := EncodeChatPost(Version{2, 6}, ChatPost{
			MeetingID: capturedMeeting, UserID: "w_xfsb9gxtlfom", CorrelationID: "w_xfsb9gxtlfom-1698771232678",
			Message: "Public chat test", Timestamp: 1698771232680,
		})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != compact(doc) {
			t.Errorf("got  %s\nwant %s", got, compact(doc))
		}
	})
	t.Run("3.0 API byte for byte", func(t *testing.T) {
		const doc = `{"envelope":{"name":"SendGroupChatMessageFromApiSysPubMsg","routing":{"sender":"bbb-web"},"timestamp":1730000000000},
 "core":{"header":{"name":"SendGroupChatMessageFromApiSysPubMsg","meetingId":"<intMeetingId>","userId":"not-used"},
  "body":{"userName":"Chat Bridge","message":"Hello from outside"}}}`
		got := mustEncodeAPI(t, APIChatPost{MeetingID: "<intMeetingId>", UserName: "Chat Bridge", Message: "Hello from outside", Timestamp: 1730000000000})
		if string(got) != compact(doc) {
			t.Errorf("got  %s\nwant %s", got, compact(doc))
		}
	})
	t.Run("2.2 value", func(t *testing.T) {
		doc := `{"envelope":{"name":"SendGroupChatMessageMsg","routing":{"meetingId":"<intMeetingId>","userId":"w_abc"},"timestamp":1616000000000},
 "core":{"header":{"name":"SendGroupChatMessageMsg","meetingId":"<intMeetingId>","userId":"w_abc"},
  "body":{"msg":{"color":"0","correlationId":"w_abc-1616000000000","sender":{"id":"w_abc","name":"Bot"},"message":"hello"},"chatId":"MAIN-PUBLIC-GROUP-CHAT"}}}`
		doc = strings.Replace(doc, `"name":"Bot"`, `"name":""`, 1)
		got, err := EncodeChatPost(Version{2, 2}, ChatPost{MeetingID: "<intMeetingId>", UserID: "w_abc", CorrelationID: "w_abc-1616000000000", Message: "hello", Timestamp: 1616000000000})
		if err != nil {
			t.Fatal(err)
		}
		sameValue(t, got, doc)
	})
	t.Run("3.0 value", func(t *testing.T) {
		const doc = `{"envelope":{"name":"SendGroupChatMessageMsg","routing":{"meetingId":"<intMeetingId>","userId":"w_abc"},"timestamp":1730000000000},
 "core":{"header":{"name":"SendGroupChatMessageMsg","meetingId":"<intMeetingId>","userId":"w_abc"},
  "body":{"chatId":"MAIN-PUBLIC-GROUP-CHAT","msg":{"correlationId":"w_abc-1730000000000","sender":{"id":"w_abc","name":"","role":""},"message":"hello **world**","replyToMessageId":"","metadata":{}}}}}`
		got, err := EncodeChatPost(Version{3, 0}, ChatPost{MeetingID: "<intMeetingId>", UserID: "w_abc", CorrelationID: "w_abc-1730000000000", Message: "hello **world**", Timestamp: 1730000000000})
		if err != nil {
			t.Fatal(err)
		}
		sameValue(t, got, doc)
	})
	// 4.0's SendGroupChatMessageMsgBody and GroupChatMsgFromUser are 3.0's (docs/protocol.md §3.8).
	t.Run("4.0 value is 3.0's", func(t *testing.T) {
		p := ChatPost{MeetingID: "m", UserID: "w_abc", CorrelationID: "w_abc-1760000000000", Message: "hi", Timestamp: 1760000000000}
		v3, err := EncodeChatPost(Version{3, 0}, p)
		if err != nil {
			t.Fatal(err)
		}
		v4, err := EncodeChatPost(Version{4, 0}, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v3, v4) {
			t.Errorf("4.0 post %s differs from 3.0's %s", v4, v3)
		}
	})
}

// shapeOf renders the key structure of a JSON document in the notation of the
// shape constants, keeping key order and duplicates, so that a missing, extra,
// duplicated, reordered or retyped field changes the string.
func shapeOf(t *testing.T, raw []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b strings.Builder
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				b.WriteByte('{')
				for i := 0; dec.More(); i++ {
					key, err := dec.Token()
					if err != nil {
						return err
					}
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%s:", key)
					if err := walk(); err != nil {
						return err
					}
				}
				b.WriteByte('}')
			case '[':
				b.WriteByte('[')
				for i := 0; dec.More(); i++ {
					if i > 0 {
						b.WriteByte(',')
					}
					if err := walk(); err != nil {
						return err
					}
				}
				b.WriteByte(']')
			}
			_, err := dec.Token() // closing delimiter
			return err
		case string:
			b.WriteByte('s')
		case json.Number:
			b.WriteByte('n')
		case bool:
			b.WriteByte('b')
		case nil:
			b.WriteByte('z')
		}
		return nil
	}
	if err := walk(); err != nil {
		t.Fatalf("shapeOf %s: %v", raw, err)
	}
	if dec.More() {
		t.Fatalf("shapeOf %s: trailing data", raw)
	}
	return b.String()
}

// TestEncodeValues checks every value, not just the keys, by decoding the
// output generically.
func TestEncodeValues(t *testing.T) {
	for _, v := range append(allVersions, Version{3, 1}) {
		t.Run(v.String(), func(t *testing.T) {
			p := ChatPost{MeetingID: "m-1", UserID: "w_u", CorrelationID: "w_u-17", Message: "<b>x</b> & \u2028 \x00 ü", Timestamp: 17}
			raw, err := EncodeChatPost(v, p)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Envelope struct {
					Name      string
					Routing   map[string]string
					Timestamp int64
				}
				Core struct {
					Header map[string]string
					Body   struct {
						ChatID string
						Msg    map[string]any
					}
				}
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			const name = "SendGroupChatMessageMsg"
			if got.Envelope.Name != name || got.Envelope.Timestamp != 17 {
				t.Errorf("envelope = %+v", got.Envelope)
			}
			wantIDs := map[string]string{"meetingId": "m-1", "userId": "w_u"}
			if fmt.Sprint(got.Envelope.Routing) != fmt.Sprint(wantIDs) {
				t.Errorf("routing = %v", got.Envelope.Routing)
			}
			wantIDs["name"] = name
			if fmt.Sprint(got.Core.Header) != fmt.Sprint(wantIDs) {
				t.Errorf("header = %v", got.Core.Header)
			}
			if got.Core.Body.ChatID != PublicChatID {
				t.Errorf("chatId = %q", got.Core.Body.ChatID)
			}
			m := got.Core.Body.Msg
			if m["message"] != p.Message || m["correlationId"] != p.CorrelationID {
				t.Errorf("msg = %v", m)
			}
			sender := map[string]any{"id": "w_u", "name": ""}
			switch v.Shape() {
			case ShapeLegacy:
				if m["color"] != "0" {
					t.Errorf("color = %v", m["color"])
				}
			case ShapeRole:
				sender["role"] = ""
				if m["chatEmphasizedText"] != true {
					t.Errorf("chatEmphasizedText = %v", m["chatEmphasizedText"])
				}
			case ShapeV3:
				sender["role"] = ""
				if m["replyToMessageId"] != "" || fmt.Sprint(m["metadata"]) != "map[]" {
					t.Errorf("replyToMessageId = %v, metadata = %v", m["replyToMessageId"], m["metadata"])
				}
			}
			if fmt.Sprint(m["sender"]) != fmt.Sprint(sender) {
				t.Errorf("sender = %v, want %v", m["sender"], sender)
			}
			// A request is not an event: relay must not mistake an echo of it.
			e, err := Decode(raw)
			if err != nil || e.Kind != KindOther || e.Name != name || e.MeetingID != "m-1" || e.Timestamp != 17 {
				t.Errorf("Decode(encoded) = %s, %v", dump(e), err)
			}
		})
	}
	t.Run("api", func(t *testing.T) {
		raw, err := EncodeAPIChatPost(Version{3, 0}, APIChatPost{MeetingID: "m-1", UserName: "Bridge <x>", Message: "a & b", Timestamp: 9})
		if err != nil {
			t.Fatal(err)
		}
		want := `{"envelope":{"name":"SendGroupChatMessageFromApiSysPubMsg","routing":{"sender":"bbb-web"},"timestamp":9},` +
			`"core":{"header":{"name":"SendGroupChatMessageFromApiSysPubMsg","meetingId":"m-1","userId":"not-used"},` +
			`"body":{"userName":"Bridge <x>","message":"a & b"}}}`
		if string(raw) != want {
			t.Errorf("got  %s\nwant %s", raw, want)
		}
	})
}

func TestEncodeErrors(t *testing.T) {
	ok := ChatPost{MeetingID: "m", UserID: "u", CorrelationID: "u-1", Message: "x", Timestamp: 1}
	with := func(f func(*ChatPost)) ChatPost { p := ok; f(&p); return p }
	chatTests := []struct {
		name string
		v    Version
		p    ChatPost
		want error
	}{
		{"zero version", Version{}, ok, ErrUnsupported},
		{"2.1", Version{2, 1}, ok, ErrUnsupported},
		{"2.8", Version{2, 8}, ok, ErrUnsupported},
		{"5.0", Version{5, 0}, ok, ErrUnsupported},
		{"no meeting", Version{2, 7}, with(func(p *ChatPost) { p.MeetingID = "" }), ErrInvalid},
		{"no user", Version{2, 7}, with(func(p *ChatPost) { p.UserID = "" }), ErrInvalid},
		{"no correlation", Version{3, 0}, with(func(p *ChatPost) { p.CorrelationID = "" }), ErrInvalid},
		{"no message", Version{2, 2}, with(func(p *ChatPost) { p.Message = "" }), ErrInvalid},
		{"zero timestamp", Version{2, 2}, with(func(p *ChatPost) { p.Timestamp = 0 }), ErrInvalid},
		{"negative timestamp", Version{2, 2}, with(func(p *ChatPost) { p.Timestamp = -1 }), ErrInvalid},
		{"invalid utf-8 message", Version{2, 7}, with(func(p *ChatPost) { p.Message = "a\xffb" }), ErrInvalid},
		{"invalid utf-8 user", Version{2, 7}, with(func(p *ChatPost) { p.UserID = "\xc0" }), ErrInvalid},
	}
	for _, tc := range chatTests {
		t.Run("chat "+tc.name, func(t *testing.T) {
			got, err := EncodeChatPost(tc.v, tc.p)
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("EncodeChatPost = %s, %v; want %v", got, err, tc.want)
			}
		})
	}

	okAPI := APIChatPost{MeetingID: "m", UserName: "n", Message: "x", Timestamp: 1}
	withAPI := func(f func(*APIChatPost)) APIChatPost { p := okAPI; f(&p); return p }
	apiTests := []struct {
		name string
		v    Version
		p    APIChatPost
		want error
	}{
		{"2.7", Version{2, 7}, okAPI, ErrUnsupported},
		{"zero version", Version{}, okAPI, ErrUnsupported},
		{"no meeting", Version{3, 0}, withAPI(func(p *APIChatPost) { p.MeetingID = "" }), ErrInvalid},
		{"no name", Version{3, 0}, withAPI(func(p *APIChatPost) { p.UserName = "" }), ErrInvalid},
		{"no message", Version{3, 0}, withAPI(func(p *APIChatPost) { p.Message = "" }), ErrInvalid},
		{"zero timestamp", Version{3, 0}, withAPI(func(p *APIChatPost) { p.Timestamp = 0 }), ErrInvalid},
		{"message 501", Version{3, 0}, withAPI(func(p *APIChatPost) { p.Message = strings.Repeat("a", 501) }), ErrInvalid},
		{"message 251 astral", Version{3, 0}, withAPI(func(p *APIChatPost) { p.Message = strings.Repeat("😀", 251) }), ErrInvalid},
		{"name 256", Version{3, 0}, withAPI(func(p *APIChatPost) { p.UserName = strings.Repeat("n", 256) }), ErrInvalid},
		{"invalid utf-8", Version{3, 0}, withAPI(func(p *APIChatPost) { p.Message = "\xff" }), ErrInvalid},
	}
	for _, tc := range apiTests {
		t.Run("api "+tc.name, func(t *testing.T) {
			got, err := EncodeAPIChatPost(tc.v, tc.p)
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("EncodeAPIChatPost = %s, %v; want %v", got, err, tc.want)
			}
		})
	}

	limits := []APIChatPost{
		withAPI(func(p *APIChatPost) { p.Message = strings.Repeat("a", APIMaxMessageLen) }),
		withAPI(func(p *APIChatPost) { p.Message = strings.Repeat("😀", APIMaxMessageLen/2) }),
		withAPI(func(p *APIChatPost) { p.Message = strings.Repeat("ü", APIMaxMessageLen) }),
		withAPI(func(p *APIChatPost) { p.UserName = strings.Repeat("n", APIMaxUserNameLen) }),
	}
	for i, p := range limits {
		if _, err := EncodeAPIChatPost(Version{3, 0}, p); err != nil {
			t.Errorf("limit case %d: %v", i, err)
		}
	}
}

func BenchmarkEncodeChatPost(b *testing.B) {
	for _, v := range []Version{{2, 2}, {2, 7}, {3, 0}} {
		p := goldenChatPost(v)
		b.Run(v.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EncodeChatPost(v, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
