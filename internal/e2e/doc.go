// Package e2e holds the whole-system tests of bbb-chat and their helpers: each test starts a real redis-server and
// nats-server, the BBB simulator (internal/bbbsim) and the real ingress and relay binaries, and drives them as a
// client and a BBB server would, through the HTTP API, Redis, NATS, callbacks, logs and metrics.
//
// The helpers: env_test.go starts and reaches one BBB server with bbb-chat on it (env), client_test.go signs and
// sends API calls as the original's clients do, receiver_test.go receives callbacks and checks what arrived.
// The tests are grouped by what they exercise: e2e (the API across BBB versions), bridge, cmd (the ingress
// subcommands), faults, soak, hostile input, egress, secrets and rotation, pending callbacks, metrics.
//
// It is test-only: the tests live in *_test.go files, and nothing may import it. It must not reach into the
// binaries' code; what it checks is what an operator or a client can see. Tests of one binary alone stay beside
// that binary's code.
package e2e
