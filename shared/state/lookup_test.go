package state

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestFindMessage(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	now := time.Now().UnixMilli()
	publish := func(e Event) {
		t.Helper()
		payload, err := EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublishEvent(ctx, e, payload); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.FindMessage(ctx, "m-1", fmt.Sprintf("%d-aaaaaaaa", now)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty stream: %v", err)
	}
	var ids []string
	for i := range 600 {
		id := fmt.Sprintf("%d-%08d", now+int64(i), i)
		ids = append(ids, id)
		publish(Event{Type: TypeMessage, ID: id, MessageID: id, MeetingID: "m-1", ChatID: "MAIN-PUBLIC-GROUP-CHAT", SenderID: fmt.Sprintf("w_%d", i%3), Timestamp: now})
		publish(Event{Type: TypeMessage, ID: "o" + id, MessageID: "o" + id, MeetingID: "m-2", Timestamp: now})
	}
	for _, id := range []string{ids[0], ids[299], ids[599]} {
		e, err := s.FindMessage(ctx, "m-1", id)
		if err != nil || e.MessageID != id || e.MeetingID != "m-1" {
			t.Fatalf("FindMessage(%s) = %+v, %v", id, e, err)
		}
	}
	for _, id := range []string{"o" + ids[3], fmt.Sprintf("%d-zzzzzzzz", now+10), "not-an-id", fmt.Sprintf("%d-zzzzzzzz", now+int64(time.Hour/time.Millisecond))} {
		start := time.Now()
		if _, err := s.FindMessage(ctx, "m-1", id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("FindMessage(%s) = %v; want ErrNotFound", id, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("FindMessage(%s) took %s", id, took)
		}
	}
}
