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
// Layout: this package is a thin main. It reads the configuration, wires the packages below together in serve
// (serve.go), shuts them down in order, serves /healthz, /readyz and /metrics, runs the callback deliveries with
// their allow-list dialler and the watch of their queues (callbacks.go, pending.go), and has the subcommands. Each
// package under relay/ has one job, registers its own metrics in the registry serve passes it, and of the others
// knows only publish.Item, the event on its way (the rest it is handed as functions):
//   - redisfeed reads BBB's Redis: the subscription, its health check and gaps, and the turning of each message
//     into a stream event (decoding, event ids, the meeting id cache, the BBB version);
//   - publish puts those events into the events stream, in order, through NATS outages;
//   - keep keeps the state: it opens the stream and buckets (again after a reconnection), applies each stored
//     event to presence, meeting ids, ended meetings and the bridges of ended meetings and of followed rooms'
//     new meetings, and records this server's BBB version;
//   - coverage writes the heartbeat that says some relay heard BBB's Redis, and publishes a gap event when none did
//     for a while (both relays down, Redis gone);
//   - natslink is the NATS connection and the embedded server, with the lock on its store, and says which server
//     and account relay joined;
//   - callback delivers the callbacks of each bridge;
//   - ratelog keeps repeated log messages from flooding the log.
//
// An event goes redisfeed → publish → keep (once the stream stored it) and, from the stream, → callback.
//
// Subcommands: none or "serve" runs the relay, "version" prints the version, "check" checks the configuration
// and what it points at without changing anything, "healthcheck" asks a running relay's /healthz, "help" prints
// the usage.
package main
