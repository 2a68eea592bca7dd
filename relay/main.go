package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/bbb-chat/bbb-chat/shared/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, config.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "relay:", err)
		}
		os.Exit(1)
	}
}

// errUsage reports a command line relay does not understand (the usage was printed).
var errUsage = errors.New("usage")

// command is one subcommand of the relay binary.
type command struct {
	summary string
	run     func(ctx context.Context, env cmdEnv) error
}

// cmdEnv is what a subcommand gets: its arguments and the process's environment and output.
type cmdEnv struct {
	args   []string
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// commands lists the subcommands; "" is what a bare `relay` does.
func commands() map[string]command {
	return map[string]command{
		"":            {"run the relay (the default)", serveCmd},
		"serve":       {"run the relay", serveCmd},
		"version":     {"print the version", versionCmd},
		"check":       {"check the configuration and what it points at; exit status 1 if anything fails", checkCmd},
		"healthcheck": {"exit 0 if the running relay answers /healthz (for container health checks)", healthcheckCmd},
		"help":        {"show this help", nil},
	}
}

// run is the whole program: main only adds the signals, the real environment and the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmds := commands()
	name, rest := "", []string(nil)
	if len(args) > 1 {
		name, rest = args[1], args[2:]
	}
	switch name {
	case "help", "-h", "-help", "--help":
		usage(stdout, cmds)
		return nil
	}
	c, ok := cmds[name]
	if !ok || c.run == nil {
		fmt.Fprintf(stderr, "relay: unknown command %q\n", name)
		usage(stderr, cmds)
		return errUsage
	}
	return c.run(ctx, cmdEnv{args: rest, getenv: getenv, stdout: stdout, stderr: stderr})
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: relay [command]")
	fmt.Fprintln(w, "\nbbb-chat relay reads BigBlueButton's events from Redis into NATS JetStream and delivers callbacks.")
	fmt.Fprintln(w, "It is configured with BBB_CHAT_* environment variables.\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
}

func versionCmd(_ context.Context, env cmdEnv) error {
	if len(env.args) > 0 {
		return fmt.Errorf("version takes no arguments, got %s", strings.Join(env.args, " "))
	}
	fmt.Fprintf(env.stdout, "bbb-chat relay %s\n", version)
	return nil
}
