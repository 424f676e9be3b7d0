package eval

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteChart draws the per-protocol rates as a terminal chart, the text
// twin of protocols.png: a bar to the rate, the 95% interval as a span
// around it, width cells from 0 to 100%.
//
//	nsed           ████████████▕━━━━━━┿━━━━━━▏       62.0% [48.1–74.2]
func WriteChart(w io.Writer, s *Summary, width int) {
	if len(s.Protocols) == 0 {
		return
	}
	width = max(width, 10)
	nameW := 0
	for _, p := range s.Protocols {
		nameW = max(nameW, len(p.Protocol))
	}
	fmt.Fprintf(w, "%-*s 0%%%s100%%  %s (95%% CI)\n", nameW, "", strings.Repeat(" ", max(width-6, 1)), s.Metric)
	for _, p := range s.Protocols {
		fmt.Fprintf(w, "%-*s %s %5.1f%% [%.1f–%.1f]\n", nameW, p.Protocol, chartRow(p.Rate, p.Lo, p.Hi, width), 100*p.Rate, 100*p.Lo, 100*p.Hi)
	}
}

// chartRow is one bar: solid up to the rate, the interval drawn over it
// as ━ between its ends, the rate marked ┿ when it falls inside the span.
func chartRow(rate, lo, hi float64, width int) string {
	cell := func(x float64) int {
		return min(width-1, max(0, int(math.Round(x*float64(width-1)))))
	}
	row := make([]rune, width)
	r, a, b := cell(rate), cell(lo), cell(hi)
	for i := range row {
		switch {
		case i >= a && i <= b:
			row[i] = '━'
		case i < r:
			row[i] = '█'
		default:
			row[i] = ' '
		}
	}
	row[a], row[b] = '▕', '▏'
	if a == b {
		row[a] = '│'
	}
	if r > a && r < b {
		row[r] = '┿'
	}
	return string(row)
}
