// Package matrix is the peer-review heat map: reviewer × author scores of
// the latest round, the diagonal marked as not allowed (no one scores
// itself), the critique behind any cell, and a "!" on a score whose review
// repeated an instruction the author addressed to its reviewers
// (injection_suspected).
package matrix

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/frame"
	"github.com/nsed/nsed/tui/internal/pane"
	"github.com/nsed/nsed/tui/internal/text"
	"github.com/nsed/nsed/tui/safe"
)

// KeyMap moves the selected cell.
type KeyMap struct {
	Up, Down, Left, Right key.Binding
	// Earlier and Later step through past rounds' matrices.
	Earlier, Later key.Binding
}

// Keys is the default KeyMap.
var Keys = KeyMap{
	Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑↓←→", "select cell")),
	Down:    key.NewBinding(key.WithKeys("down", "j")),
	Left:    key.NewBinding(key.WithKeys("left", "h")),
	Right:   key.NewBinding(key.WithKeys("right", "l")),
	Earlier: key.NewBinding(key.WithKeys("["), key.WithHelp("[ ]", "earlier/later round's reviews")),
	Later:   key.NewBinding(key.WithKeys("]")),
}

// Row labels are the agents' ids, up to maxLabel cells; column headers
// are the ids too when short, else what tells them apart ("agent-1",
// "agent-2" → "1", "2").
const maxLabel = 12

// Model is the review matrix.
type Model struct {
	agents  []string // agent ids, rows and columns in this order
	cols    []string // column headers
	labelW  int
	round   int                           // the round shown
	reviews map[string]*engine.ReviewDone // its reviews, by reviewer
	// Every round's reviews (rounds are few), so a researcher can look back;
	// latest is the newest round, and pinned says the user stepped back
	// from it, so new reviews don't pull the view forward.
	history map[int]map[string]*engine.ReviewDone
	latest  int
	pinned  bool
	// suspects are the injection_suspected events by round, then by
	// reviewer and author.
	suspects map[int]map[[2]string]*engine.InjectionSuspected
	row      int
	col      int

	pane.Frame // theme, size, focus and the last view drawn
}

// New returns an empty matrix.
func New(th themes.Theme) *Model {
	return &Model{Frame: pane.NewFrame(th), reviews: map[string]*engine.ReviewDone{}, history: map[int]map[string]*engine.ReviewDone{},
		suspects: map[int]map[[2]string]*engine.InjectionSuspected{}, col: 1}
}

// SetAgents sets the rows and columns.
func (m *Model) SetAgents(ids []string) {
	m.agents = make([]string, len(ids))
	for i, id := range ids {
		m.agents[i] = safe.Line(id)
	}
	m.labelW = 7 // "rev╲by "
	for _, id := range m.agents {
		m.labelW = max(m.labelW, min(text.Width(id)+1, maxLabel))
	}
	m.cols = shortIDs(m.agents, 4)
	m.clampSel()
	m.Changed()
}

// Round is the round the matrix shows.
func (m *Model) Round() int { return m.round }

// Add records a review. The matrix follows the newest round unless the
// user stepped back to an earlier one.
func (m *Model) Add(ev *engine.ReviewDone) {
	h := m.history[ev.Round]
	if h == nil {
		h = map[string]*engine.ReviewDone{}
		m.history[ev.Round] = h
	}
	h[ev.Agent] = ev
	m.latest = max(m.latest, ev.Round)
	if !m.pinned {
		m.show(m.latest)
	}
	m.Changed()
}

// Suspect marks a reviewer's score of an author whose instruction its
// review repeated.
func (m *Model) Suspect(ev *engine.InjectionSuspected) {
	s := m.suspects[ev.Round]
	if s == nil {
		s = map[[2]string]*engine.InjectionSuspected{}
		m.suspects[ev.Round] = s
	}
	s[[2]string{safe.Line(ev.Agent), safe.Line(ev.Candidate)}] = ev
	m.Changed()
}

func (m *Model) suspect(reviewer, author string) *engine.InjectionSuspected {
	return m.suspects[m.round][[2]string{reviewer, author}]
}

// show switches the matrix to round r.
func (m *Model) show(r int) {
	m.round, m.reviews = r, m.history[r]
	m.pinned = r != m.latest
	m.Changed()
}

// MinWidth is the narrowest the matrix can be for n agents with short
// ids and cells of 5.
func MinWidth(n int) int { return 2 + 8 + 5*n }

// shortIDs returns labels of at most w cells that tell ids apart: the ids
// themselves, else without their common prefix, else their numbers.
func shortIDs(ids []string, w int) []string {
	fits := func(l []string) bool {
		for _, s := range l {
			if text.Width(s) > w {
				return false
			}
		}
		return true
	}
	if fits(ids) {
		return ids
	}
	prefix := ""
	if len(ids) > 1 {
		prefix = ids[0]
		for _, id := range ids[1:] {
			for !strings.HasPrefix(id, prefix) {
				prefix = prefix[:len(prefix)-1]
			}
		}
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[len(prefix):]
	}
	if prefix != "" && fits(out) {
		return out
	}
	for i := range out {
		out[i] = fmt.Sprintf("#%d", i+1)
	}
	return out
}

// KeyBindings are the keys the matrix handles when focused.
func (m *Model) KeyBindings() []key.Binding {
	k := Keys
	return []key.Binding{k.Up, k.Down, k.Left, k.Right, k.Earlier, k.Later}
}

// Update moves the selection.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, Keys.Up):
		m.row--
	case key.Matches(k, Keys.Down):
		m.row++
	case key.Matches(k, Keys.Left):
		m.col--
	case key.Matches(k, Keys.Right):
		m.col++
	case key.Matches(k, Keys.Earlier):
		if m.history[m.round-1] != nil {
			m.show(m.round - 1)
		}
	case key.Matches(k, Keys.Later):
		if m.round < m.latest {
			m.show(m.round + 1)
		}
	default:
		return nil
	}
	m.clampSel()
	m.Changed()
	return nil
}

func (m *Model) clampSel() {
	n := len(m.agents)
	m.row = min(max(m.row, 0), max(n-1, 0))
	m.col = min(max(m.col, 0), max(n-1, 0))
}

// Selected returns the selected reviewer and author, and the evaluation if
// there is one.
func (m *Model) Selected() (reviewer, author string, ev *engine.Evaluation) {
	if len(m.agents) == 0 {
		return "", "", nil
	}
	reviewer, author = m.agents[m.row], m.agents[m.col]
	return reviewer, author, m.eval(reviewer, author)
}

func (m *Model) eval(reviewer, author string) *engine.Evaluation {
	r := m.reviews[reviewer]
	if r == nil {
		return nil
	}
	for i := range r.Evaluations {
		if safe.Line(r.Evaluations[i].Author) == author {
			return &r.Evaluations[i]
		}
	}
	return nil
}

// Detail is the selected cell's review, wrapped at width: the score and its
// band, the stance, the claims with verdicts, and the critique.
func (m *Model) Detail(width int) []string {
	th := m.Theme()
	rev, auth, ev := m.Selected()
	if rev == "" {
		return []string{"no agents yet"}
	}
	var out []string
	add := func(s string) {
		for _, p := range strings.Split(s, "\n") {
			out = append(out, text.Wrap(p, width)...)
		}
	}
	switch {
	case rev == auth:
		add(fmt.Sprintf("%s does not review its own proposal.", rev))
		return out
	case m.reviews[rev] == nil:
		add(fmt.Sprintf("%s has not reviewed %s yet.", rev, auth))
		return out
	case m.reviews[rev].Abstained:
		add(fmt.Sprintf("%s abstained: %s", rev, safe.Line(m.reviews[rev].Reason)))
		return out
	case ev == nil:
		add(fmt.Sprintf("%s's review has no score for %s.", rev, auth))
		return out
	}
	b := themes.BandOf(ev.Weight)
	out = append(out, th.Swatch(th.Heat[b]).Render(fmt.Sprintf(" %+d ", ev.Weight))+" "+
		th.Style(th.Text).Render(text.Truncate(fmt.Sprintf("%s → %s · %s · stance %s · saw it as %q", rev, auth, b, safe.Line(ev.Stance), safe.Line(ev.Label)), width-7, "…")))
	if sus := m.suspect(rev, auth); sus != nil {
		for _, l := range text.Wrap(fmt.Sprintf("! injection suspected: the review repeats %q (%s) from this candidate", safe.Line(sus.Phrase), safe.Line(sus.Pattern)), width) {
			out = append(out, th.Style(th.Bad).Render(l))
		}
	}
	for _, c := range ev.Claims {
		col := th.Muted
		switch c.Verdict {
		case engine.VerdictVerified:
			col = th.Good
		case engine.VerdictWrong:
			col = th.Bad
		case engine.VerdictContested:
			col = th.Warn
		}
		for i, l := range text.Wrap(fmt.Sprintf("%s: %s", safe.Line(c.Verdict), safe.Line(c.Text)), width-2) {
			p := "• "
			if i > 0 {
				p = "  "
			}
			out = append(out, th.Style(col).Render(p+l))
		}
	}
	if c := safe.String(ev.Critique); c != "" {
		add("critique: " + c)
	}
	return out
}

// View draws the grid with the selected cell's summary and a legend below
// when there is room.
func (m *Model) View() string { return m.Kept(m.draw) }

// Refresh draws the view again if something it shows has changed; the
// screen calls it from Update, so View has nothing to do.
func (m *Model) Refresh() { m.Keep(m.draw) }

// draw builds what View keeps until the matrix or its frame changes.
func (m *Model) draw() string {
	th := m.Theme()
	width, height := m.Size()
	inner := width - 2
	rows := height - 2
	n := len(m.agents)
	labelW := m.labelW
	cw := 6
	if labelW+cw*n > inner {
		cw = 5
	}
	muted := th.Style(th.Muted)
	var body []string

	// Header row: author ids.
	var hdr strings.Builder
	hdr.WriteString(muted.Render(text.Fit("rev╲by", labelW)))
	for j, a := range m.cols {
		s := text.PadLeft(text.Truncate(a, cw-1, ""), cw-1) + " "
		st := th.Style(th.AgentColor(j))
		if j == m.col && m.Focused() {
			st = st.Underline(true)
		}
		hdr.WriteString(st.Render(s))
	}
	body = append(body, hdr.String())

	// Grid rows may not all fit: keep the selected row in view.
	gridRows := min(n, max(rows-1, 0))
	first := 0
	if m.row >= gridRows {
		first = m.row - gridRows + 1
	}
	for i := first; i < first+gridRows; i++ {
		body = append(body, m.gridRow(i, cw))
	}

	// Below the grid: the selected cell, then the legend, as room allows.
	left := rows - len(body)
	if left >= 2 {
		detail := m.Detail(inner)
		if _, _, ev := m.Selected(); ev == nil && len(detail) > 1 {
			// A sentence wrapped: its first line alone would stop
			// mid-sentence ("agent-1 has not"); cut it short instead.
			detail = m.Detail(1 << 16)
			detail[0] = text.Truncate(detail[0], inner, "…")
		}
		if len(detail) > 0 {
			body = append(body, detail[0])
			left--
		}
	}
	if left >= 1 {
		body = append(body, m.legend(inner))
	}

	info := ""
	if n > gridRows {
		info = muted.Render(fmt.Sprintf("rows %d-%d/%d", first+1, first+gridRows, n))
	}
	title := th.Style(th.Accent).Bold(true).Render("Peer review")
	status := ""
	if m.round > 0 {
		st := fmt.Sprintf("r%d · %d/%d", m.round, len(m.reviews), n)
		if text.Width("Peer review"+st)+7 > inner { // rules and spaces around both labels
			st = fmt.Sprintf("r%d %d/%d", m.round, len(m.reviews), n) // narrow: keep it whole
		}
		status = muted.Render(st)
		if m.pinned {
			status = th.Style(th.Warn).Render(fmt.Sprintf("r%d of %d · ] later", m.round, m.latest))
		}
	}
	box := frame.Box{Width: width, Height: height, Focused: m.Focused(), Title: title, Status: status, Footer: muted.Render("c critique"), Info: info}
	return box.Render(th, body)
}

func (m *Model) gridRow(i, cw int) string {
	th := m.Theme()
	rev := m.agents[i]
	var b strings.Builder
	lst := th.Style(th.AgentColor(i))
	if i == m.row && m.Focused() {
		lst = lst.Underline(true)
	}
	b.WriteString(lst.Render(text.Fit(rev, m.labelW-1)) + " ")
	r := m.reviews[rev]
	for j, auth := range m.agents {
		sel := i == m.row && j == m.col && m.Focused()
		var cell string
		var st = th.Style(th.Faint)
		switch {
		case i == j:
			cell = strings.Repeat("░", cw-1)
		case r == nil:
			cell = text.PadLeft("·", cw-1)
		case r.Abstained:
			cell = text.PadLeft("∅", cw-1)
			st = th.Style(th.Bad)
		default:
			ev := m.eval(rev, auth)
			if ev == nil {
				cell = text.PadLeft("?", cw-1)
				break
			}
			cell = text.PadLeft(fmt.Sprintf("%+d", ev.Weight), cw-1)
			if m.suspect(rev, auth) != nil {
				cell = suspectCell(ev.Weight, cw-1)
			}
			st = th.Swatch(th.Heat[themes.BandOf(ev.Weight)])
		}
		if sel {
			if cw == 6 {
				cell = "[" + text.PadLeft(strings.TrimSpace(cell), 4) + "]"
			}
			st = th.Swatch(th.Sel).Bold(true)
			b.WriteString(st.Render(text.Fit(cell, cw)))
			continue
		}
		b.WriteString(st.Render(cell) + " ")
	}
	return b.String()
}

// suspectCell is a score marked "!" in w cells: "+100!" where it fits,
// else the sign gives way ("100!"), so the mark never depends on colour.
func suspectCell(weight, w int) string {
	s := fmt.Sprintf("%+d!", weight)
	if text.Width(s) > w {
		s = fmt.Sprintf("%d!", max(weight, -weight))
	}
	return text.PadLeft(text.Truncate(s, w, ""), w)
}

// legend shows the colour scale with the documented band names, so colour
// is never the only cue.
func (m *Model) legend(width int) string {
	th := m.Theme()
	names := [themes.NumBands]string{"wrong", "flawed", "neutral", "solid", "strong", "verified"}
	if width < 46 {
		names = [themes.NumBands]string{"-100", "-50", "±10", "+10", "+50", "+85"}
	}
	var b strings.Builder
	w := 0
	for i, n := range names {
		s := " " + n + " "
		if w+len(s) > width {
			break
		}
		b.WriteString(th.Swatch(th.Heat[i]).Render(s))
		w += len(s)
	}
	if w+6 <= width {
		b.WriteString(th.Style(th.Faint).Render(" ░self"))
		w += 6
	}
	if len(m.suspects[m.round]) > 0 && w+13 <= width {
		b.WriteString(th.Style(th.Bad).Render(" !injection?"))
	}
	return b.String()
}
