// Package bbbmsg builds BBB 2.7's Redis messages for tests, shaped as akka-apps sends them (docs/protocol.md), and
// reads the events captured on a real 2.7 server. It is a test helper: nothing in the binaries may import it.
package bbbmsg

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
)

// Captured returns the 2.7 events captured on a real server in the file at path, one per line.
func Captured(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
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
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// JSON marshals v, failing the test when it cannot.
func JSON(t testing.TB, v any) []byte {
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

// Chat is a 2.7 GroupChatMessageBroadcastEvtMsg in the public chat.
func Chat(t testing.TB, meeting, id, user, text string, ts int64) []byte {
	name := "GroupChatMessageBroadcastEvtMsg"
	return JSON(t, obj{
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

// UserJoined is a 2.7 UserJoinedMeetingEvtMsg.
func UserJoined(t testing.TB, meeting, user, name string, ts int64) []byte {
	n := "UserJoinedMeetingEvtMsg"
	return JSON(t, obj{
		"envelope": obj{"name": n, "routing": clientRouting(meeting, user), "timestamp": ts},
		"core": obj{
			"header": obj{"name": n, "meetingId": meeting, "userId": user},
			"body": obj{"intId": user, "extId": user, "name": name, "role": "VIEWER", "guest": false, "authed": true,
				"guestStatus": "ALLOW", "emoji": "none", "reactionEmoji": "none", "raiseHand": false, "away": false,
				"pin": false, "presenter": false, "locked": true, "avatar": "", "color": "#7b1fa2", "clientType": "HTML5"},
		},
	})
}

// UserLeft is a 2.7 UserLeftMeetingEvtMsg.
func UserLeft(t testing.TB, meeting, user string, ts int64) []byte {
	n := "UserLeftMeetingEvtMsg"
	return JSON(t, obj{
		"envelope": obj{"name": n, "routing": clientRouting(meeting, user), "timestamp": ts},
		"core": obj{
			"header": obj{"name": n, "meetingId": meeting, "userId": user},
			"body":   obj{"intId": user, "eject": false, "ejectedBy": "", "reason": "", "reasonCode": ""},
		},
	})
}

// MeetingEnded is MeetingEndedEvtMsg (or, with that name, MeetingDestroyedEvtMsg).
func MeetingEnded(t testing.TB, name, meeting string, ts int64) []byte {
	return JSON(t, obj{
		"envelope": obj{"name": name, "routing": obj{"sender": "bbb-apps-akka"}, "timestamp": ts},
		"core":     obj{"header": obj{"name": name}, "body": obj{"meetingId": meeting}},
	})
}
