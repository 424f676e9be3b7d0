package matrix

import (
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/demo"
	"github.com/nsed/nsed/tui/internal/golden"
)

// The demo's reviews, the last round's on show, a cell with a score
// selected, at golden.Widths.
func TestGolden(t *testing.T) {
	evs, err := demo.Events()
	if err != nil {
		t.Fatal(err)
	}
	golden.AtWidths(t, golden.Widths, func(w int) string {
		m := New(themes.Dark())
		for _, e := range evs {
			switch ev := e.(type) {
			case *engine.RunStarted:
				ids := make([]string, len(ev.Agents))
				for i, a := range ev.Agents {
					ids[i] = a.ID
				}
				m.SetAgents(ids)
			case *engine.ReviewDone:
				m.Add(ev)
			}
		}
		m.SetSize(w, 10)
		m.SetFocused(true)
		return m.View()
	})
}
