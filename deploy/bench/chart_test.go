package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixedSweep is a sweep as -sweep reports it, with limits, for the chart's golden file.
var fixedSweep = sweepResult{
	Steps: []sweepStep{
		{Offered: 500, Rate: 500, P50: 0.6, P99: 1.1, Pass: true},
		{Offered: 750, Rate: 750, P50: 0.6, P99: 1.2, Pass: true},
		{Offered: 1125, Rate: 1125, P50: 0.7, P99: 1.4, Pass: true},
		{Offered: 1687, Rate: 1687, P50: 0.8, P99: 1.9, Pass: true},
		{Offered: 2530, Rate: 2530, P50: 0.9, P99: 2.6, Pass: true},
		{Offered: 3795, Rate: 3795, P50: 1.2, P99: 4.1, Pass: true},
		{Offered: 5692, Rate: 5692, P50: 1.8, P99: 8.3, Pass: true},
		{Offered: 8538, Rate: 8538, P50: 3.1, P99: 10.2, Pass: true},
		{Offered: 12807, Rate: 12014, P50: 61, P99: 240},
	},
	Knee: 8538,
	Why:  "callback p99 240.0 ms > 50 ms at 12807/s",
}

// TestSweepChart renders the chart of a fixed sweep: it is well-formed XML and matches testdata/sweep.svg.
func TestSweepChart(t *testing.T) {
	var b bytes.Buffer
	limits := sweepLimits(result{LimitRedis: 61000, LimitJetStream: 24000, LimitHTTP: 64509})
	if err := writeSweepChart(&b, fixedSweep, limits, 50); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
		}
	}
	for _, want := range []string{"knee 8,538/s", "Redis alone 61,000/s", "HTTP alone 64,509/s", "p99 bound 50 ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the chart does not show %q", want)
		}
	}
	testenv.Golden(t, filepath.Join("testdata", "sweep.svg"), b.Bytes(), *update)
}

// TestSweepChartInDocs: docs/performance.md shows the chart where -sweep writes it by default.
func TestSweepChartInDocs(t *testing.T) {
	md, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "performance.md"))
	if err != nil {
		t.Fatal(err)
	}
	if rel := strings.TrimPrefix(defaultChart, "docs/"); !strings.Contains(string(md), "]("+rel+")") {
		t.Errorf("docs/performance.md does not embed %s", rel)
	}
}
