package checksum

import (
	"crypto/sha512"
	"crypto/subtle"
	"strconv"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

func benchParams() pyjson.Value {
	return pyjson.Object(
		pyjson.Member{Key: "chat_id", Value: pyjson.String("183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000")},
		pyjson.Member{Key: "user_name", Value: pyjson.String("Jürgen")},
		pyjson.Member{Key: "message", Value: pyjson.String("Hello everyone, the stream starts in 5 minutes! 😀")},
	)
}

func BenchmarkVerify(b *testing.B) {
	const call = "sendMessage"
	python := SignedBody(call, benchParams(), testSecret, testTS)
	js := jsClientBody(call, [][2]string{
		{"chat_id", "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000"},
		{"user_name", "Jürgen"},
		{"message", "Hello everyone, the stream starts in 5 minutes! 😀"},
	}, testSecret, testTS, -1)
	for _, bc := range []struct {
		name    string
		body    []byte
		secrets []string
	}{
		{"python client", python, []string{testSecret}},
		{"js client", js, []string{testSecret}},
		{"python client, two secrets", python, []string{"old-secret", testSecret}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := Verifier{Secrets: bc.secrets, Delta: 5, Now: fixedNow(testTS)}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := v.Verify(call, bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCandidates compares the two ways of hashing the 2*Delta+1
// candidates: restoring a SHA-512 state saved after call+text+secret (what
// try does) and rehashing the whole message for each second.
func BenchmarkCandidates(b *testing.B) {
	for _, size := range []int{150, 1000, 10000} {
		text := make([]byte, size)
		for i := range text {
			text[i] = 'a'
		}
		var want [sha512.Size]byte
		buf := make([]byte, 0, size+64)
		b.Run("restore/"+strconv.Itoa(size), func(b *testing.B) {
			sc := newScratch(size + 64)
			b.ReportAllocs()
			for b.Loop() {
				sc.try("sendMessage", text, testSecret, testTS-5, testTS+5, &want)
			}
		})
		b.Run("rehash/"+strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tryRehash(buf, "sendMessage", text, testSecret, testTS-5, testTS+5, &want)
			}
		})
	}
}

func tryRehash(buf []byte, call string, text []byte, secret string, lo, hi int64, want *[sha512.Size]byte) int {
	buf = append(buf[:0], call...)
	buf = append(buf, text...)
	buf = append(buf, secret...)
	n := len(buf)
	match := 0
	for ts := lo; ts <= hi; ts++ {
		sum := sha512.Sum512(strconv.AppendInt(buf[:n], ts, 10))
		match |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	return match
}

// BenchmarkSignCallback is what relay computes for every callback body: pyjson.Dumps of the members and SHA-512.
func BenchmarkSignCallback(b *testing.B) {
	params := pyjson.Object(
		pyjson.Member{Key: "user_name", Value: pyjson.String("Viewer 42")},
		pyjson.Member{Key: "message", Value: pyjson.String("bench message from a viewer, number 12345")},
		pyjson.Member{Key: "meeting_id", Value: pyjson.String("183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000")},
		pyjson.Member{Key: "message_id", Value: pyjson.String("1700000005000-abcdefgh")},
		pyjson.Member{Key: "timestamp", Value: pyjson.Int(1700000005000)},
		pyjson.Member{Key: "sender_id", Value: pyjson.String("w_abcdefghijkl")},
		pyjson.Member{Key: "sender_role", Value: pyjson.String("VIEWER")},
	)
	b.ReportAllocs()
	for b.Loop() {
		SignCallback("sendChatMessage", params, testSecret, testTS)
	}
}

// BenchmarkWebhookSignature is the Standard Webhooks header relay adds to every callback.
func BenchmarkWebhookSignature(b *testing.B) {
	body := SignedBody("sendChatMessage", benchParams(), testSecret, testTS)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		WebhookSignature(testSecret, "1700000005000-abcdefgh", testTS, body)
	}
}

// BenchmarkWebhookSigner is what relay's callback workers pay per delivery: the keyed HMAC kept between them.
func BenchmarkWebhookSigner(b *testing.B) {
	body := SignedBody("sendChatMessage", benchParams(), testSecret, testTS)
	s := NewWebhookSigner(testSecret)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		s.Sign("1700000005000-abcdefgh", testTS, body)
	}
}
