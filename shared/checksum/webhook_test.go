package checksum

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWebhookSignatureVector(t *testing.T) {
	// The example of the Standard Webhooks spec, recomputed with CPython's
	// hmac and base64 modules.
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = 1614265330
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	if got := WebhookSignature(secret, id, ts, []byte(body)); got != want {
		t.Fatalf("WebhookSignature = %s, want %s", got, want)
	}
	now := time.Unix(ts, 0)
	if err := VerifyWebhook(secret, id, "1614265330", want, []byte(body), now, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookKey(t *testing.T) {
	if k, err := WebhookKey("plain secret"); err != nil || string(k) != "plain secret" {
		t.Errorf("plain: %q, %v", k, err)
	}
	if k, err := WebhookKey("whsec_aGVsbG8="); err != nil || string(k) != "hello" {
		t.Errorf("whsec: %q, %v", k, err)
	}
	if _, err := WebhookKey("whsec_not base64!"); err == nil {
		t.Error("invalid base64 accepted")
	}
	// A raw secret and its whsec_ form sign alike.
	a := WebhookSignature("hello", "id", 1, []byte("x"))
	b := WebhookSignature("whsec_aGVsbG8=", "id", 1, []byte("x"))
	if a != b {
		t.Errorf("%s != %s", a, b)
	}
}

func TestVerifyWebhook(t *testing.T) {
	const secret, id = "whsec_aGVsbG8gd29ybGQgMTIzNDU2Nzg5MA==", "msg_1"
	const ts = 1700000000
	body := []byte(`{"type":"chat.message","data":{"text":"hi"}}`)
	sig := WebhookSignature(secret, id, ts, body)
	other := WebhookSignature("whsec_b3RoZXI=", id, ts, body)
	tol := 5 * time.Minute
	now := time.Unix(ts, 0)
	tsStr := strconv.Itoa(ts)
	tests := []struct {
		name      string
		id, ts    string
		header    string
		body      string
		now       time.Time
		wantError error
	}{
		{"valid", id, tsStr, sig, string(body), now, nil},
		{"rotation list, match second", id, tsStr, other + " " + sig, string(body), now, nil},
		{"unknown versions skipped", id, tsStr, "v1a,AAAA " + sig + " garbage", string(body), now, nil},
		{"edge of tolerance, old", id, tsStr, sig, string(body), now.Add(tol), nil},
		{"edge of tolerance, new", id, tsStr, sig, string(body), now.Add(-tol), nil},
		{"too old", id, tsStr, sig, string(body), now.Add(tol + time.Second), ErrWebhookTimestamp},
		{"too new", id, tsStr, sig, string(body), now.Add(-tol - time.Second), ErrWebhookTimestamp},
		{"bad timestamp", id, "soon", sig, string(body), now, ErrWebhookTimestamp},
		{"other secret", id, tsStr, other, string(body), now, ErrWebhookSignature},
		{"other id", "msg_2", tsStr, sig, string(body), now, ErrWebhookSignature},
		{"tampered body", id, tsStr, sig, string(body) + " ", now, ErrWebhookSignature},
		{"empty header", id, tsStr, "", string(body), now, ErrWebhookSignature},
		{"signature without version", id, tsStr, sig[3:], string(body), now, ErrWebhookSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook(secret, tc.id, tc.ts, tc.header, []byte(tc.body), tc.now, tol)
			if tc.wantError == nil && err != nil || tc.wantError != nil && !errors.Is(err, tc.wantError) {
				t.Fatalf("err = %v, want %v", err, tc.wantError)
			}
		})
	}
}

func TestWebhookSigner(t *testing.T) {
	for _, secret := range []string{"s3cret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", ""} {
		s := NewWebhookSigner(secret)
		if s.Secret() != secret {
			t.Fatalf("Secret() = %q", s.Secret())
		}
		for i, body := range []string{`{"a":1}`, "", strings.Repeat("x", 5000), `{"message":"hi"}`} {
			id := strings.Repeat("msg_", i+1)
			ts := int64(1700000000 + i)
			if got, want := s.Sign(id, ts, []byte(body)), WebhookSignature(secret, id, ts, []byte(body)); got != want {
				t.Fatalf("secret %q, delivery %d: Sign = %q, WebhookSignature = %q", secret, i, got, want)
			}
		}
	}
	s := NewWebhookSigner("s3cret")
	body := []byte(`{"message":"hi"}`)
	if n := testing.AllocsPerRun(100, func() { s.Sign("1698771200000-abcdefgh", 1700000000, body) }); n > 1 {
		t.Errorf("Sign allocates %v times, want 1 (its result)", n)
	}
}
