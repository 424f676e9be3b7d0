package tui

// What the keys do to a live run: pause, step, rebind, inject and quit
// reach the engine through engine.Control, off the Update loop.

import (
	"context"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/tui/bindings"
	"github.com/nsed/nsed/tui/header"
	"github.com/nsed/nsed/tui/inject"
)

// togglePause asks the run to pause after the phase under way, or to
// resume.
func (m *Model) togglePause() {
	if m.ctl == nil {
		return
	}
	if m.ended != nil {
		m.setFlash("the run has ended", false)
		return
	}
	switch m.header.State() {
	case header.Paused, header.Pausing:
		m.ctl.do(func(c engine.Control) { c.Resume() })
		m.header.SetState(header.Running)
	case header.Running:
		m.ctl.do(func(c engine.Control) { c.Pause() })
		m.header.SetState(header.Pausing)
	}
}

// step runs one more phase of a paused run.
func (m *Model) step() {
	if m.ctl == nil || m.ended != nil {
		return
	}
	switch m.header.State() {
	case header.Paused, header.Pausing:
		m.ctl.do(func(c engine.Control) { c.Step() })
		m.setFlash("running one more phase", false)
	default:
		m.setFlash("n steps while paused: press space to pause first", false)
	}
}

// openBindings opens the rebind dialog on the focused agent.
func (m *Model) openBindings() tea.Cmd {
	if m.ctl == nil || len(m.agents) == 0 {
		return nil
	}
	if m.ended != nil {
		m.setFlash("the run has ended: nothing to rebind", false)
		return nil
	}
	ctl := m.ctl
	var opts []bindings.Option
	if m.focus < len(m.agents) {
		opts = append(opts, bindings.WithAgent(m.focus)) // start on the focused agent
	}
	m.bind = bindings.New(m.opts.Context, m.th, m.bindings(), m.opts.Models,
		func(ctx context.Context, agent, model, host string) error {
			return ctl.c.Rebind(ctx, agent, model, host)
		}, opts...)
	m.overlay = bindingsOverlay
	m.sizeDialogs()
	return nil
}

// openInject opens the dialog for a message to the next round.
func (m *Model) openInject() tea.Cmd {
	if m.ctl == nil {
		return nil
	}
	if m.ended != nil {
		m.setFlash("the run has ended: no next round to add a message to", false)
		return nil
	}
	m.inj = inject.New(m.th)
	m.overlay = injectOverlay
	m.sizeDialogs()
	return nil
}

// quit stops a live run and leaves once it has ended, so the transcript
// gets its run_ended event. A second quit leaves at once (the caller still
// waits for the run).
func (m *Model) quit(signal bool) tea.Cmd {
	if m.player != nil || m.opts.Bridge == nil || m.closed {
		return tea.Quit
	}
	if m.quitting && !signal {
		return tea.Quit
	}
	if !m.quitting {
		m.quitting = true
		m.header.SetState(header.Stopping)
		m.setFlash("stopping the run and completing its transcript… (q again: leave now)", false)
		if m.opts.Cancel != nil {
			m.opts.Cancel()
		}
	}
	return nil
}

// asyncControl calls the engine's control methods off the Update loop, one
// at a time and in the order asked, so a busy engine never stalls the
// screen and a pause is never overtaken by the resume after it.
type asyncControl struct {
	c       engine.Control
	mu      sync.Mutex
	queue   []func(engine.Control)
	running bool
}

func (a *asyncControl) do(f func(engine.Control)) {
	a.mu.Lock()
	a.queue = append(a.queue, f)
	if a.running {
		a.mu.Unlock()
		return
	}
	a.running = true
	a.mu.Unlock()
	go func() {
		for {
			a.mu.Lock()
			if len(a.queue) == 0 {
				a.running = false
				a.mu.Unlock()
				return
			}
			f := a.queue[0]
			a.queue = a.queue[1:]
			a.mu.Unlock()
			f(a.c)
		}
	}()
}
