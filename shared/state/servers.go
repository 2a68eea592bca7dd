package state

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Footprint is what of bbb-chat's state a NATS account holds, looked up without creating or changing anything:
// whether the stream is there, and the servers (BBB_CHAT_SERVER_ID) whose relays recorded their facts there.
type Footprint struct {
	Stream  bool
	Servers []string
}

// LookFootprint looks at what of bbb-chat's state the account of nc holds. It creates and changes nothing.
func LookFootprint(ctx context.Context, nc *nats.Conn) (Footprint, error) {
	var f Footprint
	js, err := jetstream.New(nc)
	if err != nil {
		return f, wrap("jetstream", err)
	}
	switch _, err := js.Stream(ctx, StreamEvents); {
	case err == nil:
		f.Stream = true
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return f, wrap("stream lookup", err)
	}
	kv, err := js.KeyValue(ctx, BucketMeetings)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return f, nil
	}
	if err != nil {
		return f, wrap("bucket lookup", err)
	}
	prefix := strings.TrimSuffix(versionKey("x"), "x")
	lister, err := kv.ListKeysFiltered(ctx, prefix+"*")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return f, nil
	}
	if err != nil {
		return f, wrap("list servers", err)
	}
	for k := range lister.Keys() {
		if id, err := ParseKey(strings.TrimPrefix(k, prefix)); err == nil {
			f.Servers = append(f.Servers, id)
		}
	}
	sort.Strings(f.Servers)
	return f, nil
}
