package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestCallbackTargetCheckedAtConnect: a bridge started while its (loopback) target was allowed keeps its bridge
// when relay restarts without the allow list, but relay refuses to connect there: the deliveries fail, are counted
// and kept as failed, and never reach the receiver. Allowed again, retryCallbacks sends them.
func TestCallbackTargetCheckedAtConnect(t *testing.T) {
	e := newEnv(t, "2.7")
	ctx := t.Context()
	m := e.meeting("ext-egress", "Egress")
	recv := newReceiver(t)
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge", "callback_uri", recv.URL(),
		"callback_secret", "cb-secret"), 200, "started")
	alice, err := e.sim.Join(ctx, m.IntID, "Alice", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.sim.Say(ctx, m.IntID, alice, "while allowed")
	if err != nil {
		t.Fatal(err)
	}
	// Acknowledged too: a relay killed between the receiver's answer and the acknowledgement would have the
	// delivery sent again (at least once), which this test is not about.
	testenv.Eventually(t, 10*time.Second, "delivery while allowed, acknowledged", func() bool {
		if len(recv.deliveries()) != 1 { // first: nothing pending before the delivery says nothing
			return false
		}
		n, err := e.pending(ctx, m.IntID)
		return err == nil && n == 0
	})

	// The operator removes the allow list (or the name now points somewhere else): relay restarts without it.
	e.relay.Kill()
	strict, strictURL := e.startRelayWith(map[string]string{"BBB_CHAT_CALLBACK_ALLOW": ""})
	var refused []string
	for i := range 3 {
		msg, err := e.sim.Say(ctx, m.IntID, alice, fmt.Sprintf("refused %d", i))
		if err != nil {
			t.Fatal(err)
		}
		refused = append(refused, msg.ID)
	}
	var info answer
	testenv.Eventually(t, 20*time.Second, "all three kept as failed", func() bool {
		info = e.call(callInfo, "meeting_id", m.IntID)
		cb, _ := info.Body["callback"].(map[string]any)
		return cb != nil && cb["failed"] == float64(3)
	})
	cb := info.Body["callback"].(map[string]any)
	if le, _ := cb["last_error"].(string); !strings.Contains(le, "not allowed") || !strings.Contains(le, "loopback") {
		t.Errorf("last_error %q does not say why", le)
	}
	if n := recv.attempts(); n != 1 {
		t.Fatalf("the receiver was reached %d times; want only the first, allowed, delivery", n)
	}
	mt := metricsAt(strictURL + "/metrics")
	if mt["bbbchat_relay_callbacks_failed_total"] != 3 || mt["bbbchat_relay_callbacks_retried_total"] < 3 ||
		mt["bbbchat_relay_callbacks_delivered_total"] != 0 {
		t.Errorf("metrics: failed %v retried %v delivered %v", mt["bbbchat_relay_callbacks_failed_total"],
			mt["bbbchat_relay_callbacks_retried_total"], mt["bbbchat_relay_callbacks_delivered_total"])
	}
	if out := strict.Output(); !strings.Contains(out, "not allowed") {
		t.Errorf("relay did not log the refusal")
	}

	// Allowed again: nothing was lost, retryCallbacks sends the kept ones in their order.
	strict.Kill()
	e.startRelay()
	expect(t, e.call(callRetry, "meeting_id", m.IntID), 200, "3 failed callbacks will be sent again")
	testenv.Eventually(t, 30*time.Second, "kept deliveries sent", func() bool {
		n, err := e.pending(context.Background(), m.IntID)
		return err == nil && n == 0 && len(recv.deliveries()) == 4
	})
	checkDelivered(t, "receiver", recv.deliveries(), append([]string{first.ID}, refused...))
}
