package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// TestSecretRotationWithoutRestart rotates the shared secret as docs/security.md says, with `systemctl reload`
// (SIGHUP) only: while both are set, calls signed with either are accepted; once the old one is removed, only the
// new one. The process never restarts, so no call is refused for lack of a listener.
func TestSecretRotationWithoutRestart(t *testing.T) {
	e := newEnv(t, "2.7")
	m, err := e.sim.CreateMeeting(t.Context(), "ext-rotation", "Rotation")
	if err != nil {
		t.Fatal(err)
	}
	e.waitKnown(m.IntID)
	expect(t, e.call(callStart, "meeting_id", m.IntID, "chat_user", "Bridge"), 200, "started")

	const oldSecret, newSecret = "rotation-old-secret", "rotation-new-secret"
	envFile := filepath.Join(t.TempDir(), "bbb-chat.env")
	write := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("BBB_CHAT_SHARED_SECRET=" + oldSecret)
	p, c := e.startIngressWith(map[string]string{"BBB_CHAT_SHARED_SECRET": "", "BBB_CHAT_ENV_FILE": envFile})
	reloads := 0
	reload := func() {
		t.Helper()
		reloads++
		p.Signal(syscall.SIGHUP)
		testenv.Eventually(t, 10*time.Second, "reload", func() bool {
			return strings.Count(p.Output(), "configuration reloaded") == reloads
		})
	}
	with := func(secret string) apiClient { x := c; x.secret = secret; return x }
	info := func(secret string) answer { return with(secret).call(callInfo, "meeting_id", m.IntID) }

	expect(t, info(oldSecret), 200, "Chat info")
	expect(t, info(newSecret), 401, "Checksum was incorrect.")

	// Step 1: the new secret, the old one still accepted. Clients switch over at their own pace.
	write("BBB_CHAT_SHARED_SECRET="+newSecret, "BBB_CHAT_SHARED_SECRET_OLD="+oldSecret)
	reload()
	expect(t, info(oldSecret), 200, "Chat info")
	expect(t, info(newSecret), 200, "Chat info")
	expect(t, info("neither"), 401, "Checksum was incorrect.")

	// Step 2: every client uses the new secret; the old one goes.
	write("BBB_CHAT_SHARED_SECRET=" + newSecret)
	reload()
	expect(t, info(oldSecret), 401, "Checksum was incorrect.")
	expect(t, info(newSecret), 200, "Chat info")
	if p.Exited() {
		t.Fatal("ingress exited")
	}
}
