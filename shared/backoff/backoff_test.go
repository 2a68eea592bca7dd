package backoff

import (
	"testing"
	"time"
)

func fixedRand(v float64) func() float64 { return func() float64 { return v } }

func TestJitter(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    time.Duration
		frac float64
		rand func() float64
		want time.Duration
	}{
		{"middle", time.Second, 0.2, fixedRand(0.5), time.Second},
		{"lowest", time.Second, 0.2, fixedRand(0), 800 * time.Millisecond},
		{"near highest", 10 * time.Second, 0.2, fixedRand(0.999999), 11999996 * time.Microsecond},
		{"no rand", time.Minute, 0.2, nil, time.Minute},
		{"no frac", time.Minute, 0, fixedRand(0), time.Minute},
		{"negative frac", time.Minute, -1, fixedRand(0), time.Minute},
		{"beyond 1 never negative", time.Second, 3, fixedRand(0), 0},
		{"negative wait", -time.Second, 0, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Jitter(tc.d, tc.frac, tc.rand); got.Round(time.Microsecond) != tc.want {
				t.Fatalf("Jitter(%v, %v) = %v, want %v", tc.d, tc.frac, got, tc.want)
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	steps := []time.Duration{time.Second, 10 * time.Second, time.Minute}
	for _, tc := range []struct {
		name    string
		attempt int
		jitter  float64
		rand    func() float64
		want    time.Duration
		ok      bool
	}{
		{"first retry, middle of the jitter", 1, 0.2, fixedRand(0.5), time.Second, true},
		{"first retry, lowest", 1, 0.2, fixedRand(0), 800 * time.Millisecond, true},
		{"second retry, near highest", 2, 0.2, fixedRand(0.999999), 11999996 * time.Microsecond, true},
		{"last step", 3, 0, fixedRand(0.9), time.Minute, true},
		{"no rand means no jitter", 3, 0.2, nil, time.Minute, true},
		{"exhausted", 4, 0.2, fixedRand(0.5), 0, false},
		{"attempt 0 counts as the first", 0, 0, nil, time.Second, true},
		{"jitter beyond 1 never goes negative", 1, 3, fixedRand(0), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Schedule(tc.attempt, steps, tc.jitter, tc.rand)
			if ok != tc.ok || got.Round(time.Microsecond) != tc.want {
				t.Fatalf("Schedule(%d) = %v, %v; want %v, %v", tc.attempt, got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := Schedule(1, nil, 0, nil); ok {
		t.Fatal("an empty schedule gives up at once")
	}
}

func TestExponential(t *testing.T) {
	e := Exponential{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{-1, 100 * time.Millisecond},
		{0, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{5, 1600 * time.Millisecond},
		{6, 2 * time.Second},
		{7, 2 * time.Second},
		{1 << 30, 2 * time.Second}, // no overflow
	} {
		if got := e.Delay(tc.attempt); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
	if got := (Exponential{Min: time.Second}).Delay(3); got != time.Second {
		t.Errorf("Max below Min: Delay = %v, want Min", got)
	}
}

func TestRetry(t *testing.T) {
	r := Exponential{Min: 250 * time.Millisecond, Max: time.Second}.Start()
	var got []time.Duration
	for range 4 {
		got = append(got, r.Next())
	}
	r.Reset()
	got = append(got, r.Next())
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second, 250 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
}
