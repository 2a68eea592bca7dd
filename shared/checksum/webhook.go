package checksum

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// Errors of VerifyWebhook.
var (
	ErrWebhookTimestamp = errors.New("checksum: webhook timestamp missing or outside the tolerance")
	ErrWebhookSignature = errors.New("checksum: no matching webhook signature")
)

// webhookSecretPrefix marks a Standard Webhooks secret: base64 of the key.
const webhookSecretPrefix = "whsec_"

// WebhookKey returns the HMAC key for a Standard Webhooks secret: the
// base64-decoded rest of a "whsec_…" secret, or the UTF-8 bytes of any other
// secret. It fails for a "whsec_" secret that is not valid base64;
// configuration should be checked with it, because WebhookSignature then
// falls back to the secret's own bytes.
func WebhookKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, webhookSecretPrefix)
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("checksum: webhook secret after %q is not base64: %w", webhookSecretPrefix, err)
	}
	return key, nil
}

// WebhookSignature returns the value of the webhook-signature header of
// Standard Webhooks v1: "v1," + base64(HMAC-SHA256(key, id + "." + unix +
// "." + body)), with the key from WebhookKey.
func WebhookSignature(secret, id string, unix int64, body []byte) string {
	return NewWebhookSigner(secret).Sign(id, unix, body)
}

// WebhookSigner signs deliveries for one secret as WebhookSignature does, keeping the keyed HMAC between
// deliveries instead of deriving it for each. It is not safe for concurrent use.
type WebhookSigner struct {
	secret string
	h      hash.Hash
	buf    []byte
}

// NewWebhookSigner returns a signer for secret.
func NewWebhookSigner(secret string) *WebhookSigner {
	key, err := WebhookKey(secret)
	if err != nil {
		key = []byte(secret)
	}
	return &WebhookSigner{secret: secret, h: hmac.New(sha256.New, key)}
}

// Secret is the secret s signs with.
func (s *WebhookSigner) Secret() string { return s.secret }

// Sign returns the webhook-signature header of a delivery of body with id at unix.
func (s *WebhookSigner) Sign(id string, unix int64, body []byte) string {
	var ts [20]byte
	sum := s.mac(id, strconv.AppendInt(ts[:0], unix, 10), body)
	n := len(sum)
	b := append(sum, "v1,"...)
	b = base64.StdEncoding.AppendEncode(b, sum)
	s.buf = b
	return string(b[n:])
}

// mac returns HMAC(key, id + "." + timestamp + "." + body), in s's buffer: valid until s is used again.
func (s *WebhookSigner) mac(id string, timestamp, body []byte) []byte {
	s.h.Reset()
	b := append(s.buf[:0], id...)
	b = append(b, '.')
	b = append(b, timestamp...)
	b = append(b, '.')
	s.h.Write(b)
	s.h.Write(body)
	s.buf = s.h.Sum(b[:0])
	return s.buf
}

// VerifyWebhook checks a Standard Webhooks v1 delivery as a receiver does:
// timestamp (the webhook-timestamp header, unix seconds) must be within
// tolerance of now, and one of the space-separated signatures in
// signatureHeader must be a "v1,<base64>" signature of id, timestamp and
// body. Signatures of other versions are skipped.
func VerifyWebhook(secret, id, timestamp, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrWebhookTimestamp, timestamp)
	}
	sent := time.Unix(ts, 0)
	if now.Sub(sent) > tolerance || sent.Sub(now) > tolerance {
		return fmt.Errorf("%w: %d is %s from now", ErrWebhookTimestamp, ts, now.Sub(sent).Truncate(time.Second))
	}
	want := NewWebhookSigner(secret).mac(id, []byte(timestamp), body)
	found := false
	for _, sig := range strings.Fields(signatureHeader) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			found = true
		}
	}
	if !found {
		return ErrWebhookSignature
	}
	return nil
}
