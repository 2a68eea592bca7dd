// Command bbb-sim plays BigBlueButton's akka-apps on a Redis for demos and manual tests of bbb-chat: it creates a
// meeting, joins a user for the bridge to post as and a few chatty viewers, and prints one line for every event,
// including every message it drops and why. With -replay it publishes a capture of real BBB events and exits.
// It is a thin shell around internal/bbbsim.
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
		fmt.Fprintln(os.Stderr, "bbb-sim:", err)
		os.Exit(1)
	}
}
