// Package frame draws the box around a pane, with labels set into its top
// and bottom borders. It builds the lines itself instead of using lipgloss
// borders: labels in borders are what every pane wants, and a box drawn
// from known-width pieces never needs measuring again.
package frame

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/text"
)

// Box is one pane's frame. Labels may be styled; they are cut to fit.
type Box struct {
	Width, Height int
	Focused       bool
	Title         string // top left
	Status        string // top right
	Footer        string // bottom left
	Info          string // bottom right
}

// Render draws the box with body inside. body lines are fitted to the inner
// width; missing lines are blank, extra ones dropped.
func (b Box) Render(th themes.Theme, body []string) string {
	w, h := b.Width, b.Height
	if w < 4 || h < 2 {
		return strings.Repeat(strings.Repeat(" ", max(w, 0))+"\n", max(h-1, 0)) + strings.Repeat(" ", max(w, 0))
	}
	bc := th.Border
	if b.Focused {
		bc = th.Focus
	}
	edge := lipgloss.NewStyle().Foreground(bc)
	if b.Focused && th.Bold {
		edge = edge.Bold(true)
	}
	inner := w - 2
	var s strings.Builder
	s.Grow((w + 16) * h)
	s.WriteString(border(edge, "╭", "╮", b.Title, b.Status, inner))
	side := edge.Render("│")
	for i := 0; i < h-2; i++ {
		s.WriteByte('\n')
		s.WriteString(side)
		line := ""
		if i < len(body) {
			line = body[i]
		}
		s.WriteString(text.Fit(line, inner))
		s.WriteString(side)
	}
	s.WriteByte('\n')
	s.WriteString(border(edge, "╰", "╯", b.Footer, b.Info, inner))
	return s.String()
}

// border builds a top or bottom edge: corner, ─ label ───── label ─, corner.
// Labels keep their own styles; the rules are drawn in edge style.
func border(edge lipgloss.Style, l, r, left, right string, inner int) string {
	// A styled empty string is not empty; it must not leave a gap.
	if text.Width(left) == 0 {
		left = ""
	}
	if text.Width(right) == 0 {
		right = ""
	}
	if left != "" {
		left = " " + left + " "
	}
	if right != "" {
		right = " " + right + " "
	}
	lw, rw := text.Width(left), text.Width(right)
	// Keep a rule cell at each end. When both labels don't fit, the left
	// one gives way first, down to minLeft cells, then the right one.
	const minLeft = 13
	avail := inner - 2
	if lw+rw > avail {
		if keep := max(min(lw, minLeft), avail-rw); keep < lw {
			left = text.Truncate(left, keep, "…")
			lw = text.Width(left)
		}
		if lw+rw > avail {
			right = text.Truncate(right, max(avail-lw, 0), "…")
			rw = text.Width(right)
		}
		if lw > avail {
			left = text.Truncate(left, avail, "…")
			lw = text.Width(left)
		}
	}
	fill := inner - 2 - lw - rw
	if fill < 0 {
		fill = 0
	}
	return edge.Render(l+"─") + left + edge.Render(strings.Repeat("─", fill)) + right + edge.Render("─"+r)
}
