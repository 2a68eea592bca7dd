package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestPendingBound: a bridge whose receiver is down collects more undelivered callbacks than
// BBB_CHAT_CALLBACK_MAX_PENDING: getChatInfo shows it overloaded, relay warns and counts it, nothing is dropped,
// and once the receiver is back everything arrives in order and the mark goes.
func TestPendingBound(t *testing.T) {
	e := newEnv(t, "2.7")
	e.relay.Kill()
	e.ingress.Kill()
	e.extraEnv = map[string]string{"BBB_CHAT_CALLBACK_MAX_PENDING": "5"}
	e.startIngress()
	relay, relayURL := e.startRelayWith(map[string]string{"BBB_CHAT_CALLBACK_RETRY_SCHEDULE": "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"})
	b := e.bridgedMeeting("pending")
	b.recv.setAnswer(func(*http.Request) int { return http.StatusServiceUnavailable })
	want := e.say(b, 12, "while the receiver is down")

	cb := func() map[string]any {
		a := e.call(callInfo, "meeting_id", b.m.IntID)
		expect(t, a, 200, "Chat info")
		return a.Body["callback"].(map[string]any)
	}
	testenv.Eventually(t, 10*time.Second, "getChatInfo shows the bridge overloaded", func() bool {
		c := cb()
		return c["overloaded"] == true && c["pending"] == float64(12) && c["max_pending"] == float64(5)
	})
	testenv.Eventually(t, 15*time.Second, "relay counts the overloaded bridge", func() bool {
		return metricsAt(relayURL + "/metrics")["bbbchat_relay_callbacks_overloaded_bridges"] == 1
	})

	b.recv.setAnswer(nil)
	waitDelivered(t, b, want, 20*time.Second)
	testenv.Eventually(t, 10*time.Second, "the mark goes", func() bool {
		c := cb()
		return c["overloaded"] == false && c["pending"] == float64(0)
	})
	testenv.Eventually(t, 15*time.Second, "relay counts it no more", func() bool {
		return metricsAt(relayURL + "/metrics")["bbbchat_relay_callbacks_overloaded_bridges"] == 0
	})
	if out := relay.Output(); !strings.Contains(out, "callback queue over BBB_CHAT_CALLBACK_MAX_PENDING") || !strings.Contains(out, "callback queue back under") {
		t.Errorf("relay did not log the overload and its end")
	}
}
