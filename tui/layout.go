package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/tui/agentpane"
	"github.com/nsed/nsed/tui/consensus"
	"github.com/nsed/nsed/tui/internal/frame"
	"github.com/nsed/nsed/tui/internal/text"
	"github.com/nsed/nsed/tui/matrix"
	"github.com/nsed/nsed/tui/timeline"
	"github.com/nsed/nsed/tui/votes"
)

// The smallest terminal the screen draws in; below it, it says so.
const (
	MinWidth  = 60
	MinHeight = 16
)

type rect struct{ x, y, w, h int }

func (r rect) contains(x, y int) bool { return x >= r.x && x < r.x+r.w && y >= r.y && y < r.y+r.h }

// layout is where everything goes at the current size.
type layout struct {
	tooSmall bool
	bodyY    int
	bodyH    int
	rows     [][]int      // pane ids, row by row, top to bottom
	rects    map[int]rect // of the panes drawn
	compact  rect         // the agent list, when the grid doesn't fit
	hasList  bool
	hidden   int // bottom panes not shown for lack of width
	start    int // first bottom pane shown
}

// at returns the pane under a screen cell.
func (l *layout) at(x, y int) (int, bool) {
	for id, r := range l.rects {
		if r.contains(x, y) {
			return id, true
		}
	}
	return 0, false
}

// relayout places the panes for the current size, focus and zoom.
func (m *Model) relayout() {
	W, H := m.width, m.height
	prev := m.layout.start
	L := layout{rects: map[int]rect{}, start: prev}
	defer func() {
		for i := range m.numPanes() {
			m.paneByID(i).SetFocused(i == m.focus)
		}
		m.layout = L
		m.sizeDialogs()
	}()
	if W < MinWidth || H < MinHeight {
		L.tooSmall = true
		return
	}
	m.header.SetWidth(W)
	m.help.Width = W
	L.bodyY = m.header.Height()
	L.bodyH = H - L.bodyY - 1
	n := len(m.agents)
	place := func(id int, r rect) {
		L.rects[id] = r
		m.paneByID(id).SetSize(r.w, r.h)
	}
	if m.zoomed {
		place(m.focus, rect{0, L.bodyY, W, L.bodyH})
		L.rows = [][]int{{m.focus}}
		return
	}

	bottomH := min(max(L.bodyH*2/5, 7), max(n+6, 16))
	if n == 0 {
		bottomH = L.bodyH / 2
	}
	agentH := L.bodyH - bottomH
	cols := gridCols(n, W, agentH)
	y := L.bodyY
	switch {
	case n == 0:
	case cols == 0:
		// Too many agents for a grid here: one line each in a list.
		h := min(n+2, agentH)
		L.hasList, L.compact = true, rect{0, y, W, h}
		bottomH = L.bodyH - h
		y += h
	default:
		rows := (n + cols - 1) / cols
		for r := range rows {
			h := agentH / rows
			if r == rows-1 {
				h = agentH - h*(rows-1)
			}
			ids := []int{}
			for i := r * cols; i < min((r+1)*cols, n); i++ {
				ids = append(ids, i)
			}
			x := 0
			for j, id := range ids {
				w := W / len(ids)
				if j == len(ids)-1 {
					w = W - x
				}
				place(id, rect{x, y, w, h})
				x += w
			}
			L.rows = append(L.rows, ids)
			y += h
		}
	}

	// The bottom row: as many of matrix, votes, consensus and timeline as
	// fit side by side, always including the focused one.
	minW := [numBottom]int{matrix.MinWidth(n), votes.MinWidth, consensus.MinWidth, timeline.MinWidth}
	fits := func(start int) int {
		k, used := 0, 0
		for i := start; i < numBottom && used+minW[i] <= W; i++ {
			used += minW[i]
			k++
		}
		return max(k, 1)
	}
	start := min(L.start, numBottom-1)
	if f := m.focus - n; f >= 0 {
		if f < start {
			start = f
		}
		for f >= start+fits(start) {
			start++
		}
	}
	for start > 0 && fits(start-1) > fits(start) {
		start-- // room to show one more on the left
	}
	k := fits(start)
	L.start, L.hidden = start, numBottom-k
	weights := [numBottom]int{1, 3, 4, 2}
	extra, wsum := W, 0
	for i := start; i < start+k; i++ {
		extra -= minW[i]
		wsum += weights[i]
	}
	x := 0
	var ids []int
	for i := start; i < start+k; i++ {
		w := minW[i]
		if extra > 0 {
			w += extra * weights[i] / wsum
		}
		if i == start+k-1 {
			w = W - x
		}
		w = min(w, W-x)
		place(n+i, rect{x, y, w, bottomH})
		ids = append(ids, n+i)
		x += w
	}
	L.rows = append(L.rows, ids)
}

// gridCols picks the number of columns for n agent panes in w×h, favouring
// panes wide enough to read and tall enough to follow; 0 if none fit.
func gridCols(n, w, h int) int {
	best, bestScore := 0, 0.0
	for c := 1; c <= n; c++ {
		rows := (n + c - 1) / c
		pw, ph := w/c, h/rows
		if pw < agentpane.MinWidth || ph < agentpane.MinHeight {
			continue
		}
		tw, th := float64(min(pw-2, 80)), float64(min(ph-3, 24))
		score := tw * th
		if pw-2 < 28 {
			score *= 0.6 // short lines are hard to read
		}
		if n%c != 0 {
			score *= 0.85 // a ragged last row
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// View draws the screen.
func (m *Model) View() string {
	if m.width == 0 || m.height == 0 {
		return ""
	}
	L := &m.layout
	if L.tooSmall {
		return m.tooSmall()
	}
	body := m.body()
	if o := m.overlayView(); o != "" {
		body = place(body, o, m.width)
	}
	var b strings.Builder
	b.WriteString(m.header.View())
	b.WriteByte('\n')
	b.WriteString(strings.Join(body, "\n"))
	b.WriteByte('\n')
	b.WriteString(m.footer())
	return b.String()
}

func (m *Model) tooSmall() string {
	msg := []string{
		"nsed needs a bigger terminal",
		fmt.Sprintf("at least %d×%d; this one is %d×%d", MinWidth, MinHeight, m.width, m.height),
		"enlarge it, or press q to quit",
	}
	lines := make([]string, m.height)
	top := max((m.height-len(msg))/2, 0)
	for i, s := range msg {
		if top+i < m.height {
			pad := max((m.width-text.Width(s))/2, 0)
			lines[top+i] = text.Truncate(strings.Repeat(" ", pad)+s, m.width, "")
		}
	}
	return strings.Join(lines, "\n")
}

// body draws the panes, row by row, as exactly bodyH lines of the width.
func (m *Model) body() []string {
	L := &m.layout
	out := make([]string, 0, L.bodyH)
	if L.hasList {
		out = append(out, strings.Split(m.agentList(L.compact.w, L.compact.h), "\n")...)
	}
	if len(m.agents) == 0 && !m.zoomed {
		out = append(out, m.waiting(L.bodyH-L.rows0Height())...)
	}
	for _, row := range L.rows {
		if len(row) == 0 {
			continue
		}
		views := make([][]string, len(row))
		h := 0
		for i, id := range row {
			views[i] = strings.Split(m.paneByID(id).View(), "\n")
			h = max(h, len(views[i]))
		}
		for l := range h {
			var b strings.Builder
			for i, id := range row {
				if l < len(views[i]) {
					b.WriteString(views[i][l])
				} else {
					b.WriteString(strings.Repeat(" ", L.rects[id].w))
				}
			}
			out = append(out, b.String())
		}
	}
	for len(out) < L.bodyH {
		out = append(out, "")
	}
	return out[:L.bodyH]
}

func (l *layout) rows0Height() int {
	h := 0
	for _, row := range l.rows {
		if len(row) > 0 {
			h += l.rects[row[0]].h
		}
	}
	return h
}

// waiting fills the agents' area before the run has started.
func (m *Model) waiting(h int) []string {
	th := m.th
	out := make([]string, max(h, 0))
	if h > 0 {
		msg := "waiting for the run to start…"
		if m.closed && m.runErr != nil {
			msg = "the run failed before it started: " + m.runErr.Error()
		}
		out[h/2] = th.Style(th.Muted).Render(text.Fit(strings.Repeat(" ", max((m.width-len(msg))/2, 0))+msg, m.width))
	}
	return out
}

// agentList is the fallback for many agents in a small terminal: one line
// per agent; enter zooms the focused one.
func (m *Model) agentList(w, h int) string {
	th := m.th
	var lines []string
	for i, p := range m.agents {
		mark := "  "
		if i == m.focus {
			mark = "▸ "
		}
		info := p.Info()
		s := fmt.Sprintf("%s%-14s %-20s %-11s %d tok", mark, p.Title(), info.Model, p.Status(), p.Tokens())
		st := th.Style(th.AgentColor(i))
		if i == m.focus {
			st = th.Swatch(th.Sel)
		}
		lines = append(lines, st.Render(text.Fit(s, w-2)))
	}
	if len(lines) > h-2 {
		off := min(max(m.focus-(h-2)/2, 0), len(lines)-(h-2))
		lines = lines[off : off+h-2]
	}
	box := frame.Box{Width: w, Height: h, Focused: m.focus < len(m.agents),
		Title:  th.Style(th.Accent).Bold(true).Render("Agents"),
		Footer: th.Style(th.Muted).Render("enter: zoom the selected agent")}
	return box.Render(th, lines)
}

// footer is the flash message, else the key help.
func (m *Model) footer() string {
	th := m.th
	if m.flash != "" {
		c := th.Accent
		if m.flashBad {
			c = th.Bad
		}
		return th.Style(c).Render(text.Fit(" "+m.flash, m.width))
	}
	if L := &m.layout; L.hidden > 0 && !m.zoomed {
		hint := th.Style(th.Faint).Render(fmt.Sprintf(" +%d panes: tab", L.hidden))
		return text.Fit(m.help.ShortHelpView(m.keys.ShortHelp()), m.width-text.Width(hint)) + hint
	}
	return text.Fit(m.help.ShortHelpView(m.keys.ShortHelp()), m.width)
}

// overlayWidth is how wide a dialog or information box is drawn.
func (m *Model) overlayWidth() int { return min(m.width-4, 100) }

// sizeDialogs gives the open dialogs their room; relayout and opening a
// dialog call it, so drawing one changes nothing.
func (m *Model) sizeDialogs() {
	w := m.overlayWidth()
	if m.bind != nil {
		m.bind.SetSize(w, m.layout.bodyH-2)
	}
	if m.inj != nil {
		m.inj.SetWidth(w)
	}
}

// overlayView is the open dialog or information box, if any.
func (m *Model) overlayView() string {
	th := m.th
	w := m.overlayWidth()
	switch m.overlay {
	case bindingsOverlay:
		return m.bind.View()
	case injectOverlay:
		return m.inj.View()
	case helpOverlay:
		return m.box("Keys", append(m.fullHelp(w-2), "", th.Style(th.Muted).Render("esc or ? closes")), w)
	case questionOverlay:
		var lines []string
		for _, l := range text.Wrap(m.header.Question(), w-2) {
			lines = append(lines, th.Style(th.Text).Render(l))
		}
		return m.box("Question", append(lines, "", th.Style(th.Muted).Render("esc closes")), w)
	case critiqueOverlay:
		rev, auth, _ := m.matrix.Selected()
		lines := m.matrix.Detail(w - 2)
		title := "Review"
		if rev != "" {
			title = fmt.Sprintf("Review by %s of %s (round %d)", rev, auth, m.matrix.Round())
		}
		return m.box(title, append(lines, "", th.Style(th.Muted).Render("select a cell in the matrix (tab to it, arrows) · esc closes")), w)
	}
	return ""
}

func (m *Model) box(title string, lines []string, w int) string {
	th := m.th
	h := min(len(lines)+2, m.layout.bodyH)
	if len(lines) > h-2 {
		lines = lines[:h-2]
	}
	b := frame.Box{Width: w, Height: h, Focused: true, Title: th.Style(th.Accent).Bold(true).Render(title)}
	return b.Render(th, lines)
}

// place draws box centred over body lines of width w.
func place(body []string, box string, w int) []string {
	lines := strings.Split(box, "\n")
	bw := 0
	for _, l := range lines {
		bw = max(bw, text.Width(l))
	}
	x := max((w-bw)/2, 0)
	y := max((len(body)-len(lines))/2, 0)
	out := append([]string(nil), body...)
	for i, l := range lines {
		if y+i >= len(out) {
			break
		}
		bg := out[y+i]
		left := ansi.Truncate(bg, x, "")
		if lw := text.Width(left); lw < x {
			left += strings.Repeat(" ", x-lw)
		}
		right := ansi.TruncateLeft(bg, x+bw, "")
		out[y+i] = left + "\x1b[0m" + l + "\x1b[0m" + right
	}
	return out
}

// fullHelp lists every enabled key in as many columns as fit in w.
func (m *Model) fullHelp(w int) []string {
	th := m.th
	type entry struct{ key, desc string }
	var all []entry
	for _, group := range m.keys.FullHelp(m.focused().KeyBindings()) {
		for _, b := range group {
			if b.Enabled() && b.Help().Key != "" {
				all = append(all, entry{b.Help().Key, b.Help().Desc})
			}
		}
	}
	const keyW, colW = 10, 42
	cols := max(min(w/colW, 3), 1)
	rows := (len(all) + cols - 1) / cols
	lines := make([]string, rows)
	for i, e := range all {
		cell := th.Style(th.Text).Bold(true).Render(text.Fit(e.key, keyW)) + th.Style(th.Muted).Render(text.Fit(e.desc, colW-keyW-1)) + " "
		lines[i%rows] += cell
	}
	return lines
}
