// Command ingress is bbb-chat's API: it takes authenticated calls (the original bbb-chat's API, compatible to the
// byte) and publishes chat messages to BigBlueButton's Redis, reading bridges and presence from NATS JetStream.
// It keeps no state of its own; run as many as you like. In a fleet of BBB servers on one NATS cluster it carries a
// call for another server's meeting out on that server's ingress (fleet.go, docs/fleet.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bbb-chat/bbb-chat/shared/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, config.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ingress:", err)
		os.Exit(1)
	}
}
