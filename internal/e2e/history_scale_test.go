package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go/jetstream"
)

// TestHistoryScale stores a meeting of 20,000 public messages (2,000 with -short) of 500 characters each, with
// reactions and edits spread over it and private messages between, straight into the stream: getChatHistory
// pages through all of them in order, relay writes the transcript when the meeting ends, and getChatTranscript
// serves it, with relay's and ingress's resident memory growing by less than the transcript's size, or 16 MiB (neither holds
// the meeting whole). It logs the times docs/performance.md reports, beside a raw JetStream read of the same
// messages.
func TestHistoryScale(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	e := newEnv(t, "3.0")
	ctx := t.Context()
	id := "scale-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	text := strings.Repeat("x", 480)
	start := time.Now()
	var pubs []jetstream.PubAckFuture
	publish := func(ev state.Event) {
		ev.MeetingID, ev.ExternalMeetingID = id, "ext-"+id
		b, _ := state.EncodeEvent(ev)
		f, err := e.js.PublishAsync(ev.Subject(), b, jetstream.WithMsgID(ev.ID))
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, f)
	}
	ts := int64(1_700_000_000_000)
	publish(state.Event{Type: state.TypeMeetingCreated, ID: id + "-created", Timestamp: ts, MeetingName: "Scale"})
	for i := range n {
		mid := fmt.Sprintf("%d-m%06d", ts, i)
		publish(state.Event{Type: state.TypeMessage, ID: mid, MessageID: mid, ChatID: history.PublicChatID, Timestamp: ts + int64(i),
			SenderID: "w_u" + strconv.Itoa(i%50), SenderName: "User " + strconv.Itoa(i%50), SenderRole: "VIEWER",
			Text: fmt.Sprintf("%06d %s", i, text)})
		if i%10 == 0 {
			publish(state.Event{Type: state.TypeMessage, ID: mid + "-p", MessageID: mid + "-p", ChatID: "private", Timestamp: ts + int64(i), Text: "private"})
		}
		if i%100 == 50 { // a reaction and an edit of a message some pages back
			old := fmt.Sprintf("%d-m%06d", ts, i-50)
			publish(state.Event{Type: state.TypeReactionAdded, ID: mid + "-r", MessageID: old, Emoji: "👍", UserID: "w_u1", Timestamp: ts + int64(i)})
			publish(state.Event{Type: state.TypeMessageEdited, ID: mid + "-e", MessageID: old, Text: "edited", Timestamp: ts + int64(i)})
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		t.Fatal("publishing timed out")
	}
	for _, f := range pubs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		}
	}
	pubs = nil
	t.Logf("stored %d messages in %s", n, time.Since(start).Round(time.Millisecond))

	// The raw JetStream read of the same messages: an ordered consumer on the meeting's message subject.
	start = time.Now()
	raw := 0
	oc, err := e.js.OrderedConsumer(ctx, state.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{state.EventSubject(id, state.TypeMessage)}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := oc.Messages()
	if err != nil {
		t.Fatal(err)
	}
	for raw < n+n/10 {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
		raw++
	}
	it.Stop()
	rawTime := time.Since(start)

	// History, a page of 100 at a time, through the API.
	ingRSS := vmRSS(e.ingress.Pid())
	var ingPeak atomic.Int64
	stopIng := sampleRSS(e.ingress.Pid(), &ingPeak)
	start = time.Now()
	after, got, pages := "", 0, 0
	for {
		kv := []string{"meeting_id", id, "limit", "100"}
		if after != "" {
			kv = append(kv, "after", after)
		}
		a := e.call(callHistory, kv...)
		expect(t, a, 200, "Chat history")
		for _, m := range a.Body["messages"].([]any) {
			msg := m.(map[string]any)
			if want := fmt.Sprintf("%d-m%06d", ts, got); msg["message_id"] != want {
				t.Fatalf("message %d is %v, want %s", got, msg["message_id"], want)
			}
			if got%100 == 0 && got+50 < n && (msg["message"] != "edited" || msg["reactions"] == nil) {
				t.Fatalf("message %d lacks its later edit and reaction: %v", got, msg)
			}
			got++
		}
		pages++
		if after, _ = a.Body["next"].(string); after == "" {
			break
		}
	}
	historyTime := time.Since(start)
	if got != n {
		t.Fatalf("history has %d messages, want %d", got, n)
	}
	start = time.Now()
	status, body := e.transcript(id, "text", "")
	streamTranscript := time.Since(start)
	stopIng()
	if status != 200 || strings.Count(body, "\n") != n {
		t.Fatalf("transcript from the stream: %d, %d lines", status, strings.Count(body, "\n"))
	}

	// The meeting ends: relay writes the transcript.
	relayRSS := vmRSS(e.relay.Pid())
	var relayPeak atomic.Int64
	stopRelay := sampleRSS(e.relay.Pid(), &relayPeak)
	start = time.Now()
	publish(state.Event{Type: state.TypeMeetingEnded, ID: id + "-ended", Timestamp: ts + int64(n)})
	<-e.js.PublishAsyncComplete()
	var tr state.Transcript
	testenv.Eventually(t, 120*time.Second, "the transcript is written and linked from its external id", func() bool {
		tr, err = e.store.TranscriptByExternal(context.Background(), "ext-"+id)
		return err == nil
	})
	writeTime := time.Since(start)
	stopRelay()
	start = time.Now()
	status, body = e.transcript("ext-"+id, "json", "")
	storedTranscript := time.Since(start)
	if status != 200 || strings.Count(body, `"message_id"`) != n {
		t.Fatalf("stored transcript: %d, %d messages", status, strings.Count(body, `"message_id"`))
	}
	relayGrowth, ingGrowth := int(relayPeak.Load())-relayRSS, int(ingPeak.Load())-ingRSS
	t.Logf("%d messages: raw JetStream read %s; history %d pages of 100 in %s (%s a page); transcript from the stream %s; "+
		"relay wrote the transcript (%d KiB) in %s; stored transcript served in %s; RSS growth relay %d KiB, ingress %d KiB",
		n, rawTime.Round(time.Millisecond), pages, historyTime.Round(time.Millisecond),
		(historyTime / time.Duration(pages)).Round(100*time.Microsecond), streamTranscript.Round(time.Millisecond),
		tr.Size>>10, writeTime.Round(time.Millisecond), storedTranscript.Round(time.Millisecond), relayGrowth, ingGrowth)
	// The runtime's own growth (a few MiB of heap goal and buffers) is a floor under which size says nothing.
	if limit := max(int(tr.Size>>10), 16<<10); relayGrowth > limit || ingGrowth > limit {
		t.Errorf("resident memory grew by more than the transcript's size (at least 16 MiB) %d KiB: relay %d KiB, ingress %d KiB",
			limit, relayGrowth, ingGrowth)
	}
}

// sampleRSS keeps the largest resident set size of pid in peak (kB) until the returned function is called.
func sampleRSS(pid int, peak *atomic.Int64) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if r := int64(vmRSS(pid)); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-stopped }
}
