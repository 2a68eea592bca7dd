package state

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The transcripts of ended meetings live in a JetStream Object Store bucket, one object per meeting, named by the
// meeting's key (Key of its internal id), with the meeting's ids in the object's metadata; a link named
// "ext.<hash of the external id>" points at the newest transcript of that external id. Relay creates the bucket
// (EnsureTranscripts) and writes them; ingress only reads and deletes them, and never creates the bucket.

// BucketTranscripts is the Object Store bucket of the meetings' final public chats.
const BucketTranscripts = "bbbchat_transcripts"

// Transcript is what the bucket says of one meeting's transcript.
type Transcript struct {
	MeetingID         string
	ExternalMeetingID string
	Size              uint64
	Written           time.Time
}

func transcriptName(meetingID string) string  { return Key(meetingID) }
func transcriptLink(externalID string) string { return "ext." + hashKey(externalID) }

// EnsureTranscripts creates or updates the transcripts bucket: objects kept maxAge, compressed.
func (s *Store) EnsureTranscripts(ctx context.Context, maxAge time.Duration, replicas int) error {
	_, err := s.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      BucketTranscripts,
		Description: "bbb-chat: the public chat of ended meetings",
		TTL:         maxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
		Compression: true,
	})
	if err != nil {
		return wrap("bucket "+BucketTranscripts, err)
	}
	return nil
}

// transcripts binds the bucket; ErrNotFound when it does not exist (transcripts are off, or relay never wrote one).
func (s *Store) transcripts(ctx context.Context) (jetstream.ObjectStore, error) {
	obs, err := s.js.ObjectStore(ctx, BucketTranscripts)
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, wrap("bucket "+BucketTranscripts, err)
	}
	return obs, nil
}

// PutTranscript stores a meeting's transcript, read from r to its end (in chunks: it is never whole in memory),
// replacing an earlier one, and points the external id's link at it.
func (s *Store) PutTranscript(ctx context.Context, meetingID, externalID string, r io.Reader) error {
	obs, err := s.transcripts(ctx)
	if err != nil {
		return err
	}
	meta := jetstream.ObjectMeta{
		Name:        transcriptName(meetingID),
		Description: "bbb-chat transcript",
		Metadata:    map[string]string{"meeting_id": meetingID, "external_meeting_id": externalID},
	}
	info, err := obs.Put(ctx, meta, r)
	if err != nil {
		return wrap("put transcript", err)
	}
	if externalID != "" {
		if _, err := obs.AddLink(ctx, transcriptLink(externalID), info); err != nil {
			return wrap("link transcript", err)
		}
	}
	return nil
}

// TranscriptOf says whether a meeting (by internal id) has a transcript; ErrNotFound when not.
func (s *Store) TranscriptOf(ctx context.Context, meetingID string) (Transcript, error) {
	obs, err := s.transcripts(ctx)
	if err != nil {
		return Transcript{}, err
	}
	return transcriptInfo(ctx, obs, transcriptName(meetingID))
}

// TranscriptByExternal finds the newest transcript of a meeting by its external id; ErrNotFound when none.
func (s *Store) TranscriptByExternal(ctx context.Context, externalID string) (Transcript, error) {
	obs, err := s.transcripts(ctx)
	if err != nil {
		return Transcript{}, err
	}
	info, err := obs.GetInfo(ctx, transcriptLink(externalID))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return Transcript{}, ErrNotFound
	}
	if err != nil {
		return Transcript{}, wrap("transcript link", err)
	}
	if info.Opts == nil || info.Opts.Link == nil || info.Opts.Link.Name == "" {
		return Transcript{}, ErrNotFound
	}
	t, err := transcriptInfo(ctx, obs, info.Opts.Link.Name)
	if err == nil && t.ExternalMeetingID != externalID {
		return Transcript{}, ErrNotFound
	}
	return t, err
}

func transcriptInfo(ctx context.Context, obs jetstream.ObjectStore, name string) (Transcript, error) {
	info, err := obs.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return Transcript{}, ErrNotFound
	}
	if err != nil {
		return Transcript{}, wrap("transcript info", err)
	}
	return Transcript{MeetingID: info.Metadata["meeting_id"], ExternalMeetingID: info.Metadata["external_meeting_id"],
		Size: info.Size, Written: info.ModTime}, nil
}

// OpenTranscript returns a reader of a meeting's transcript (the JSON relay wrote), which the caller closes;
// ErrNotFound when there is none. The object is read in chunks as the reader is read.
func (s *Store) OpenTranscript(ctx context.Context, meetingID string) (io.ReadCloser, error) {
	obs, err := s.transcripts(ctx)
	if err != nil {
		return nil, err
	}
	r, err := obs.Get(ctx, transcriptName(meetingID))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, wrap("get transcript", err)
	}
	return r, nil
}

// DeleteTranscript removes a meeting's transcript and its external id's link when that points at it; nil when
// there is none.
func (s *Store) DeleteTranscript(ctx context.Context, meetingID string) error {
	obs, err := s.transcripts(ctx)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	t, err := transcriptInfo(ctx, obs, transcriptName(meetingID))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.ExternalMeetingID != "" {
		link, err := obs.GetInfo(ctx, transcriptLink(t.ExternalMeetingID))
		if err == nil && link.Opts != nil && link.Opts.Link != nil && link.Opts.Link.Name == transcriptName(meetingID) {
			if err := obs.Delete(ctx, transcriptLink(t.ExternalMeetingID)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return wrap("delete transcript link", err)
			}
		}
	}
	if err := obs.Delete(ctx, transcriptName(meetingID)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return wrap("delete transcript", err)
	}
	return nil
}

// ConsumerTranscripts is the durable consumer of the meetings' ends that the relays share to write transcripts:
// each end goes to one relay at a time, and comes again (to this relay or another) when it was not acknowledged
// within the ack wait, so a relay that dies while writing loses nothing.
const ConsumerTranscripts = "bbbchat_transcripts"

// TranscriptAckWait is how long a relay has to write a transcript, or to say it is still at it.
const TranscriptAckWait = time.Minute

// EndedMeetings creates or binds the consumer of the meetings' ends (ConsumerTranscripts), from the meetings that
// end after it was first made.
func (s *Store) EndedMeetings(ctx context.Context) (jetstream.Consumer, error) {
	c, err := s.js.CreateOrUpdateConsumer(ctx, StreamEvents, jetstream.ConsumerConfig{
		Durable:       ConsumerTranscripts,
		Description:   "bbb-chat: meetings that ended, to write their transcripts",
		FilterSubject: SubjectRoot + ".*." + TypeMeetingEnded,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       TranscriptAckWait,
		MaxDeliver:    -1,
		MaxAckPending: 64,
	})
	if err != nil {
		return nil, wrap("consumer "+ConsumerTranscripts, err)
	}
	return c, nil
}

// TypeTranscript is the event relay stores on bbbchat.<meeting>.transcript once it handled a meeting's end for
// transcripts (stored one, or transcripts are off): a bridge that asked for the transcript callback
// (KindTranscript) gets the transcript then, and ends after it instead of after the meeting's end.
const TypeTranscript = "transcript"

// TranscriptEventID is the id of a meeting's transcript event: one per meeting, whichever relay stores it.
func TranscriptEventID(meetingID string) string { return "transcript-" + Key(meetingID) }
