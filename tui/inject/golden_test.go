package inject

import (
	"testing"

	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/golden"
)

// The dialog with a message typed, longer than the narrow widths show, at
// golden.Widths.
func TestGolden(t *testing.T) {
	golden.AtWidths(t, golden.Widths, func(w int) string {
		m := New(themes.Dark())
		m.SetWidth(w)
		typeText(m, "check the case n = 0 before you vote")
		return m.View()
	})
}
