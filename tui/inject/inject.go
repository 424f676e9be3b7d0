// Package inject is the dialog for a human message: one line of text that
// enters the next round's context and is recorded as an event.
package inject

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/frame"
	"github.com/nsed/nsed/tui/internal/text"
)

// MaxChars bounds a message; it is carried into every agent's prompt.
const MaxChars = 1000

// KeyMap are the dialog's keys.
type KeyMap struct{ Send, Cancel key.Binding }

// Keys is the default KeyMap.
var Keys = KeyMap{
	Send:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "send")),
	Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
}

// DoneMsg is sent when the dialog closes; Text is empty when cancelled.
type DoneMsg struct{ Text string }

// Model is the dialog. Its line editor is a few lines of its own rather
// than bubbles/textinput, which would pull a clipboard module into the
// build for a feature this dialog doesn't need.
type Model struct {
	th    themes.Theme
	text  []rune
	pos   int // cursor, in runes
	width int
	// The words around the editor: the same dialog asks for a run's
	// question when nsed starts without one.
	title, hint, example string
}

// New opens the dialog.
func New(th themes.Theme) *Model {
	return &Model{th: th, title: "Inject a message", hint: "A message to every agent, added to the next round's context:",
		example: "e.g. check the case n = 0 before generalising"}
}

// NewQuestion opens the dialog asking for the question to deliberate.
func NewQuestion(th themes.Theme) *Model {
	return &Model{th: th, title: "nsed: ask the agents", hint: "The question the agents will deliberate on:",
		example: "e.g. How many primes are there below 100?"}
}

// Value is the text typed so far.
func (m *Model) Value() string { return string(m.text) }

// SetTheme switches colours.
func (m *Model) SetTheme(th themes.Theme) { m.th = th }

// SetWidth gives the width the dialog may use.
func (m *Model) SetWidth(w int) {
	m.width = min(max(w, 30), 100)
}

// Update edits the text; enter sends, esc cancels.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, Keys.Send):
		t := strings.TrimSpace(m.Value())
		if t == "" {
			return nil
		}
		return func() tea.Msg { return DoneMsg{Text: t} }
	case key.Matches(k, Keys.Cancel):
		return func() tea.Msg { return DoneMsg{} }
	}
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		r := k.Runes
		if k.Type == tea.KeySpace {
			r = []rune{' '}
		}
		var clean []rune
		for _, c := range r {
			if c == '\n' || c == '\t' {
				c = ' '
			}
			if c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0) {
				clean = append(clean, c)
			}
		}
		clean = clean[:min(len(clean), MaxChars-len(m.text))]
		m.text = append(m.text[:m.pos], append(clean, m.text[m.pos:]...)...)
		m.pos += len(clean)
	case tea.KeyBackspace:
		if m.pos > 0 {
			m.text = append(m.text[:m.pos-1], m.text[m.pos:]...)
			m.pos--
		}
	case tea.KeyDelete:
		if m.pos < len(m.text) {
			m.text = append(m.text[:m.pos], m.text[m.pos+1:]...)
		}
	case tea.KeyLeft:
		m.pos = max(m.pos-1, 0)
	case tea.KeyRight:
		m.pos = min(m.pos+1, len(m.text))
	case tea.KeyHome, tea.KeyCtrlA:
		m.pos = 0
	case tea.KeyEnd, tea.KeyCtrlE:
		m.pos = len(m.text)
	case tea.KeyCtrlU:
		m.text, m.pos = m.text[m.pos:], 0
	case tea.KeyCtrlW:
		i := m.pos
		for i > 0 && m.text[i-1] == ' ' {
			i--
		}
		for i > 0 && m.text[i-1] != ' ' {
			i--
		}
		m.text = append(m.text[:i], m.text[m.pos:]...)
		m.pos = i
	}
	return nil
}

// line is the editor's visible line: the text scrolled so the cursor shows.
func (m *Model) line(w int) string {
	th := m.th
	if len(m.text) == 0 {
		return th.Swatch(th.Sel).Render(" ") + th.Style(th.Faint).Render(text.Truncate(m.example, w-1, "…"))
	}
	before, after := string(m.text[:m.pos]), string(m.text[m.pos:])
	cur := " "
	if m.pos < len(m.text) {
		cur, after = string(m.text[m.pos]), string(m.text[m.pos+1:])
	}
	// Keep the cursor in view: cut from the left.
	for text.Width(before)+1 > w-1 && before != "" {
		_, n := utf8.DecodeRuneInString(before)
		before = before[n:]
	}
	left := w - text.Width(before) - text.Width(cur)
	return before + th.Swatch(th.Sel).Render(cur) + text.Truncate(after, max(left, 0), "")
}

// View draws the dialog.
func (m *Model) View() string {
	th := m.th
	inner := m.width - 2
	body := []string{
		th.Style(th.Muted).Render(text.Truncate(m.hint, inner, "…")),
		"",
		"› " + m.line(inner-2),
		"",
		th.Style(th.Muted).Render("enter send · esc cancel"),
	}
	box := frame.Box{Width: m.width, Height: len(body) + 2, Focused: true, Title: th.Style(th.Accent).Bold(true).Render(m.title)}
	return box.Render(th, body)
}
