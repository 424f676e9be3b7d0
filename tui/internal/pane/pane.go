// Package pane is the base every pane embeds: the frame's size, focus and
// theme with the last view drawn from them, and the scrollable list of
// wrapped lines most panes show inside it. A pane keeps only what is its
// own: its data, how it renders that at a width, and its title and status.
//
// View never changes anything. Drawing is the costly part, so the screen
// calls Refresh from Update, once per message, for the panes it shows:
// Refresh draws what changed and keeps it, and View returns what was kept
// (or, in a pane nobody refreshed, draws afresh and keeps nothing).
package pane

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/frame"
	"github.com/nsed/nsed/tui/internal/scroll"
)

// Frame is a pane's theme, size and focus, and the last view drawn with
// them.
type Frame struct {
	th            themes.Theme
	width, height int
	focused       bool
	view          string
	dirty         bool
}

// NewFrame returns a frame that draws on its first Refresh.
func NewFrame(th themes.Theme) Frame { return Frame{th: th, dirty: true} }

// Theme is the theme to draw with.
func (f *Frame) Theme() themes.Theme { return f.th }

// Size is the outer size, border included.
func (f *Frame) Size() (w, h int) { return f.width, f.height }

// Width is the outer width, border included.
func (f *Frame) Width() int { return f.width }

// Height is the outer height, border included.
func (f *Frame) Height() int { return f.height }

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

// Keep draws a new view with draw when the kept one is stale.
func (f *Frame) Keep(draw func() string) {
	if f.dirty || f.view == "" {
		f.view, f.dirty = draw(), false
	}
}

// Kept returns the view Keep drew, or a fresh one from draw when that is
// stale; it changes nothing.
func (f *Frame) Kept(draw func() string) string {
	if !f.dirty && f.view != "" {
		return f.view
	}
	return draw()
}

// Pane is a Frame around a scrollable list of lines. The lines are
// rendered for the inner width and kept until the data or the width
// change, since wrapping is the costly part and scrolling needs none.
// A pane embeds it and gets its sizing, focus, scrolling keys, help and
// view from it.
type Pane struct {
	Frame
	header func() (title, status string)
	render func(w int) []string
	scroll scroll.State
	lines  []string
	linesW int
}

// New returns an empty pane, scrolled to the top, whose border shows what
// header returns and whose lines render builds for a width.
func New(th themes.Theme, header func() (title, status string), render func(w int) []string) Pane {
	return Pane{Frame: NewFrame(th), header: header, render: render, scroll: scroll.State{Away: true}}
}

// SetTheme switches colours; the lines carry them, so they are rebuilt.
func (p *Pane) SetTheme(th themes.Theme) { p.Frame.SetTheme(th); p.lines = nil }

// Invalidate drops the rendered lines: the data behind them has changed.
func (p *Pane) Invalidate() { p.lines, p.dirty = nil, true }

// Top scrolls back to the first line, for new content read from the top.
func (p *Pane) Top() { p.scroll = scroll.State{Away: true}; p.dirty = true }

// KeyBindings are the keys the pane handles when focused: scrolling.
func (p *Pane) KeyBindings() []key.Binding { return scroll.Keys.Bindings() }

// Update scrolls.
func (p *Pane) Update(msg tea.Msg) tea.Cmd {
	p.keepLines()
	if p.scroll.Update(msg, len(p.lines), p.height-2) {
		p.dirty = true
	}
	return nil
}

// Refresh draws the view again if something it shows has changed, and
// puts the scroll offset back in range of the lines there now (the view
// shows it so already; the next scroll starts from there).
func (p *Pane) Refresh() {
	p.keepLines()
	p.scroll.Clamp(len(p.lines), p.height-2)
	p.Keep(p.draw)
}

// View is the visible lines in the frame, with title and, unless it is
// empty, status in the top border and how far up it is scrolled in the
// bottom one.
func (p *Pane) View() string { return p.Kept(p.draw) }

func (p *Pane) draw() string {
	th := p.th
	body := p.body()
	from, to := p.scroll.Window(len(body), p.height-2)
	title, status := p.header()
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
}

func (p *Pane) innerWidth() int { return max(p.width-2, 1) }

// body is the lines at the inner width: the kept ones, else new ones.
func (p *Pane) body() []string {
	if w := p.innerWidth(); p.lines == nil || p.linesW != w {
		return p.render(w)
	}
	return p.lines
}

func (p *Pane) keepLines() {
	if w := p.innerWidth(); p.lines == nil || p.linesW != w {
		p.lines, p.linesW = p.render(w), w
	}
}
