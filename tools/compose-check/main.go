// Command compose-check loads a Compose file the way Compose v2 (`docker compose config`) does, with the same
// library (compose-spec/compose-go): schema validation, interpolation from the environment and .env, merge keys,
// profiles and dependency checks, without a Docker engine. It prints the services each profile set enables.
//
// Usage: go run ./compose-check [-profiles a,b] [-profiles ...] compose.yml  (from tools/; exit status 1 when the
// file does not load, 2 on bad usage). Each -profiles value is one load ("" = no profile); default: one load
// without profiles.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

// profileSets collects repeated -profiles flags.
type profileSets [][]string

func (p *profileSets) String() string { return fmt.Sprint(*p) }

func (p *profileSets) Set(v string) error {
	var set []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			set = append(set, s)
		}
	}
	*p = append(*p, set)
	return nil
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compose-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sets profileSets
	fs.Var(&sets, "profiles", "comma-separated profiles to enable for one load (repeat for several loads)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: compose-check [-profiles a,b]... compose.yml")
		return 2
	}
	if len(sets) == 0 {
		sets = profileSets{nil}
	}
	file, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "compose-check: %v\n", err)
		return 2
	}
	failed := false
	for _, profiles := range sets {
		services, err := load(ctx, file, profiles)
		if err != nil {
			fmt.Fprintf(stderr, "%s (profiles %q): %v\n", fs.Arg(0), profiles, err)
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s (profiles %q): ok: %s\n", fs.Arg(0), profiles, strings.Join(services, " "))
	}
	if failed {
		return 1
	}
	return 0
}

// load reads the file with the given profiles enabled and returns the names of the services they enable.
func load(ctx context.Context, file string, profiles []string) ([]string, error) {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
	)
	if err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return project.ServiceNames(), nil
}
