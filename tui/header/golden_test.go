package header

import (
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/demo"
	"github.com/nsed/nsed/tui/internal/golden"
)

// The header mid-run (round 2's review) and at the end of the demo, at
// golden.Widths.
func TestGolden(t *testing.T) {
	evs, err := demo.Events()
	if err != nil {
		t.Fatal(err)
	}
	fold := func(m *Model, evs []engine.Event) {
		for _, e := range evs {
			switch ev := e.(type) {
			case *engine.RunStarted:
				m.Start(ev)
			case *engine.PhaseStarted:
				m.Phase(ev.Round, ev.Phase)
			case *engine.Token:
				m.AddTokens(1, ev.Time)
			case *engine.RunEnded:
				m.End(ev)
			}
			m.SetNow(e.Header().Time)
		}
	}
	mid := len(evs)
	for i, e := range evs {
		if p, ok := e.(*engine.PhaseStarted); ok && p.Round == 2 && p.Phase == engine.PhaseReview {
			mid = i
			break
		}
	}
	t.Run("mid", func(t *testing.T) {
		golden.AtWidths(t, golden.Widths, func(w int) string {
			m := New(themes.Dark())
			fold(m, evs[:mid])
			m.SetWidth(w)
			return m.View()
		})
	})
	// A baseline's transcript replays in the same screen; the header says
	// which protocol it recorded (an NSED run's says nothing more).
	t.Run("baseline-replay", func(t *testing.T) {
		started := *evs[0].(*engine.RunStarted)
		started.Protocol = "debate"
		golden.AtWidths(t, golden.Widths, func(w int) string {
			m := New(themes.Dark())
			m.SetReplay("a saved run (runs/s-1/debate.jsonl)")
			fold(m, append([]engine.Event{&started}, evs[1:mid]...))
			m.SetWidth(w)
			return m.View()
		})
	})
	t.Run("end", func(t *testing.T) {
		golden.AtWidths(t, golden.Widths, func(w int) string {
			m := New(themes.Dark())
			fold(m, evs)
			m.SetAgreement([]float64{0.4, 0.9})
			m.SetWidth(w)
			return m.View()
		})
	})
}
