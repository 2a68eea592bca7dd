package viewer

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	cur, old, other := Key("current secret"), Key("old secret"), Key("someone else's")
	link := Link{MeetingID: "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1698771157700", CanPost: true,
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
	good := Sign(cur, link)
	byOld := Sign(old, link)
	odd := Link{MeetingID: "a.b/c <d> \"e\" ü", IssuedAt: now, ExpiresAt: now.Add(time.Second)}
	tamper := func(tok string, i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name  string
		token string
		keys  [][]byte
		at    time.Time
		want  Link
		err   error
	}{
		{"current key", good, [][]byte{cur, old}, now, link, nil},
		{"old key still verifies", byOld, [][]byte{cur, old}, now, link, nil},
		{"old key dropped", byOld, [][]byte{cur}, now, Link{}, ErrLinkInvalid},
		{"another server's key", Sign(other, link), [][]byte{cur, old}, now, Link{}, ErrLinkInvalid},
		{"any meeting id", Sign(cur, odd), [][]byte{cur}, now, Link{MeetingID: odd.MeetingID, IssuedAt: now, ExpiresAt: now.Add(time.Second)}, nil},
		{"expired", good, [][]byte{cur}, now.Add(time.Hour), link, ErrLinkExpired},
		{"claims changed", tamper(good, 5), [][]byte{cur}, now, Link{}, ErrLinkInvalid},
		{"signature changed", tamper(good, len(good)-3), [][]byte{cur}, now, Link{}, ErrLinkInvalid},
		{"other version", "v2" + good[2:], [][]byte{cur}, now, Link{}, ErrLinkInvalid},
		{"empty", "", [][]byte{cur}, now, Link{}, ErrLinkInvalid},
		{"no signature", good[:strings.LastIndexByte(good, '.')], [][]byte{cur}, now, Link{}, ErrLinkInvalid},
		{"too long", good + strings.Repeat("A", maxTokenLen), [][]byte{cur}, now, Link{}, ErrLinkInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.token, tc.keys, tc.at)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Parse: %v, want %v", err, tc.err)
			}
			if tc.err == ErrLinkInvalid {
				return
			}
			if got.MeetingID != tc.want.MeetingID || got.CanPost != tc.want.CanPost ||
				!got.IssuedAt.Equal(tc.want.IssuedAt) || !got.ExpiresAt.Equal(tc.want.ExpiresAt) {
				t.Fatalf("Parse = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestKeyIsNotTheSecret(t *testing.T) {
	// A link's signature must not be an API checksum's: the key is derived with its own label.
	if string(Key("s")) == "s" || len(Key("s")) != 32 || string(Key("s")) == string(Key("t")) {
		t.Fatal("Key does not derive a 32-byte key per secret")
	}
}

func TestRedactAndURL(t *testing.T) {
	tok := Sign(Key("x"), Link{MeetingID: "m", IssuedAt: time.Unix(1, 0), ExpiresAt: time.Unix(2, 0)})
	if r := Redact(tok); len(r) > 16 || strings.Contains(r, tok[13:]) {
		t.Fatalf("Redact(%q) = %q", tok, r)
	}
	for _, tc := range []struct{ base, want string }{
		{"", "/chat/" + tok},
		{"https://bbb.example.org/bbb-chat", "https://bbb.example.org/bbb-chat/chat/" + tok},
		{"https://bbb.example.org/bbb-chat/", "https://bbb.example.org/bbb-chat/chat/" + tok},
	} {
		if got := URL(tc.base, tok); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.base, got, tc.want)
		}
	}
}
