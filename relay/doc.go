// Command relay is bbb-chat's only reader of BigBlueButton's Redis. It subscribes to akka-apps' event channels,
// decodes every event (package bbb), stores each chat, user and meeting event in the JetStream events stream
// (package state) before anything else happens with it, then keeps presence, meeting ids and the bridges of ended
// meetings up to date in the KV buckets, and runs the callback deliveries (package callback).
//
// Relay is stateless: everything it keeps is in NATS, and two relays on the same Redis and NATS publish every
// event once (the stream deduplicates by event id). When no NATS server answers at BBB_CHAT_NATS_URL and
// BBB_CHAT_NATS_EMBEDDED is true it runs a JetStream server itself, so a single BBB server needs nothing else. A
// second relay on the same machine uses that server, and runs it itself (same address, same store directory,
// guarded by a file lock) when the first relay is gone.
//
// Failures it rides out without exiting: Redis down or restarted (it resubscribes, and logs and counts the gap in
// which events were missed, as Redis pub/sub keeps nothing for an absent subscriber), NATS down or restarted (events
// wait in a bounded buffer and are published in order once NATS is back; beyond the bound they are dropped and
// counted), and garbage on the channels (counted, logged at a limited rate, ignored).
//
// It must not publish anything to Redis, must not keep state of its own across restarts, and must not log
// secrets (a bridge's callback secret is never logged; bridges are never logged whole).
//
// Subcommands: none or "serve" runs the relay, "version" prints the version, "help" the usage.
package main
