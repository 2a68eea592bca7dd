package history

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// Transcript formats.
const (
	FormatJSON = "json"
	FormatText = "text"
	FormatHTML = "html"
)

// ErrFormat reports a format other than json, text and html.
var ErrFormat = errors.New("history: unknown transcript format")

// TranscriptPage is how many messages a transcript is read at a time: the most it holds in memory.
const TranscriptPage = 1000

// Header is what a transcript says of its meeting before the messages.
type Header struct {
	MeetingID         string `json:"meeting_id"`
	ExternalMeetingID string `json:"external_meeting_id,omitempty"`
	MeetingName       string `json:"meeting_name,omitempty"`
	StartedAt         int64  `json:"started_at,omitempty"` // ms
	EndedAt           int64  `json:"ended_at,omitempty"`   // ms; 0 while the meeting runs
	ClearedAt         int64  `json:"cleared_at,omitempty"` // ms of the last clear, which hides what came before it
}

// Header is the transcript header of the meeting.
func (m Meeting) Header() Header {
	return Header{MeetingID: m.MeetingID, ExternalMeetingID: m.ExternalMeetingID, MeetingName: m.Name,
		StartedAt: m.StartedAt, EndedAt: m.EndedAt, ClearedAt: m.ClearedAt}
}

// Gaps reads the gaps that overlap the meeting's time (few: one per time no relay listened to BBB).
func (m Meeting) Gaps(ctx context.Context, s Store) ([]Gap, error) {
	var gaps []Gap
	err := s.ReadStored(ctx, []string{state.SubjectGap}, m.FirstSeq, func(st state.Stored) (bool, error) {
		var e state.Event
		if state.DecodeEvent(st.Data, &e) == nil && e.Type == state.TypeGap && e.To >= m.StartedAt &&
			(m.EndedAt == 0 || e.From <= m.EndedAt) {
			gaps = append(gaps, Gap{From: e.From, To: e.To, Server: e.Server})
		}
		return true, nil
	})
	return gaps, err
}

// Writer writes a transcript: Begin, then each message in order, then End.
type Writer interface {
	Begin(h Header, gaps []Gap) error
	Message(m Message) error
	End() error
}

// NewWriter returns a writer of format to w; times in text and html are shown in loc (UTC when nil).
func NewWriter(format string, w io.Writer, loc *time.Location) (Writer, error) {
	if loc == nil {
		loc = time.UTC
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	switch format {
	case FormatJSON, "":
		return &jsonWriter{w: bw}, nil
	case FormatText:
		return &textWriter{w: bw, loc: loc}, nil
	case FormatHTML:
		return &htmlWriter{textWriter{w: bw, loc: loc}}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrFormat, format)
}

// Write writes the meeting's transcript from the stream, a page at a time.
func Write(ctx context.Context, s Store, m Meeting, w Writer) error {
	gaps, err := m.Gaps(ctx, s)
	if err != nil {
		return err
	}
	if err := w.Begin(m.Header(), gaps); err != nil {
		return err
	}
	if err := m.All(ctx, s, TranscriptPage, w.Message); err != nil {
		return err
	}
	return w.End()
}

// Copy writes a transcript stored as JSON (what Write wrote with FormatJSON) to w, a message at a time.
func Copy(r io.Reader, w Writer) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 32<<10))
	bad := func(what string) error { return fmt.Errorf("history: stored transcript: %s", what) }
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad("not an object")
	}
	var h Header
	var gaps []Gap
	begun := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad(err.Error())
		}
		key, _ := t.(string)
		var dst any
		switch key {
		case "meeting_id":
			dst = &h.MeetingID
		case "external_meeting_id":
			dst = &h.ExternalMeetingID
		case "meeting_name":
			dst = &h.MeetingName
		case "started_at":
			dst = &h.StartedAt
		case "ended_at":
			dst = &h.EndedAt
		case "cleared_at":
			dst = &h.ClearedAt
		case "gaps":
			dst = &gaps
		case "messages":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return bad("messages is not a list")
			}
			if err := w.Begin(h, gaps); err != nil {
				return err
			}
			begun = true
			for dec.More() {
				var m Message
				if err := dec.Decode(&m); err != nil {
					return bad(err.Error())
				}
				if err := w.Message(m); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return bad(err.Error())
			}
			continue
		default:
			var skip json.RawMessage
			dst = &skip
		}
		if err := dec.Decode(dst); err != nil {
			return bad(err.Error())
		}
	}
	if !begun {
		if err := w.Begin(h, gaps); err != nil {
			return err
		}
	}
	return w.End()
}

// jsonWriter writes {header members, "gaps": [...], "messages": [...]}: gaps first, so that a reader streaming the
// messages knows them.
type jsonWriter struct {
	w     *bufio.Writer
	count int
}

func (j *jsonWriter) Begin(h Header, gaps []Gap) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	j.w.Write(b[:len(b)-1])
	if gaps == nil {
		gaps = []Gap{}
	}
	g, err := json.Marshal(gaps)
	if err != nil {
		return err
	}
	j.w.WriteString(`,"gaps":`)
	j.w.Write(g)
	_, err = j.w.WriteString(`,"messages":[`)
	return err
}

func (j *jsonWriter) Message(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if j.count > 0 {
		j.w.WriteByte(',')
	}
	j.count++
	j.w.WriteString("\n")
	_, err = j.w.Write(b)
	return err
}

func (j *jsonWriter) End() error {
	j.w.WriteString("\n]}\n")
	return j.w.Flush()
}

// textWriter writes one line per message, "[HH:MM:SS] Name: text", and one per gap where it falls in time.
type textWriter struct {
	w    *bufio.Writer
	loc  *time.Location
	gaps []Gap
}

func (t *textWriter) clock(ms int64) string {
	return time.UnixMilli(ms).In(t.loc).Format(time.TimeOnly)
}

func (t *textWriter) Begin(h Header, gaps []Gap) error {
	t.gaps = sortedGaps(gaps)
	if h.ClearedAt != 0 {
		fmt.Fprintf(t.w, "[%s] (the public chat was cleared: earlier messages are not shown)\n", t.clock(h.ClearedAt))
	}
	return nil
}

func sortedGaps(gaps []Gap) []Gap {
	out := append([]Gap(nil), gaps...)
	sort.Slice(out, func(i, j int) bool { return out[i].From < out[j].From })
	return out
}

// gapsBefore returns the gaps that began before ms (all when ms < 0) and keeps the rest.
func gapsBefore(gaps *[]Gap, ms int64) []Gap {
	i := 0
	for i < len(*gaps) && (ms < 0 || (*gaps)[i].From < ms) {
		i++
	}
	out := (*gaps)[:i]
	*gaps = (*gaps)[i:]
	return out
}

func (t *textWriter) gapLine(g Gap) string {
	return fmt.Sprintf("(no relay listened from %s to %s: messages of that time may be missing)", t.clock(g.From), t.clock(g.To))
}

// oneLine puts a message's lines on one line.
var oneLine = strings.NewReplacer("\r\n", " ↵ ", "\n", " ↵ ", "\r", " ↵ ")

func shown(m Message) string {
	switch {
	case m.Deleted:
		return "(message deleted)"
	case m.EditedAt != 0:
		return m.Message + " (edited)"
	}
	return m.Message
}

func (t *textWriter) Message(m Message) error {
	for _, g := range gapsBefore(&t.gaps, m.Timestamp) {
		fmt.Fprintf(t.w, "[%s] %s\n", t.clock(g.From), t.gapLine(g))
	}
	_, err := fmt.Fprintf(t.w, "[%s] %s: %s\n", t.clock(m.Timestamp), oneLine.Replace(m.UserName), oneLine.Replace(shown(m)))
	return err
}

func (t *textWriter) End() error {
	for _, g := range gapsBefore(&t.gaps, -1) {
		fmt.Fprintf(t.w, "[%s] %s\n", t.clock(g.From), t.gapLine(g))
	}
	return t.w.Flush()
}

// htmlWriter writes a standalone page, every text escaped.
type htmlWriter struct{ textWriter }

const htmlHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;line-height:1.4}
ol{list-style:none;padding:0}li{margin:.3rem 0;white-space:pre-wrap}time{color:#666;font-variant-numeric:tabular-nums}
.gap,.note{color:#a40}.deleted{color:#888;font-style:italic}.edited,.pinned,.reactions{color:#666;font-size:.9em}
</style>
</head>
<body>
<h1>%s</h1>
`

func (t *htmlWriter) Begin(h Header, gaps []Gap) error {
	t.textWriter.gaps = sortedGaps(gaps)
	title := "Chat of " + cmpOr(h.MeetingName, h.ExternalMeetingID, h.MeetingID)
	if h.StartedAt != 0 {
		title += ", " + time.UnixMilli(h.StartedAt).In(t.loc).Format("2006-01-02")
	}
	fmt.Fprintf(t.w, htmlHead, html.EscapeString(title), html.EscapeString(title))
	if h.ClearedAt != 0 {
		fmt.Fprintf(t.w, "<p class=\"note\">The public chat was cleared at %s: earlier messages are not shown.</p>\n",
			t.clock(h.ClearedAt))
	}
	_, err := t.w.WriteString("<ol>\n")
	return err
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (t *htmlWriter) flushGaps(ms int64) {
	for _, g := range gapsBefore(&t.textWriter.gaps, ms) {
		fmt.Fprintf(t.w, "<li class=\"gap\"><time>%s</time> %s</li>\n", t.clock(g.From), html.EscapeString(t.gapLine(g)))
	}
}

func (t *htmlWriter) Message(m Message) error {
	t.flushGaps(m.Timestamp)
	fmt.Fprintf(t.w, "<li id=\"m-%s\"><time>%s</time> <b>%s</b>: ", html.EscapeString(m.MessageID),
		t.clock(m.Timestamp), html.EscapeString(m.UserName))
	if m.Deleted {
		t.w.WriteString(`<span class="deleted">message deleted</span>`)
	} else {
		t.w.WriteString(html.EscapeString(m.Message))
	}
	if m.EditedAt != 0 && !m.Deleted {
		t.w.WriteString(` <span class="edited">(edited)</span>`)
	}
	if m.Pinned {
		t.w.WriteString(` <span class="pinned">(pinned)</span>`)
	}
	if len(m.Reactions) > 0 {
		emojis := make([]string, 0, len(m.Reactions))
		for e := range m.Reactions {
			emojis = append(emojis, e)
		}
		sort.Strings(emojis)
		t.w.WriteString(` <span class="reactions">`)
		for _, e := range emojis {
			fmt.Fprintf(t.w, " %s %d", html.EscapeString(e), m.Reactions[e])
		}
		t.w.WriteString(`</span>`)
	}
	_, err := t.w.WriteString("</li>\n")
	return err
}

func (t *htmlWriter) End() error {
	t.flushGaps(-1)
	t.w.WriteString("</ol>\n</body>\n</html>\n")
	return t.w.Flush()
}
