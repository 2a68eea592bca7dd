package callback

import (
	"errors"
	"testing"
)

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		r    result
		want string
	}{
		{result{status: 200}, "2xx"},
		{result{status: 204}, "2xx"},
		{result{status: 301}, "3xx"},
		{result{status: 410}, "4xx"},
		{result{status: 429}, "4xx"},
		{result{status: 503}, "5xx"},
		{result{err: errors.New("refused")}, "error"},
		{result{status: 0}, "error"},
		{result{status: 700}, "error"},
	} {
		if got := c.r.outcome(); got != c.want {
			t.Errorf("%+v: outcome %q, want %q", c.r, got, c.want)
		}
	}
}

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		r    result
		want bool
	}{
		{result{err: errors.New("connection refused")}, true},
		{result{status: 502}, true},
		{result{status: 503}, true},
		{result{status: 503, hasRetryAfter: true}, false}, // it said when to come back
		{result{status: 429}, true},
		{result{status: 408}, true},
		{result{status: 400}, false}, // up, and refuses the event
		{result{status: 401}, false},
		{result{status: 404}, false},
		{result{status: 301}, false},
	} {
		if got := c.r.unavailable(); got != c.want {
			t.Errorf("%+v: unavailable %v, want %v", c.r, got, c.want)
		}
	}
}
