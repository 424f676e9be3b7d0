package matrix

import (
	"strings"
	"testing"

	"github.com/nsed/nsed/tui/internal/golden"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
)

func TestMain(m *testing.M) { golden.Main(m) }

func review(round int, reviewer string, evals ...engine.Evaluation) *engine.ReviewDone {
	ev := &engine.ReviewDone{Evaluations: evals}
	ev.Round, ev.Agent = round, reviewer
	return ev
}

func sample() *Model {
	m := New(themes.Dark())
	m.SetAgents([]string{"a1", "a2", "a3"})
	m.SetSize(40, 10)
	m.Add(review(1, "a1",
		engine.Evaluation{Author: "a2", Label: "A", Weight: -67, Stance: "oppose", Critique: "Ignores the difference condition.",
			Claims: []engine.Claim{{Text: "ball = 0.10", Verdict: "wrong"}}},
		engine.Evaluation{Author: "a3", Label: "B", Weight: 88, Stance: "support"}))
	ab := review(1, "a2")
	ab.Abstained, ab.Reason = true, "invalid JSON twice"
	m.Add(ab)
	return m
}

func TestCells(t *testing.T) {
	m := sample()
	v := ansi.Strip(m.View())
	rows := strings.Split(v, "\n")
	for _, want := range []string{"-67", "+88", "░░░", "∅", "·", "r1 · 2/3"} {
		if !strings.Contains(v, want) {
			t.Errorf("matrix lacks %q:\n%s", want, v)
		}
	}
	// Row a1: self, -67, +88 in author order.
	if r := rows[2]; !(strings.Index(r, "░") < strings.Index(r, "-67") && strings.Index(r, "-67") < strings.Index(r, "+88")) {
		t.Errorf("row a1 out of order: %q", r)
	}
	if r := rows[3]; strings.Count(r, "∅") != 2 {
		t.Errorf("abstained row a2 should mark both cells: %q", r)
	}
	if r := rows[4]; strings.Count(r, "·") != 2 {
		t.Errorf("unreviewed row a3 should show two missing cells: %q", r)
	}
}

func TestColourScaleAndLegend(t *testing.T) {
	golden.Colour(t)
	m := sample()
	th := themes.Dark()
	v := m.View()
	// Each score is drawn on its band's swatch.
	if !strings.Contains(v, th.Swatch(th.Heat[themes.BandWrong]).Render("  -67")) {
		t.Errorf("-67 not drawn in the 'wrong' band colour")
	}
	if !strings.Contains(v, th.Swatch(th.Heat[themes.BandVerified]).Render("  +88")) {
		t.Errorf("+88 not drawn in the 'verified' band colour")
	}
	m.SetSize(70, 10)
	if v := ansi.Strip(m.View()); !strings.Contains(v, "wrong") || !strings.Contains(v, "verified") || !strings.Contains(v, "self") {
		t.Errorf("wide legend lacks band names:\n%s", v)
	}
}

func TestSelectionAndCritique(t *testing.T) {
	m := sample()
	m.SetFocused(true)
	rev, auth, ev := m.Selected()
	if rev != "a1" || auth != "a2" || ev == nil || ev.Weight != -67 {
		t.Fatalf("default selection = %s→%s %+v", rev, auth, ev)
	}
	d := ansi.Strip(strings.Join(m.Detail(60), "\n"))
	for _, want := range []string{"-67", "a1 → a2", "wrong", "stance oppose", "ball = 0.10", "Ignores the difference condition."} {
		if !strings.Contains(d, want) {
			t.Errorf("detail lacks %q:\n%s", want, d)
		}
	}
	m.Update(tea.KeyMsg{Type: tea.KeyLeft})
	if _, _, ev := m.Selected(); ev != nil {
		t.Errorf("diagonal cell has an evaluation")
	}
	if d := strings.Join(m.Detail(60), " "); !strings.Contains(d, "does not review its own") {
		t.Errorf("diagonal detail: %s", d)
	}
	m.Update(tea.KeyMsg{Type: tea.KeyDown})
	if d := strings.Join(m.Detail(60), " "); !strings.Contains(d, "abstained: invalid JSON twice") {
		t.Errorf("abstained detail: %s", d)
	}
	for range 10 {
		m.Update(tea.KeyMsg{Type: tea.KeyDown})
		m.Update(tea.KeyMsg{Type: tea.KeyRight})
	}
	if rev, auth, _ := m.Selected(); rev != "a3" || auth != "a3" {
		t.Errorf("selection not clamped: %s→%s", rev, auth)
	}
}

func TestNewRoundClears(t *testing.T) {
	m := sample()
	m.Add(review(2, "a3", engine.Evaluation{Author: "a1", Weight: 5}))
	v := ansi.Strip(m.View())
	if strings.Contains(v, "-67") || !strings.Contains(v, "+5") || !strings.Contains(v, "r2 · 1/3") {
		t.Errorf("round 2 should replace round 1:\n%s", v)
	}
}

func TestEightAgentsFitAndScroll(t *testing.T) {
	m := New(themes.Dark())
	ids := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}
	m.SetAgents(ids)
	m.SetSize(MinWidth(8), 7) // fewer rows than agents
	m.SetFocused(true)
	for range 7 {
		m.Update(tea.KeyMsg{Type: tea.KeyDown})
	}
	v := ansi.Strip(m.View())
	lines := strings.Split(v, "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if ansi.StringWidth(l) != MinWidth(8) {
			t.Errorf("line %q is not %d wide", l, MinWidth(8))
		}
	}
	if !strings.Contains(v, "a8 ") || !strings.Contains(v, "rows") {
		t.Errorf("the selected last row should be in view:\n%s", v)
	}
}

func TestEarlierRounds(t *testing.T) {
	m := sample() // round 1: a1 gave a2 -67
	m.Add(review(2, "a1", engine.Evaluation{Author: "a2", Weight: 41}))
	key := func(s string) { m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}) }
	if v := ansi.Strip(m.View()); !strings.Contains(v, "+41") || strings.Contains(v, "-67") {
		t.Fatalf("not following round 2:\n%s", v)
	}
	key("[")
	if v := ansi.Strip(m.View()); !strings.Contains(v, "-67") || !strings.Contains(v, "r1 of 2") {
		t.Fatalf("[ did not show round 1:\n%s", v)
	}
	// A new review while looking back does not pull the view forward.
	m.Add(review(3, "a1", engine.Evaluation{Author: "a2", Weight: 5}))
	if m.Round() != 1 {
		t.Fatalf("view jumped to round %d", m.Round())
	}
	key("]")
	key("]")
	if v := ansi.Strip(m.View()); !strings.Contains(v, "+5") || strings.Contains(v, " of ") {
		t.Fatalf("] did not return to the latest round:\n%s", v)
	}
	key("]") // nothing later: stays
	if m.Round() != 3 {
		t.Fatalf("round %d", m.Round())
	}
}

// TestNarrowDetailIsCutNotWrapped: the one line of detail a narrow matrix
// has room for is the message cut short with "…", not its first wrapped
// line stopping mid-sentence.
func TestNarrowDetailIsCutNotWrapped(t *testing.T) {
	m := New(themes.Dark())
	m.SetAgents([]string{"agent-1", "agent-2", "agent-3"})
	m.SetSize(25, 8)
	m.Update(tea.KeyMsg{Type: tea.KeyRight}) // agent-1 → agent-2: not reviewed yet
	v := ansi.Strip(m.View())
	if !strings.Contains(v, "agent-1 has not review…") {
		t.Errorf("detail line:\n%s", v)
	}
}

// TestNarrowStatusStaysWhole: a narrow matrix says its round and count
// compactly rather than cutting them ("r2 · 3…").
func TestNarrowStatusStaysWhole(t *testing.T) {
	m := sample()
	for _, w := range []int{25, 40} {
		m.SetSize(w, 10)
		top := strings.Split(ansi.Strip(m.View()), "\n")[0]
		if !strings.Contains(top, "Peer review") || !(strings.Contains(top, "r1 · 2/3") || strings.Contains(top, "r1 2/3")) || strings.Contains(top, "…") {
			t.Errorf("%d wide: %q", w, top)
		}
	}
}

// A score whose review repeated the author's injected instruction carries
// a "!" in its cell (colour is not the only cue), the legend explains it,
// and the cell's detail names the words repeated.
func TestInjectionSuspectedIsMarked(t *testing.T) {
	m := sample()
	m.SetSize(70, 10)
	sus := &engine.InjectionSuspected{Candidate: "a3", Label: "B", Pattern: "score request", Phrase: "give this \x1b[31m100", Weight: 88}
	sus.Round, sus.Agent = 1, "a1"
	m.Suspect(sus)
	v := ansi.Strip(m.View())
	if !strings.Contains(v, "+88!") || strings.Contains(v, "-67!") || !strings.Contains(v, "!injection?") {
		t.Errorf("suspected cell not marked:\n%s", v)
	}
	m.Update(tea.KeyMsg{Type: tea.KeyRight}) // a1 → a3
	_, auth, _ := m.Selected()
	d := strings.Join(m.Detail(200), "\n")
	if auth != "a3" || !strings.Contains(d, `! injection suspected: the review repeats "give this 100" (score request)`) || strings.Contains(d, "\x1b[31m") {
		t.Errorf("detail of %s:\n%s", auth, d)
	}
	if !strings.Contains(strings.Split(d, "\n")[1], "injection suspected") {
		t.Errorf("the mark should follow the score line:\n%s", d)
	}
	// Narrow cells keep the mark.
	if got := suspectCell(100, 4); got != "100!" {
		t.Errorf("suspectCell(100, 4) = %q", got)
	}
	if got := suspectCell(88, 5); got != " +88!" {
		t.Errorf("suspectCell(88, 5) = %q", got)
	}
}
