package state

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestElecting(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrNotFound, false},
		{jetstream.ErrKeyExists, false},
		{&jetstream.APIError{Code: 400, ErrorCode: 10071, Description: "wrong last sequence"}, false},
		{jetstream.ErrNoStreamResponse, true}, // a stream or bucket without a leader
		{nats.ErrNoResponders, true},
		{context.DeadlineExceeded, true}, // a request lost with the leader that died
		{nats.ErrTimeout, true},
		{nats.ErrConnectionReconnecting, true}, // moving to another node
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 500, ErrorCode: 10009, Description: "JetStream cluster can not handle request"}, true},
		{&nats.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{fmt.Errorf("state: put: %w: %w", ErrUnavailable, jetstream.ErrNoStreamResponse), true},
		{nats.ErrConnectionClosed, false}, // the process is stopping
		{context.Canceled, false},
	} {
		if got := Electing(tc.err); got != tc.want {
			t.Errorf("Electing(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestRetry: an operation that meets an election is tried again until it succeeds within the deadline; one refused
// otherwise, or without a deadline, runs once; a deadline too short for the election ends with the last error.
func TestRetry(t *testing.T) {
	noLeader := jetstream.ErrNoStreamResponse
	for _, tc := range []struct {
		name     string
		timeout  time.Duration // 0: no deadline
		fails    []error       // the errors of the first attempts, then success
		want     error
		attempts int
	}{
		{"success", time.Second, nil, nil, 1},
		{"election ends", 2 * time.Second, []error{noLeader, noLeader, nats.ErrTimeout}, nil, 4},
		{"refusal", time.Second, []error{jetstream.ErrKeyExists}, jetstream.ErrKeyExists, 1},
		{"no deadline", 0, []error{noLeader}, noLeader, 1},
		{"closed", time.Second, []error{nats.ErrConnectionClosed}, nats.ErrConnectionClosed, 1},
		{"deadline first", 400 * time.Millisecond, []error{noLeader, noLeader, noLeader, noLeader, noLeader, noLeader,
			noLeader, noLeader, noLeader, noLeader, noLeader, noLeader}, noLeader, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			n := 0
			err := Retry(ctx, func(actx context.Context) error {
				n++
				if dl, ok := ctx.Deadline(); ok {
					if adl, _ := actx.Deadline(); adl.After(dl) {
						t.Errorf("attempt %d ends after the deadline", n)
					}
				}
				if n <= len(tc.fails) {
					return tc.fails[n-1]
				}
				return nil
			})
			if !errors.Is(err, tc.want) || err == nil && tc.want != nil {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if tc.attempts >= 0 && n != tc.attempts {
				t.Errorf("%d attempts, want %d", n, tc.attempts)
			}
			if tc.attempts < 0 && (n < 2 || n > len(tc.fails)) {
				t.Errorf("%d attempts before a deadline of %s", n, tc.timeout)
			}
		})
	}
}

// TestRetryAttemptTimeout: a request lost with a dying leader (never answered) takes a share of the time left, not
// all of it, so that the next one is sent in time; a forwarded request (RetryRequest) has all of it.
func TestRetryAttemptTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var lost time.Duration
	n := 0
	err := Retry(ctx, func(actx context.Context) error {
		n++
		if n == 1 {
			began := time.Now()
			<-actx.Done() // the leader died holding it
			lost = time.Since(began)
			return actx.Err()
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("err %v after %d attempts", err, n)
	}
	if lost > 1500*time.Millisecond {
		t.Errorf("the lost attempt took %s of 3s", lost)
	}
	ctx, cancel = context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_ = RetryRequest(ctx, func(actx context.Context) error {
		if dl, _ := actx.Deadline(); time.Until(dl) < 900*time.Millisecond {
			t.Errorf("a forwarded request has %s of 1s", time.Until(dl))
		}
		return nil
	})
}

// lossyKV is a real bucket whose answers to the first write are lost, as when the leader that stored it dies
// before it answers.
type lossyKV struct {
	jetstream.KeyValue
	lose int
}

func (kv *lossyKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	rev, err := kv.KeyValue.Create(ctx, key, value, opts...)
	if kv.lose > 0 {
		kv.lose--
		return 0, context.DeadlineExceeded
	}
	return rev, err
}

func (kv *lossyKV) Update(ctx context.Context, key string, value []byte, last uint64) (uint64, error) {
	rev, err := kv.KeyValue.Update(ctx, key, value, last)
	if kv.lose > 0 {
		kv.lose--
		return 0, context.DeadlineExceeded
	}
	return rev, err
}

// heldKV is a real bucket whose leader has lost its quorum: it answers no write, then refuses every one as
// conflicting with the write it holds.
type heldKV struct {
	jetstream.KeyValue
	holding bool
}

func (kv *heldKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if !kv.holding {
		kv.holding = true
		return 0, context.DeadlineExceeded
	}
	return 0, jetstream.ErrKeyExists
}

// TestLostAnswer: a create or update stored though its answer was lost is recognised as done when tried again, not
// refused as a conflict; a checksum used once, its answer lost, is not taken for a replay; a real conflict stays one.
func TestLostAnswer(t *testing.T) {
	s, _ := openStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	lossy := &lossyKV{KeyValue: s.bridges.(electionKV).KeyValue, lose: 1}
	kv := electionKV{lossy}
	rev, err := kv.Create(ctx, "k", []byte("one"))
	if err != nil || rev == 0 {
		t.Fatalf("create with its answer lost: %d, %v", rev, err)
	}
	lossy.lose = 1
	rev2, err := kv.Update(ctx, "k", []byte("two"), rev)
	if err != nil || rev2 <= rev {
		t.Fatalf("update with its answer lost: %d, %v", rev2, err)
	}
	if _, err := kv.Create(ctx, "k", []byte("three")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("create of an existing key: %v", err)
	}
	if _, err := kv.Update(ctx, "k", []byte("three"), rev); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("update at an old revision: %v", err)
	}

	// A leader without a quorum holds the first attempt unanswered and refuses the next as conflicting with it,
	// while nothing is stored: not a replay, NATS is unavailable.
	held := electionKV{&heldKV{KeyValue: s.nonces.(electionKV).KeyValue}}
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	if _, err := held.Create(short, "sum-held", []byte("token")); !errors.Is(err, ErrUnavailable) ||
		errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("create held by a leader without a quorum: %v", err)
	}

	s.nonces = electionKV{&lossyKV{KeyValue: s.nonces.(electionKV).KeyValue, lose: 1}}
	if err := s.UseNonce(ctx, "sum-1"); err != nil {
		t.Fatalf("checksum used once, its answer lost: %v", err)
	}
	if err := s.UseNonce(ctx, "sum-1"); !errors.Is(err, ErrReplay) {
		t.Errorf("the same checksum again: %v", err)
	}
}

// TestLeaderGet: the leader's answer for a bridge: its value and revision, none once it is deleted or never was.
func TestLeaderGet(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	b, err := s.CreateBridge(ctx, Bridge{MeetingID: "m-leader", ChatUser: "Bridge", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if v, rev := s.leaderGet(ctx, BucketBridges, Key("m-leader")); v == nil || rev != b.Revision {
		t.Errorf("leaderGet of a bridge: %q at %d, want revision %d", v, rev, b.Revision)
	}
	if err := s.DeleteBridge(ctx, "m-leader"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"m-leader", "m-never"} {
		if v, _ := s.leaderGet(ctx, BucketBridges, Key(id)); v != nil {
			t.Errorf("leaderGet of %s: %q", id, v)
		}
		if _, err := s.GetBridge(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetBridge of %s: %v", id, err)
		}
	}
}
