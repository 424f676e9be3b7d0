package timeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nsed/nsed/tui/internal/golden"

	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
)

func TestMain(m *testing.M) { golden.Main(m) }

// A round that recorded no utility shows the engine's curve: the pane has
// no stopping rule of its own to drift from the engine's.
func TestUtilityIsTheEngines(t *testing.T) {
	m := New(themes.Dark())
	m.SetSize(50, 12)
	set := engine.DefaultSettings()
	set.MaxRounds = 4
	set.Stop = engine.StopSettings{PG: 0.6, PV: 0.8, Lambda: 2, Beta: 0.005}
	m.SetSettings(set)
	ev := &engine.RoundEnded{Continue: true}
	ev.Round = 1
	m.Add(ev)
	want := fmt.Sprintf("%.2f", set.Stop.Utility(1)) // 1 − 0.4·e^(−0.4) − 0.005 = 0.73
	if want != "0.73" {
		t.Fatalf("engine U(1) = %s, want 0.73", want)
	}
	for _, l := range strings.Split(ansi.Strip(m.View()), "\n") {
		if strings.Contains(l, "U(t) fit") && !strings.Contains(l, want) {
			t.Errorf("U(t) row does not show the engine's U(1) = %s: %q", want, l)
		}
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

func TestQuorumLostSaysWhoAndWhy(t *testing.T) {
	m := New(themes.Dark())
	m.SetSettings(engine.DefaultSettings())
	m.SetSize(80, 14)
	ev := &engine.QuorumLost{Quorum: 2, Agents: 3, Present: 1, Absent: []engine.Absent{
		{Agent: "agent-2", Phase: engine.PhaseReview, Why: "abstained: \x1b[31minvalid JSON"},
		{Agent: "agent-3", Phase: engine.PhasePropose, Why: "HTTP 500"}}}
	ev.Round = 2
	m.QuorumLost(ev)
	raw := m.View()
	v := strings.Join(strings.Fields(ansi.Strip(raw)), " ")
	for _, want := range []string{"round 2 lost its quorum: 1 of 3 agents proposed and reviewed, 2 needed",
		"agent-2 (review) abstained: invalid JSON", "agent-3 (propose) HTTP 500"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q:\n%s", want, ansi.Strip(raw))
		}
	}
	if strings.Contains(raw, "\x1b[31m") {
		t.Error("model text drawn raw")
	}
}
