package tui

import (
	"github.com/charmbracelet/bubbles/key"
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
