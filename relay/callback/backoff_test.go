package callback

import (
	"net/http"
	"testing"
	"time"
)

func TestDefaultScheduleSpansADay(t *testing.T) {
	var sum time.Duration
	for _, d := range DefaultSchedule() {
		sum += d
	}
	if len(DefaultSchedule()) != 7 || sum < 27*time.Hour || sum > 28*time.Hour {
		t.Fatalf("default schedule: %d steps, %v", len(DefaultSchedule()), sum)
	}
	DefaultSchedule()[0] = 0
	if DefaultSchedule()[0] != 5*time.Second {
		t.Fatal("DefaultSchedule must return a copy")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		h    string
		want time.Duration
		ok   bool
	}{
		{"seconds", "1", time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 120 ", 2 * time.Minute, true},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"RFC 850 date", "Wednesday, 25-Nov-26 12:00:30 GMT", 30 * time.Second, true},
		{"huge number is capped", "99999999999999999999999", maxRetryAfterSeconds * time.Second, true},
		{"empty", "", 0, false},
		{"negative", "-5", 0, false},
		{"fraction", "1.5", 0, false},
		{"garbage", "soon", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseRetryAfter(tc.h, now)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.h, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	sched := []time.Duration{time.Second, time.Minute}
	for _, tc := range []struct {
		name    string
		attempt int
		ra      time.Duration
		hasRA   bool
		cap     time.Duration
		want    time.Duration
		ok      bool
	}{
		{"schedule only", 1, 0, false, time.Hour, time.Second, true},
		{"longer Retry-After wins", 1, 30 * time.Second, true, time.Hour, 30 * time.Second, true},
		{"shorter Retry-After ignored", 2, 30 * time.Second, true, time.Hour, time.Minute, true},
		{"Retry-After capped", 1, 48 * time.Hour, true, 2 * time.Hour, 2 * time.Hour, true},
		{"cap below the step keeps the step", 2, time.Hour, true, time.Second, time.Minute, true},
		{"exhausted despite Retry-After", 3, time.Second, true, time.Hour, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := retryDelay(tc.attempt, sched, 0, nil, tc.ra, tc.hasRA, tc.cap)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("retryDelay = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"1", "120", "Wed, 25 Nov 2026 12:01:00 GMT", "", "-1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		d, ok := ParseRetryAfter(h, now)
		if d < 0 {
			t.Fatalf("negative delay %v for %q", d, h)
		}
		if !ok && d != 0 {
			t.Fatalf("delay %v without ok for %q", d, h)
		}
	})
}
