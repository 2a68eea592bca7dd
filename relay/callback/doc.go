// Package callback delivers a bridged meeting's chat events to the bridge's callback_uri: signed, durable, in
// order, retried. It belongs to relay and is used by relay's main package only.
//
// # Model
//
// Every chat event is already in the JetStream stream (package state) before this package sees it. A bridge gets
// new public messages and the other kinds it asked for with callback_events (state.Bridge.Wants; its consumer
// reads only their subjects, bridge.Filters), each in the body Body builds. Each bridge
// with a callback has one durable push consumer (bridge.Lifecycle.EnsureConsumer) with MaxAckPending 1, so exactly one
// event of a bridge is in flight at a time, whichever relay process holds it; it pushes to the bridge's deliver
// subject, to which every relay subscribes in one queue group, so each event reaches one relay. A Manager watches
// the bridges bucket and keeps one worker per active bridge; the Manager's dispatcher hands each pushed event to
// its worker, which runs on a goroutine while it has work (one that finished another worker's turn within the
// last second, or a new one): it POSTs the event and answers JetStream:
//
//   - 2xx: acknowledged, and the bridge's position (the last event done with) noted; the position is written with
//     the statistics every second. The consumer keeps its state in nats-server's memory, and the worker creates
//     it again after that position when nats-server restarted (it checks after every reconnection, and every
//     minute). A crash after the POST and before the acknowledgement, or of nats-server before the position was
//     written, are the windows in which a receiver can see an event twice; receivers deduplicate on webhook-id.
//   - 410 Gone: the bridge's CallbackState becomes "gone", the event is terminated, the consumer deleted and the
//     worker stopped. The bridge stays registered.
//   - anything else (3xx, which is never followed, other 4xx and 5xx, timeouts, refused or reset connections):
//     negatively acknowledged with the delay of the retry schedule (±jitter, or the receiver's Retry-After when
//     longer, capped). The event stays the bridge's head, so later events wait behind it. After the last step of
//     the schedule it is given up: kept as a state.FailedDelivery (retryCallbacks puts it back on the meeting's
//     retry subject, with the same id) and terminated, and the next event goes.
//
// The retry schedule lives in JetStream (the delayed redelivery), not in process memory: a relay that dies or
// restarts loses nothing, and another relay takes over the consumer. Bridges never wait on each other.
//
// # A receiver's return
//
// The schedule spans a day for receivers that stay down, so its steps grow to hours; a receiver back after an
// outage should not wait for them. A bridge whose next attempt is more than two probe intervals away is held by
// the prober (probe.go) under its receiver's origin; each origin with held bridges is sent a signed test event
// ("type": "ping") every Options.ProbeInterval (default 5 s), and when one is answered 2xx, its held bridges are
// released (bridge.Lifecycle.Release resets the consumer to the first event not acknowledged): what waited goes
// now, in order. So after an outage of any length, everything waiting goes within about one probe interval of the
// receiver's return. An event that fails again right after its release, without a failed probe in between, is
// refused by a receiver that is up: it waits out the schedule (it is not released again until the receiver was
// seen down and back), and is given up at its end as before.
//
// # Requests from ingress
//
// Ingress sends no HTTP request to a receiver. pingCallback asks a relay over NATS (bridge.PingSubject, in the
// relays' queue group) to send the bridge's receiver a test event now and answers with what the receiver said
// (status, the start of its body, the time taken); startChatForMeeting asks a relay whether it would send to a
// callback URI (bridge.TargetSubject, answered with Options.CheckURL, the allow list relay delivers with). Every
// POST to a receiver — callback, test event, probe — so goes out through Manager.post: one client, one
// signing, one egress guard, one place that reads answers.
//
// # What is sent
//
// Each POST carries a body compatible with the original bbb-chat's checksum (see Body) and Standard Webhooks
// headers: webhook-id (the event's id, the same across retries, crashes and retryCallbacks), webhook-timestamp
// (unix seconds of the attempt) and webhook-signature (HMAC-SHA256 with the bridge's callback secret). The
// checksum's time and webhook-timestamp are those of the attempt, so a retried body differs from the first one
// only in "checksum".
//
// # Echoes
//
// A bridge must not send its own posts back. A public chat message is skipped when
//
//	(a) its sender id is the id of the present user named like the bridge's chat user (Store.FindUser), or
//	(b) its correlation id is "<sender id>-<digits>" (what BBB clients and ingress generate) and its sender name
//	    is the bridge's chat user — this catches posts of a chat user who left in the meantime, or
//	(c) Options.IsEcho, when set, says so.
//
// Posts made through BBB 3.0's sendChatMessage API come back with sender id and correlation id "SYSTEM" and carry
// the display name the API was given, which for ingress is the outside sender's own name. Rules (a) and (b) cannot
// recognise them and this package does not try to guess by name, so they are delivered unless IsEcho recognises
// them (for example from a record of what ingress posted). Private chats are never sent.
//
// # What it must not do
//
// It never follows redirects, never logs a callback secret or a full callback URI (only scheme and host), holds no
// lock across an HTTP call, and keeps no per-bridge buffers: an idle bridge costs a subscription, a timer and a
// few words, no goroutine (TestManyBridges: about 7 KB of heap and under 1 KB of stack each).
package callback
