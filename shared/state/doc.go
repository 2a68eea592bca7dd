// Package state owns everything bbb-chat keeps, all of it in NATS JetStream: the KV buckets (bridges, chat-user
// presence, meeting ids, callback statistics, failed deliveries, used checksums) and the stream of chat events, with
// their names, subjects, key encoding and JSON shapes, in one place. Both binaries open it; neither keeps state of
// its own, so any process can die or be doubled at any moment.
//
// Layout (see docs/nats.md):
//
//	stream BBBCHAT_EVENTS   bbbchat.<meeting>.<event>   every chat event of every meeting, deduplicated by id
//	                        bbbchat-retry.<meeting>     failed callbacks sent again by retryCallbacks
//	kv bbbchat_bridges      <meeting>                   Bridge
//	kv bbbchat_presence     <meeting>.u.<user>          Presence of one user
//	                        <meeting>.n.<name hash>     ids of the present users with that name
//	kv bbbchat_meetings     i.<meeting> / e.<ext hash>  Meeting (internal ↔ external id)
//	                        meta.bbb_version            ServerVersion, inferred by relay from events
//	kv bbbchat_callbacks    <meeting>                   CallbackStats, with the bridge's Position
//	consumer callbacks_<meeting> on BBBCHAT_EVENTS      one per bridge with a callback, state in memory, pushing to
//	                        _bbbchat.callbacks.callbacks_<meeting> (queue group bbbchat-relay)
//	kv bbbchat_failed       <meeting>.<seq>             FailedDelivery
//	kv bbbchat_nonces       <checksum>                  used checksums, expiring after the time window
//
// <meeting> is the internal meeting id when it is made of letters, digits, '-' and '_' (every id BBB makes), else
// "=" and its unpadded base64url (see Key).
package state
