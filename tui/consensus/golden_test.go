package consensus

import (
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/demo"
	"github.com/nsed/nsed/tui/internal/golden"
)

// The demo's last state under its final answer, at golden.Widths.
func TestGolden(t *testing.T) {
	evs, err := demo.Events()
	if err != nil {
		t.Fatal(err)
	}
	golden.AtWidths(t, golden.Widths, func(w int) string {
		m := New(themes.Dark(), 0)
		for _, e := range evs {
			switch ev := e.(type) {
			case *engine.RunStarted:
				m.SetBudget(ev.Settings.Gate.BudgetTokens)
			case *engine.ConsensusUpdated:
				m.Set(ev)
			case *engine.RunEnded:
				m.Final(ev)
			}
		}
		m.SetSize(w, 18)
		return m.View()
	})
}
