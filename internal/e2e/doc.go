// Package e2e holds the whole-system tests of bbb-chat and their helpers: each test starts a real redis-server and
// nats-server, the BBB simulator (internal/bbbsim) and the real ingress and relay binaries, and drives them as a
// client and a BBB server would, through the HTTP API, Redis, NATS, callbacks, logs and metrics. It is test-only:
// the tests live in *_test.go files, and nothing outside this package may import it. It must not reach into the
// binaries' code; what it checks is what an operator or a client can see.
package e2e
