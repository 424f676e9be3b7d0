// Package tui is nsed's terminal UI: a Bubble Tea program that renders a
// run's events — live from the engine through a bridge, or from a saved
// transcript — and steers a live run through engine.Control. It is a
// consumer of events like any other; it never calls a model.
//
// Every component lives in its own package (agentpane, matrix, votes,
// consensus, timeline, header, bindings, inject) with its own keys; this
// package lays them out, routes keys and events to them, and runs the
// program.
package tui

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/agentpane"
	"github.com/nsed/nsed/tui/bindings"
	"github.com/nsed/nsed/tui/bridge"
	"github.com/nsed/nsed/tui/consensus"
	"github.com/nsed/nsed/tui/header"
	"github.com/nsed/nsed/tui/inject"
	"github.com/nsed/nsed/tui/matrix"
	"github.com/nsed/nsed/tui/safe"
	"github.com/nsed/nsed/tui/timeline"
	"github.com/nsed/nsed/tui/votes"
)

// Options configure the screen.
type Options struct {
	// Theme colours the screen; the zero value means themes.Default.
	Theme themes.Theme

	// A live run: the events arrive through Bridge, Control steers the
	// run, Cancel stops it (the screen then waits for the run to end so
	// the transcript is complete), and Models lists what the rebind dialog
	// offers. Context bounds the rebind and model-list calls.
	Bridge  *bridge.Bridge
	Control engine.Control
	Cancel  func()
	Models  bindings.Lister
	Context context.Context

	// A replay: the recorded events, a line saying what the recording is,
	// the starting speed (1 if 0), and whether to start paused.
	Replay bool
	Events []engine.Event
	Banner string
	Speed  float64
	Paused bool

	// Now is the clock; time.Now in a live run, the recording's own time
	// in a replay. Tests fix it.
	Now func() time.Time
}

// Pane ids after the agents' (which are 0..N-1).
const (
	paneMatrix = iota
	paneVotes
	paneConsensus
	paneTimeline
	numBottom
)

type overlay int

const (
	noOverlay overlay = iota
	helpOverlay
	questionOverlay
	critiqueOverlay
	bindingsOverlay
	injectOverlay
)

// flashFor is how long a message stays in the footer.
const flashFor = 6 * time.Second

// Model is the whole screen.
type Model struct {
	opts Options
	th   themes.Theme
	keys keyMap
	help help.Model
	ctl  *asyncControl

	width, height int

	// The run as the events so far describe it.
	header    *header.Model
	agents    []*agentpane.Model
	byID      map[string]int
	matrix    *matrix.Model
	votes     *votes.Model
	consensus *consensus.Model
	timeline  *timeline.Model
	started   bool
	ended     *engine.RunEnded
	lastTime  time.Time
	proposed  map[string]bool // agents whose proposal this round is in: they review

	// A live run's lifecycle.
	closed   bool // the bridge delivered its last events
	runErr   error
	quitting bool

	// What the user is looking at.
	focus    int
	zoomed   bool
	overlay  overlay
	bind     *bindings.Model
	inj      *inject.Model
	flash    string
	flashBad bool
	flashAt  time.Time
	mouseOff bool
	layout   layout

	player   *player
	quiet    bool   // rebuilding a replay: no flashes
	initSize [2]int // a size to start at, when no terminal reports one
}

// New returns the screen for opts. In a replay it starts at the beginning of
// the recording; in a live run it waits for the bridge's events.
func New(opts Options) *Model {
	if opts.Theme.Name == "" {
		opts.Theme, _ = themes.Lookup(themes.Default)
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	m := &Model{opts: opts, th: opts.Theme, keys: newKeyMap(opts.Replay), help: help.New()}
	if opts.Control != nil {
		m.ctl = &asyncControl{c: opts.Control}
	}
	m.help.ShortSeparator = " · "
	m.resetRun()
	if opts.Replay {
		m.player = newPlayer(opts.Events, opts.Speed, !opts.Paused)
		m.header.SetReplay(opts.Banner)
		m.syncPlayer()
	}
	m.styleHelp()
	return m
}

// resetRun forgets every event applied (a replay stepping back starts over).
func (m *Model) resetRun() {
	th := m.th
	if m.header == nil {
		m.header = header.New(th)
	} else {
		m.header.Reset()
	}
	m.agents, m.byID = nil, map[string]int{}
	m.matrix = matrix.New(th)
	m.votes = votes.New(th)
	m.consensus = consensus.New(th, 0)
	m.timeline = timeline.New(th)
	m.started, m.ended = false, nil
	m.lastTime = time.Time{}
	m.proposed = map[string]bool{}
	m.relayout()
}

// Init starts the event feed and the clock.
func (m *Model) Init() tea.Cmd {
	var cmds []tea.Cmd
	if w, h := m.initSize[0], m.initSize[1]; w > 0 && h > 0 {
		cmds = append(cmds, func() tea.Msg { return tea.WindowSizeMsg{Width: w, Height: h} })
	}
	if m.opts.Bridge != nil {
		cmds = append(cmds, m.opts.Bridge.Next())
	}
	if m.player != nil {
		cmds = append(cmds, m.player.tick())
	} else {
		cmds = append(cmds, clockTick())
	}
	return tea.Batch(cmds...)
}

type clockMsg time.Time

func clockTick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return clockMsg(t) })
}

// stopMsg asks the screen to stop the run and quit, as q does; Live sends
// it when its context is cancelled (SIGINT, SIGTERM).
type stopMsg struct{}

// Update handles one message, then has the panes on show draw what
// changed, so View only puts the drawings together.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.refresh()
	return m, cmd
}

// refresh has every pane on show draw itself again if it changed.
func (m *Model) refresh() {
	if m.layout.tooSmall {
		return
	}
	for _, row := range m.layout.rows {
		for _, id := range row {
			m.paneByID(id).Refresh()
		}
	}
}

// update is Update without the drawing.
func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.relayout()
		return nil

	case bridge.EventsMsg:
		m.apply(msg.Events...)
		if !msg.Closed {
			if m.opts.Bridge == nil {
				return nil
			}
			return m.opts.Bridge.Next()
		}
		m.closed, m.runErr = true, msg.Err
		if m.quitting || !m.started {
			return tea.Quit
		}
		return nil

	case clockMsg:
		m.setNow()
		if m.flash != "" && time.Since(m.flashAt) > flashFor {
			m.flash = ""
		}
		if m.ended != nil && m.closed {
			return nil
		}
		return clockTick()

	case playMsg:
		return m.play(msg)

	case stopMsg:
		return m.quit(true)

	case bindings.DoneMsg:
		m.overlay, m.bind = noOverlay, nil
		if msg.Accepted {
			m.setFlash(fmt.Sprintf("%s will use %s from the next phase", safe.Line(msg.Agent), safe.Line(msg.Model)), false)
		}
		return nil

	case inject.DoneMsg:
		m.overlay, m.inj = noOverlay, nil
		if msg.Text != "" && m.ctl != nil {
			m.ctl.do(func(c engine.Control) { c.Inject(msg.Text) })
			m.setFlash("message queued for the next round", false)
		}
		return nil

	case tea.KeyMsg:
		return m.key(msg)

	case tea.MouseMsg:
		return m.mouse(msg)
	}
	// The dialogs' own messages (model lists, rebind results).
	if m.bind != nil {
		return m.bind.Update(msg)
	}
	if m.inj != nil {
		return m.inj.Update(msg)
	}
	return nil
}

func (m *Model) now() time.Time {
	switch {
	case m.opts.Now != nil:
		return m.opts.Now()
	case m.player != nil:
		if m.player.playing {
			return m.player.vt
		}
		return m.lastTime
	}
	return time.Now()
}

func (m *Model) setFlash(s string, bad bool) {
	if m.quiet {
		return
	}
	m.flash, m.flashBad, m.flashAt = s, bad, time.Now()
}

// apply folds events into the components.
func (m *Model) apply(events ...engine.Event) {
	for _, e := range events {
		m.applyOne(e)
	}
	m.setNow()
}

// setNow gives the clock to what shows elapsed time: the header and the
// reviewers' panes.
func (m *Model) setNow() {
	now := m.now()
	m.header.SetNow(now)
	for _, p := range m.agents {
		p.SetNow(now)
	}
}

func (m *Model) applyOne(e engine.Event) {
	h := e.Header()
	if h.Time.After(m.lastTime) {
		m.lastTime = h.Time
	}
	pane := m.pane(h.Agent)
	switch ev := e.(type) {
	case *engine.RunStarted:
		m.start(ev)
	case *engine.PhaseStarted:
		m.header.Phase(ev.Round, ev.Phase)
		if ev.Phase == engine.PhasePropose {
			clear(m.proposed)
		}
		for _, p := range m.agents {
			if ev.Phase == engine.PhaseReview {
				m.reviewStarted(p, ev.Time)
				continue
			}
			p.PhaseStarted(ev.Round, ev.Phase, ev.Time)
		}
	case *bridge.Chunk:
		m.tokens(pane, ev.Phase, ev.Text, ev.N, ev.First, ev.Time)
	case *engine.Token:
		m.tokens(pane, ev.Phase, ev.Text, 1, ev.Time, ev.Time)
	case *engine.ProposalDone:
		m.proposed[safe.Line(h.Agent)] = true
		if pane != nil {
			pane.ProposalDone(ev)
		}
	case *engine.ReviewDone:
		m.matrix.Add(ev)
		if pane != nil {
			pane.ReviewDone(ev)
		}
	case *engine.VotesCast:
		m.votes.Set(ev)
		for _, p := range m.agents {
			v, ok := ev.Support[p.Info().ID]
			if ok {
				p.SetSupport(v, p.Info().ID == safe.Line(ev.Winner))
			}
		}
	case *engine.ConsensusUpdated:
		m.consensus.Set(ev)
		for _, p := range m.agents {
			p.SummaryDone()
		}
	case *engine.RoundEnded:
		m.timeline.Add(ev)
		m.header.SetAgreement(m.timeline.Agreement())
	case *engine.AgentFailed:
		if pane != nil {
			pane.Failed(ev)
		}
		if ev.Fatal {
			m.setFlash(fmt.Sprintf("%s failed: %s", safe.Line(h.Agent), safe.Line(ev.Error)), true)
		}
	case *engine.QuorumLost:
		m.timeline.QuorumLost(ev)
		m.setFlash(fmt.Sprintf("round %d lost its quorum: %d of %d agents took part, %d needed", ev.Round, ev.Present, ev.Agents, ev.Quorum), true)
	case *engine.InjectionSuspected:
		m.matrix.Suspect(ev)
		m.setFlash(fmt.Sprintf("%s's review repeats %s's instruction %q", safe.Line(h.Agent), safe.Line(ev.Candidate), safe.Line(ev.Phrase)), true)
	case *engine.BrokerReport:
		m.setFlash(fmt.Sprintf("broker %s: %s", safe.Line(ev.What), safe.Line(ev.Message)), true)
	case *engine.Rebound:
		if pane != nil {
			pane.Rebound(ev)
		}
		if m.bind != nil {
			m.bind.SetAgents(m.bindings())
		}
		m.setFlash(fmt.Sprintf("%s now runs %s (was %s)", safe.Line(h.Agent), safe.Line(ev.To.Model), safe.Line(ev.From.Model)), false)
	case *engine.HumanMessage:
		m.consensus.Human(ev.Text)
		m.setFlash("your message was added to the next round's context", false)
	case *engine.RunResumed:
		m.setFlash(fmt.Sprintf("resumed after round %d (the run was %s)", ev.After, safe.Line(ev.Reason)), false)
	case *engine.Paused:
		m.header.SetState(header.Paused)
	case *engine.Resumed:
		if m.header.State() != header.Stopping {
			m.header.SetState(header.Running)
		}
	case *engine.RunEnded:
		m.ended = ev
		m.header.End(ev)
		m.consensus.Final(ev)
		for _, p := range m.agents {
			p.Finish()
		}
		if w, ok := m.byID[safe.Line(ev.Winner)]; ok {
			m.agents[w].SetWinner()
		}
	}
}

func (m *Model) pane(agent string) *agentpane.Model {
	if agent == "" {
		return nil
	}
	if i, ok := m.byID[safe.Line(agent)]; ok {
		return m.agents[i]
	}
	return nil
}

// reviewStarted starts p's review: only the agents whose proposals are in
// review (each reviews the others'); one that failed to propose sits the
// round out and keeps its failure on show.
func (m *Model) reviewStarted(p *agentpane.Model, at time.Time) {
	if len(m.proposed) > 0 && !m.proposed[p.Info().ID] {
		return
	}
	p.ReviewStarted(at, max(len(m.proposed)-1, 0))
}

func (m *Model) tokens(p *agentpane.Model, phase engine.Phase, s string, n int, first, last time.Time) {
	m.header.AddTokens(n, last)
	if phase == engine.PhaseConsensus {
		m.consensus.Summarising(true)
	}
	if p != nil {
		p.AddTokens(phase, s, n, first, last)
	}
}

func (m *Model) start(ev *engine.RunStarted) {
	m.started = true
	m.header.Start(ev)
	m.agents = m.agents[:0]
	ids := make([]string, len(ev.Agents))
	for i, a := range ev.Agents {
		p := agentpane.New(a, i, m.th)
		p.SetReviewBudget(ev.Settings.Sampling.Review.NumPredict)
		m.agents = append(m.agents, p)
		ids[i] = p.Info().ID
		m.byID[ids[i]] = i
	}
	m.matrix.SetAgents(ids)
	m.votes.SetAgents(ids, ev.Settings.Credits)
	m.consensus.SetBudget(ev.Settings.Gate.BudgetTokens)
	m.timeline.SetSettings(ev.Settings)
	m.focus = min(m.focus, m.numPanes()-1)
	m.relayout()
}

func (m *Model) bindings() []engine.AgentInfo {
	out := make([]engine.AgentInfo, len(m.agents))
	for i, p := range m.agents {
		out[i] = p.Info()
	}
	return out
}

func (m *Model) numPanes() int { return len(m.agents) + numBottom }

// component is what every pane offers the screen: the screen lays it
// out, gives it the keys it does not own itself while it has the focus,
// and shows its keys in the help.
type component interface {
	Update(tea.Msg) tea.Cmd
	KeyBindings() []key.Binding
	SetFocused(bool)
	SetSize(w, h int)
	SetTheme(themes.Theme)
	Refresh() // draw again what changed, from Update
	View() string
}

func (m *Model) paneByID(id int) component {
	if id < len(m.agents) {
		return m.agents[id]
	}
	switch id - len(m.agents) {
	case paneMatrix:
		return m.matrix
	case paneVotes:
		return m.votes
	case paneConsensus:
		return m.consensus
	}
	return m.timeline
}

func (m *Model) focused() component { return m.paneByID(m.focus) }

func (m *Model) setFocus(i int) {
	n := m.numPanes()
	m.focus = ((i % n) + n) % n
	m.relayout()
}

func (m *Model) setTheme(th themes.Theme) {
	m.th = th
	m.header.SetTheme(th)
	for i := range m.numPanes() {
		m.paneByID(i).SetTheme(th)
	}
	if m.bind != nil {
		m.bind.SetTheme(th)
	}
	if m.inj != nil {
		m.inj.SetTheme(th)
	}
	m.styleHelp()
}

func (m *Model) styleHelp() {
	th := m.th
	m.help.Styles.ShortKey = th.Style(th.Text).Bold(true)
	m.help.Styles.ShortDesc = th.Style(th.Muted)
	m.help.Styles.ShortSeparator = th.Style(th.Faint)
	m.help.Styles.FullKey = th.Style(th.Text).Bold(true)
	m.help.Styles.FullDesc = th.Style(th.Muted)
	m.help.Styles.FullSeparator = th.Style(th.Faint)
	m.help.Styles.Ellipsis = th.Style(th.Faint)
}
