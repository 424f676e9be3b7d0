package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/themes"
)

// keyMap is the screen's keys. Bindings that mean nothing in the current
// mode (rebind in a replay, speed in a live run) are disabled, which also
// hides them from the help.
type keyMap struct {
	Pause    key.Binding
	Step     key.Binding
	Back     key.Binding
	Faster   key.Binding
	Slower   key.Binding
	Rebind   key.Binding
	Inject   key.Binding
	Next     key.Binding
	Prev     key.Binding
	Zoom     key.Binding
	Close    key.Binding
	Critique key.Binding
	Question key.Binding
	Theme    key.Binding
	Mouse    key.Binding
	Help     key.Binding
	Quit     key.Binding
}

func newKeyMap(replay bool) keyMap {
	k := keyMap{
		Pause:    key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "pause/resume after phase")),
		Step:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "step one phase (paused)")),
		Back:     key.NewBinding(key.WithKeys("p", "b"), key.WithHelp("p", "back one phase")),
		Faster:   key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "speed")),
		Slower:   key.NewBinding(key.WithKeys("-", "_")),
		Rebind:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "rebind a model")),
		Inject:   key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "inject a message")),
		Next:     key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		Prev:     key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Zoom:     key.NewBinding(key.WithKeys("enter", "z"), key.WithHelp("enter", "zoom pane")),
		Close:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close/unzoom")),
		Critique: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "critique of cell")),
		Question: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "full question")),
		Theme:    key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "next theme")),
		Mouse:    key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mouse on/off (off: select text)")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "all keys")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
	if replay {
		k.Pause.SetHelp("space", "play/pause")
		k.Step.SetHelp("n", "next phase")
		k.Rebind.SetEnabled(false)
		k.Inject.SetEnabled(false)
	} else {
		k.Back.SetEnabled(false)
		k.Faster.SetEnabled(false)
		k.Slower.SetEnabled(false)
	}
	return k
}

// ShortHelp is the footer line, with shorter words than the full help.
func (k keyMap) ShortHelp() []key.Binding {
	short := func(b key.Binding, desc string) key.Binding {
		b.SetHelp(b.Help().Key, desc)
		return b
	}
	pause := "pause/resume"
	if k.Back.Enabled() { // a replay
		pause = "play/pause"
	}
	return []key.Binding{
		short(k.Pause, pause), short(k.Step, "step"), short(k.Back, "back"), short(k.Faster, "speed"),
		short(k.Rebind, "rebind"), short(k.Inject, "inject"), short(k.Next, "pane"), short(k.Zoom, "zoom"),
		short(k.Help, "keys"), short(k.Quit, "quit"),
	}
}

// FullHelp is the ? view, in columns: the screen's keys with those of the
// focused pane (pane) among them.
func (k keyMap) FullHelp(pane []key.Binding) [][]key.Binding {
	return [][]key.Binding{
		{k.Pause, k.Step, k.Back, k.Faster, k.Rebind, k.Inject, k.Quit},
		{k.Next, k.Prev, k.Zoom, k.Close, k.Critique, k.Question},
		pane,
		{k.Theme, k.Mouse, k.Help},
	}
}

// key handles a key press.
func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	if k.Type == tea.KeyCtrlC {
		return m.quit(false)
	}
	switch m.overlay {
	case bindingsOverlay:
		return m.bind.Update(k)
	case injectOverlay:
		return m.inj.Update(k)
	case helpOverlay, questionOverlay, critiqueOverlay:
		switch {
		case key.Matches(k, m.keys.Quit):
			return m.quit(false)
		case key.Matches(k, m.keys.Close, m.keys.Help, m.keys.Question, m.keys.Critique, m.keys.Zoom):
			m.overlay = noOverlay
		}
		return nil
	}
	ks := m.keys
	switch {
	case key.Matches(k, ks.Quit):
		return m.quit(false)
	case key.Matches(k, ks.Help):
		m.overlay = helpOverlay
	case key.Matches(k, ks.Question):
		m.overlay = questionOverlay
	case key.Matches(k, ks.Critique):
		m.overlay = critiqueOverlay
	case key.Matches(k, ks.Theme):
		m.setTheme(themes.Next(m.th))
		m.setFlash("theme: "+m.th.Name, false)
	case key.Matches(k, ks.Next):
		m.setFocus(m.focus + 1)
	case key.Matches(k, ks.Prev):
		m.setFocus(m.focus - 1)
	case key.Matches(k, ks.Zoom):
		m.zoomed = !m.zoomed
		m.relayout()
	case key.Matches(k, ks.Close):
		if m.zoomed {
			m.zoomed = false
			m.relayout()
		}
	case key.Matches(k, ks.Mouse):
		m.mouseOff = !m.mouseOff
		if m.mouseOff {
			m.setFlash("mouse off: drag to select text · m turns it back on", false)
			return tea.DisableMouse
		}
		m.setFlash("mouse on: wheel scrolls, click focuses", false)
		return tea.EnableMouseCellMotion
	case m.player != nil && m.playerKey(k):
		return m.playerCmd()
	case key.Matches(k, ks.Pause):
		m.togglePause()
	case key.Matches(k, ks.Step):
		m.step()
	case key.Matches(k, ks.Rebind):
		return m.openBindings()
	case key.Matches(k, ks.Inject):
		return m.openInject()
	default:
		return m.focused().Update(k)
	}
	return nil
}

// mouse scrolls the pane under the wheel and focuses a clicked pane.
func (m *Model) mouse(msg tea.MouseMsg) tea.Cmd {
	if m.overlay != noOverlay {
		return nil
	}
	id, ok := m.layout.at(msg.X, msg.Y)
	if !ok {
		return nil
	}
	switch {
	case msg.Button == tea.MouseButtonWheelUp || msg.Button == tea.MouseButtonWheelDown:
		return m.paneByID(id).Update(msg)
	case msg.Action == tea.MouseActionPress && msg.Button == tea.MouseButtonLeft:
		if id != m.focus {
			m.setFocus(id)
		}
	}
	return nil
}
