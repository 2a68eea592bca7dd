// Package state owns everything bbb-chat keeps, all of it in NATS JetStream: the KV buckets (bridges, chat-user
// presence, meeting ids, callback statistics, failed deliveries, used checksums) and the stream of chat events, with
// their names, subjects, key encoding and JSON shapes, in one place. Both binaries open it; neither keeps state of
// its own, so any process can die or be doubled at any moment.
//
// The services create or update the stream and buckets with the configured values (Open); the check commands only
// look them up (Inspect, Bind) and never create or change anything. NATS being unreachable is one error kind,
// ErrUnavailable, decided here; a leader election (a NATS node of a cluster died) is waited out here too, within
// the caller's deadline, by every operation of the Store (Retry, election.go): no caller needs a retry of its own
// for that. It must not hand out its NATS connection or JetStream handles: callers get narrow methods
// (consumers.go). What a bridge's lifecycle means (start, end, retry, gone, consumer settings) is shared/bridge's,
// not this package's.
//
// Layout (see docs/nats.md):
//
//	stream BBBCHAT_EVENTS   bbbchat.<meeting>.<event>   every chat event of every meeting, deduplicated by id
//	                        bbbchat.gap                 gaps: no relay was subscribed to a server's Redis
//	                        bbbchat-retry.<meeting>     failed callbacks sent again by retryCallbacks
//	kv bbbchat_bridges      <meeting>                   Bridge
//	kv bbbchat_presence     <server>.<meeting>.u.<user>       Presence of one user, per BBB_CHAT_SERVER_ID
//	                        <server>.<meeting>.n.<name hash>  ids of the present users with that name
//	kv bbbchat_meetings     i.<meeting> / e.<ext hash>  Meeting (internal ↔ external id)
//	                        meta.bbb_version.<server>   ServerVersion of the server BBB_CHAT_SERVER_ID names
//	                        r.<ext hash>                Room: a chat that follows an external id's meetings
//	kv bbbchat_ended        i.<meeting> / e.<ext hash>  EndedMeeting, for 7 days
//	kv bbbchat_callbacks    <meeting>                   CallbackStats, with the bridge's Position
//	consumer callbacks_<meeting> on BBBCHAT_EVENTS      one per bridge with a callback, state in memory, pushing to
//	                        _bbbchat.callbacks.callbacks_<meeting> (queue group bbbchat-relay): named,
//	                        configured and listed by shared/bridge, which owns a bridge's lifecycle
//	kv bbbchat_failed       <meeting>.<seq>             FailedDelivery
//	kv bbbchat_nonces       <checksum>                  used checksums, expiring after the time window
//	kv bbbchat_viewer_revocations <meeting>             ViewerRevocation: viewer links issued before are refused
//	kv bbbchat_coverage     <server>                    Coverage: until when a relay was subscribed to its Redis
//	obj bbbchat_transcripts <meeting>                   the final public chat of an ended meeting (transcripts.go)
//	                        ext.<ext hash>              link to the newest transcript of an external id
//	consumer bbbchat_transcripts on BBBCHAT_EVENTS      the meetings' ends, shared by the relays that write transcripts
//
// <meeting> is the internal meeting id when it is made of letters, digits, '-' and '_' (every id BBB makes), else
// "=" and its unpadded base64url (see Key).
package state
