package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/checksum"
)

// TestChecksumRefusals: a refused checksum's answer keeps the original's message and adds the reason's hint; the
// metric's reason label is one of a fixed set.
func TestChecksumRefusals(t *testing.T) {
	labels := map[string]bool{"missing": true, "malformed": true, "replay": true}
	for _, r := range checksum.Reasons() {
		labels[string(r)] = true
	}
	clock := &checksum.Mismatch{Reason: checksum.ReasonClock, Skew: 14, Delta: 5}
	tests := []struct {
		name   string
		err    error
		status int
		msg    string
		reason string
	}{
		{"unexplained", checksum.ErrIncorrect, 401, "Checksum was incorrect.", "incorrect"},
		{"missing", checksum.ErrMissing, 401, "No checksum was given.", "missing"},
		{"clock", clock, 401, "Checksum was incorrect. It is right for a time 14 s ahead of the server's clock; the window is ±5 s: synchronise your clock (NTP).", "clock_skew"},
		{"clock, wrapped", fmt.Errorf("verify: %w", clock), 401, "Checksum was incorrect. It is right for a time 14 s ahead", "clock_skew"},
		{"other call", &checksum.Mismatch{Reason: checksum.ReasonOtherCall, Call: "a", Want: "b"}, 401, `Checksum was incorrect. It is right for the call name "a", not "b"`, "other_call"},
		{"not JSON", fmt.Errorf("checksum: %w", errors.New("x")), 500, "Internal error", "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := statusOf(tc.err)
			if status != tc.status || !strings.HasPrefix(msg, tc.msg) {
				t.Fatalf("statusOf = %d %q; want %d %q", status, msg, tc.status, tc.msg)
			}
			if r := authReason(tc.err); r != tc.reason || !labels[r] {
				t.Fatalf("authReason = %q; want %q", r, tc.reason)
			}
		})
	}
}

func TestRetiredSecrets(t *testing.T) {
	tests := []struct {
		name         string
		old          checksum.Verifier
		secrets, out []string
	}{
		{"first start", checksum.Verifier{}, []string{"a"}, nil},
		{"unchanged", checksum.Verifier{Secrets: []string{"a"}}, []string{"a"}, nil},
		{"rotated", checksum.Verifier{Secrets: []string{"a"}}, []string{"b", "a"}, nil},
		{"old one dropped", checksum.Verifier{Secrets: []string{"b", "a"}}, []string{"b"}, []string{"a"}},
		{"kept over reloads, newest first", checksum.Verifier{Secrets: []string{"c"}, Retired: []string{"b", "a"}}, []string{"d"}, []string{"c", "b"}},
		{"a retired one comes back", checksum.Verifier{Secrets: []string{"b"}, Retired: []string{"a"}}, []string{"a"}, []string{"b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := retiredSecrets(&tc.old, tc.secrets)
			if fmt.Sprint(got) != fmt.Sprint(tc.out) {
				t.Fatalf("retiredSecrets = %v; want %v", got, tc.out)
			}
		})
	}
}

// TestPrintCurlValidity: --print-curl says, after the command, how long it stays valid.
func TestPrintCurlValidity(t *testing.T) {
	var out bytes.Buffer
	now := func() time.Time { return time.Date(2026, 12, 6, 11, 5, 50, 400e6, time.UTC) }
	env := getenvFrom(map[string]string{"BBB_CHAT_SHARED_SECRET": "a-test-secret", "BBB_CHAT_SHARED_SECRET_TIME_DELTA": "5"})
	if err := callCmd(t.Context(), []string{"getChatInfo", "meeting_id=m", "--print-curl"}, env, &out, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "curl ") {
		t.Fatalf("printed:\n%s", out.String())
	}
	want := `# valid for 6 s, until 11:05:56 UTC by this machine's clock (the server accepts ±5 s), and once only`
	if !strings.HasPrefix(lines[1], want) {
		t.Fatalf("validity line %q; want %q…", lines[1], want)
	}
}
