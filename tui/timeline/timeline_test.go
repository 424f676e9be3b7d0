package timeline

import (
	"math"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

func TestUtility(t *testing.T) {
	s := engine.StopSettings{PG: 0.6, PV: 0.8, Lambda: 2, Beta: 0.005}
	// U(1) = 1 − 0.4·e^(−0.4) − 0.005
	want := 1 - 0.4*math.Exp(-0.4) - 0.005
	if got := Utility(s, 1); math.Abs(got-want) > 1e-12 {
		t.Errorf("U(1) = %v, want %v", got, want)
	}
	if Utility(s, 3) <= Utility(s, 1) {
		t.Errorf("U should rise early on")
	}
}

func TestChart(t *testing.T) {
	m := New(themes.Dark())
	m.SetSize(50, 12)
	set := engine.DefaultSettings()
	set.MaxRounds = 4
	m.SetSettings(set)
	if v := ansi.Strip(m.View()); !strings.Contains(v, "0/4 rounds") || !strings.Contains(v, "U(t) fit") {
		t.Errorf("empty timeline:\n%s", v)
	}
	for i, c := range []float64{0.1, 0.5} {
		ev := &engine.RoundEnded{Conviction: c, Utility: 0.7 + 0.05*float64(i), Evidence: 0.1 * float64(i+1), Target: 0.3, Continue: true, Winner: "a1"}
		ev.Round = i + 1
		m.Add(ev)
	}
	v := ansi.Strip(m.View())
	for _, want := range []string{"2/4 rounds", "agreement", "0.50", "0.20/0.30", "going on", "r2 agree 0.50"} {
		if !strings.Contains(v, want) {
			t.Errorf("timeline lacks %q:\n%s", want, v)
		}
	}
	if got := m.Agreement(); len(got) != 2 || got[1] != 0.5 {
		t.Errorf("Agreement() = %v", got)
	}
	ev := &engine.RoundEnded{Conviction: 0.9, Continue: false, StopReason: "converged", Target: 0.3, Evidence: 0.35}
	ev.Round = 3
	m.Add(ev)
	if v := ansi.Strip(m.View()); !strings.Contains(v, "stopped after round 3: converged") {
		t.Errorf("stop not shown:\n%s", v)
	}
}

func TestNoWinnerSaysWhy(t *testing.T) {
	m := New(themes.Dark())
	m.SetSize(70, 12)
	ev := &engine.RoundEnded{Continue: true, NoWinner: "every reviewer \x1b[31mabstained"}
	ev.Round = 1
	m.Add(ev)
	raw := m.View()
	if v := ansi.Strip(raw); !strings.Contains(v, "round 1: no winner (every reviewer abstained), going on") || strings.Contains(raw, "\x1b[31m") {
		t.Errorf("no-winner round:\n%s", v)
	}
}
