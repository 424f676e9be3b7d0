// Package chart draws the small text charts the panes share: bars in eighth
// blocks and sparklines.
package chart

import (
	"math"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/nsed/nsed/themes"
)

var eighths = []rune(" ▏▎▍▌▋▊▉")

// Bar draws frac (0..1) of width cells in colour c, the rest as faint dots.
func Bar(th themes.Theme, frac float64, width int, c lipgloss.TerminalColor) string {
	if width <= 0 {
		return ""
	}
	frac = math.Min(math.Max(frac, 0), 1)
	if math.IsNaN(frac) {
		frac = 0
	}
	n := int(math.Round(frac * float64(width*8)))
	full, part := n/8, n%8
	s := strings.Repeat("█", full)
	used := full
	if part > 0 {
		s += string(eighths[part])
		used++
	}
	return th.Style(c).Render(s) + th.Style(th.Faint).Render(strings.Repeat("·", width-used))
}

var ticks = []rune("▁▂▃▄▅▆▇█")

// Spark returns one cell per value, scaled between lo and hi; NaN values
// (no data) are blank.
func Spark(values []float64, lo, hi float64) string {
	var b strings.Builder
	for _, v := range values {
		if math.IsNaN(v) {
			b.WriteByte(' ')
			continue
		}
		f := 0.0
		if hi > lo {
			f = (v - lo) / (hi - lo)
		}
		i := int(math.Round(math.Min(math.Max(f, 0), 1) * float64(len(ticks)-1)))
		b.WriteRune(ticks[i])
	}
	return b.String()
}
