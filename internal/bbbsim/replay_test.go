package bbbsim_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
)

func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			out = append(out, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReplayIsVerbatim(t *testing.T) {
	h := newHarness(t, "2.7") // the simulator itself stays silent: Replay publishes on its own
	lines := readLines(t, "testdata/bbb-2.7-captured-raw.jsonl")
	f, err := os.Open("testdata/bbb-2.7-captured-raw.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := bbbsim.Replay(t.Context(), h.rdb, f)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(lines) || n != 6 {
		t.Fatalf("replayed %d, file has %d lines", n, len(lines))
	}
	for i, want := range lines {
		p := h.next()
		if p.channel != mainCh || p.raw != want {
			t.Fatalf("message %d on %s:\n got %s\nwant %s", i, p.channel, p.raw, want)
		}
	}
}

func TestReplayRejectsNonJSON(t *testing.T) {
	h := newHarness(t, "2.7")
	n, err := bbbsim.Replay(t.Context(), h.rdb, strings.NewReader("{\"a\":1}\n\nnot json\n{\"b\":2}\n"))
	if err == nil || n != 1 || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if p := h.next(); p.raw != `{"a":1}` {
		t.Fatalf("got %s", p.raw)
	}
}
