package tui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/inject"
)

// askModel is a one-dialog program: the question editor, inline (no
// alternate screen), so what was asked stays in the scrollback.
type askModel struct {
	ed     *inject.Model
	answer string
	done   bool
}

func (m *askModel) Init() tea.Cmd { return nil }

func (m *askModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.ed.SetWidth(msg.Width)
	case tea.KeyMsg:
		if msg.Type == tea.KeyCtrlC {
			m.done = true
			return m, tea.Quit
		}
	case inject.DoneMsg:
		m.answer, m.done = msg.Text, true
		return m, tea.Quit
	}
	return m, m.ed.Update(msg)
}

func (m *askModel) View() string {
	if m.done {
		return ""
	}
	return m.ed.View()
}

// Ask asks for the question to deliberate when nsed starts without one.
// It returns "" when the user cancels (esc or Ctrl-C).
func Ask(ctx context.Context, th themes.Theme, tio IO) (string, error) {
	m := &askModel{ed: inject.NewQuestion(th)}
	m.ed.SetWidth(80)
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithoutSignalHandler()}
	if tio.In != nil {
		opts = append(opts, tea.WithInput(tio.In))
	}
	if tio.Out != nil {
		opts = append(opts, tea.WithOutput(tio.Out))
	}
	if _, err := tea.NewProgram(m, opts...).Run(); err != nil && ctx.Err() == nil {
		return "", err
	}
	return m.answer, ctx.Err()
}
