package consensus

import (
	"strings"
	"testing"

	"github.com/nsed/nsed/tui/internal/golden"

	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
)

func TestMain(m *testing.M) { golden.Main(m) }

func update() *engine.ConsensusUpdated {
	ev := &engine.ConsensusUpdated{
		Leader: "a3", LeaderAnswer: "$0.05", Gamma: 0.7,
		Kept:         []engine.GateItem{{Kind: "claim", Agent: "a1", Text: "2b = 0.10 so b = 0.05", Retention: 0.91}},
		Dropped:      []engine.GateItem{{Kind: "critique", Agent: "a2", Text: "old \x1b[31mnoise\x1b[0m", Retention: 0.1}},
		StateTokens:  120,
		BudgetTokens: 160,
		Summarised:   true,
		State:        "Leader: $0.05\nVerified: b = 0.05",
	}
	ev.Round = 2
	return ev
}

func TestKeptDroppedGateAndBudget(t *testing.T) {
	m := New(themes.Dark(), 160)
	m.SetSize(70, 16)
	if v := ansi.Strip(m.View()); !strings.Contains(v, "no state yet") {
		t.Errorf("empty pane:\n%s", v)
	}
	m.Human("check n = 0")
	m.Set(update())
	m.Human("try the other method")
	raw := m.View()
	v := ansi.Strip(raw)
	for _, want := range []string{
		"γ 0.70", "120/160 tok", "summarised", "leader a3: $0.05", "after round 2",
		"+ claim a1 0.91 2b = 0.10 so b = 0.05", "− critique a2 0.10 old noise",
		"try the other method", "Verified: b = 0.05",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("consensus pane lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "check n = 0") {
		t.Errorf("a message from before the update is still listed as pending")
	}
	if strings.Contains(raw, "\x1b[31m") {
		t.Errorf("model text reached the screen with its escape codes")
	}
}

func TestDroppedIsStruckThrough(t *testing.T) {
	golden.Colour(t)
	m := New(themes.Dark(), 160)
	m.SetSize(70, 16)
	m.Set(update())
	if !strings.Contains(m.View(), "\x1b[9;") && !strings.Contains(m.View(), ";9m") && !strings.Contains(m.View(), "\x1b[9m") {
		t.Errorf("dropped items are not struck through: %q", m.View())
	}
}

func TestFinal(t *testing.T) {
	m := New(themes.Dark(), 160)
	m.SetSize(50, 10)
	m.Set(update())
	m.Final(&engine.RunEnded{Winner: "a3", Answer: "$0.05"})
	if v := ansi.Strip(m.View()); !strings.Contains(v, "FINAL ANSWER (a3): $0.05") {
		t.Errorf("final answer missing:\n%s", v)
	}
}

// TestFinalFromAnEarlierRound: when the last rounds had no winner the
// answer is an earlier round's, and the pane says which.
func TestFinalFromAnEarlierRound(t *testing.T) {
	m := New(themes.Dark(), 160)
	m.SetSize(50, 10)
	m.Set(update())
	m.Final(&engine.RunEnded{Winner: "a3", Answer: "$0.05", Rounds: 3, AnswerRound: 2})
	if v := ansi.Strip(m.View()); !strings.Contains(v, "FINAL ANSWER (a3, round 2):") {
		t.Errorf("answer's round missing:\n%s", v)
	}
	m.Final(&engine.RunEnded{Winner: "a3", Answer: "$0.05", Rounds: 3, AnswerRound: 3})
	if v := ansi.Strip(m.View()); !strings.Contains(v, "FINAL ANSWER (a3): $0.05") {
		t.Errorf("the last round's answer named its round:\n%s", v)
	}
}
