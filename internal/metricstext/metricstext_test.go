package metricstext

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     map[string]float64
	}{
		{"empty", "", map[string]float64{}},
		{"comments only", "# HELP a A.\n# TYPE a counter\n", map[string]float64{}},
		{"plain and labelled", "a 3\nb{x=\"1 2\"} 0.5\n", map[string]float64{"a": 3, `b{x="1 2"}`: 0.5}},
		{"exponent", "c 1e+06\n", map[string]float64{"c": 1e6}},
		{"broken lines skipped", "broken\nc{y=\"z\"} nan-ish\n\n", map[string]float64{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Parse(c.in)
			if len(got) != len(c.want) {
				t.Fatalf("Parse = %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Fatalf("Parse = %v, want %v", got, c.want)
				}
			}
		})
	}
}
