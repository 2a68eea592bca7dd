package callback

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/backoff"
)

// DefaultSchedule returns the default wait before each retry: 8 attempts over about a day (the Svix schedule).
func DefaultSchedule() []time.Duration {
	return []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
	}
}

// maxRetryAfterSeconds bounds the number parsed from Retry-After so the conversion cannot overflow.
const maxRetryAfterSeconds = 100 * 365 * 24 * 3600

// ParseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): a number of seconds or an HTTP date, which is
// turned into the time left after now (zero when it has passed). ok is false when the header is empty or neither.
func ParseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if isDigits(h) {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n > maxRetryAfterSeconds {
			n = maxRetryAfterSeconds
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// retryDelay is the wait before the next attempt after the attempt-th failed: the schedule's step, or the
// receiver's Retry-After when longer, capped at maxRetryAfter. ok is false when the schedule is exhausted.
func retryDelay(attempt int, schedule []time.Duration, jitter float64, rand func() float64,
	retryAfter time.Duration, hasRetryAfter bool, maxRetryAfter time.Duration) (time.Duration, bool) {
	d, ok := backoff.Schedule(attempt, schedule, jitter, rand)
	if !ok {
		return 0, false
	}
	if hasRetryAfter {
		d = max(d, min(retryAfter, maxRetryAfter))
	}
	return d, true
}
