package config

import (
	"strings"
	"testing"
	"time"
)

func TestViewerSettings(t *testing.T) {
	c, err := LoadIngress(getenv(map[string]string{"BBB_CHAT_SHARED_SECRET": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Viewer{ViewerTemplate: "{name} (stream): {message}", ViewerSlowMode: 5 * time.Second,
		ViewerFrameAncestors: "self", ViewerMaxStreams: 20}
	if c.Viewer != want {
		t.Fatalf("viewer defaults %+v, want %+v", c.Viewer, want)
	}
	if got := c.ViewerRenderTemplate(); got != "{user_name} (stream): {message}" {
		t.Fatalf("render template %q", got)
	}
	for _, tc := range []struct {
		key, value, errPart string
	}{
		{"BBB_CHAT_PUBLIC_URL", "https://bbb.example.org/bbb-chat", ""},
		{"BBB_CHAT_PUBLIC_URL", "bbb.example.org/bbb-chat", "BBB_CHAT_PUBLIC_URL"},
		{"BBB_CHAT_PUBLIC_URL", "https://bbb.example.org/?a=b", "BBB_CHAT_PUBLIC_URL"},
		{"BBB_CHAT_VIEWER_TEMPLATE", "[{name}] {message}", ""},
		{"BBB_CHAT_VIEWER_TEMPLATE", "{name} {msg}", "BBB_CHAT_VIEWER_TEMPLATE"},
		{"BBB_CHAT_VIEWER_TEMPLATE", "{name} only", "BBB_CHAT_VIEWER_TEMPLATE"},
		{"BBB_CHAT_VIEWER_SLOW_MODE", "0", ""},
		{"BBB_CHAT_VIEWER_SLOW_MODE", "-1s", "BBB_CHAT_VIEWER_SLOW_MODE"},
		{"BBB_CHAT_VIEWER_FRAME_ANCESTORS", "self https://tv.example.org", ""},
		{"BBB_CHAT_VIEWER_FRAME_ANCESTORS", "https://a; script-src *", "BBB_CHAT_VIEWER_FRAME_ANCESTORS"},
		{"BBB_CHAT_VIEWER_MAX_STREAMS_PER_ADDRESS", "-3", "BBB_CHAT_VIEWER_MAX_STREAMS_PER_ADDRESS"},
	} {
		_, err := LoadIngress(getenv(map[string]string{"BBB_CHAT_SHARED_SECRET": "x", tc.key: tc.value}))
		switch {
		case tc.errPart == "" && err != nil:
			t.Errorf("%s=%q refused: %v", tc.key, tc.value, err)
		case tc.errPart != "" && (err == nil || !strings.Contains(err.Error(), tc.errPart)):
			t.Errorf("%s=%q: %v, want an error naming %s", tc.key, tc.value, err, tc.errPart)
		}
	}
}
