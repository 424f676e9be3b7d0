// Package pane holds what the panes would otherwise each repeat: the
// frame's size, focus and theme with the last view drawn from them, and
// the scrollable list of wrapped lines most panes show inside it. A pane
// keeps only what is its own: its data, how it renders that at a width,
// and its title and status.
package pane

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/frame"
	"github.com/nsed/nsed/tui/internal/scroll"
)

// Frame is a pane's theme, size and focus, and the last view drawn with
// them. View runs on every frame, so a pane redraws only after something
// it shows has changed.
type Frame struct {
	th            themes.Theme
	width, height int
	focused       bool
	view          string
	dirty         bool
}

// NewFrame returns a frame that draws on its first View.
func NewFrame(th themes.Theme) Frame { return Frame{th: th, dirty: true} }

// Theme is the theme to draw with.
func (f *Frame) Theme() themes.Theme { return f.th }

// Size is the outer size, border included.
func (f *Frame) Size() (w, h int) { return f.width, f.height }

// Focused reports whether keys go to the pane.
func (f *Frame) Focused() bool { return f.focused }

// SetTheme switches colours.
func (f *Frame) SetTheme(th themes.Theme) { f.th, f.dirty = th, true }

// SetSize sets the outer size.
func (f *Frame) SetSize(w, h int) {
	if w != f.width || h != f.height {
		f.width, f.height, f.dirty = w, h, true
	}
}

// SetFocused marks the pane as the one keys go to.
func (f *Frame) SetFocused(on bool) {
	if on != f.focused {
		f.focused, f.dirty = on, true
	}
}

// Changed marks the view as stale: something it shows has changed.
func (f *Frame) Changed() { f.dirty = true }

// Cached returns the last view, calling draw for a new one only when it
// is stale.
func (f *Frame) Cached(draw func() string) string {
	if !f.dirty && f.view != "" {
		return f.view
	}
	f.view, f.dirty = draw(), false
	return f.view
}

// Pane is a Frame around a scrollable list of lines. The lines are
// rendered for the inner width and kept until the data or the width
// change, since wrapping is the costly part and scrolling needs none.
type Pane struct {
	Frame
	render func(w int) []string
	scroll scroll.State
	lines  []string
	linesW int
}

// New returns an empty pane, scrolled to the top, whose lines render
// builds for a width.
func New(th themes.Theme, render func(w int) []string) Pane {
	return Pane{Frame: NewFrame(th), render: render, scroll: scroll.State{Away: true}}
}

// SetTheme switches colours; the lines carry them, so they are rebuilt.
func (p *Pane) SetTheme(th themes.Theme) { p.Frame.SetTheme(th); p.lines = nil }

// Invalidate drops the rendered lines: the data behind them has changed.
func (p *Pane) Invalidate() { p.lines, p.dirty = nil, true }

// Top scrolls back to the first line, for new content read from the top.
func (p *Pane) Top() { p.scroll = scroll.State{Away: true} }

// Update scrolls and reports whether it did.
func (p *Pane) Update(msg tea.Msg) bool {
	if p.scroll.Update(msg, len(p.body()), p.height-2) {
		p.dirty = true
		return true
	}
	return false
}

// View draws the visible lines in the frame, with title and, unless it
// is empty, status in the top border and how far up it is scrolled in
// the bottom one.
func (p *Pane) View(title, status string) string {
	return p.Cached(func() string {
		th := p.th
		body := p.body()
		from, to := p.scroll.Window(len(body), p.height-2)
		if status != "" {
			status = th.Style(th.Muted).Render(status)
		}
		box := frame.Box{
			Width: p.width, Height: p.height, Focused: p.focused,
			Title:  th.Style(th.Accent).Bold(true).Render(title),
			Status: status,
			Info:   th.Style(th.Warn).Render(p.scroll.Indicator(len(body), p.height-2)),
		}
		return box.Render(th, body[from:to])
	})
}

func (p *Pane) body() []string {
	w := max(p.width-2, 1)
	if p.lines != nil && p.linesW == w {
		return p.lines
	}
	p.lines, p.linesW = p.render(w), w
	return p.lines
}
