package viewer

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse: any string is either refused with one of the link errors or is a link this key signed.
func FuzzParse(f *testing.F) {
	key := Key("fuzz")
	now := time.Unix(1_700_000_000, 0)
	f.Add(Sign(key, Link{MeetingID: "m-1", CanPost: true, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}))
	f.Add(Sign(key, Link{MeetingID: "m-1", IssuedAt: now, ExpiresAt: now.Add(-time.Hour)}))
	f.Add("v1..")
	f.Add("v1.e30.AAAA")
	f.Add("v1.eyJtIjoibSJ9." + "A")
	f.Fuzz(func(t *testing.T, token string) {
		l, err := Parse(token, [][]byte{key}, now)
		switch {
		case err == nil, errors.Is(err, ErrLinkExpired):
			if l.MeetingID == "" {
				t.Fatalf("accepted a link without a meeting: %q", token)
			}
			// Only Sign holds the key, and its encoding is canonical: what verifies is exactly what it makes.
			if Sign(key, l) != token {
				t.Fatalf("accepted a token Sign would not make: %q", token)
			}
		case errors.Is(err, ErrLinkInvalid):
		default:
			t.Fatalf("Parse(%q): unexpected error %v", token, err)
		}
	})
}
