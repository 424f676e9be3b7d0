// Package votes shows a round's quadratic voting: what each voter spent of
// its credit budget, the votes it bought for or against each proposal (v
// votes cost v² credits, and the pane says so), and each proposal's total
// support.
package votes

import (
	"cmp"
	"fmt"
	"math"
	"sort"
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

// Model is the votes pane.
type Model struct {
	agents []string
	ev     *engine.VotesCast
	budget float64

	pane.Pane // frame, scrolling, keys and the view: the base every pane shares
}

// New returns an empty votes pane.
func New(th themes.Theme) *Model {
	m := &Model{}
	m.Pane = pane.New(th, m.header, m.render)
	return m
}

// SetAgents sets the order proposals are listed in; budget is the credits
// each voter gets per round (from the run's settings).
func (m *Model) SetAgents(ids []string, budget float64) {
	m.agents = ids
	m.budget = budget
	m.Pane.Invalidate()
}

// Set shows a round's tally.
func (m *Model) Set(ev *engine.VotesCast) {
	m.ev = ev
	m.Pane.Top()
	m.Pane.Invalidate()
}

// Round is the round shown, 0 if none.
func (m *Model) Round() int {
	if m.ev == nil {
		return 0
	}
	return m.ev.Round
}

// header is the pane's title and status.
func (m *Model) header() (title, status string) {
	if m.ev != nil {
		status = fmt.Sprintf("round %d", m.ev.Round)
	}
	return "Quadratic votes", status
}

func (m *Model) render(w int) []string {
	th := m.Pane.Theme()
	muted, faint := th.Style(th.Muted), th.Style(th.Faint)
	budget := m.budget
	if m.ev != nil && m.ev.Budget > 0 {
		budget = m.ev.Budget
	}
	credits := muted.Render(text.Truncate(fmt.Sprintf("%g credits/voter · v votes cost v² (3 votes = 9 credits)", budget), w, "…"))
	if m.ev == nil {
		return []string{credits, faint.Render("no votes yet")}
	}
	// The round's outcome first: the answers the panel reached, then how
	// the votes were spent.
	out := append(m.clusters(w), credits)
	idx := map[string]int{}
	for i, a := range m.agents {
		idx[a] = i
	}
	agentStyle := func(id string) string {
		return th.Style(th.AgentColor(idx[id])).Render(id)
	}

	// One block per voter: spent bar, then its allocations.
	idw := 2
	for _, b := range m.ev.Ballots {
		idw = max(idw, text.Width(safe.Line(b.Voter)))
	}
	barW := min(max(w-idw-12, 4), 16)
	for _, b := range m.ev.Ballots {
		voter := safe.Line(b.Voter)
		head := agentStyle(voter) + strings.Repeat(" ", idw-text.Width(voter)+1)
		if b.Abstained {
			out = append(out, head+th.Style(th.Bad).Render("abstained — its votes don't count"))
			continue
		}
		frac := 0.0
		if budget > 0 {
			frac = b.Spent / budget
		}
		out = append(out, head+chart.Bar(th, frac, barW, th.Bar)+muted.Render(fmt.Sprintf(" %.0f/%.0f cr", b.Spent, budget)))
		allocs := append([]engine.Allocation(nil), b.Allocations...)
		sort.SliceStable(allocs, func(i, j int) bool { return idx[allocs[i].Author] < idx[allocs[j].Author] })
		line := strings.Repeat(" ", idw+1)
		lw := idw + 1
		for _, a := range allocs {
			c := th.Good
			if a.Votes < 0 {
				c = th.Bad
			}
			author := safe.Line(a.Author)
			item := fmt.Sprintf("→%s %+.1fv=%.0fcr", author, a.Votes, a.Credits)
			iw := text.Width(item)
			if lw+iw+1 > w && lw > idw+1 {
				out = append(out, line)
				line, lw = strings.Repeat(" ", idw+1), idw+1
			}
			line += "→" + agentStyle(author) + th.Style(c).Render(fmt.Sprintf(" %+.1fv", a.Votes)) + muted.Render(fmt.Sprintf("=%.0fcr ", a.Credits))
			lw += iw + 1
		}
		if lw > idw+1 {
			out = append(out, line)
		}
	}

	// Support per proposal, strongest first.
	head := fmt.Sprintf("support · winner %s · conviction %.2f", safe.Line(m.ev.Winner), m.ev.Conviction)
	if m.ev.Winner == "" {
		head = "support · no winner: " + safe.Line(m.ev.NoWinner)
	}
	if len(m.ev.Clusters) > 0 {
		head = "support per proposal" // the clusters' line above said the rest
	}
	out = append(out, th.Style(th.Text).Bold(true).Render(text.Truncate(head, w, "…")))
	type sup struct {
		id string
		v  float64
	}
	var sups []sup
	maxAbs := 0.0
	for id, v := range m.ev.Support {
		sups = append(sups, sup{safe.Line(id), v})
		maxAbs = math.Max(maxAbs, math.Abs(v))
	}
	sort.Slice(sups, func(i, j int) bool {
		if sups[i].v != sups[j].v {
			return sups[i].v > sups[j].v
		}
		return sups[i].id < sups[j].id
	})
	sbarW := min(max(w-idw-12, 4), 20)
	for _, s := range sups {
		frac, c := 0.0, th.Good
		if maxAbs > 0 {
			frac = math.Abs(s.v) / maxAbs
		}
		if s.v < 0 {
			c = th.Bad
		}
		mark := ""
		if s.id == safe.Line(m.ev.Winner) {
			mark = th.Style(th.Accent).Render(" ★")
		}
		out = append(out, agentStyle(s.id)+strings.Repeat(" ", idw-text.Width(s.id)+1)+chart.Bar(th, frac, sbarW, c)+th.Style(c).Render(fmt.Sprintf(" %+.2f", s.v))+mark)
	}
	return out
}

// clusters is the round's answer clusters, best-supported first: each
// answer cut to fit, its member count and total support, the winning one
// starred; then the proposals in no cluster (no answer line). A round
// without a winner says why. None before the engine reported clusters.
func (m *Model) clusters(w int) []string {
	ev := m.ev
	if len(ev.Clusters) == 0 {
		return nil
	}
	th := m.Pane.Theme()
	muted := th.Style(th.Muted)
	head := fmt.Sprintf("%d answer(s) · winner %s · conviction %.2f", len(ev.Clusters), safe.Line(ev.Winner), ev.Conviction)
	if ev.Winner == "" {
		head = fmt.Sprintf("%d answer(s) · no winner: %s", len(ev.Clusters), safe.Line(cmp.Or(ev.NoWinner, "no proposal won")))
	}
	out := []string{th.Style(th.Text).Bold(true).Render(text.Truncate(head, w, "…"))}
	cs := append([]engine.Cluster(nil), ev.Clusters...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Support > cs[j].Support })
	in := map[string]bool{}
	for _, c := range cs {
		for _, a := range c.Members {
			in[a] = true
		}
	}
	row := func(mark, answer string, n int, support float64, style lipgloss.Style) string {
		// "★ $0.05 ······ 2 agents +28.29"; "×2" when the answer would
		// get fewer than 10 cells.
		tail := fmt.Sprintf(" %d agent%s %+.2f", n, plural(n), support)
		if w-2-text.Width(tail) < 10 {
			tail = fmt.Sprintf(" ×%d %+.2f", n, support)
		}
		aw := max(w-2-text.Width(tail), 1)
		return mark + style.Render(text.Fit(text.Truncate(answer, aw, "…"), aw)) + muted.Render(tail)
	}
	for _, c := range cs {
		mark, style := "  ", th.Style(th.Text)
		if c.ID == ev.Cluster && ev.Cluster != "" {
			mark, style = th.Style(th.Accent).Render("★ "), th.Style(th.Accent).Bold(true)
		}
		out = append(out, row(mark, safe.Line(c.Answer), len(c.Members), c.Support, style))
	}
	// Proposals with no answer line still get votes but join no cluster.
	var none []string
	sum := 0.0
	for _, a := range m.agents {
		if v, ok := ev.Support[a]; ok && !in[a] {
			none, sum = append(none, a), sum+v
		}
	}
	if len(none) > 0 {
		out = append(out, row("  ", "no answer: "+strings.Join(none, ","), len(none), sum, th.Style(th.Faint)))
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
