package redisfeed

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
)

// The Redis messages below are shaped as BBB 2.7 sends them (docs/protocol.md); the relay's end-to-end tests
// build the same ones in their own helpers.

// captured returns the 2.7 events captured on a real server, one per line.
func captured(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "bbb-2.7-captured-raw.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, []byte(line))
		}
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type obj = map[string]any

func clientRouting(meeting, user string) obj {
	return obj{"msgType": "BROADCAST_TO_MEETING", "meetingId": meeting, "userId": user}
}

// chatMsg is a 2.7 GroupChatMessageBroadcastEvtMsg.
func chatMsg(t testing.TB, meeting, id, user, text string, ts int64) []byte {
	name := "GroupChatMessageBroadcastEvtMsg"
	return mustJSON(t, obj{
		"envelope": obj{"name": name, "routing": clientRouting(meeting, user), "timestamp": ts},
		"core": obj{
			"header": obj{"name": name, "meetingId": meeting, "userId": user},
			"body": obj{"chatId": bbb.PublicChatID, "msg": obj{
				"id": id, "timestamp": ts, "correlationId": user + "-" + strconv.FormatInt(ts, 10),
				"sender":             obj{"id": user, "name": "Tester " + user, "role": "VIEWER"},
				"chatEmphasizedText": false, "message": text,
			}},
		},
	})
}

// userJoined is a 2.7 UserJoinedMeetingEvtMsg.
func userJoined(t testing.TB, meeting, user, name string, ts int64) []byte {
	n := "UserJoinedMeetingEvtMsg"
	return mustJSON(t, obj{
		"envelope": obj{"name": n, "routing": clientRouting(meeting, user), "timestamp": ts},
		"core": obj{
			"header": obj{"name": n, "meetingId": meeting, "userId": user},
			"body": obj{"intId": user, "extId": user, "name": name, "role": "VIEWER", "guest": false, "authed": true,
				"guestStatus": "ALLOW", "emoji": "none", "reactionEmoji": "none", "raiseHand": false, "away": false,
				"pin": false, "presenter": false, "locked": true, "avatar": "", "color": "#7b1fa2", "clientType": "HTML5"},
		},
	})
}

// meetingEnded is MeetingEndedEvtMsg (or MeetingDestroyedEvtMsg with name).
func meetingEnded(t testing.TB, name, meeting string, ts int64) []byte {
	return mustJSON(t, obj{
		"envelope": obj{"name": name, "routing": obj{"sender": "bbb-apps-akka"}, "timestamp": ts},
		"core":     obj{"header": obj{"name": name}, "body": obj{"meetingId": meeting}},
	})
}
