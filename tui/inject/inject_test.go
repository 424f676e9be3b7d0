package inject

import (
	"strings"
	"testing"

	"github.com/nsed/nsed/tui/internal/golden"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/themes"
)

func TestMain(m *testing.M) { golden.Main(m) }

func typeText(m *Model, s string) { m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}) }

func done(cmd tea.Cmd) *DoneMsg {
	if cmd == nil {
		return nil
	}
	if d, ok := cmd().(DoneMsg); ok {
		return &d
	}
	return nil
}

func TestTypeAndSend(t *testing.T) {
	m := New(themes.Dark())
	m.SetWidth(60)
	if d := done(m.Update(tea.KeyMsg{Type: tea.KeyEnter})); d != nil {
		t.Errorf("an empty message was sent")
	}
	typeText(m, "check n")
	m.Update(tea.KeyMsg{Type: tea.KeySpace})
	typeText(m, "= 0\x1b[31m") // pasted control characters are dropped
	m.Update(tea.KeyMsg{Type: tea.KeyLeft})
	m.Update(tea.KeyMsg{Type: tea.KeyBackspace})
	if got := m.Value(); got != "check n = 0[3m" {
		// "[31m" survives as text; only the ESC is removed (and "1" by backspace).
		t.Fatalf("value = %q", got)
	}
	if v := ansi.Strip(m.View()); !strings.Contains(v, "next round") || !strings.Contains(v, "check n = 0[3m") {
		t.Errorf("view:\n%s", v)
	}
	d := done(m.Update(tea.KeyMsg{Type: tea.KeyEnter}))
	if d == nil || d.Text != "check n = 0[3m" {
		t.Errorf("sent %+v", d)
	}
}

func TestCancelAndEditing(t *testing.T) {
	m := New(themes.Dark())
	m.SetWidth(40)
	typeText(m, "one two three")
	m.Update(tea.KeyMsg{Type: tea.KeyCtrlW})
	if m.Value() != "one two " {
		t.Errorf("ctrl+w: %q", m.Value())
	}
	m.Update(tea.KeyMsg{Type: tea.KeyHome})
	typeText(m, ">")
	if m.Value() != ">one two " {
		t.Errorf("home+type: %q", m.Value())
	}
	typeText(m, strings.Repeat("x", 2*MaxChars))
	if n := len([]rune(m.Value())); n != MaxChars {
		t.Errorf("length %d, limit %d", n, MaxChars)
	}
	for _, l := range strings.Split(ansi.Strip(m.View()), "\n") {
		if w := ansi.StringWidth(l); w != 40 {
			t.Errorf("line %q is %d wide", l, w)
		}
	}
	if d := done(m.Update(tea.KeyMsg{Type: tea.KeyEsc})); d == nil || d.Text != "" {
		t.Errorf("esc: %+v", d)
	}
}
