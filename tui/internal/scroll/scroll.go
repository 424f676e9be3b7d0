// Package scroll is the scrolling state every pane shares: an offset into
// its lines that follows the end while new lines arrive, until the user
// scrolls away from it.
package scroll

import (
	"strconv"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// KeyMap are the scrolling keys.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

// Keys is the default KeyMap.
var Keys = KeyMap{
	Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll up")),
	Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down")),
	PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
	PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
	Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/g", "top")),
	Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end/G", "bottom (follow)")),
}

// Bindings are the keys with their help, for a pane's KeyBindings.
func (k KeyMap) Bindings() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// State is a scroll position. The zero value follows the end.
type State struct {
	Off  int  // first visible line
	Away bool // the user scrolled up: stop following the end
}

// Window returns the visible range [from, to) of total lines in height
// rows, the offset put back in range first (as Clamp would; it changes
// nothing, so a View may call it).
func (s State) Window(total, height int) (from, to int) {
	if height < 1 {
		return 0, 0
	}
	s.Clamp(total, height)
	return s.Off, min(s.Off+height, total)
}

// Clamp keeps the offset in range for total lines in height rows: at the
// end while following it, and following again once the lines shrank below
// a scrolled-away offset.
func (s *State) Clamp(total, height int) {
	if height < 1 {
		return
	}
	maxOff := max(total-height, 0)
	if !s.Away || s.Off > maxOff {
		s.Off = maxOff
		if s.Away && s.Off == maxOff {
			s.Away = false
		}
	}
	if s.Off < 0 {
		s.Off = 0
	}
}

// By moves by n lines (negative is up).
func (s *State) By(n, total, height int) {
	maxOff := max(total-height, 0)
	if !s.Away {
		s.Off = maxOff
	}
	s.Off = min(max(s.Off+n, 0), maxOff)
	s.Away = s.Off < maxOff
}

// Update handles a scrolling key or wheel event and reports whether it did.
func (s *State) Update(msg tea.Msg, total, height int) bool {
	// The offset as the last frame showed it, before moving from it.
	s.Clamp(total, height)
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, Keys.Up):
			s.By(-1, total, height)
		case key.Matches(msg, Keys.Down):
			s.By(1, total, height)
		case key.Matches(msg, Keys.PageUp):
			s.By(-max(height-1, 1), total, height)
		case key.Matches(msg, Keys.PageDown):
			s.By(max(height-1, 1), total, height)
		case key.Matches(msg, Keys.Top):
			s.Off, s.Away = 0, total > height
		case key.Matches(msg, Keys.Bottom):
			s.Off, s.Away = max(total-height, 0), false
		default:
			return false
		}
		return true
	case tea.MouseMsg:
		switch msg.Button {
		case tea.MouseButtonWheelUp:
			s.By(-3, total, height)
		case tea.MouseButtonWheelDown:
			s.By(3, total, height)
		default:
			return false
		}
		return true
	}
	return false
}

// Indicator is a short label for a border: how far up the view is, or ""
// when following the end.
func (s State) Indicator(total, height int) string {
	s.Clamp(total, height)
	if !s.Away || total <= height {
		return ""
	}
	below := total - height - s.Off
	if below <= 0 {
		return ""
	}
	return "↓" + strconv.Itoa(below)
}
