package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	texttemplate "text/template"
)

// defaultChart is where -sweep writes its chart: docs/performance.md shows it (run from the repository's root).
const defaultChart = "docs/bench-sweep.svg"

// writeChartFile writes the sweep's chart to path.
func writeChartFile(path string, sw sweepResult, limits []chartLimit, p99Bound float64) error {
	var b bytes.Buffer
	if err := writeSweepChart(&b, sw, limits, p99Bound); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("sweep chart: %w", err)
	}
	return nil
}

// chartLimit is a vertical line of the sweep chart: what a bare part sustains alone (the limit measurements).
type chartLimit struct {
	Name string
	Rate float64
}

// sweepLimits are the limits of a result that the chart shows beside the sweep.
func sweepLimits(r result) []chartLimit {
	var out []chartLimit
	for _, l := range []chartLimit{{"Redis alone", r.LimitRedis}, {"JetStream alone", r.LimitJetStream}, {"HTTP alone", r.LimitHTTP}} {
		if l.Rate > 0 {
			out = append(out, l)
		}
	}
	return out
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH             = 760, 420
	chartLeft, chartRight      = 70, 20
	chartTop, chartBottom      = 40, 60
	chartXMin, chartYMin       = 100.0, 0.1 // messages/s, ms
	chartXMaxMin, chartYMaxMin = 10000.0, 100.0
)

type chartPoint struct{ X, Y float64 }

type chartTick struct {
	Pos   float64
	Label string
}

type chartLine struct {
	X, LabelY float64
	Label     string
}

type chartData struct {
	W, H, Left, Right, Top, Bottom float64
	Title                          string
	XTicks, YTicks                 []chartTick
	P50, P99                       string // polyline points
	P50Pts, P99Pts                 []chartPoint
	Limits                         []chartLine
	Knee                           *chartLine
	P99Limit                       float64 // y of the p99 bound
	P99LimitLabel                  string
}

// writeSweepChart draws a sweep as an SVG chart: p50 and p99 callback latency against the forwarded rate (both
// axes logarithmic), the p99 bound that ends the sweep, the knee, and the rates the bare parts sustain alone.
func writeSweepChart(w io.Writer, sw sweepResult, limits []chartLimit, p99Bound float64) error {
	xMax, yMax := chartXMaxMin, chartYMaxMin
	for _, s := range sw.Steps {
		xMax = max(xMax, s.Rate, s.Offered)
		yMax = max(yMax, s.P99)
	}
	for _, l := range limits {
		xMax = max(xMax, l.Rate)
	}
	yMax = max(yMax, p99Bound)
	xMax = math.Pow(10, math.Ceil(math.Log10(xMax)))
	yMax = math.Pow(10, math.Ceil(math.Log10(yMax)))
	plotW, plotH := float64(chartW-chartLeft-chartRight), float64(chartH-chartTop-chartBottom)
	x := func(v float64) float64 {
		v = max(v, chartXMin)
		return round1(chartLeft + plotW*math.Log10(v/chartXMin)/math.Log10(xMax/chartXMin))
	}
	y := func(v float64) float64 {
		v = max(v, chartYMin)
		return round1(chartTop + plotH*(1-math.Log10(v/chartYMin)/math.Log10(yMax/chartYMin)))
	}
	d := chartData{W: chartW, H: chartH, Left: chartLeft, Right: chartW - chartRight, Top: chartTop, Bottom: chartH - chartBottom,
		Title: "Callback latency against forwarded rate (go run ./deploy/bench -sweep)"}
	for v := chartXMin; v <= xMax; v *= 10 {
		d.XTicks = append(d.XTicks, chartTick{x(v), thousands(v)})
	}
	for v := chartYMin; v <= yMax*1.001; v *= 10 {
		d.YTicks = append(d.YTicks, chartTick{y(v), strconv.FormatFloat(v, 'g', -1, 64)})
	}
	for _, s := range sw.Steps {
		d.P50Pts = append(d.P50Pts, chartPoint{x(s.Rate), y(s.P50)})
		d.P99Pts = append(d.P99Pts, chartPoint{x(s.Rate), y(s.P99)})
	}
	d.P50, d.P99 = points(d.P50Pts), points(d.P99Pts)
	for i, l := range limits {
		// Limits may lie close together: their labels start at different heights.
		d.Limits = append(d.Limits, chartLine{x(l.Rate), chartTop + float64(i%3)*plotH/3, fmt.Sprintf("%s %s/s", l.Name, thousands(l.Rate))})
	}
	if sw.Knee > 0 {
		d.Knee = &chartLine{X: x(sw.Knee), Label: fmt.Sprintf("knee %s/s", thousands(sw.Knee))}
	}
	if p99Bound > 0 {
		d.P99Limit, d.P99LimitLabel = y(p99Bound), fmt.Sprintf("p99 bound %g ms", p99Bound)
	}
	return chartTemplate.Execute(w, d)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func points(ps []chartPoint) string {
	var b []byte
	for i, p := range ps {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendFloat(b, p.X, 'f', -1, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, p.Y, 'f', -1, 64)
	}
	return string(b)
}

// thousands writes a rate as 12,014.
func thousands(f float64) string {
	s := strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

var chartTemplate = texttemplate.Must(texttemplate.New("sweep").Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="sans-serif" font-size="12">
<rect width="{{.W}}" height="{{.H}}" fill="white"/>
<text x="{{.Left}}" y="22" font-size="14">{{.Title}}</text>
<g stroke="#ddd">
{{- range .XTicks}}
<line x1="{{.Pos}}" y1="{{$.Top}}" x2="{{.Pos}}" y2="{{$.Bottom}}"/>
{{- end}}
{{- range .YTicks}}
<line x1="{{$.Left}}" y1="{{.Pos}}" x2="{{$.Right}}" y2="{{.Pos}}"/>
{{- end}}
</g>
<g text-anchor="middle">
{{- range .XTicks}}
<text x="{{.Pos}}" y="{{$.Bottom}}" dy="16">{{.Label}}</text>
{{- end}}
<text x="{{$.Right}}" y="{{$.Bottom}}" dy="36" text-anchor="end">forwarded chat messages per second</text>
</g>
<g text-anchor="end">
{{- range .YTicks}}
<text x="{{$.Left}}" dx="-6" y="{{.Pos}}" dy="4">{{.Label}}</text>
{{- end}}
</g>
<text transform="translate(16 {{.Top}}) rotate(90)">callback latency, ms</text>
{{- if .P99LimitLabel}}
<line x1="{{.Left}}" y1="{{.P99Limit}}" x2="{{.Right}}" y2="{{.P99Limit}}" stroke="#c00" stroke-dasharray="6 4"/>
<text x="{{.Right}}" y="{{.P99Limit}}" dy="-4" text-anchor="end" fill="#c00">{{.P99LimitLabel}}</text>
{{- end}}
{{- range $i, $l := .Limits}}
<line x1="{{$l.X}}" y1="{{$.Top}}" x2="{{$l.X}}" y2="{{$.Bottom}}" stroke="#777" stroke-dasharray="2 3"/>
<text transform="translate({{$l.X}} {{$l.LabelY}}) rotate(90)" dx="4" dy="-4" fill="#555">{{$l.Label}}</text>
{{- end}}
{{- with .Knee}}
<line x1="{{.X}}" y1="{{$.Top}}" x2="{{.X}}" y2="{{$.Bottom}}" stroke="#080" stroke-dasharray="6 3"/>
<text x="{{.X}}" y="{{$.Top}}" dx="-4" dy="-4" text-anchor="end" fill="#080">{{.Label}}</text>
{{- end}}
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{{.P50}}"/>
<polyline fill="none" stroke="#d62728" stroke-width="2" points="{{.P99}}"/>
<g fill="#1f77b4">
{{- range .P50Pts}}
<circle cx="{{.X}}" cy="{{.Y}}" r="3"/>
{{- end}}
</g>
<g fill="#d62728">
{{- range .P99Pts}}
<circle cx="{{.X}}" cy="{{.Y}}" r="3"/>
{{- end}}
</g>
<g transform="translate({{.Left}} {{.Top}})">
<rect x="8" y="8" width="12" height="3" fill="#1f77b4"/><text x="26" y="14">p50</text>
<rect x="8" y="24" width="12" height="3" fill="#d62728"/><text x="26" y="30">p99</text>
</g>
</svg>
`))
