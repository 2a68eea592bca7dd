package pyjson

import "testing"

// sendChatMessageBody is a typical signed request as a Python client sends
// it: non-ASCII escaped, checksum last.
var sendChatMessageBody = []byte(`{"chat_id": "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000", "user_name": "J\u00fcrgen", "message": "Hello everyone, the stream starts in 5 minutes! \ud83d\ude00", "checksum": "56f801ac1cf38346bba571abe76d458e86d773b44fb4b329fd3b3b023c249074adb16828d63c1ff66c1d4f6fb05f1c1b43b1ab8eaa2de8d1b3d9d5f6ed343d41c8fb"}`)

// compactBody is the same request from a JavaScript client.
var compactBody = []byte(`{"chat_id":"183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000","user_name":"Jürgen","message":"Hello everyone, the stream starts in 5 minutes! 😀","checksum":"56f801ac1cf38346bba571abe76d458e86d773b44fb4b329fd3b3b023c249074adb16828d63c1ff66c1d4f6fb05f1c1b43b1ab8eaa2de8d1b3d9d5f6ed343d41c8fb"}`)

func BenchmarkCanonical(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{{"python", sendChatMessageBody}, {"compact", compactBody}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				if _, err := Canonical(bc.body, "checksum"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(compactBody)))
	for b.Loop() {
		if _, err := Parse(compactBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDumps(b *testing.B) {
	v, err := Parse(compactBody)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Dumps(v)
	}
}
