// Package consensus shows the state the forget gate carries to the next
// round: what it kept and what it dropped this round, the retention factor
// γ, the state's size against its budget, and the state itself.
package consensus

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/chart"
	"github.com/nsed/nsed/tui/internal/pane"
	"github.com/nsed/nsed/tui/internal/text"
	"github.com/nsed/nsed/tui/safe"
)

// MinWidth is the narrowest useful pane.
const MinWidth = 34

// Model is the consensus pane.
type Model struct {
	ev      *engine.ConsensusUpdated
	human   []string // messages injected since the last update
	budget  int
	summing bool // the synthesiser is compressing the state
	final   *engine.RunEnded

	pane.Pane // frame, scrolling, keys and the view: the base every pane shares
}

// New returns an empty consensus pane; budget is the gate's token budget.
func New(th themes.Theme, budget int) *Model {
	m := &Model{budget: budget}
	m.Pane = pane.New(th, m.header, m.render)
	return m
}

// Set shows the state after a round's gate.
func (m *Model) Set(ev *engine.ConsensusUpdated) {
	m.ev, m.human, m.summing = ev, nil, false
	m.Pane.Top()
	m.Pane.Invalidate()
}

// Human lists a message injected for the next round.
func (m *Model) Human(text string) {
	m.human = append(m.human, safe.Line(text))
	m.Pane.Invalidate()
}

// Summarising shows that the state is being compressed.
func (m *Model) Summarising(on bool) {
	if on != m.summing {
		m.summing = on
		m.Pane.Invalidate()
	}
}

// SetBudget sets the gate's token budget (from the run's settings).
func (m *Model) SetBudget(n int) { m.budget = n; m.Pane.Invalidate() }

// header is the pane's title and status.
func (m *Model) header() (title, status string) {
	if m.ev != nil {
		status = fmt.Sprintf("after round %d", m.ev.Round)
	}
	return "Consensus state", status
}

func (m *Model) render(w int) []string {
	th := m.Pane.Theme()
	muted := th.Style(th.Muted)
	var out []string
	wrap := func(prefix string, s string, style lipgloss.Style) {
		for _, l := range hang(prefix, s, w) {
			out = append(out, style.Render(l))
		}
	}
	if f := m.final; f != nil && f.Winner != "" {
		who := safe.Line(f.Winner)
		if f.AnswerRound > 0 && f.AnswerRound != f.Rounds {
			// The last rounds had no winner: the answer is older.
			who += fmt.Sprintf(", round %d", f.AnswerRound)
		}
		wrap("FINAL ANSWER ("+who+"): ", safe.Line(f.Answer), th.Style(th.Accent).Bold(true))
	}
	if m.summing {
		out = append(out, th.Style(th.Warn).Render("◐ summarising the state to fit its budget…"))
	}
	if m.ev == nil {
		out = append(out, th.Style(th.Faint).Render("no state yet: it forms after the first vote"))
		for _, h := range m.human {
			wrap("✉ you: ", h, th.Style(th.Accent))
		}
		return out
	}
	ev := m.ev
	budget := ev.BudgetTokens
	if budget == 0 {
		budget = m.budget
	}
	frac := 0.0
	if budget > 0 {
		frac = float64(ev.StateTokens) / float64(budget)
	}
	size := fmt.Sprintf(" %d/%d tok", ev.StateTokens, budget)
	flags := ""
	if ev.Summarised {
		flags += " · summarised"
	}
	if ev.Truncated {
		flags += " · truncated"
	}
	barW := min(max(w-len(size)-len(flags)-9, 4), 16)
	c := th.Good
	if frac > 1 {
		c = th.Bad
	}
	out = append(out, muted.Render(fmt.Sprintf("γ %.2f ", ev.Gamma))+chart.Bar(th, frac, barW, c)+muted.Render(size+flags))
	if ev.Leader != "" {
		wrap("leader "+safe.Line(ev.Leader)+": ", safe.Line(ev.LeaderAnswer), th.Style(th.Accent))
	}
	keptS := th.Style(th.Good)
	dropS := th.Style(th.Bad).Strikethrough(true)
	for _, it := range ev.Kept {
		wrap(fmt.Sprintf("+ %s %.2f ", item(it), it.Retention), safe.Line(it.Text), keptS)
	}
	for _, it := range ev.Dropped {
		p := fmt.Sprintf("− %s %.2f ", item(it), it.Retention)
		for i, l := range hang(p, safe.Line(it.Text), w) {
			switch {
			case i == 0 && strings.HasPrefix(l, p):
				out = append(out, th.Style(th.Bad).Render(p)+dropS.Render(l[len(p):]))
				continue
			case i == 0:
				out = append(out, th.Style(th.Bad).Render(l))
				continue
			}
			out = append(out, dropS.Render(l))
		}
	}
	for _, h := range m.human {
		wrap("✉ you (next round): ", h, th.Style(th.Accent))
	}
	if st := safe.String(ev.State); st != "" {
		out = append(out, th.Style(th.Faint).Render(strings.Repeat("─", w)))
		for _, p := range strings.Split(st, "\n") {
			for _, l := range text.Wrap(p, w) {
				out = append(out, th.Style(th.Text).Render(l))
			}
		}
	}
	return out
}

// item labels a gate item: its kind and the agent it came from.
func item(it engine.GateItem) string {
	s := safe.Line(it.Kind)
	if it.Agent != "" {
		s += " " + safe.Line(it.Agent)
	}
	return s
}

// Final shows the run's answer above the state once the run has ended.
func (m *Model) Final(ev *engine.RunEnded) {
	m.final = ev
	m.summing = false
	m.Pane.Top()
	m.Pane.Invalidate()
}

// hang wraps s after prefix, continuing lines under the text; a prefix
// wider than half the width puts the text under it instead.
func hang(prefix, s string, w int) []string {
	pw := text.Width(prefix)
	if pw > w/2 {
		out := []string{text.Truncate(prefix, w, "…")}
		for _, l := range text.Wrap(s, max(w-2, 1)) {
			out = append(out, "  "+l)
		}
		return out
	}
	var out []string
	for i, l := range text.Wrap(s, max(w-pw, 1)) {
		p := prefix
		if i > 0 {
			p = strings.Repeat(" ", pw)
		}
		out = append(out, p+l)
	}
	return out
}
