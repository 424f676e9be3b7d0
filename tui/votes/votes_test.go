package votes

import (
	"strings"
	"testing"

	"github.com/nsed/nsed/tui/internal/golden"

	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
)

func TestMain(m *testing.M) { golden.Main(m) }

func tally() *engine.VotesCast {
	ev := &engine.VotesCast{
		Budget: 100,
		Ballots: []engine.Ballot{
			{Voter: "a1", Spent: 90, Allocations: []engine.Allocation{
				{Author: "a3", Weight: 80, Credits: 81, Votes: 9},
				{Author: "a2", Weight: -30, Credits: 9, Votes: -3},
			}},
			{Voter: "a2", Abstained: true},
		},
		Support:    map[string]float64{"a2": -3, "a3": 9, "a1": 0},
		Winner:     "a3",
		Conviction: 0.75,
	}
	ev.Round = 2
	return ev
}

func TestQuadraticCostIsVisible(t *testing.T) {
	m := New(themes.Dark())
	m.SetAgents([]string{"a1", "a2", "a3"}, 100)
	m.SetSize(60, 14)
	if v := ansi.Strip(m.View()); !strings.Contains(v, "no votes yet") || !strings.Contains(v, "3 votes = 9 credits") {
		t.Errorf("empty pane:\n%s", v)
	}
	m.Set(tally())
	v := ansi.Strip(m.View())
	for _, want := range []string{
		"v votes cost v²", "90/100 cr", // the budget bar
		"→a2 -3.0v=9cr", "→a3 +9.0v=81cr", // votes and their quadratic price
		"abstained", "winner a3", "conviction 0.75", "+9.00 ★", "-3.00", "round 2",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("votes pane lacks %q:\n%s", want, v)
		}
	}
	// Allocations follow the agents' order; support is strongest first.
	if strings.Index(v, "→a2") > strings.Index(v, "→a3") {
		t.Errorf("allocations not in agent order:\n%s", v)
	}
	if strings.Index(v, "+9.00") > strings.Index(v, "-3.00") {
		t.Errorf("support not sorted:\n%s", v)
	}
}

func TestNarrowWrapsAndScrolls(t *testing.T) {
	m := New(themes.Dark())
	m.SetAgents([]string{"a1", "a2", "a3"}, 100)
	m.SetSize(MinWidth, 6)
	m.Set(tally())
	lines := strings.Split(ansi.Strip(m.View()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w != MinWidth {
			t.Errorf("line %q is %d wide", l, w)
		}
	}
	if !strings.Contains(lines[5], "↓") {
		t.Errorf("no scroll indicator on an overflowing pane: %q", lines[5])
	}
}

func TestNoWinnerIsShown(t *testing.T) {
	m := New(themes.Dark())
	m.SetAgents([]string{"a1", "a2", "a3"}, 100)
	m.SetSize(80, 14)
	ev := tally()
	ev.Winner, ev.Conviction, ev.NoWinner = "", 0, "every reviewer abstained"
	m.Set(ev)
	v := ansi.Strip(m.View())
	if !strings.Contains(v, "no winner: every reviewer abstained") || strings.Contains(v, "★") {
		t.Errorf("no-winner round:\n%s", v)
	}
}

func clustered() *engine.VotesCast {
	ev := tally()
	ev.Support = map[string]float64{"a1": 4, "a2": -3, "a3": 9, "a4": 1}
	ev.Clusters = []engine.Cluster{
		{ID: "c1", Key: "num:0.1", Answer: "$0.10", Members: []string{"a2"}, Support: -3},
		{ID: "c2", Key: "num:0.05", Answer: "$0.05 (the bat costs $1.05, which the reviewers of this round all checked twice)", Members: []string{"a1", "a3"}, Support: 13},
	}
	ev.Cluster = "c2"
	return ev
}

// TestClustersLeadThePane: the answers the panel reached come first, best
// supported first, each with its member count and total support, the
// winning one starred; a proposal with no answer line is counted apart.
func TestClustersLeadThePane(t *testing.T) {
	for _, w := range []int{26, MinWidth, 60, 100} {
		m := New(themes.Dark())
		m.SetAgents([]string{"a1", "a2", "a3", "a4"}, 100)
		m.SetSize(w, 30)
		m.Set(clustered())
		v := ansi.Strip(m.View())
		lines := strings.Split(v, "\n")
		for i, l := range lines {
			if n := ansi.StringWidth(l); n != w {
				t.Errorf("%d cols: line %d is %d wide: %q", w, i, n, l)
			}
		}
		wantTail := []string{"2 agents +13.00", "1 agent -3.00", "1 agent +1.00"}
		if w < MinWidth { // the answer would get under 10 cells

			wantTail = []string{"×2 +13.00", "×1 -3.00", "×1 +1.00"}
		}
		for i, want := range []string{"2 answer(s) · winner a3", "★ $0.05", "  $0.10", "  no answer: a4"} {
			if !strings.Contains(lines[1+i], want) {
				t.Errorf("%d cols: line %d lacks %q:\n%s", w, 1+i, want, v)
			}
			if i > 0 && !strings.Contains(lines[1+i], wantTail[i-1]) {
				t.Errorf("%d cols: line %d lacks %q:\n%s", w, 1+i, wantTail[i-1], v)
			}
		}
		if strings.Count(v, "★") != 2 { // the cluster and the winning proposal
			t.Errorf("%d cols: %d stars:\n%s", w, strings.Count(v, "★"), v)
		}
		if strings.Index(v, "answer(s)") > strings.Index(v, "credits/voter") {
			t.Errorf("%d cols: clusters below the ballots:\n%s", w, v)
		}
	}
}

func TestClustersWithoutWinner(t *testing.T) {
	m := New(themes.Dark())
	m.SetAgents([]string{"a1", "a2", "a3"}, 100)
	m.SetSize(80, 20)
	ev := clustered()
	ev.Winner, ev.Cluster, ev.Conviction, ev.NoWinner = "", "", 0, "every reviewer abstained"
	ev.Clusters[0].Answer = "\x1b]0;pwned\a$0.10\n(ok)"
	m.Set(ev)
	raw := m.View()
	v := ansi.Strip(raw)
	if !strings.Contains(v, "2 answer(s) · no winner: every reviewer abstained") || strings.Contains(v, "★") {
		t.Errorf("no-winner round:\n%s", v)
	}
	if strings.Contains(raw, "\a") || strings.Contains(raw, "pwned\a") || !strings.Contains(v, "$0.10 (ok)") {
		t.Errorf("cluster answer not made safe:\n%q", v)
	}
}
