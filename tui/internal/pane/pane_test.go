package pane

import (
	"fmt"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/themes"
)

// lines is a pane's data: n numbered lines, counting how often they were
// rendered.
type lines struct {
	Pane
	n, renders int
}

func newLines(n int) *lines {
	l := &lines{n: n}
	l.Pane = New(themes.Dark(), func() (string, string) { return "Lines", fmt.Sprint(l.n) }, l.render)
	return l
}

func (l *lines) render(w int) []string {
	l.renders++
	out := make([]string, l.n)
	for i := range out {
		out[i] = fmt.Sprint("line ", i)
	}
	return out
}

// View changes nothing and draws what Refresh drew; Refresh renders only
// after a change.
func TestViewIsPureRefreshKeeps(t *testing.T) {
	l := newLines(20)
	l.SetSize(20, 6)
	fresh := l.View()
	if l.view != "" || l.lines != nil {
		t.Fatalf("View kept something")
	}
	l.Refresh()
	if l.View() != fresh {
		t.Errorf("Refresh drew another view than View")
	}
	before := l.renders
	l.Refresh()
	_ = l.View()
	if l.renders != before {
		t.Errorf("an unchanged pane rendered again")
	}
	l.Update(tea.KeyMsg{Type: tea.KeyPgDown})
	l.Refresh()
	if l.View() == fresh || l.renders != before {
		t.Errorf("a scroll should redraw the frame without rendering the lines again")
	}
	l.n = 3
	l.Invalidate()
	l.Refresh()
	if l.renders != before+1 {
		t.Errorf("new data did not render the lines again")
	}
}

// What an embedding pane gets: the scrolling keys, with their help.
func TestKeyBindings(t *testing.T) {
	l := newLines(1)
	for _, b := range l.KeyBindings() {
		if b.Help().Key == "" {
			t.Errorf("a key without help: %v", b.Keys())
		}
	}
}
