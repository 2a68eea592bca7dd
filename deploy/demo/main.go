// Command demo runs bbb-chat on this machine with no BigBlueButton at hand: a throw-away redis-server, relay (with
// its embedded NATS JetStream), ingress, and the BBB simulator playing a meeting where viewers chat. It opens the
// meeting's chat with a callback to a local receiver, posts through the API now and then, and prints what BBB,
// NATS and the receiver see. Stop it with Ctrl-C; everything it started stops with it.
//
//	go run ./deploy/demo [-version 2.7] [-duration 0] [-interval 3s]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
