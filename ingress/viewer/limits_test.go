package viewer

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSlowMode(t *testing.T) {
	var s slowMode
	t0 := time.Unix(1000, 0)
	steps := []struct {
		key  string
		at   time.Duration
		wait time.Duration // 0: allowed
	}{
		{"a", 0, 0},
		{"a", 2 * time.Second, 3 * time.Second},
		{"b", 2 * time.Second, 0},
		{"a", 4900 * time.Millisecond, 100 * time.Millisecond},
		{"a", 5 * time.Second, 0},
		{"a", 11 * time.Second, 0},
	}
	for i, st := range steps {
		err := s.allow(st.key, t0.Add(st.at), 5*time.Second)
		var se *SlowModeError
		switch {
		case st.wait == 0 && err != nil:
			t.Fatalf("step %d: refused: %v", i, err)
		case st.wait != 0 && (!errors.As(err, &se) || se.Wait != st.wait || !errors.Is(err, ErrSlowMode)):
			t.Fatalf("step %d: %v, want a wait of %s", i, err, st.wait)
		}
	}
	if got := (&SlowModeError{Wait: 100 * time.Millisecond}).RetryAfter(); got != "1" {
		t.Fatalf("Retry-After %q, want 1", got)
	}
	if err := s.allow("a", t0, 0); err != nil {
		t.Fatalf("slow mode off still refuses: %v", err)
	}
}

func TestStreamCap(t *testing.T) {
	var c streamCap
	for i, want := range []bool{true, true, false} {
		if got := c.acquire("1.2.3.4", 2); got != want {
			t.Fatalf("stream %d: acquire %v, want %v (a cap of 2)", i+1, got, want)
		}
	}
	if !c.acquire("5.6.7.8", 2) {
		t.Fatal("another address refused")
	}
	c.release("1.2.3.4")
	if !c.acquire("1.2.3.4", 2) {
		t.Fatal("a released stream was not given back")
	}
	if !c.acquire("9.9.9.9", 0) {
		t.Fatal("no cap refused")
	}
}

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct{ remote, realIP, want string }{
		{"203.0.113.5:4000", "", "203.0.113.5"},
		{"203.0.113.5:4000", "198.51.100.1", "203.0.113.5"}, // not from a proxy on this host: ignored
		{"127.0.0.1:4000", "198.51.100.1", "198.51.100.1"},
		{"[::1]:4000", "2001:db8::1", "2001:db8::1"},
		{"127.0.0.1:4000", "not an address", "127.0.0.1"},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		if tc.realIP != "" {
			r.Header.Set("X-Real-IP", tc.realIP)
		}
		if got := clientAddr(r); got != tc.want {
			t.Errorf("clientAddr(%s, X-Real-IP %q) = %s, want %s", tc.remote, tc.realIP, got, tc.want)
		}
	}
}

func TestBlocklist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "words")
	if err := os.WriteFile(path, []byte("# words\nspam\nbuy now\n\nÄrger\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBlocklist(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		hit  bool
	}{
		{"hello", false},
		{"SPAM!", true},
		{"spammer", false},
		{"please Buy   now", true},
		{"buy later, now", false},
		{"so viel ärger", true},
	} {
		if got := b.Hit(tc.text); got != tc.hit {
			t.Errorf("Hit(%q) = %v, want %v", tc.text, got, tc.hit)
		}
	}
	empty, err := LoadBlocklist("")
	if err != nil || empty.Hit("spam") {
		t.Fatalf("no list: %v %v", err, empty.Hit("spam"))
	}
	if _, err := LoadBlocklist(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing word list was not an error")
	}
}
