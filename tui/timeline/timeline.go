// Package timeline charts a run round by round: the winner's conviction
// (how much the votes agree), the stopping rule's efficiency–fatigue curve
// U(t) fitted from the settings, and the evidence accumulated against the
// target at which the run stops.
package timeline

import (
	"fmt"
	"math"
	"strings"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/chart"
	"github.com/nsed/nsed/tui/internal/pane"
	"github.com/nsed/nsed/tui/internal/text"
	"github.com/nsed/nsed/tui/safe"
)

// MinWidth is the narrowest useful pane.
const MinWidth = 28

// Model is the timeline pane.
type Model struct {
	set    engine.Settings
	rounds []*engine.RoundEnded
	lost   *engine.QuorumLost // the round that lost its quorum, if one did

	pane.Pane // frame, scrolling, keys and the view: the base every pane shares
}

// New returns an empty timeline.
func New(th themes.Theme) *Model {
	m := &Model{}
	m.Pane = pane.New(th, m.header, m.render)
	return m
}

// SetSettings gives the stopping rule's parameters and the round limits.
func (m *Model) SetSettings(s engine.Settings) { m.set = s; m.Pane.Invalidate() }

// Add records a finished round.
func (m *Model) Add(ev *engine.RoundEnded) {
	m.rounds = append(m.rounds, ev)
	m.Pane.Invalidate()
}

// QuorumLost records the round that ended the run for want of a quorum.
func (m *Model) QuorumLost(ev *engine.QuorumLost) {
	m.lost = ev
	m.Pane.Invalidate()
}

// Agreement is each finished round's conviction, for the header's sparkline.
func (m *Model) Agreement() []float64 {
	out := make([]float64, len(m.rounds))
	for i, r := range m.rounds {
		out[i] = r.Conviction
	}
	return out
}

// header is the pane's title and status.
func (m *Model) header() (title, status string) {
	return "Timeline", fmt.Sprintf("%d/%d rounds", len(m.rounds), m.set.MaxRounds)
}

func (m *Model) render(w int) []string {
	th := m.Pane.Theme()
	muted := th.Style(th.Muted)
	n := max(m.set.MaxRounds, len(m.rounds))
	if n == 0 {
		return []string{th.Style(th.Faint).Render("waiting for the run to start")}
	}
	const lw = 10 // label column
	cw := 1       // cells per round
	for cw < 3 && lw+(cw+1)*n+12 <= w {
		cw++
	}
	cell := func(s string) string { return s + strings.Repeat(" ", cw-1) }
	nan := math.NaN()

	agree := make([]float64, n)
	util := make([]float64, n)
	evid := make([]float64, n)
	target := nan
	for i := range n {
		agree[i], evid[i] = nan, nan
		util[i] = m.set.Stop.Utility(float64(i + 1)) // the engine's own curve
	}
	for _, r := range m.rounds {
		if i := r.Round - 1; i >= 0 && i < n {
			agree[i], evid[i] = r.Conviction, r.Evidence
			if r.Utility != 0 {
				util[i] = r.Utility
			}
			target = r.Target
		}
	}
	spark := func(vals []float64, lo, hi float64) string {
		var b strings.Builder
		for i, v := range vals {
			s := chart.Spark([]float64{v}, lo, hi)
			st := th.Style(th.Bar)
			if i >= len(m.rounds) {
				st = th.Style(th.Faint)
			}
			b.WriteString(st.Render(cell(s)))
		}
		return b.String()
	}
	last := func(vals []float64) float64 {
		if len(m.rounds) == 0 {
			return nan
		}
		return vals[min(len(m.rounds), n)-1]
	}
	num := func(v float64, f string) string {
		if math.IsNaN(v) {
			return ""
		}
		return " " + fmt.Sprintf(f, v)
	}

	var hdr strings.Builder
	for i := range n {
		hdr.WriteString(text.Fit(fmt.Sprint(i+1), cw))
	}
	evHi := 0.0
	if !math.IsNaN(target) {
		evHi = target
	}
	for _, v := range evid {
		if !math.IsNaN(v) {
			evHi = math.Max(evHi, v)
		}
	}
	out := []string{
		muted.Render(text.Fit("round", lw)) + muted.Render(hdr.String()),
		th.Style(th.Text).Render(text.Fit("agreement", lw)) + spark(agree, 0, 1) + muted.Render(num(last(agree), "%.2f")),
		th.Style(th.Text).Render(text.Fit("U(t) fit", lw)) + spark(util, 0, 1) + muted.Render(num(last(util), "%.2f")),
		th.Style(th.Text).Render(text.Fit("evidence", lw)) + spark(evid, 0, evHi) + muted.Render(num(last(evid), "%.2f")+strings.TrimPrefix(num(target, "/%.2f"), " ")),
	}
	if len(m.rounds) > 0 {
		r := m.rounds[len(m.rounds)-1]
		if r.Continue {
			who := "winner " + safe.Line(r.Winner)
			if r.Winner == "" {
				who = "no winner"
				if r.NoWinner != "" {
					who += " (" + safe.Line(r.NoWinner) + ")"
				}
			}
			out = append(out, muted.Render(text.Truncate(fmt.Sprintf("round %d: %s, going on", r.Round, who), w, "…")))
		} else {
			for _, l := range text.Wrap(fmt.Sprintf("stopped after round %d: %s", r.Round, safe.Line(r.StopReason)), w) {
				out = append(out, th.Style(th.Warn).Render(l))
			}
		}
	}
	if l := m.lost; l != nil {
		for _, line := range text.Wrap(quorumLine(l), w) {
			out = append(out, th.Style(th.Bad).Render(line))
		}
	}
	// Per-round detail, for when the pane is tall or zoomed.
	for _, r := range m.rounds {
		s := fmt.Sprintf("r%d agree %.2f · U %.2f · U′ %+.3f · evidence %.2f · %d tok in / %d out",
			r.Round, r.Conviction, r.Utility, r.Marginal, r.Evidence, r.PromptTokens, r.OutputTokens)
		out = append(out, muted.Render(text.Truncate(s, w, "…")))
	}
	return out
}

// quorumLine says which round lost its quorum, by how much, and who was
// missing and why.
func quorumLine(l *engine.QuorumLost) string {
	var why []string
	for _, a := range l.Absent {
		why = append(why, fmt.Sprintf("%s (%s) %s", safe.Line(a.Agent), safe.Line(string(a.Phase)), safe.Line(a.Why)))
	}
	return fmt.Sprintf("round %d lost its quorum: %d of %d agents proposed and reviewed, %d needed; missing %s",
		l.Round, l.Present, l.Agents, l.Quorum, strings.Join(why, "; "))
}
