package state

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// lookupSlack is how far before the time in a message id the search for it starts: BBB stamps the id with its
// clock when it accepts the message, relay stores the event a moment later, and the two clocks may differ.
const lookupSlack = 5 * time.Minute

// FindMessage returns the stored chat message of meeting meetingID whose BBB id is messageID (ErrNotFound when the
// stream holds none). BBB's ids begin with its clock in ms ("<ms>-<random>", docs/protocol.md §3.1), so the search
// reads the meeting's messages from a few minutes before that time on, and stops at the message; an id of any other
// form is searched among all of the meeting's messages the stream still holds.
func (s *Store) FindMessage(ctx context.Context, meetingID, messageID string) (Event, error) {
	subject := EventSubject(meetingID, TypeMessage)
	var info *jetstream.StreamInfo
	err := Retry(ctx, func(ctx context.Context) (err error) {
		info, err = s.events.Info(ctx, jetstream.WithSubjectFilter(subject))
		return err
	})
	if err != nil {
		return Event{}, wrap("find message", err)
	}
	if info.State.Subjects[subject] == 0 {
		return Event{}, ErrNotFound
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if ms, ok := idMillis(messageID); ok {
		start := time.UnixMilli(ms).Add(-lookupSlack)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	var c jetstream.Consumer
	err = Retry(ctx, func(ctx context.Context) (err error) {
		c, err = s.js.OrderedConsumer(ctx, StreamEvents, cfg)
		return err
	})
	if err != nil {
		return Event{}, wrap("find message", err)
	}
	for ctx.Err() == nil {
		batch, err := c.Fetch(256, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return Event{}, wrap("find message", err)
		}
		n, last := 0, false
		var found *Event
		for m := range batch.Messages() {
			n++
			var e Event
			if found == nil && DecodeEvent(m.Data(), &e) == nil && e.MessageID == messageID && e.Type == TypeMessage {
				found = &e
			}
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				last = true
			}
		}
		if found != nil {
			return *found, nil
		}
		if n == 0 || last {
			return Event{}, ErrNotFound
		}
	}
	return Event{}, wrap("find message", ctx.Err())
}

// idMillis reads the time at the start of a BBB message id.
func idMillis(id string) (int64, bool) {
	head, _, ok := strings.Cut(id, "-")
	if !ok || len(head) < 12 || len(head) > 14 {
		return 0, false
	}
	ms, err := strconv.ParseInt(head, 10, 64)
	return ms, err == nil && ms > 0
}
