// Command bench measures bbb-chat end to end on one machine, and in the same run the limits of the parts it is
// built on, so that its numbers can be read as ratios even on a busy machine:
//
//	go run ./deploy/bench                  # 100 bridged meetings, 1,000 messages/s forwarded, 2,000 sends/s
//	go run ./deploy/bench -json            # one JSON object
//	go run ./deploy/bench -sweep           # raise the forward rate until p99 passes 50 ms or anything is lost
//	go run ./deploy/bench -scale -nats-max-consumers 2000   # 1,000 bridged meetings (see docs/performance.md)
//	go run ./deploy/bench -burst 20000     # also: 20,000 messages as fast as Redis takes them
//	go run ./deploy/bench -patch x.diff    # measure a change: build HEAD with x.diff applied
//	go run ./deploy/bench -fleet           # then one and two BBB servers on a three-node NATS cluster (fleet.go)
//
// It builds ingress and relay from the working tree (or from -rev, with -patch applied), starts a redis-server and a
// JetStream nats-server on free loopback ports (or uses -redis and -nats), the two binaries, the BBB simulator
// (internal/bbbsim) and callback receivers, opens a chat with a callback for each bridged meeting, then runs the phases described in
// docs/performance.md. Everything it started is stopped at the end. It is a program, not a test: it starts
// its processes through internal/proc, as the tests and the demo do, and writes nothing outside a temporary
// directory (and the user's cache directory, where a nats-server is built when BBB_CHAT_NATS_SERVER is unset).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}
