package metrics

import (
	"strings"
	"sync"
	"testing"
)

func TestExposition(t *testing.T) {
	r := New()
	c := r.Counter("bbbchat_requests_total", "API requests.", "endpoint", "status")
	c.With("send", "200").Inc()
	c.With("send", "200").Add(2)
	c.With("start", `4"0\1`).Inc()
	r.Gauge("bbbchat_pending", "Pending.").With().Set(7)
	r.GaugeFunc("bbbchat_up", "Up.", func() float64 { return 1 })
	var b strings.Builder
	r.WriteTo(&b)
	want := `# HELP bbbchat_pending Pending.
# TYPE bbbchat_pending gauge
bbbchat_pending 7
# HELP bbbchat_requests_total API requests.
# TYPE bbbchat_requests_total counter
bbbchat_requests_total{endpoint="send",status="200"} 3
bbbchat_requests_total{endpoint="start",status="4\"0\\1"} 1
# HELP bbbchat_up Up.
# TYPE bbbchat_up gauge
bbbchat_up 1
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestConcurrentAdd(t *testing.T) {
	r := New()
	c := r.Counter("c", "c", "l")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.With("x").Inc()
			}
		})
	}
	wg.Wait()
	if got := c.With("x").Get(); got != 8000 {
		t.Fatalf("got %v", got)
	}
}

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"sendChatMessage", "sendChatMessage"},
		{`a\b`, `a\\b`},
		{"a\nb", `a\nb`},
		{`say "hi"`, `say \"hi\"`},
		{"ü\\\n\"", `ü\\\n\"`},
	} {
		if got := EscapeLabel(c.in); got != c.want {
			t.Errorf("EscapeLabel(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// With runs on every API request.
func BenchmarkWith(b *testing.B) {
	r := New()
	v := r.Counter("requests_total", "API calls", "endpoint", "status")
	b.ReportAllocs()
	for b.Loop() {
		v.With("sendChatMessage", "200").Add(1)
	}
}

func TestParse(t *testing.T) {
	got := Parse("# HELP a A.\n# TYPE a counter\na 3\nb{x=\"1 2\"} 0.5\n\nbroken\nc{y=\"z\"} nan-ish\n")
	if len(got) != 2 || got["a"] != 3 || got[`b{x="1 2"}`] != 0.5 {
		t.Fatalf("Parse = %v", got)
	}
}
