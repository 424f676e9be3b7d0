package votes

import (
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/demo"
	"github.com/nsed/nsed/tui/internal/golden"
)

// The demo's last vote, at golden.Widths.
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
				m.SetAgents(ids, ev.Settings.Credits)
			case *engine.VotesCast:
				m.Set(ev)
			}
		}
		m.SetSize(w, 18)
		return m.View()
	})
}
