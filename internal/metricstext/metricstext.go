// Package metricstext reads a /metrics page back into numbers, for tests and tools that check what a process
// exported. It is not used by the services themselves, which only write the page (shared/metrics).
package metricstext

import (
	"strconv"
	"strings"
)

// Parse reads a page in the Prometheus text format into series (name and labels, as written) → value, skipping
// comments and lines without a number.
func Parse(text string) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
