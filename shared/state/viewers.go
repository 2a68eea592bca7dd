package state

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// What the viewer page (ingress/viewer) keeps and reads: the time before which a meeting's viewer links are
// revoked, and a meeting's events in stream order. Viewer links themselves are signed and stateless; only a
// revocation is stored.

// BucketViewerRevocations holds, per meeting, the time before which its viewer links were revoked.
const BucketViewerRevocations = "bbbchat_viewer_revocations"

// ViewerLinkMaxAge is the longest a viewer link may live. A revocation is kept a little longer: by then every link
// it revoked has expired on its own.
const ViewerLinkMaxAge = 30 * 24 * time.Hour

const viewerRevocationTTL = ViewerLinkMaxAge + 24*time.Hour

// ViewerRevocation is the value of a meeting's key in BucketViewerRevocations: links issued before NotBefore are
// refused.
type ViewerRevocation struct {
	NotBefore time.Time `json:"not_before"`
}

// RevokeViewerLinks ends every viewer link of a meeting (internal id) issued before at.
func (s *Store) RevokeViewerLinks(ctx context.Context, meetingID string, at time.Time) error {
	_, err := putJSON(ctx, s.revocations, Key(meetingID), ViewerRevocation{NotBefore: at.UTC()})
	return err
}

// ViewerLinksNotBefore is the time before which a meeting's viewer links were revoked; zero when they never were.
func (s *Store) ViewerLinksNotBefore(ctx context.Context, meetingID string) (time.Time, error) {
	var r ViewerRevocation
	_, err := getJSON(ctx, s.revocations, Key(meetingID), &r)
	if errors.Is(err, ErrNotFound) {
		return time.Time{}, nil
	}
	return r.NotBefore, err
}

// FollowMeeting reads a meeting's events (internal id) from the stream in order, starting after sequence after (0:
// from the first), with one ordered consumer, and calls f with each event's stream sequence and payload until f
// returns false, ctx ends or the consumer fails. f runs on one goroutine. The ordered consumer recreates itself
// after a NATS interruption from where it was, so f sees neither a gap nor a repeat.
func (s *Store) FollowMeeting(ctx context.Context, meetingID string, after uint64, f func(seq uint64, payload []byte) bool) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{EventSubject(meetingID, ">")}}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	c, err := s.events.OrderedConsumer(ctx, cfg)
	if err != nil {
		return wrap("follow "+meetingID, err)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu   sync.Mutex
		cerr error
	)
	cc, err := c.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil || ctx.Err() != nil {
			return
		}
		if !f(md.Sequence.Stream, m.Data()) {
			stop()
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrOrderedConsumerReset) || errors.Is(err, jetstream.ErrNoHeartbeat) {
			return // the ordered consumer starts again by itself, from where it was
		}
		mu.Lock()
		cerr = err
		mu.Unlock()
		stop()
	}))
	if err != nil {
		return wrap("follow "+meetingID, err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	mu.Lock()
	defer mu.Unlock()
	return cerr
}
