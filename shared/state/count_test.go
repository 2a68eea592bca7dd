package state

import (
	"fmt"
	"testing"
	"time"
)

// TestCountBridgesAfterDelete: a deleted bridge no longer counts (the marker its deletion leaves in the bucket
// must not), so BBB_CHAT_MAX_BRIDGES is about bridges that exist, not bridges that ever existed.
func TestCountBridgesAfterDelete(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	count := func(want int) {
		t.Helper()
		n, err := s.CountBridges(ctx)
		if err != nil || n != want {
			t.Fatalf("CountBridges = %d, %v; want %d", n, err, want)
		}
	}
	count(0)
	for i := range 3 {
		if _, err := s.CreateBridge(ctx, Bridge{MeetingID: fmt.Sprintf("m-%d", i), ChatUser: "u", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	count(3)
	if err := s.DeleteBridge(ctx, "m-1"); err != nil {
		t.Fatal(err)
	}
	count(2)
	if _, err := s.CreateBridge(ctx, Bridge{MeetingID: "m-1", ChatUser: "u", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	count(3)
	for i := range 3 {
		if err := s.DeleteBridge(ctx, fmt.Sprintf("m-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	count(0)
}
