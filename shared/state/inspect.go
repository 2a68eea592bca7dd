package state

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Finding is what Inspect found about the stream or one bucket.
type Finding struct {
	Kind    string   // "stream" or "bucket"
	Name    string   // StreamEvents or a Bucket* name
	Exists  bool     // false: the services create it when they start
	Differs []string // settings that differ from what Open would make, as "max_age 24h0m0s (configured 168h0m0s)"
}

// Inspect compares the stream and the buckets in JetStream with what Open would make with o, and creates or
// changes nothing: it is what the check commands call. It fails only when JetStream does not answer.
func Inspect(ctx context.Context, nc *nats.Conn, o Options) ([]Finding, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, wrap("jetstream", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return nil, wrap("jetstream", err)
	}
	buckets, stream := definitions(o.withDefaults())
	var out []Finding
	f := Finding{Kind: "stream", Name: StreamEvents}
	st, err := js.Stream(ctx, StreamEvents)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return nil, wrap("stream "+StreamEvents, err)
	default:
		f.Exists = true
		f.Differs = differences(st.CachedInfo().Config, stream)
	}
	out = append(out, f)
	for _, d := range buckets {
		f := Finding{Kind: "bucket", Name: d.cfg.Bucket}
		kv, err := js.KeyValue(ctx, d.cfg.Bucket)
		switch {
		case errors.Is(err, jetstream.ErrBucketNotFound):
		case err != nil:
			return nil, wrap("bucket "+d.cfg.Bucket, err)
		default:
			status, err := kv.Status(ctx)
			if err != nil {
				return nil, wrap("bucket "+d.cfg.Bucket, err)
			}
			f.Exists = true
			if bs, ok := status.(*jetstream.KeyValueBucketStatus); ok {
				want := jetstream.StreamConfig{MaxAge: d.cfg.TTL, Replicas: d.cfg.Replicas}
				have := bs.StreamInfo().Config
				f.Differs = differences(jetstream.StreamConfig{MaxAge: have.MaxAge, Replicas: have.Replicas}, want)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// differences lists the settings Open decides on that differ between have and want. Zero fields of want are
// not compared.
func differences(have, want jetstream.StreamConfig) []string {
	var out []string
	if have.MaxAge != want.MaxAge {
		out = append(out, fmt.Sprintf("max_age %s (configured %s)", have.MaxAge, want.MaxAge))
	}
	if want.MaxBytes != 0 && have.MaxBytes != want.MaxBytes {
		out = append(out, fmt.Sprintf("max_bytes %d (configured %d)", have.MaxBytes, want.MaxBytes))
	}
	if have.Replicas != want.Replicas {
		out = append(out, fmt.Sprintf("replicas %d (configured %d)", have.Replicas, want.Replicas))
	}
	if want.MaxConsumers != 0 && have.MaxConsumers != want.MaxConsumers {
		out = append(out, fmt.Sprintf("max_consumers %d (bbb-chat's %d)", have.MaxConsumers, want.MaxConsumers))
	}
	return out
}

// Bind returns a store on the stream and buckets as they are, creating or changing nothing: for reading, as the
// check commands do. ErrNotFound when the stream or a bucket does not exist yet (the services create them).
func Bind(ctx context.Context, nc *nats.Conn) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, wrap("jetstream", err)
	}
	s := &Store{nc: nc, js: js, server: DefaultServer} // Bind's callers read no presence
	buckets, _ := definitions(Options{NonceTTL: 1}.withDefaults())
	for _, d := range buckets {
		b, err := js.KeyValue(ctx, d.cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			if d.cfg.Bucket == BucketNonces {
				continue // only ingress defines it
			}
			return nil, fmt.Errorf("state: bucket %s: %w", d.cfg.Bucket, ErrNotFound)
		}
		if err != nil {
			return nil, wrap("bucket "+d.cfg.Bucket, err)
		}
		*d.slot(s) = electionKV{b}
	}
	s.events, err = js.Stream(ctx, StreamEvents)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("state: stream %s: %w", StreamEvents, ErrNotFound)
	}
	if err != nil {
		return nil, wrap("stream "+StreamEvents, err)
	}
	return s, nil
}

// CheckDefinitions says, for a check command, whether the stream and the buckets exist and match what the
// services would make with o. It creates and changes nothing (see Inspect); a difference is a warning, as the
// services apply the configured values when they start.
func CheckDefinitions(ctx context.Context, c *service.Checks, nc *nats.Conn, o Options) {
	fs, err := Inspect(ctx, nc, o)
	if err != nil {
		c.Fail("cannot read the JetStream state: %v", err)
		return
	}
	var fine []string
	for _, f := range fs {
		switch {
		case !f.Exists:
			c.Warn("the %s %s does not exist yet (the services create it when they start)", f.Kind, f.Name)
		case len(f.Differs) > 0:
			c.Warn("the %s %s differs from the configuration: %s (the services apply the configured values when they start)",
				f.Kind, f.Name, strings.Join(f.Differs, ", "))
		default:
			fine = append(fine, f.Name)
		}
	}
	if len(fine) > 0 {
		c.OK("JetStream state as configured: %s", strings.Join(fine, ", "))
	}
}
