package state

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestTranscripts: without the bucket (transcripts off, or relay not started yet) there is no transcript and
// deleting one is no error; with it, a transcript is stored whole, found by either id, replaced by a second write
// and deleted with its link.
func TestTranscripts(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	if _, err := s.TranscriptOf(ctx, "m1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no bucket: %v", err)
	}
	if _, err := s.OpenTranscript(ctx, "m1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no bucket: %v", err)
	}
	if err := s.DeleteTranscript(ctx, "m1"); err != nil {
		t.Fatalf("no bucket: %v", err)
	}
	if err := s.EnsureTranscripts(ctx, time.Hour, 1); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("0123456789", 100_000) // more than one chunk
	for _, text := range []string{"first", big} {
		if err := s.PutTranscript(ctx, "m 1", "ext/1", strings.NewReader(text)); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := s.TranscriptByExternal(ctx, "ext/1")
	if err != nil || tr.MeetingID != "m 1" || tr.Size != uint64(len(big)) {
		t.Fatalf("by external id: %+v, %v", tr, err)
	}
	r, err := s.OpenTranscript(ctx, "m 1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != big {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if err := s.DeleteTranscript(ctx, "m 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TranscriptOf(ctx, "m 1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := s.TranscriptByExternal(ctx, "ext/1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("link after delete: %v", err)
	}
}
