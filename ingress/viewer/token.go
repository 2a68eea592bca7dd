package viewer

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Link is what a viewer link grants: the meeting's public chat, read-only or with posting, until it expires or its
// meeting's links are revoked (links issued before the revocation are refused).
type Link struct {
	MeetingID string    // BBB's internal meeting id
	CanPost   bool      // a name field and a message box
	IssuedAt  time.Time // to the millisecond, compared with a revocation's time
	ExpiresAt time.Time // to the second
}

// Refusals of a link; ingress's error table maps them to HTTP answers.
var (
	ErrLinkInvalid = errors.New("viewer link invalid")
	ErrLinkExpired = errors.New("viewer link expired")
	ErrLinkRevoked = errors.New("viewer link revoked")
)

// keyLabel is what a link key is derived from the shared secret with: a key used for nothing else.
const keyLabel = "bbb-chat viewer link"

// Key derives the key that signs viewer links from an API shared secret: HMAC-SHA256(secret, keyLabel).
func Key(secret string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(keyLabel))
	return h.Sum(nil)
}

// tokenVersion starts every token, so that the format can change.
const tokenVersion = "v1"

// maxTokenLen bounds what Parse reads; a token of a 256-character meeting id is about 450.
const maxTokenLen = 1024

// claims is a token's signed JSON.
type claims struct {
	M string `json:"m"` // meeting id
	P bool   `json:"p"` // can post
	I int64  `json:"i"` // issued at, Unix ms
	X int64  `json:"x"` // expires at, Unix s
}

var b64 = base64.RawURLEncoding

// Sign makes the token of a link: "v1.<base64url claims>.<base64url HMAC-SHA256 of the first two parts>".
func Sign(key []byte, l Link) string {
	payload, _ := json.Marshal(claims{M: l.MeetingID, P: l.CanPost, I: l.IssuedAt.UnixMilli(), X: l.ExpiresAt.Unix()})
	head := tokenVersion + "." + b64.EncodeToString(payload)
	return head + "." + b64.EncodeToString(mac(key, head))
}

func mac(key []byte, head string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(head))
	return h.Sum(nil)
}

// Parse checks a token's signature against each key (the current secret's first) and its expiry at now.
func Parse(token string, keys [][]byte, now time.Time) (Link, error) {
	if len(token) > maxTokenLen {
		return Link{}, ErrLinkInvalid
	}
	ver, rest, ok := strings.Cut(token, ".")
	if !ok || ver != tokenVersion {
		return Link{}, ErrLinkInvalid
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return Link{}, ErrLinkInvalid
	}
	got, err := b64.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return Link{}, ErrLinkInvalid
	}
	head := ver + "." + payload
	signed := false
	for _, k := range keys {
		if hmac.Equal(got, mac(k, head)) {
			signed = true
			break
		}
	}
	if !signed {
		return Link{}, ErrLinkInvalid
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return Link{}, ErrLinkInvalid
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.M == "" || !utf8.ValidString(c.M) || c.X <= 0 || c.I <= 0 {
		return Link{}, ErrLinkInvalid
	}
	l := Link{MeetingID: c.M, CanPost: c.P, IssuedAt: time.UnixMilli(c.I), ExpiresAt: time.Unix(c.X, 0)}
	if !now.Before(l.ExpiresAt) {
		return l, ErrLinkExpired
	}
	return l, nil
}

// Redact is how a token appears in logs: its first characters, never enough to use it.
func Redact(token string) string {
	const keep = 12
	if len(token) <= keep {
		return "…"
	}
	return token[:keep] + "…"
}

// Path is a token's page path.
func Path(token string) string { return "/chat/" + token }

// URL is the link's address for viewers: the path under the public base URL (BBB_CHAT_PUBLIC_URL), or the path
// alone without one.
func URL(publicURL, token string) string {
	if publicURL == "" {
		return Path(token)
	}
	return strings.TrimSuffix(publicURL, "/") + Path(token)
}
