package state

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The narrow handles on the events stream's consumers and on the NATS connection that the bridge lifecycle
// (shared/bridge) and relay's callback delivery need. They carry no policy: which consumers exist, how they are
// named and configured is shared/bridge's.

// ConsumerInfo returns the info of the events stream's consumer name, whichever kind it is (push, or pull as
// earlier versions made); ErrNotFound when there is none.
func (s *Store) ConsumerInfo(ctx context.Context, name string) (*jetstream.ConsumerInfo, error) {
	var info *jetstream.ConsumerInfo
	err := Retry(ctx, func(ctx context.Context) error {
		c, err := s.js.PushConsumer(ctx, StreamEvents, name)
		if err == nil {
			info = c.CachedInfo()
		} else if errors.Is(err, jetstream.ErrNotPushConsumer) {
			var pc jetstream.Consumer
			if pc, err = s.js.Consumer(ctx, StreamEvents, name); err == nil {
				info = pc.CachedInfo()
			}
		}
		return err
	})
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, wrap("consumer "+name, err)
	}
	return info, nil
}

// CreatePushConsumer creates a push consumer on the events stream; ErrExists when one of that name exists (also
// when an attempt whose answer an election lost created it), and errors.Is(err, jetstream.ErrMaximumConsumersLimit)
// when the stream allows no more.
func (s *Store) CreatePushConsumer(ctx context.Context, cfg jetstream.ConsumerConfig) (*jetstream.ConsumerInfo, error) {
	var c jetstream.PushConsumer
	err := Retry(ctx, func(ctx context.Context) (err error) {
		c, err = s.js.CreatePushConsumer(ctx, StreamEvents, cfg)
		return err
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return nil, ErrExists
	}
	if err != nil {
		return nil, wrap("create consumer "+cfg.Durable, err)
	}
	return c.CachedInfo(), nil
}

// UpdatePushConsumer changes a push consumer of the events stream.
func (s *Store) UpdatePushConsumer(ctx context.Context, cfg jetstream.ConsumerConfig) (*jetstream.ConsumerInfo, error) {
	var c jetstream.PushConsumer
	err := Retry(ctx, func(ctx context.Context) (err error) {
		c, err = s.js.UpdatePushConsumer(ctx, StreamEvents, cfg)
		return err
	})
	if err != nil {
		return nil, wrap("update consumer "+cfg.Durable, err)
	}
	return c.CachedInfo(), nil
}

// DeleteConsumer removes a consumer of the events stream (and with it its pending deliveries); nil when there is
// none.
func (s *Store) DeleteConsumer(ctx context.Context, name string) error {
	err := Retry(ctx, func(ctx context.Context) error { return s.js.DeleteConsumer(ctx, StreamEvents, name) })
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return wrap("delete consumer "+name, err)
	}
	return nil
}

// ListConsumers calls f with every consumer of the events stream, read a page at a time.
func (s *Store) ListConsumers(ctx context.Context, f func(*jetstream.ConsumerInfo)) error {
	l := s.events.ListConsumers(ctx)
	for info := range l.Info() {
		f(info)
	}
	if err := l.Err(); err != nil {
		return wrap("list consumers", err)
	}
	return nil
}

// QueueSubscribe subscribes to subject in queue group, into ch. nats.go subscribes again by itself after a
// reconnect.
func (s *Store) QueueSubscribe(subject, group string, ch chan *nats.Msg) (*nats.Subscription, error) {
	sub, err := s.nc.ChanQueueSubscribe(subject, group, ch)
	if err != nil {
		return nil, wrap("subscribe "+subject, err)
	}
	return sub, nil
}

// Connected reports whether the NATS connection is up now.
func (s *Store) Connected() bool { return s.nc.IsConnected() }

// reconnectGrace is how long a connection lost a moment ago is waited for: when the node it was on dies, nats.go
// moves it to another node at once (a dial and a handshake).
const reconnectGrace = time.Second

// lost is when the Store first saw its connection down since its last reconnection (nats.Conn's count of them).
type lost struct {
	at         time.Time
	reconnects uint64
}

// AwaitConnected reports whether the NATS connection is up, waiting for it (until ctx ends) when it was lost less
// than reconnectGrace ago: a call that arrives as the connection moves to another node is carried out, and one in
// a longer outage is refused at once.
func (s *Store) AwaitConnected(ctx context.Context) bool {
	if s.nc.IsConnected() {
		return true
	}
	if s.nc.IsClosed() {
		return false
	}
	reconnects := s.nc.Stats().Reconnects
	l := s.lost.Load()
	if l == nil || l.reconnects != reconnects {
		if nl := (&lost{at: time.Now(), reconnects: reconnects}); s.lost.CompareAndSwap(l, nl) {
			l = nl
		} else {
			l = s.lost.Load()
		}
	}
	wait := reconnectGrace - time.Since(l.at)
	if wait <= 0 {
		return false
	}
	up := s.nc.StatusChanged(nats.CONNECTED)
	defer s.nc.RemoveStatusListener(up)
	if s.nc.IsConnected() {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-up:
	case <-t.C:
	case <-ctx.Done():
	}
	return s.nc.IsConnected()
}

// OnReconnect calls f after every reconnection to NATS (a restarted nats-server may have lost what lives in its
// memory), until ctx ends.
func (s *Store) OnReconnect(ctx context.Context, f func()) {
	status := s.nc.StatusChanged(nats.CONNECTED)
	go func() {
		defer s.nc.RemoveStatusListener(status)
		for {
			select {
			case <-ctx.Done():
				return
			case <-status:
				f()
			}
		}
	}()
}

// ResetConsumer has a consumer of the events stream deliver again, now, from its acknowledgement floor (the first
// event not acknowledged): an event that waits out a delayed redelivery goes at once, and its delivery count starts
// again. ErrNotFound when there is no such consumer. nats-server 2.14 and later have this call.
func (s *Store) ResetConsumer(ctx context.Context, name string) error {
	err := Retry(ctx, func(ctx context.Context) error {
		_, err := s.js.ResetConsumer(ctx, StreamEvents, name)
		return err
	})
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return ErrNotFound
	case err != nil:
		return wrap("reset consumer "+name, err)
	}
	return nil
}

// Request sends data on subject and waits for the first answer, until ctx ends. nats.ErrNoResponders (wrapped)
// when nobody subscribes to subject.
func (s *Store) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	msg, err := s.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return nil, wrap("request "+subject, err)
	}
	return msg.Data, nil
}
