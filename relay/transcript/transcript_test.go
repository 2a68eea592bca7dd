package transcript_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/relay/transcript"
	"github.com/bbb-chat/bbb-chat/shared/history"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

func openStore(t *testing.T, url string) *state.Store {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s, err := state.Open(t.Context(), nc, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func publish(t *testing.T, s *state.Store, e state.Event) {
	t.Helper()
	b, _ := state.EncodeEvent(e)
	if _, err := s.PublishEvent(t.Context(), e, b); err != nil {
		t.Fatal(err)
	}
}

// TestOneTranscriptPerMeeting runs two writers (two relays) on the same NATS: every meeting that ends gets exactly
// one transcript, written by one of them, with the meeting's public chat in order (and no transcript event: no bridge asked for one).
func TestOneTranscriptPerMeeting(t *testing.T) {
	srv := testenv.NATS(t)
	a, b := openStore(t, testenv.NATSURL(srv)), openStore(t, testenv.NATSURL(srv))
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var written sync.Map // meeting → writes
	for _, s := range []*state.Store{a, b} {
		wg.Go(func() {
			transcript.Run(ctx, s, transcript.Options{Log: slog.New(slog.DiscardHandler), MaxAge: time.Hour,
				Written: func(id string) {
					n, _ := written.LoadOrStore(id, new(atomic.Int32))
					n.(*atomic.Int32).Add(1)
				}})
		})
	}
	// The consumer of the meetings' ends exists before the first end (it starts with the ends after it).
	testenv.Eventually(t, 10*time.Second, "the writers' consumer", func() bool {
		_, err := a.ConsumerInfo(context.Background(), state.ConsumerTranscripts)
		return err == nil
	})
	const meetings, msgs = 5, 30
	for i := range meetings {
		id := fmt.Sprintf("m-%d", i)
		publish(t, a, state.Event{Type: state.TypeMeetingCreated, ID: id + "-c", MeetingID: id, ExternalMeetingID: "ext-" + id, Timestamp: 1})
		for j := range msgs {
			mid := fmt.Sprintf("%s-%03d", id, j)
			publish(t, a, state.Event{Type: state.TypeMessage, ID: mid, MessageID: mid, MeetingID: id, ChatID: history.PublicChatID,
				SenderName: "U", Text: fmt.Sprint(j), Timestamp: int64(2 + j)})
		}
		publish(t, a, state.Event{Type: state.TypeMeetingEnded, ID: id + "-e", MeetingID: id, ExternalMeetingID: "ext-" + id, Timestamp: 100})
	}
	for i := range meetings {
		id := fmt.Sprintf("m-%d", i)
		testenv.Eventually(t, 20*time.Second, "transcript of "+id+", linked from its external id", func() bool {
			_, err := b.TranscriptByExternal(context.Background(), "ext-"+id)
			return err == nil
		})
		r, err := b.OpenTranscript(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		w, _ := history.NewWriter(history.FormatText, &out, nil)
		if err := history.Copy(r, w); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != msgs || !strings.HasSuffix(lines[msgs-1], "U: 29") {
			t.Fatalf("%s: transcript\n%s", id, out.String())
		}
		ext, err := b.TranscriptByExternal(ctx, "ext-"+id)
		if err != nil || ext.MeetingID != id {
			t.Fatalf("by external id: %+v, %v", ext, err)
		}
		if _, err := b.LastStored(ctx, state.EventSubject(id, state.TypeTranscript)); err == nil {
			t.Fatalf("%s: a transcript event, though no bridge asked for it", id)
		}
	}
	testenv.Consistently(t, 300*time.Millisecond, "each transcript written once", func() bool {
		total := 0
		written.Range(func(_, n any) bool { total += int(n.(*atomic.Int32).Load()); return true })
		return total == meetings
	})

	// Deleting a transcript removes it and its link.
	if err := a.DeleteTranscript(ctx, "m-0"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.OpenTranscript(ctx, "m-0"); err == nil {
		t.Fatal("deleted transcript still there")
	}
	if _, err := a.TranscriptByExternal(ctx, "ext-m-0"); err == nil {
		t.Fatal("deleted transcript's link still there")
	}
}
