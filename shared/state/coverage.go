package state

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketCoverage records, per BBB server, until when some relay was subscribed to that server's Redis (see
// Coverage). It is kept in JetStream, never in Redis: Redis going away is one of the things it records.
const BucketCoverage = "bbbchat_coverage"

// Coverage is the heartbeat of the relays of one BBB server: At is the last moment (ms) a relay wrote it while
// subscribed to the server's Redis, Since when that relay's subscription began (ms). A relay writes it every
// second or so while subscribed; a relay that subscribes and finds At older than its own subscription knows that
// nobody was subscribed in between (see docs/operations.md, "What survives what").
type Coverage struct {
	At    int64 `json:"at"`
	Since int64 `json:"since"`
}

// GetCoverage returns the server's coverage; ErrNotFound when no relay ever wrote it.
func (s *Store) GetCoverage(ctx context.Context, server string) (Coverage, error) {
	var c Coverage
	_, err := getJSON(ctx, s.coverage, Key(server), &c)
	return c, err
}

// PutCoverage writes the server's coverage.
func (s *Store) PutCoverage(ctx context.Context, server string, c Coverage) error {
	_, err := putJSON(ctx, s.coverage, Key(server), c)
	return err
}

// GapEvent is the event saying that no relay was subscribed to server's Redis from from to to. Its id depends
// only on the server and from, the last covered moment, which every relay reads alike from the coverage bucket:
// relays that find the same window publish one event (the stream deduplicates by id).
func GapEvent(server string, from, to time.Time) Event {
	return Event{
		Type:      TypeGap,
		ID:        "gap-" + HashKey(server) + "-" + strconv.FormatInt(from.UnixMilli(), 10),
		Timestamp: to.UnixMilli(),
		From:      from.UnixMilli(),
		To:        to.UnixMilli(),
		Server:    server,
	}
}

// PublishGap stores a gap event in the stream, deduplicated by its id (ErrDuplicate when another relay stored it
// first).
func (s *Store) PublishGap(ctx context.Context, e Event) error {
	if e.Type != TypeGap {
		return errors.New("state: PublishGap of a " + e.Type + " event")
	}
	_, err := s.PublishEvent(ctx, e, AppendEvent(nil, e))
	return err
}

// coverageBucket is the bucket's definition (see definitions).
func coverageBucket(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: BucketCoverage, Description: "bbb-chat: until when a relay was subscribed to each server's Redis",
		History: 1, Storage: jetstream.FileStorage, Replicas: replicas,
	}
}
