package history_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func openStore(t testing.TB) (*state.Store, *nats.Conn) {
	t.Helper()
	srv := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s, err := state.Open(t.Context(), nc, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, nc
}

// publishGap stores a gap event on its subject (bbbchat.gap), as relay does.
func publishGap(t testing.TB, nc *nats.Conn, from, to int64) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := state.EncodeEvent(state.Event{Type: state.TypeGap, ID: fmt.Sprintf("gap-%d", from), From: from, To: to, Server: "bbb1"})
	if _, err := js.Publish(t.Context(), state.SubjectGap, b); err != nil {
		t.Fatal(err)
	}
}

// base is the time of the test meeting's first event: 2023-10-31 17:00:00 UTC.
const base = int64(1698771600000)

type meeting struct {
	t  testing.TB
	s  *state.Store
	id string
	n  int
}

func (m *meeting) publish(e state.Event) {
	m.t.Helper()
	m.n++
	e.MeetingID = m.id
	if e.ID == "" {
		e.ID = fmt.Sprintf("%s-%s-%d", m.id, e.Type, m.n)
	}
	if e.Timestamp == 0 {
		e.Timestamp = base + int64(m.n)*1000
	}
	b, _ := state.EncodeEvent(e)
	if _, err := m.s.PublishEvent(m.t.Context(), e, b); err != nil {
		m.t.Fatal(err)
	}
}

func (m *meeting) msg(id, name, text string) {
	m.publish(state.Event{Type: state.TypeMessage, ID: id, MessageID: id, ChatID: history.PublicChatID,
		SenderID: "w_" + strings.ToLower(name), SenderName: name, SenderRole: "VIEWER", Text: text})
}

func (m *meeting) on(typ, id string, f func(*state.Event)) {
	e := state.Event{Type: typ, MessageID: id, UserID: "w_x"}
	if f != nil {
		f(&e)
	}
	m.publish(e)
}

// TestFold shows what each event does to the public chat: the state after later events, private chat never,
// a clear hiding what came before it, gaps within the meeting's time.
func TestFold(t *testing.T) {
	s, nc := openStore(t)
	m := &meeting{t: t, s: s, id: "m-fold"}
	m.publish(state.Event{Type: state.TypeMeetingCreated, ExternalMeetingID: "ext-fold", MeetingName: "Fold"})
	m.msg("a", "Ann", "hello")
	m.msg("b", "Bob", "hi <there> & you")
	m.publish(state.Event{Type: state.TypeMessage, ID: "p", MessageID: "p", ChatID: "private-1", SenderName: "Eve", Text: "secret"})
	m.msg("c", "Cid", "to delete")
	m.on(state.TypeMessageEdited, "a", func(e *state.Event) { e.Text = "hello, edited" })
	m.on(state.TypeMessageDeleted, "c", nil)
	m.on(state.TypeReactionAdded, "b", func(e *state.Event) { e.Emoji = "👍"; e.UserID = "u1" })
	m.on(state.TypeReactionAdded, "b", func(e *state.Event) { e.Emoji = "👍"; e.UserID = "u2" })
	m.on(state.TypeReactionAdded, "b", func(e *state.Event) { e.Emoji = "👍"; e.UserID = "u2" }) // repeated: counts once
	m.on(state.TypeReactionAdded, "b", func(e *state.Event) { e.Emoji = "🎉"; e.UserID = "u1" })
	m.on(state.TypeReactionRemoved, "b", func(e *state.Event) { e.Emoji = "🎉"; e.UserID = "u1" })
	m.on(state.TypeMessagePinned, "b", nil)
	m.on(state.TypeMessagePinned, "p", nil) // private: never shown
	publishGap(t, nc, base+9500, base+12500)
	m.msg("d", "Ann", "line one\nline two")
	m.on(state.TypeMessageUnpinned, "x-unknown", nil)
	other := &meeting{t: t, s: s, id: "m-other"}
	other.msg("o", "Oz", "elsewhere")

	all := readAll(t, s, m.id, 2)
	want := []history.Message{
		{MessageID: "a", UserName: "Ann", SenderID: "w_ann", SenderRole: "VIEWER", Message: "hello, edited", Timestamp: base + 2000, EditedAt: base + 6000},
		{MessageID: "b", UserName: "Bob", SenderID: "w_bob", SenderRole: "VIEWER", Message: "hi <there> & you", Timestamp: base + 3000,
			Reactions: map[string]int{"👍": 2}, Pinned: true},
		{MessageID: "c", UserName: "Cid", SenderID: "w_cid", SenderRole: "VIEWER", Message: "", Timestamp: base + 5000, Deleted: true},
		{MessageID: "d", UserName: "Ann", SenderID: "w_ann", SenderRole: "VIEWER", Message: "line one\nline two", Timestamp: base + 15000},
	}
	if w, g := asJSON(want), asJSON(all.msgs); w != g {
		t.Errorf("history:\n got %s\nwant %s", g, w)
	}
	if len(all.gaps) != 1 || all.gaps[0].AfterMessageID != "c" || all.gaps[0].Server != "bbb1" {
		t.Errorf("gaps = %+v, want one after message c", all.gaps)
	}
	if all.pages != 2 {
		t.Errorf("pages = %d, want 2", all.pages)
	}

	// A clear hides what came before it, on the next read and for a cursor given before it.
	first, err := history.Read(t.Context(), s, m.id, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	m.publish(state.Event{Type: state.TypeCleared, ChatID: history.PublicChatID})
	m.msg("e", "Bob", "after the clear")
	p, err := history.Read(t.Context(), s, m.id, first.Next, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Messages) != 1 || p.Messages[0].MessageID != "e" || p.ClearedAt == 0 || p.Next != "" {
		t.Errorf("after a clear: %+v", p)
	}
	m.publish(state.Event{Type: state.TypeMeetingEnded})
	p, err = history.Read(t.Context(), s, m.id, "", 0)
	if err != nil || len(p.Messages) != 1 || p.EndedAt == 0 {
		t.Errorf("ended meeting: %+v, %v", p, err)
	}

	if _, err := history.Read(t.Context(), s, "m-unknown", "", 10); !errors.Is(err, history.ErrNoHistory) {
		t.Errorf("unknown meeting: %v, want ErrNoHistory", err)
	}
	if _, err := history.Read(t.Context(), s, m.id, "nope", 10); !errors.Is(err, history.ErrBadCursor) {
		t.Errorf("bad cursor: %v, want ErrBadCursor", err)
	}
}

func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type collected struct {
	msgs  []history.Message
	gaps  []history.Gap
	pages int
}

func readAll(t testing.TB, s history.Store, id string, limit int) collected {
	t.Helper()
	var c collected
	after := ""
	for {
		p, err := history.Read(t.Context(), s, id, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		c.pages++
		c.msgs = append(c.msgs, p.Messages...)
		c.gaps = append(c.gaps, p.Gaps...)
		if len(p.Messages) > limit {
			t.Fatalf("page of %d messages, limit %d", len(p.Messages), limit)
		}
		if p.Next == "" {
			return c
		}
		after = p.Next
	}
}

// TestTranscriptFormats writes one meeting's transcript in each format, from the stream and from the stored JSON,
// and compares them with golden files (-update rewrites them).
func TestTranscriptFormats(t *testing.T) {
	s, nc := openStore(t)
	m := &meeting{t: t, s: s, id: "m-formats"}
	m.publish(state.Event{Type: state.TypeMeetingCreated, ExternalMeetingID: "ext-formats", MeetingName: "Formats <&>"})
	m.msg("a", "Ann", "hello")
	m.msg("b", "<b>Bob</b>", "<script>alert(1)</script> & \"quotes\"")
	m.on(state.TypeMessageEdited, "a", func(e *state.Event) { e.Text = "hello, edited" })
	m.msg("c", "Cid", "gone")
	m.on(state.TypeMessageDeleted, "c", nil)
	m.on(state.TypeReactionAdded, "b", func(e *state.Event) { e.Emoji = "❤️" })
	publishGap(t, nc, base+7500, base+9500)
	m.msg("d", "Ann", "two\nlines")
	m.publish(state.Event{Type: state.TypeMeetingEnded})

	meet, err := history.Lookup(t.Context(), s, m.id)
	if err != nil {
		t.Fatal(err)
	}
	vienna, err := time.LoadLocation("Europe/Vienna")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	var stored bytes.Buffer
	w, _ := history.NewWriter(history.FormatJSON, &stored, nil)
	if err := history.Write(t.Context(), s, meet, w); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format string
		loc    *time.Location
		golden string
	}{
		{history.FormatJSON, nil, "transcript.json"},
		{history.FormatText, nil, "transcript.txt"},
		{history.FormatText, vienna, "transcript-vienna.txt"},
		{history.FormatHTML, nil, "transcript.html"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var fromStream, fromStored bytes.Buffer
			w, err := history.NewWriter(tc.format, &fromStream, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			if err := history.Write(t.Context(), s, meet, w); err != nil {
				t.Fatal(err)
			}
			w, _ = history.NewWriter(tc.format, &fromStored, tc.loc)
			if err := history.Copy(bytes.NewReader(stored.Bytes()), w); err != nil {
				t.Fatal(err)
			}
			if fromStream.String() != fromStored.String() {
				t.Errorf("from the stream and from the stored transcript differ:\n%s\n---\n%s", fromStream.String(), fromStored.String())
			}
			testenv.Golden(t, filepath.Join("testdata", tc.golden), fromStream.Bytes(), *update)
		})
	}
	if _, err := history.NewWriter("pdf", &stored, nil); !errors.Is(err, history.ErrFormat) {
		t.Errorf("unknown format: %v", err)
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "1", "18446744073709551615", "-1", "0", "1e3", " 7", "42"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		n, err := history.ParseCursor(c)
		if err != nil {
			if !errors.Is(err, history.ErrBadCursor) {
				t.Fatalf("ParseCursor(%q): %v", c, err)
			}
			return
		}
		if c != "" && fmt.Sprint(n) != c {
			t.Fatalf("ParseCursor(%q) = %d: not the cursor's number", c, n)
		}
	})
}

func FuzzCopy(f *testing.F) {
	f.Add([]byte(`{"meeting_id":"m","gaps":[],"messages":[{"message_id":"a","user_name":"A","sender_id":"","sender_role":"","message":"x","timestamp":1}]}`))
	f.Add([]byte(`{"messages":[`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []string{history.FormatJSON, history.FormatText, history.FormatHTML} {
			var out bytes.Buffer
			w, _ := history.NewWriter(format, &out, nil)
			_ = history.Copy(bytes.NewReader(b), w) // must not panic
		}
	})
}
