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

// State is a scroll position. The zero value follows the end.
type State struct {
	Off  int  // first visible line
	Away bool // the user scrolled up: stop following the end
}

// Window returns the visible range [from, to) of total lines in height rows,
// fixing Off to stay in range.
func (s *State) Window(total, height int) (from, to int) {
	if height < 1 {
		return 0, 0
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
	return s.Off, min(s.Off+height, total)
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
func (s *State) Indicator(total, height int) string {
	if !s.Away || total <= height {
		return ""
	}
	below := total - height - s.Off
	if below <= 0 {
		return ""
	}
	return "↓" + strconv.Itoa(below)
}
