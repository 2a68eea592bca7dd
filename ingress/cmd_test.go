package main

import (
	"bytes"
	"strings"
	"testing"
)

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestVersionCommand: run dispatches the subcommands; an unknown one is an error. The subcommands that talk to
// Redis, NATS or a running ingress are tested on the binary, with the whole system (internal/e2e).
func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"ingress", "version"}, getenvFrom(nil), &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "bbb-chat ingress ") {
		t.Fatalf("version printed %q", out.String())
	}
	if err := run(t.Context(), []string{"ingress", "bogus"}, getenvFrom(nil), &out, &out); err == nil {
		t.Fatal("unknown command accepted")
	}
}
