package bindings

import (
	"context"
	"testing"

	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/golden"
)

// The dialog's agent step, opened on a2, and its model step, at
// golden.Widths.
func TestGolden(t *testing.T) {
	open := func(w int) *Model {
		m := New(context.Background(), themes.Dark(), agents, list, nil, WithAgent(1))
		m.SetSize(w, 14)
		return m
	}
	t.Run("agent", func(t *testing.T) {
		golden.AtWidths(t, golden.Widths, func(w int) string { return open(w).View() })
	})
	t.Run("model", func(t *testing.T) {
		golden.AtWidths(t, golden.Widths, func(w int) string {
			m := open(w)
			run(m, press("enter"))
			return m.View()
		})
	})
}
