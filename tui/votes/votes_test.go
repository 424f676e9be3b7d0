package votes

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

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
