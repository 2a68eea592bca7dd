// Command dockerfile-check lints Dockerfiles the way `docker build --check` does, without a Docker engine and
// without network: it runs BuildKit's own Dockerfile frontend (parse, instruction checks, build-check rules) over
// every stage, answering base-image look-ups with a stand-in config instead of asking a registry.
//
// Usage: go run ./dockerfile-check [-allow RULE,...] [-images REF,...] Dockerfile...  (from tools/; exit status 1
// on any error or warning, 2 on bad usage). With -images, any other base image (a mistyped stage name in
// COPY --from, say) is an error. It checks the file only; whether the images exist and the build works needs an
// engine.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dockerfile-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	allow := fs.String("allow", "", "comma-separated build-check rules whose warnings do not fail the check")
	images := fs.String("images", "", "comma-separated base images the Dockerfiles may use (default: any)")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: dockerfile-check [-allow RULE,...] [-images REF,...] Dockerfile...")
		return 2
	}
	allowed := set(*allow)
	resolver := offlineResolver{images: map[string]bool{}}
	for ref := range set(*images) {
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			fmt.Fprintf(stderr, "-images: %q: %v\n", ref, err)
			return 2
		}
		resolver.images[reference.TagNameOnly(named).String()] = true
	}
	failed := false
	for _, path := range fs.Args() {
		problems, err := check(ctx, path, allowed, resolver)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s:%s\n", path, p)
		}
		if len(problems) > 0 {
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", path)
	}
	if failed {
		return 1
	}
	return 0
}

// check lints one Dockerfile and returns its problems, one line each ("LINE: RULE: message").
func check(ctx context.Context, path string, allowed map[string]bool, resolver offlineResolver) ([]string, error) {
	dt, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	sm := llb.NewSourceMap(nil, path, "Dockerfile", dt)
	sm.Definition = &llb.Definition{} // the lint results reference it; there is no build graph here
	res, err := dockerfile2llb.DockerfileLint(ctx, dt, dockerfile2llb.ConvertOpt{
		SourceMap:    sm,
		MetaResolver: resolver,
	})
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	var problems []string
	for _, w := range res.Warnings {
		if allowed[w.RuleName] {
			continue
		}
		problems = append(problems, fmt.Sprintf("%d: %s: %s", firstLine(w.Location), w.RuleName, w.Detail))
	}
	if res.Error != nil {
		problems = append(problems, fmt.Sprintf("%d: error: %s", firstLine(&res.Error.Location), res.Error.Message))
	}
	return problems, nil
}

// set splits a comma-separated list.
func set(list string) map[string]bool {
	m := map[string]bool{}
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v != "" {
			m[v] = true
		}
	}
	return m
}

// firstLine is the line a finding starts on, 0 when it has no location.
func firstLine(loc *pb.Location) int {
	if loc == nil || len(loc.Ranges) == 0 || loc.Ranges[0].Start == nil {
		return 0
	}
	return int(loc.Ranges[0].Start.Line)
}

// offlineResolver answers every base-image look-up with an empty linux image config, so the frontend never
// reaches for a registry. When images is not empty, only those references are known.
type offlineResolver struct {
	images map[string]bool
}

var (
	errNoRef      = errors.New("empty image reference")
	errUnexpected = errors.New("base image not in -images (a mistyped stage name?)")
)

func (r offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	if ref == "" {
		return "", "", nil, errNoRef
	}
	if len(r.images) > 0 && !r.images[ref] {
		return "", "", nil, fmt.Errorf("%w: %q", errUnexpected, ref)
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{}},
	})
	if err != nil {
		return "", "", nil, fmt.Errorf("stand-in image config: %w", err)
	}
	return ref, digest.FromBytes(cfg), cfg, nil
}
