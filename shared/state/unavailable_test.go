package state

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrNotFound, false},
		{ErrExists, false},
		{jetstream.ErrKeyNotFound, false},
		{errors.New("decode: bad json"), false},
		{&jetstream.APIError{Code: 400, Description: "bad request"}, false},
		{nats.ErrConnectionClosed, true},
		{nats.ErrTimeout, true},
		{nats.ErrNoResponders, true},
		{nats.ErrConnectionReconnecting, true},
		{jetstream.ErrNoStreamResponse, true},
		{jetstream.ErrJetStreamNotEnabled, true},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("wrapped: %w", nats.ErrTimeout), true},
		{&jetstream.APIError{Code: 503, Description: "JetStream system temporarily unavailable"}, true},
		{&nats.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 500, ErrorCode: 10009, Description: "JetStream cluster can not handle request"}, true},
		{&nats.APIError{Code: 500, ErrorCode: 10009, Description: "JetStream cluster can not handle request"}, true},
		{&nats.APIError{Code: 404, ErrorCode: 10059, Description: "stream not found"}, false},
	} {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
		w := wrap("op", tc.err)
		if tc.err != nil && errors.Is(w, ErrUnavailable) != tc.want {
			t.Errorf("wrap(%v) = %v: ErrUnavailable %v, want %v", tc.err, w, !tc.want, tc.want)
		}
		if tc.err != nil && !errors.Is(w, tc.err) {
			t.Errorf("wrap(%v) loses its cause", tc.err)
		}
	}
}
