package ratelog

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(10*time.Second, func() time.Time { return now })
	steps := []struct {
		name     string
		advance  time.Duration
		key      string
		ok       bool
		withheld int
	}{
		{"first", 0, "x", true, 0},
		{"within the interval", time.Second, "x", false, 0},
		{"within the interval again", time.Second, "x", false, 0},
		{"within the interval a third time", time.Second, "x", false, 0},
		{"other key", 0, "y", true, 0},
		{"after the interval", 8 * time.Second, "x", true, 3},
		{"nothing held back since", 11 * time.Second, "x", true, 0},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		if ok, n := l.Allow(s.key); ok != s.ok || n != s.withheld {
			t.Errorf("%s: Allow(%q) = %v, %d; want %v, %d", s.name, s.key, ok, n, s.ok, s.withheld)
		}
	}
}
