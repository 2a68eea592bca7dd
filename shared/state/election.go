package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/backoff"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A NATS node that dies (kill -9, a reboot) takes with it the leadership of the stream, buckets and consumers it
// led. The other nodes, still a quorum, elect new leaders once nats-server's Raft notices the silence: 4 to 9 s
// after the dead leader's last heartbeat. Meanwhile, as nats-server and nats.go behave:
//
//   - reads go on: a key or a stored event is read with a direct get, which every current replica answers (the
//     buckets allow it, as nats.go makes them, and so does the events stream);
//   - a write to a stream or bucket without a leader finds no responder: nobody listens on its subjects until the
//     new leader does (nats.go tries twice more in 500 ms, then says jetstream.ErrNoStreamResponse);
//   - a request that reached the leader as it died is never answered: it times out;
//   - a JetStream API call (a consumer, a key listing, a stream's info) goes unanswered while the meta or group
//     leader is dead unnoticed, then is answered 503 "JetStream system temporarily unavailable" or 500 "JetStream
//     cluster can not handle request" (10009) until the election ends;
//   - a process whose connection was on the dead node reconnects to another at once (nats.ErrConnectionReconnecting
//     meanwhile, or a reply lost with the connection).
//
// Retry is the one place that waits this out: every operation of the Store goes through it, and so do the calls
// ingress forwards to another server's ingress. With a quorum left, an answer comes once the election ends, within
// the caller's deadline (an API call's BBB_CHAT_REQUEST_TIMEOUT); without a quorum the deadline passes and the error
// is ErrUnavailable, as before.

// Waits between attempts: short, so that a call goes on a moment after its election ends (an attempt that finds
// no leader costs the cluster next to nothing).
const (
	retryWaitMin = 20 * time.Millisecond
	retryWaitMax = 250 * time.Millisecond
)

// Shares of the time left that one attempt may take. A JetStream request is answered in milliseconds; one that is
// not answered went to a leader that died, and would wait out the caller's whole deadline: an attempt of the Store
// is given a third of the time left (at least attemptMin), so a lost request leaves time for more.
const (
	attemptShare = 3
	attemptMin   = 250 * time.Millisecond
)

// Electing reports whether err is what a leader election (or a reconnect to another node) makes an operation fail
// with: trying again soon may succeed. A closed connection is not: the process is stopping.
func Electing(err error) bool {
	if err == nil || errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, context.Canceled) {
		return false
	}
	return Unavailable(err)
}

// Retry runs op until it succeeds, fails in a way an election does not explain (not Electing), or ctx's deadline
// leaves no time for another attempt; it returns op's last error. Each attempt runs with a share of the time left
// (attemptShare), so a request lost with a dying leader is sent again. Without a deadline op runs once: the caller
// has its own loop. op must be safe to run again after a failure that may have taken effect (Create and Update below
// recognise their own write).
func Retry(ctx context.Context, op func(ctx context.Context) error) error {
	return retry(ctx, func(left time.Duration) time.Duration {
		return min(left, max(left/attemptShare, attemptMin))
	}, op)
}

// RetryRequest is Retry for a request whose answerer keeps the deadline it is given itself (a call forwarded to the
// ingress of another server, which waits out an election on its own): each attempt has all the time left.
func RetryRequest(ctx context.Context, op func(ctx context.Context) error) error {
	return retry(ctx, func(left time.Duration) time.Duration { return left }, op)
}

// retry is Retry's loop; attempt says how much of the time left one attempt may take.
func retry(ctx context.Context, attempt func(left time.Duration) time.Duration, op func(ctx context.Context) error) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return op(ctx)
	}
	wait := backoff.Exponential{Min: retryWaitMin, Max: retryWaitMax}.Start()
	for {
		actx, cancel := context.WithTimeout(ctx, attempt(time.Until(deadline)))
		err := op(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !Electing(err) {
			return err
		}
		// The wait, and then an attempt of at least attemptMin, within the deadline; else op's error stands.
		left := time.Until(deadline) - attemptMin
		if left <= 0 || !service.Sleep(ctx, min(wait.Next(), left)) {
			return err
		}
	}
}

// electionKV is a bucket whose reads and writes wait out an election (Retry). Open and Bind hand out only these.
type electionKV struct {
	jetstream.KeyValue
}

func (kv electionKV) Get(ctx context.Context, key string) (e jetstream.KeyValueEntry, err error) {
	err = Retry(ctx, func(ctx context.Context) error {
		e, err = kv.KeyValue.Get(ctx, key)
		return err
	})
	return e, err
}

func (kv electionKV) Put(ctx context.Context, key string, value []byte) (rev uint64, err error) {
	err = Retry(ctx, func(ctx context.Context) error {
		rev, err = kv.KeyValue.Put(ctx, key, value)
		return err
	})
	return rev, err
}

// Create is the bucket's Create. A conflict after an attempt that failed may be that attempt's own write (settle).
// Values that must tell their writers apart carry something unique (UseNonce's token; a bridge's creation time).
func (kv electionKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (rev uint64, err error) {
	tried := false
	err = Retry(ctx, func(ctx context.Context) error {
		rev, err = kv.KeyValue.Create(ctx, key, value, opts...)
		if tried && errors.Is(err, jetstream.ErrKeyExists) {
			rev, err = kv.settle(ctx, key, value, 0, err)
		}
		tried = true
		return err
	})
	return rev, err
}

// Update is the bucket's compare-and-set. A conflict after an attempt that failed may be that attempt's own write
// (settle).
func (kv electionKV) Update(ctx context.Context, key string, value []byte, last uint64) (rev uint64, err error) {
	tried := false
	err = Retry(ctx, func(ctx context.Context) error {
		rev, err = kv.KeyValue.Update(ctx, key, value, last)
		if tried && errors.Is(err, jetstream.ErrKeyExists) {
			rev, err = kv.settle(ctx, key, value, last, err)
		}
		tried = true
		return err
	})
	return rev, err
}

// settle decides a conflict that a write (of value, expecting revision last) met after an earlier attempt of it
// failed: the earlier attempt stored value though its answer was lost (key holds value after last: done, at that
// revision); another writer's value stands (the conflict); or key is as it was before the attempts, and what
// conflicts is a write the leader has not stored yet, most likely the earlier attempt, held by a leader that cannot
// store it now (no quorum): that is ErrUnavailable, tried again while the deadline allows and a 503 after it, never
// taken for a conflict (a checksum's own use is no replay).
func (kv electionKV) settle(ctx context.Context, key string, value []byte, last uint64, conflict error) (uint64, error) {
	e, err := kv.KeyValue.Get(ctx, key)
	switch {
	case err == nil && e.Revision() > last && bytes.Equal(e.Value(), value):
		return e.Revision(), nil
	case err == nil && e.Revision() > last:
		return 0, conflict
	case err != nil && !errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, err
	}
	return 0, fmt.Errorf("%w: a write of %s not stored yet conflicts (%v)", ErrUnavailable, key, conflict)
}

// Delete and Purge may find, after an attempt that failed, the key gone already or its revision moved on (a
// conflict): their callers take a conflict as "changed meanwhile", which it is.
func (kv electionKV) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	return Retry(ctx, func(ctx context.Context) error { return kv.KeyValue.Delete(ctx, key, opts...) })
}

func (kv electionKV) Purge(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	return Retry(ctx, func(ctx context.Context) error { return kv.KeyValue.Purge(ctx, key, opts...) })
}
