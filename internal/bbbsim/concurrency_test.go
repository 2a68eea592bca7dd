package bbbsim_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
)

// TestConcurrentUse drives the simulator from many goroutines at once (scripted users, requests over Redis and
// readers); run with -race.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, "2.7")
	ctx := t.Context()
	go func() { // keep the subscriber drained
		for range h.msgs {
		}
	}()
	m, err := h.sim.CreateMeeting(ctx, "concurrent", "concurrent")
	if err != nil {
		t.Fatal(err)
	}
	const users, each = 4, 25
	ids := make([]string, users)
	for i := range ids {
		if ids[i], err = h.sim.Join(ctx, m.IntID, fmt.Sprintf("User %d", i), bbbsim.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			for j := range each {
				if _, err := h.sim.Say(ctx, m.IntID, id, fmt.Sprintf("say %d", j)); err != nil {
					t.Errorf("Say: %v", err)
				}
			}
		})
	}
	publish := func(v M) { // not h.publish: FailNow must not be called off the test goroutine
		if err := h.rdb.Publish(ctx, toAkka, jsonLine(t, v)).Err(); err != nil {
			t.Errorf("publish: %v", err)
		}
	}
	wg.Go(func() {
		for j := range each {
			publish(sendChat(m.IntID, ids[0], chatMsg("2.7", ids[0], fmt.Sprintf("redis %d", j))))
			publish(sendChat(m.IntID, "w_stranger0000", chatMsg("2.7", "w_stranger0000", "no")))
		}
	})
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = h.sim.Chat(m.IntID)
				_ = h.sim.Users(m.IntID)
				_ = h.sim.Dropped()
				_ = h.sim.Warnings()
			}
		}
	})
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	chat, err := h.sim.WaitChat(wctx, m.IntID, users*each+each)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.WaitDropped(wctx, each); err != nil {
		t.Fatal(err)
	}
	close(stop)
	readers.Wait()
	seen := map[string]bool{}
	for _, c := range chat {
		if seen[c.ID] {
			t.Fatalf("duplicate message id %s", c.ID)
		}
		seen[c.ID] = true
	}
	if len(chat) != users*each+each {
		t.Fatalf("%d messages, want %d", len(chat), users*each+each)
	}
}
