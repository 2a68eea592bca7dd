package e2e

import (
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestSecretsNeverInOutput runs a full session at debug level (bridges with callbacks, messages both ways,
// failing, refused and gone receivers, retries, wrong checksums, refused parameters, rotation, end) and then
// looks for every secret in everything the processes printed and everything the API answered.
func TestSecretsNeverInOutput(t *testing.T) {
	const (
		oldSecret    = "OLD-shared-SECRET-4f1b8c"
		cbSecret     = "CALLBACK-secret-9a7e2d"
		goneSecret   = "GONE-callback-secret-5c3b1f"
		refusedSec   = "REFUSED-callback-secret-77aa01"
		queryToken   = "QUERY-token-e0c4d2"
		userPassword = "URL-password-1b9f33"
	)
	e := newEnv(t, "2.7")
	ctx := t.Context()
	ingress2, api2 := e.startIngressWith(map[string]string{"BBB_CHAT_SHARED_SECRET_OLD": oldSecret})
	secrets := []string{e.secret, oldSecret, cbSecret, goneSecret, refusedSec, queryToken, userPassword}
	var answers []string
	keep := func(a answer) answer { answers = append(answers, a.Raw); return a }

	m := e.meeting("ext-secrets", "Secrets")
	recv := newReceiver(t)
	var calls atomic.Int32
	recv.setAnswer(func(*http.Request) int {
		if calls.Add(1) <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	expect(t, keep(e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge",
		"callback_uri", recv.URL()+"?token="+queryToken, "callback_secret", cbSecret,
		"callback_events", "chatCleared,meetingEnded")), 200, "started")
	e.sim.Join(ctx, m.IntID, "Bridge", "VIEWER")
	alice, _ := e.sim.Join(ctx, m.IntID, "Alice", "VIEWER")
	e.waitPresent(m.IntID, "Bridge", true)
	for _, text := range []string{"one", "two", "three"} {
		if _, err := e.sim.Say(ctx, m.IntID, alice, text); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, keep(e.send(m.IntID, "Viewer", "from outside")), 200, "sent")
	old := api2
	old.secret = oldSecret
	expect(t, keep(old.send(m.IntID, "Viewer", "signed with the old secret")), 200, "sent")
	testenv.Eventually(t, 15*time.Second, "three delivered after two failures", func() bool { return len(recv.deliveries()) == 3 })

	// A receiver that says 410 Gone, one that is refused, a refused start, and what clients get wrong.
	m2, _ := e.sim.CreateMeeting(ctx, "ext-secrets-2", "Secrets 2")
	e.waitKnown(m2.IntID)
	gone := newReceiver(t)
	gone.setAnswer(func(*http.Request) int { return http.StatusGone })
	expect(t, keep(e.call(callStart, "meeting_id", m2.IntID, "chat_user", "Bridge", "callback_uri", gone.URL(),
		"callback_secret", goneSecret)), 200, "started")
	bob, _ := e.sim.Join(ctx, m2.IntID, "Bob", "VIEWER")
	e.sim.Say(ctx, m2.IntID, bob, "to a gone receiver")
	testenv.Eventually(t, 10*time.Second, "gone", func() bool {
		a := e.call(callInfo, "meeting_id", m2.IntID)
		cb, _ := a.Body["callback"].(map[string]any)
		return cb != nil && cb["state"] == "gone"
	})
	expect(t, keep(e.call(callStart, "meeting_id", "refused", "chat_user", "u", "callback_uri", "http://10.0.0.1/"+refusedSec,
		"callback_secret", refusedSec)), 400, "callback_uri is refused")
	expect(t, keep(e.call(callStart, "meeting_id", "refused", "chat_user", "u", "callback_uri", "https://user:"+userPassword+"@example.com/",
		"callback_secret", refusedSec)), 400, "must not carry a user name or password")
	expect(t, keep(e.call(callStart, "meeting_id", "refused", "chat_user", "u", "callback_uri", "https://example.com/",
		"callback_secret", strings.Repeat(refusedSec, 30))), 400, "callback_secret is")
	expect(t, keep(e.call(callStart, "meeting_id", "refused", "chat_user", "u", "callback_secret", refusedSec)), 400, "go together")
	expect(t, keep(e.post("/api/getChatInfo", sign(callInfo, strs("meeting_id", m.IntID), "wrong-"+e.secret, time.Now().Unix()))), 401, "incorrect")
	expect(t, keep(e.post("/api/getChatInfo", []byte(`{"meeting_id": "x", "checksum": "`))), 400, "JSON object")
	body := sign(callInfo, strs("meeting_id", m.IntID), e.secret, time.Now().Unix())
	keep(e.post("/api/getChatInfo", body))
	expect(t, keep(e.post("/api/getChatInfo", body)), 401, "already used")
	for _, c := range []string{callInfo, callRunning} {
		a := keep(e.call(c, "meeting_id", m.IntID))
		expect(t, a, 200, "")
	}
	expect(t, keep(e.call(callRetry, "meeting_id", m2.IntID)), 200, "sent again")
	e.sim.ClearChat(ctx, m.IntID, alice)
	e.sim.EndMeeting(ctx, m.IntID)
	testenv.Eventually(t, 15*time.Second, "the bridge ends with its meeting", func() bool {
		return e.call(callInfo, "meeting_id", m.IntID).Status == 404
	})
	expect(t, keep(e.call(callEnd, "meeting_id", m2.IntID)), 200, "ended")
	// Let relay log whatever it logs at the end of its work, then stop everything gracefully. Time itself: there is
	// no condition for "nothing more to log".
	time.Sleep(300 * time.Millisecond)
	for _, p := range []*testenv.Proc{e.ingress, ingress2, e.relay} {
		p.Signal(syscall.SIGTERM)
		p.Wait(20 * time.Second)
	}

	outputs := map[string]string{
		"ingress": e.ingress.Output(), "ingress 2": ingress2.Output(), "relay": e.relay.Output(),
		"nats-server": e.nats.Log(), "redis-server": e.redis.Log(), "answers": strings.Join(answers, "\n"),
	}
	if len(outputs["relay"]) < 1000 || len(outputs["ingress"]) < 1000 {
		t.Fatalf("too little output to judge: relay %d bytes, ingress %d", len(outputs["relay"]), len(outputs["ingress"]))
	}
	for where, out := range outputs {
		for _, s := range secrets {
			if i := strings.Index(out, s); i >= 0 {
				t.Errorf("%s printed the secret %q: …%s…", where, s, out[max(0, i-200):min(len(out), i+len(s)+50)])
			}
		}
	}
}
