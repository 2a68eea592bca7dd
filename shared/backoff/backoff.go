// Package backoff says how long to wait before trying again, for both binaries: a fixed schedule of steps (the
// callback retries) or a wait that doubles from a first value up to a cap (reconnecting, reopening the state,
// retrying a write), with jitter from a random source the caller passes. It only computes durations: it never
// sleeps, logs or reads the clock, and holds no state beyond the one loop a Retry belongs to.
package backoff

import "time"

// Jitter returns d spread by ±frac of itself: d·(1 + frac·(2·rand()-1)), never below zero. rand returns a number
// in [0,1); a nil rand or a frac of zero or less means no jitter.
func Jitter(d time.Duration, frac float64, rand func() float64) time.Duration {
	if frac > 0 && rand != nil {
		f := 1 + frac*(2*rand()-1)
		if f < 0 {
			f = 0
		}
		d = time.Duration(float64(d) * f)
	}
	return max(d, 0)
}

// Schedule returns the wait after the attempt-th failed attempt (1 for the first; less counts as 1) before the
// next one: steps[attempt-1] with Jitter. ok is false when the steps are exhausted and the work is to be given
// up.
func Schedule(attempt int, steps []time.Duration, jitter float64, rand func() float64) (time.Duration, bool) {
	attempt = max(attempt, 1)
	if attempt > len(steps) {
		return 0, false
	}
	return Jitter(steps[attempt-1], jitter, rand), true
}

// Exponential is a wait that starts at Min and doubles after every failure, up to Max.
type Exponential struct {
	Min, Max time.Duration
}

// Delay returns the wait after the attempt-th failure in a row (1 for the first; less counts as 1):
// Min·2^(attempt-1), at most Max (and never below Min).
func (e Exponential) Delay(attempt int) time.Duration {
	d := e.Min
	for i := 1; i < attempt && d < e.Max; i++ {
		d *= 2
	}
	return max(min(d, e.Max), e.Min)
}

// Start returns the state of one retry loop following e.
func (e Exponential) Start() *Retry { return &Retry{e: e} }

// Retry is one loop's position in its Exponential: Next is the wait after one more failure, Reset starts again
// after a success. Not safe for use by several goroutines.
type Retry struct {
	e Exponential
	n int // failures in a row
}

// Next counts a failure and returns the wait before the next try.
func (r *Retry) Next() time.Duration {
	r.n++
	return r.e.Delay(r.n)
}

// Reset forgets the failures: the next wait is Min again.
func (r *Retry) Reset() { r.n = 0 }
