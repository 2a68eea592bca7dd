package bbb

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/jsonscan"
)

// shortCase is a chat broadcast and whether Decode's short path takes it.
type shortCase struct {
	name  string
	raw   string
	short bool
}

// Anchors in the captured chat broadcast (line 3 of the capture) where shortCases edits it.
const (
	atRouting = `"routing":{`
	atEnvTime = `"timestamp":1698771232712`
	atCore    = `"core":{`
	atHeader  = `"header":{"name":"GroupChatMessageBroadcastEvtMsg",`
	atBody    = `"body":{`
	atChatID  = `"chatId":"MAIN-PUBLIC-GROUP-CHAT"`
	atMsg     = `"msg":{`
	atMsgID   = `"id":"1698771232706-9idm9pxf"`
	atMsgTime = `"timestamp":1698771232706`
	atSender  = `"sender":{`
	atRole    = `"role":"MODERATOR"`
	atEmph    = `"chatEmphasizedText":true`
	atMessage = `"message":"Public chat test"`
	atUserID  = `"userId":"w_xfsb9gxtlfom"},"body"`
)

// shortCases returns the captured and constructed chat broadcasts, which the short path must take, and variants
// of the captured one that exercise each of its rules.
func shortCases(t testing.TB) []shortCase {
	t.Helper()
	chat := string(capturedLines(t)[2])
	edit := func(pairs ...string) string {
		s := chat
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("%q is not in the captured chat message", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return s
	}
	after := func(anchor, text string) string { return edit(anchor, anchor+text) }
	cases := []shortCase{{"captured 2.7", chat, true}}
	for _, f := range []string{"2.2-chat", "2.4-chat-multiline", "2.6-chat-private", "2.6-chat-system-breakout", "3.0-chat", "3.0-chat-api"} {
		cases = append(cases, shortCase{f, string(readEvent(t, f)), true})
	}
	return append(cases, []shortCase{
		// Taken: what encoding/json reads the same way whatever it is.
		{"white space everywhere", chatPrefix + strings.NewReplacer(`":`, "\" :\t", `,"`, " ,\n\"", "}", " } ").Replace(chat[len(chatPrefix):]), true},
		{"unknown keys with nested values", after(atBody, `"metadata":{"a":[1,-2.5e+3,{"b":null,"c":[]}],"d\u00e9\n":"\ud83d\ude00"},"x":[],`), true},
		{"unknown key at the top", edit(`,`+atCore, `,"extra":{"a":[{}]},`+atCore), true},
		{"unknown key in core", after(atCore, `"z":0,`), true},
		{"unknown key in envelope, header, msg and sender", edit(atRouting, `"u":true,`+atRouting, atHeader, atHeader+`"u":false,`, atMsg, atMsg+`"u":null,`, atSender, atSender+`"u":"v",`), true},
		{"unknown key with the Kelvin sign", after(atMsg, `"`+"\u212a"+`":2,`), true},
		{"body fields of other kinds, any type", after(atBody, `"intId":7,"guest":"no","props":[],"meetingId":{},"color":1,"NAME":2,`), true},
		{"header name differs", edit(atHeader, `"header":{"name":"SomethingElse",`), true},
		{"header name absent", edit(atHeader, `"header":{`), true},
		{"header name with an escape", edit(atHeader, `"header":{"name":"X\"Y",`), true},
		{"no envelope timestamp", edit(`,`+atEnvTime, ``), true},
		{"no header userId", edit(`,`+atUserID, `},"body"`), true},
		{"negative timestamps", edit(atEnvTime, `"timestamp":-5`, atMsgTime, `"timestamp":-0`), true},
		{"largest timestamp", edit(atMsgTime, `"timestamp":9223372036854775807`), true},
		{"message with escapes", edit(atMessage, `"message":"a \"quoted\" \\ line\nand \u00e9 \ud83d\ude00 \ud800 \/"`), true},
		{"message with invalid UTF-8", edit(atMessage, "\"message\":\"bad \xff\xfe byte \xed\xa0\x80\""), true},
		{"message with non-ASCII", edit(atMessage, `"message":"héllo wörld 😀"`), true},
		{"empty message", edit(atMessage, `"message":""`), true},
		{"emphasized false", edit(atEmph, `"chatEmphasizedText":false`), true},
		{"no role (2.2 shape without color)", edit(`,`+atRole, ``), true},
		{"empty role", edit(atRole, `"role":""`), true},
		{"color and reply", after(atMessage, `,"color":"#fff","replyToMessageId":""`), true},
		{"trailing white space", chat + " \n\t\r", true},

		// Left to encoding/json: keys in another case or spelling.
		{"core in another case", edit(atCore, `"Core":{`), false},
		{"second envelope in another case", edit(`,`+atCore, `,"ENVELOPE":{},`+atCore), false},
		{"header in another case", edit(atHeader, `"hEader":{"name":"GroupChatMessageBroadcastEvtMsg",`), false},
		{"meetingId in another case", edit(atHeader, atHeader+`"MEETINGID":"m",`), false},
		{"chatid", edit(atChatID, `"chatid":"MAIN-PUBLIC-GROUP-CHAT"`), false},
		{"msg with the long s", edit(atMsg, `"m`+"\u017f"+`g":{`), false},
		{"message with the long s", edit(atMessage, `"me`+"\u017f\u017f"+`age":"x"`), false},
		{"sender id in another case", edit(atSender, `"sender":{"ID":"x",`), false},
		{"key with an escape", edit(atChatID, `"\u0063hatId":"MAIN-PUBLIC-GROUP-CHAT"`), false},
		{"unknown key with an escape", after(atBody, `"\u0078":1,`), false},
		{"key with invalid UTF-8", after(atBody, "\"\xff\":1,"), false},

		// Duplicates.
		{"duplicate envelope", edit(`,`+atCore, `,"envelope":{"timestamp":5},`+atCore), false},
		{"duplicate envelope name", after(`"name":"GroupChatMessageBroadcastEvtMsg"`, `,"name":"X"`), false},
		{"duplicate header", after(atCore, `"header":{"meetingId":"m2"},`), false},
		{"duplicate header userId", edit(atUserID, `"userId":"a","userId":"b"},"body"`), false},
		{"duplicate chatId", after(atBody, `"chatId":"other",`), false},
		{"duplicate msg", after(atBody, `"msg":{"color":"0"},`), false},
		{"duplicate sender", after(atMsg, `"sender":{"role":"VIEWER"},`), false},
		{"duplicate message", after(atMessage, `,"message":"second"`), false},

		// Nulls and other types.
		{"null envelope timestamp", edit(atEnvTime, `"timestamp":null`), false},
		{"null header", edit(atHeader, `"header":null,"h":{`), false},
		{"null header userId", edit(atUserID, `"userId":null},"body"`), false},
		{"null body", edit(`"body":{`+atChatID, `"body":null,"b":{`+atChatID), false},
		{"null role", edit(atRole, `"role":null`), false},
		{"null color", after(atMessage, `,"color":null`), false},
		{"null replyToMessageId", after(atMessage, `,"replyToMessageId":null`), false},
		{"null message", edit(atMessage, `"message":null`), false},
		{"null correlationId", edit(`"correlationId":"w_xfsb9gxtlfom-1698771232678"`, `"correlationId":null`), false},
		{"null emphasized", edit(atEmph, `"chatEmphasizedText":null`), false},
		{"emphasized string", edit(atEmph, `"chatEmphasizedText":"true"`), false},
		{"emphasized number", edit(atEmph, `"chatEmphasizedText":1`), false},
		{"chatId number", edit(atChatID, `"chatId":1`), false},
		{"role number", edit(atRole, `"role":1`), false},
		{"msg array", edit(atMsg, `"msg":[],"m":{`), false},
		{"second envelope a string", `{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg"},"envelope":"x"}`, false},

		// Numbers encoding/json does not put in an int64.
		{"timestamp with a fraction", edit(atEnvTime, `"timestamp":1.0`), false},
		{"timestamp with an exponent", edit(atMsgTime, `"timestamp":1e3`), false},
		{"timestamp overflow", edit(atMsgTime, `"timestamp":9223372036854775808`), false},
		{"timestamp string", edit(atMsgTime, `"timestamp":"1698771232706"`), false},

		// What decodeChat rejects.
		{"empty chatId", edit(atChatID, `"chatId":""`), false},
		{"no chatId", edit(atChatID+",", ""), false},
		{"empty msg id", edit(atMsgID, `"id":""`), false},
		{"no msg timestamp", edit(atMsgTime+",", ""), false},
		{"no message", edit(","+atMessage, ""), false},
		{"no sender", edit(`"sender":{"id":"w_xfsb9gxtlfom","name":"John Doe","role":"MODERATOR"},`, ""), false},
		{"empty sender id", edit(`"sender":{"id":"w_xfsb9gxtlfom"`, `"sender":{"id":""`), false},
		{"empty header meetingId", edit(atHeader+`"meetingId":"8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700"`, atHeader+`"meetingId":""`), false},
		{"no core", `{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg","timestamp":1}}`, false},
		{"no body", `{"envelope":{"name":"GroupChatMessageBroadcastEvtMsg"},"core":{"header":{"meetingId":"m"}}}`, false},
		{"empty envelope name", `{"envelope":{"name":""},"core":{"header":{"name":"GroupChatMessageBroadcastEvtMsg","meetingId":"m"},"body":{"chatId":"c","msg":{"id":"i","timestamp":1,"sender":{"id":"s"},"message":""}}}}`, false},

		// Not as akka-apps starts a chat broadcast.
		{"white space first", " " + chat, false},
		{"core first", `{"core":{"header":{"meetingId":"m"},"body":{"chatId":"c","msg":{"id":"i","timestamp":1,"sender":{"id":"s"},"message":""}}},"envelope":{"name":"GroupChatMessageBroadcastEvtMsg"}}`, false},
		{"another kind", strings.ReplaceAll(chat, "GroupChatMessageBroadcastEvtMsg", "GroupChatMessageBroadcastEvtMsX"), false},
		{"too big", after(atBody, `"pad":"`+strings.Repeat("a", MaxMessageSize)+`",`), false},

		// Not valid JSON, or nested deeper than the short path reads.
		{"deep unknown value", after(atBody, `"deep":`+strings.Repeat("[", jsonscan.MaxSkipDepth+1)+strings.Repeat("]", jsonscan.MaxSkipDepth+1)+`,`), false},
		{"truncated", chat[:len(chat)-1], false},
		{"trailing garbage", chat + "x", false},
		{"two objects", chat + chat, false},
		{"trailing comma", edit(atMessage, atMessage+`,`), false},
		{"control character", edit(atMessage, "\"message\":\"a\tb\""), false},
		{"bad escape", edit(atMessage, `"message":"a\x"`), false},
		{"short unicode escape", edit(atMessage, `"message":"a\u12"`), false},
		{"leading zero", edit(atMsgTime, `"timestamp":01`), false},
		{"unknown number with leading zero", after(atBody, `"n":-01,`), false},
		{"unknown number without digits", after(atBody, `"n":1.,`), false},
		{"unknown bad literal", after(atBody, `"n":nul,`), false},
		{"bad literal", edit(atEmph, `"chatEmphasizedText":tru`), false},
		{"missing colon", edit(atChatID, `"chatId" "MAIN-PUBLIC-GROUP-CHAT"`), false},
		{"unknown array missing comma", after(atBody, `"a":[1 2],`), false},
		{"vertical tab", edit(`,`+atCore, ",\v"+atCore), false},
	}...)
}

// TestDecodeChatShort checks which chat broadcasts the short path takes, and that Decode gives exactly what
// encoding/json gives for each of them.
func TestDecodeChatShort(t *testing.T) {
	for _, c := range shortCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got, ok := decodeChatShort([]byte(c.raw))
			want, werr := decodeJSON([]byte(c.raw))
			if ok != c.short {
				t.Errorf("short path taken = %v, want %v (encoding/json: %v)", ok, c.short, werr)
			}
			if ok && (werr != nil || !reflect.DeepEqual(got, want)) {
				t.Errorf("short path %s\nencoding/json %s, %v", dump(got), dump(want), werr)
			}
			checkSameAsJSON(t, []byte(c.raw))
		})
	}
}

// TestDecodeChatShortCaptured keeps the chat broadcasts servers send on the short path: every chat broadcast of
// the capture and of testdata/events.
func TestDecodeChatShortCaptured(t *testing.T) {
	raws := capturedLines(t)
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b)
	}
	n := 0
	for _, raw := range raws {
		want, err := decodeJSON(raw)
		if err != nil || want.Kind != KindChatMessage {
			continue
		}
		n++
		if got, ok := decodeChatShort(raw); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: short path %v, %s", want.Chat.ID, ok, dump(got))
		}
	}
	if n != 8 {
		t.Errorf("%d chat broadcasts in the capture and testdata/events, want 8", n)
	}
}

// checkSameAsJSON fails unless Decode gives exactly what encoding/json gives: the same Event and the same error.
func checkSameAsJSON(t *testing.T, raw []byte) {
	t.Helper()
	got, err := Decode(raw)
	want, werr := decodeJSON(raw)
	if !reflect.DeepEqual(got, want) || fmt.Sprint(err) != fmt.Sprint(werr) {
		t.Fatalf("Decode %s, %v\nencoding/json %s, %v", dump(got), err, dump(want), werr)
	}
}

// FuzzDecodeChatMember edits the captured chat broadcast as the fuzzer chooses, and checks that Decode gives what
// encoding/json gives. at picks the edit: put the member "key":value into one of the objects the short path reads
// (before a member it has), or put value in place of the message text, the msg timestamp or chatEmphasizedText.
func FuzzDecodeChatMember(f *testing.F) {
	chat := string(capturedLines(f)[2])
	inserts := []string{atCore, atRouting, atUserID, atChatID, atMsgID, `"id":"w_xfsb9gxtlfom"`}
	values := []string{`"Public chat test"`, "1698771232706", "true"}
	for _, s := range []struct {
		at         uint8
		key, value string
	}{
		{0, "Core", "{}"}, {0, "envelope", `{"name":"X"}`}, {0, "core", `{"header":{}}`}, {1, "NAME", `"x"`},
		{1, "timestamp", "1e3"}, {2, "meetingid", `"m"`}, {2, "name", "null"}, {3, "chatID", `"c"`},
		{3, "msg", `{"id":"x"}`}, {3, "intId", "7"}, {4, "me\u017f\u017fage", `"x"`}, {4, "meſſage", `"x"`},
		{4, "color", `"\u00e9"`}, {4, "replyToMessageId", `""`}, {5, "role", "null"}, {5, "Id", `"x"`},
		{3, "x", `[{"a":[1,2.5,-0,true,false,null,"\/"]}]`}, {3, "\u212a", "1"},
		{6, "", `"a\"b\u00e9\ud800"`}, {6, "", `"\u2028 \ud83d\ude00` + "\xff" + `"`}, {7, "", "-0"}, {7, "", "1.5e3"},
		{7, "", "9223372036854775808"}, {8, "", "false"}, {8, "", `"true"`},
	} {
		f.Add(s.at, s.key, s.value)
	}
	f.Fuzz(func(t *testing.T, at uint8, key, value string) {
		var raw string
		if i := int(at) % (len(inserts) + len(values)); i < len(inserts) {
			raw = strings.Replace(chat, inserts[i], `"`+key+`":`+value+","+inserts[i], 1)
		} else {
			old := values[i-len(inserts)]
			raw = strings.Replace(chat, ":"+old, ":"+value, 1)
		}
		checkSameAsJSON(t, []byte(raw))
		if e, ok := decodeChatShort([]byte(raw)); ok {
			checkInvariants(t, e)
		}
	})
}
