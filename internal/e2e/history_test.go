package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	callHistory       = "getChatHistory"
	callTranscript    = "getChatTranscript"
	callDeleteHistory = "deleteChatHistory"
)

// TestHistoryAndTranscript runs a meeting on each supported BBB version with two relays, killing one (SIGKILL)
// and restarting the other (SIGTERM) in the middle of it: getChatHistory pages through the whole public chat in
// BBB's order while it runs, the meeting's end leaves exactly one transcript, which getChatTranscript serves by the
// external id (which relay forgot with the meeting) in each format, and deleteChatHistory removes both.
func TestHistoryAndTranscript(t *testing.T) {
	versions := bbbsim.Versions()
	if testing.Short() {
		versions = versions[len(versions)-1:]
	}
	for _, version := range versions {
		t.Run(version, func(t *testing.T) { testHistory(t, version) })
	}
}

func testHistory(t *testing.T, version string) {
	e := newEnv(t, version)
	ctx := t.Context()
	relayB, _ := e.startRelayWith(nil)
	m := e.meeting("ext-history-"+version, "History "+version)
	ann, err := e.sim.Join(ctx, m.IntID, "Ann", "MODERATOR")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.sim.Join(ctx, m.IntID, "Bob <b>", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	say := func(k int) {
		t.Helper()
		for range k {
			who := ann
			if n%2 == 1 {
				who = bob
			}
			if _, err := e.sim.Say(ctx, m.IntID, who, fmt.Sprintf("line %d & more", n)); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	say(10)
	e.relay.Kill() // relay B goes on
	say(10)
	e.startRelay()
	relayB.Stop(10 * time.Second) // relay B restarts, stopped in order (SIGTERM); relay A goes on
	say(10)
	relayB, _ = e.startRelayWith(nil)
	say(10)
	chat := e.waitChat(m.IntID, n)

	// While the meeting runs: history by external id, in pages of 7, is the whole public chat in order.
	var ids []string
	testenv.Eventually(t, 10*time.Second, "history holds every message", func() bool {
		ids = historyIDs(t, e, m.ExtID, 7)
		return len(ids) == len(chat)
	})
	for i, c := range chat {
		if ids[i] != c.ID {
			t.Fatalf("history[%d] = %s, want %s (BBB's order)", i, ids[i], c.ID)
		}
	}
	a := e.call(callHistory, "meeting_id", m.IntID, "limit", "3")
	expect(t, a, 200, "Chat history")
	first := a.Body["messages"].([]any)[0].(map[string]any)
	if first["user_name"] != "Ann" || first["message_id"] != chat[0].ID {
		t.Fatalf("first message: %v", first)
	}
	if a.Body["next"] == "" || a.Body["ended"] != false {
		t.Fatalf("first page: next %v, ended %v", a.Body["next"], a.Body["ended"])
	}

	// The rest of the chat, where the version has it: an edit, a deletion and reactions (3.0+), a pin (4.0+), of
	// messages on the first page, done after the last page was written.
	edits, pins := actOnChat(t, e, m.IntID, ann, bob, chat)
	if edits {
		testenv.Eventually(t, 10*time.Second, "the first page shows the later events", func() bool {
			a := e.call(callHistory, "meeting_id", m.IntID, "limit", "3")
			msgs := a.Body["messages"].([]any)
			m0, m1, m2 := msgs[0].(map[string]any), msgs[1].(map[string]any), msgs[2].(map[string]any)
			r, _ := m0["reactions"].(map[string]any)
			return m0["message"] == "line 0, edited" && m0["edited_at"] != nil && r["👍"] == float64(2) &&
				m2["deleted"] == true && m2["message"] == "" && (m1["pinned"] == true) == pins
		})
	}
	expect(t, e.call(callHistory, "meeting_id", m.IntID, "limit", "1001"), 400, "Parameter limit")
	expect(t, e.call(callHistory, "meeting_id", m.IntID, "after", "x"), 400, "Parameter after")
	expect(t, e.call(callHistory, "meeting_id", "no-such-meeting"), 404, "No chat history")

	// The transcript while it runs comes from the stream.
	status, text := e.transcript(m.IntID, "text", "")
	if status != 200 || strings.Count(text, "\n") != len(chat) || !strings.Contains(text, "] Bob <b>: line 1 & more\n") ||
		edits && !strings.Contains(text, "] Ann: line 0, edited (edited)\n") {
		t.Fatalf("running transcript: %d\n%s", status, text)
	}

	// The meeting ends: one transcript, however many relays.
	if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the transcript is written, and linked from its external id", func() bool {
		_, err := e.store.TranscriptByExternal(ctx, m.ExtID)
		return err == nil
	})
	obs, err := e.js.ObjectStore(ctx, state.BucketTranscripts)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Consistently(t, time.Second, "one transcript object and one link", func() bool {
		infos, err := obs.List(ctx)
		return err == nil && len(infos) == 2
	})
	st, err := obs.GetInfo(ctx, state.Key(m.IntID))
	if err != nil {
		t.Fatal(err)
	}
	if st.Metadata["external_meeting_id"] != m.ExtID {
		t.Fatalf("transcript metadata %v", st.Metadata)
	}
	var revisions int
	if si, err := obs.Status(ctx); err == nil {
		if bs, ok := si.(*jetstream.ObjectBucketStatus); ok {
			revisions = int(bs.StreamInfo().State.Msgs)
		}
	}
	t.Logf("transcript bucket holds %d messages for %d bytes of transcript", revisions, st.Size)

	// After the end, by the external id relay forgot: the stored transcript, in each format.
	status, raw := e.transcript(m.ExtID, "json", "")
	var tr struct {
		MeetingID string `json:"meeting_id"`
		EndedAt   int64  `json:"ended_at"`
		Messages  []struct {
			MessageID string `json:"message_id"`
			Message   string `json:"message"`
		} `json:"messages"`
	}
	if status != 200 || json.Unmarshal([]byte(raw), &tr) != nil || tr.MeetingID != m.IntID || tr.EndedAt == 0 || len(tr.Messages) != len(chat) {
		t.Fatalf("stored transcript: %d %s", status, raw)
	}
	for i, c := range chat {
		if tr.Messages[i].MessageID != c.ID {
			t.Fatalf("transcript[%d] = %s, want %s", i, tr.Messages[i].MessageID, c.ID)
		}
	}
	if status, page := e.transcript(m.ExtID, "html", "Europe/Vienna"); status != 200 || !strings.Contains(page, "<b>Bob &lt;b&gt;</b>: line 1 &amp; more") {
		t.Fatalf("html transcript: %d\n%s", status, page)
	}
	if status, _ := e.transcript(m.ExtID, "text", "Mars/Olympus"); status != 400 {
		t.Fatalf("unknown time zone: %d", status)
	}
	a = e.call(callHistory, "meeting_id", m.ExtID, "limit", "1000")
	if expect(t, a, 200, "Chat history"); a.Body["ended"] != true || len(a.Body["messages"].([]any)) != len(chat) || a.Body["next"] != "" {
		t.Fatalf("history after the end: %s", a.Raw)
	}

	// deleteChatHistory removes the events and the transcript.
	expect(t, e.call(callDeleteHistory, "meeting_id", m.ExtID), 200, "deleted")
	expect(t, e.call(callHistory, "meeting_id", m.IntID), 404, "No chat history")
	if status, _ := e.transcript(m.IntID, "json", ""); status != 404 {
		t.Fatalf("transcript after delete: %d", status)
	}
	expect(t, e.call(callDeleteHistory, "meeting_id", m.IntID), 404, "No chat history")
	if e.streamCount(m.IntID, state.TypeMessage) != 0 {
		t.Fatal("messages left in the stream")
	}
	relayB.Kill()
}

// historyIDs pages through a meeting's history and returns the message ids.
func historyIDs(t *testing.T, e *env, meetingID string, limit int) []string {
	t.Helper()
	var ids []string
	after := ""
	for pages := 0; ; pages++ {
		kv := []string{"meeting_id", meetingID, "limit", strconv.Itoa(limit)}
		if after != "" {
			kv = append(kv, "after", after)
		}
		a := e.call(callHistory, kv...)
		expect(t, a, 200, "Chat history")
		msgs := a.Body["messages"].([]any)
		if len(msgs) > limit {
			t.Fatalf("page of %d, limit %d", len(msgs), limit)
		}
		for _, m := range msgs {
			ids = append(ids, m.(map[string]any)["message_id"].(string))
		}
		after, _ = a.Body["next"].(string)
		if after == "" {
			return ids
		}
		if pages > 10000 {
			t.Fatal("history never ends")
		}
	}
}

// transcript calls getChatTranscript and returns the status and body as sent.
func (e *env) transcript(meetingID, format, tz string) (int, string) {
	e.t.Helper()
	kv := []string{"meeting_id", meetingID, "format", format, "nonce", strconv.FormatInt(time.Now().UnixNano(), 10)}
	if tz != "" {
		kv = append(kv, "tz", tz)
	}
	body := sign(callTranscript, strs(kv...), e.secret, time.Now().Unix())
	resp, err := http.Post(e.apiURL+"/api/"+callTranscript, "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTranscriptCallback: a chat that asked for the transcript callback gets, after the meeting's end, one
// callback with the whole transcript, signed under "transcript", and only then ends.
func TestTranscriptCallback(t *testing.T) {
	e := newEnv(t, "3.0")
	ctx := t.Context()
	m := e.meeting("ext-transcript-cb", "Transcript callback")
	recv := newReceiver(t)
	expect(t, e.call(callStart, "meeting_id", m.ExtID, "chat_user", "Bridge", "callback_uri", recv.URL(),
		"callback_secret", "cb-secret", "callback_events", "meetingEnded,transcript"), 200, "started")
	talker, err := e.sim.Join(ctx, m.IntID, "Talker", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := e.sim.Say(ctx, m.IntID, talker, fmt.Sprintf("said %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	e.waitChat(m.IntID, 3)
	if err := e.sim.EndMeeting(ctx, m.IntID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the transcript callback arrives", func() bool {
		d := recv.deliveries()
		return len(d) > 0 && d[len(d)-1].Body["type"] == "transcript"
	})
	d := recv.deliveries()
	if len(d) != 5 || d[3].Body["message"] != nil || d[3].Body["meeting_id"] != m.ExtID {
		t.Fatalf("deliveries: %+v", d)
	}
	tr, _ := d[4].Body["transcript"].(map[string]any)
	msgs, _ := tr["messages"].([]any)
	if tr["meeting_id"] != m.IntID || len(msgs) != 3 || msgs[2].(map[string]any)["message"] != "said 2" ||
		d[4].Body["checksum"] == nil || d[4].ID == "" {
		t.Fatalf("transcript callback: %+v", d[4].Body)
	}
	// The chat ends after its transcript.
	testenv.Eventually(t, 10*time.Second, "the chat ends", func() bool {
		return e.call(callInfo, "meeting_id", m.IntID).Status == http.StatusNotFound
	})
	testenv.Consistently(t, 500*time.Millisecond, "one transcript callback", func() bool { return len(recv.deliveries()) == 5 })
}

// actOnChat edits, deletes and reacts to messages of the first page, and pins one, as far as the simulated
// version has these; it reports which it has.
func actOnChat(t *testing.T, e *env, meetingID, ann, bob string, chat []bbbsim.ChatMessage) (edits, pins bool) {
	t.Helper()
	ctx := t.Context()
	err := e.sim.EditMessage(ctx, meetingID, ann, chat[0].ID, "line 0, edited")
	if errors.Is(err, bbbsim.ErrNoFeature) {
		return false, false
	}
	for _, err := range []error{err,
		e.sim.DeleteMessage(ctx, meetingID, ann, chat[2].ID),
		e.sim.React(ctx, meetingID, ann, chat[0].ID, "👍"),
		e.sim.React(ctx, meetingID, bob, chat[0].ID, "👍"),
		e.sim.React(ctx, meetingID, bob, chat[0].ID, "🎉"),
		e.sim.Unreact(ctx, meetingID, bob, chat[0].ID, "🎉"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	err = e.sim.Pin(ctx, meetingID, ann, chat[1].ID)
	if errors.Is(err, bbbsim.ErrNoFeature) {
		return true, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true, true
}

// TestHistoryClear: a moderator's clear of the public chat hides what came before it, in the history (which says
// so) and in the transcript.
func TestHistoryClear(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-clear", "Clear")
	mod, err := e.sim.Join(ctx, m.IntID, "Mod", "MODERATOR")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if i == 3 {
			if err := e.sim.ClearChat(ctx, m.IntID, mod); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.sim.Say(ctx, m.IntID, mod, fmt.Sprintf("said %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var a answer
	testenv.Eventually(t, 10*time.Second, "history after the clear", func() bool {
		a = e.call(callHistory, "meeting_id", m.IntID)
		return a.Status == 200 && len(a.Body["messages"].([]any)) == 2
	})
	expect(t, a, 200, "the public chat was cleared at")
	if a.Body["messages"].([]any)[0].(map[string]any)["message"] != "said 3" || a.Body["cleared_at"] == nil {
		t.Fatalf("history after the clear: %s", a.Raw)
	}
	status, text := e.transcript(m.IntID, "text", "")
	if status != 200 || !strings.Contains(text, "(the public chat was cleared: earlier messages are not shown)") ||
		strings.Contains(text, "said 2") || !strings.Contains(text, "Mod: said 4") {
		t.Fatalf("transcript after the clear: %d\n%s", status, text)
	}
}
