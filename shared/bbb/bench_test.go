package bbb

import "testing"

// The per-message text work of the two hot paths: PlainText for every message relay forwards, Render for every
// sendChatMessage ingress posts.

func BenchmarkPlainText(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    Version
		text string
	}{
		{"2.7 plain", Version{2, 7}, "bench message from a viewer, number 12345"},
		{"2.7 escaped and link", Version{2, 7}, "2 &lt; 3 &amp; see <a href=\"https://docs.bigbluebutton.org\" target=\"_blank\"><u>https://docs.bigbluebutton.org</u></a> ok"},
		{"3.0 markdown", Version{3, 0}, "**bold** and a [link](https://docs.bigbluebutton.org) from a viewer"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.text)))
			for b.Loop() {
				PlainText(bc.v, bc.text)
			}
		})
	}
}

func BenchmarkRender(b *testing.B) {
	for _, v := range []Version{{2, 7}, {3, 0}} {
		b.Run(v.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Render(v, "{user_name}: {message}", "Viewer <42>", "hello from the stream, 2 < 3 & **bold**")
			}
		})
	}
}

// BenchmarkDecode measures Decode on the chat broadcasts relay decodes for every message it forwards, in the
// shapes servers send, and on one message of another kind.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		raw  []byte
		kind Kind
	}{
		{"2.7 captured chat", capturedLines(b)[2], KindChatMessage},
		{"2.4 chat with escapes", readEvent(b, "2.4-chat-multiline"), KindChatMessage},
		{"3.0 chat reply", readEvent(b, "3.0-chat"), KindChatMessage},
		{"2.7 captured user joined", capturedLines(b)[1], KindUserJoined},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if e, err := Decode(bc.raw); err != nil || e.Kind != bc.kind {
				b.Fatalf("Decode = %v, %v; want %v", e.Kind, err, bc.kind)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.raw)))
			for b.Loop() {
				if _, err := Decode(bc.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
