package timeline

import (
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/demo"
	"github.com/nsed/nsed/tui/internal/golden"
)

// The demo's rounds, at golden.Widths.
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
				m.SetSettings(ev.Settings)
			case *engine.RoundEnded:
				m.Add(ev)
			}
		}
		m.SetSize(w, 12)
		return m.View()
	})
}
