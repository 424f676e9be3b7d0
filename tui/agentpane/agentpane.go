// Package agentpane is the pane of one agent: its binding (role, model,
// host), what it is doing, its proposal streaming in, and the speed of its
// calls. Earlier rounds' proposals stay above the current one, to scroll to.
package agentpane

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/frame"
	"github.com/nsed/nsed/tui/internal/pane"
	"github.com/nsed/nsed/tui/internal/scroll"
	"github.com/nsed/nsed/tui/internal/text"
	"github.com/nsed/nsed/tui/safe"
)

// Status is what an agent is doing, as the pane shows it.
type Status int

const (
	Idle        Status = iota // no call yet
	Waiting                   // a call started, no token yet
	Streaming                 // its proposal is arriving
	Proposed                  // its proposal is done
	Reviewing                 // reviewing the others' proposals
	Reviewed                  // its review is done
	Abstained                 // its review never validated: no vote
	Summarising               // compressing the consensus state
	Summarised                // its summary is done
	Failed                    // its last call failed
	Done                      // the run has ended
)

var statusText = [...]string{"idle", "waiting", "streaming", "proposed", "reviewing", "reviewed", "abstained", "summarising", "summarised", "failed", "done"}
var statusGlyph = [...]string{"·", "◌", "●", "✓", "◐", "✓", "∅", "◐", "✓", "✗", "■"}

func (s Status) String() string { return statusText[s] }

// MinWidth and MinHeight are the smallest pane that still shows a line of
// the proposal.
const (
	MinWidth  = 20
	MinHeight = 5
)

// Model is one agent's pane.
type Model struct {
	index int
	info  engine.AgentInfo // sanitized
	was   string           // the model before the latest rebind
	st    Status
	err   string
	warn  []warning // warnings about the last call (its prompt was cut, …)

	// This round's proposal, as the engine judged it: its extracted answer
	// ("no answer…" when it has none) and how its prose addressed the
	// reviewers; both stay until the next round's proposal starts.
	answer string
	flags  string

	buf    *text.Buffer
	stream safe.Stream
	raw    strings.Builder // this round's proposal as streamed
	mark   text.Mark
	round  int

	callStart, first, last time.Time
	tokens                 int     // this call
	tps                    float64 // this call, 0 while unknown
	latency                time.Duration
	total                  int // output tokens over the run

	rv  review    // the review call's progress
	now time.Time // the screen's clock, for the review's elapsed time

	support float64
	voted   bool
	leader  bool
	winner  bool // won the run

	scroll scroll.State

	pane.Frame // theme, size, focus and the last view drawn
}

// New returns the pane of agent info, the index-th agent of the run.
func New(info engine.AgentInfo, index int, th themes.Theme) *Model {
	m := &Model{Frame: pane.NewFrame(th), index: index, buf: text.NewBuffer(MinWidth-2, 0)}
	m.setInfo(info)
	return m
}

func (m *Model) setInfo(a engine.AgentInfo) {
	m.info = engine.AgentInfo{ID: safe.Line(a.ID), Role: safe.Line(a.Role), Model: safe.Line(a.Model), Host: safe.Line(a.Host)}
}

// Info is the agent's current binding.
func (m *Model) Info() engine.AgentInfo { return m.info }

// Status is what the agent is doing.
func (m *Model) Status() Status { return m.st }

// Tokens is the number of output tokens of the current call.
func (m *Model) Tokens() int { return m.tokens }

// Text is the text kept in the pane.
func (m *Model) Text() string { return m.buf.String() }

// SetSize sets the pane's outer size.
func (m *Model) SetSize(w, h int) {
	if w == m.Width() && h == m.Height() {
		return
	}
	m.Frame.SetSize(w, h)
	m.buf.SetWidth(max(w-2, 1))
}

// PhaseStarted resets the pane for a new call of the given phase.
func (m *Model) PhaseStarted(round int, phase engine.Phase, at time.Time) {
	m.Changed()
	switch phase {
	case engine.PhasePropose:
		if round != m.round {
			m.round = round
			if !m.buf.Empty() {
				m.buf.Mark()
				m.buf.Append(fmt.Sprintf("── round %d ──\n", round))
			}
			m.voted = false
		}
		m.mark = m.buf.Mark()
		m.answer, m.flags = "", ""
		m.raw.Reset()
		m.stream.Reset()
		m.startCall(Waiting, at)
	case engine.PhaseReview:
		m.ReviewStarted(at, 0)
	}
}

// SetNow sets the clock the review's elapsed time is counted on (the
// screen's tick in a live run, the recording's time in a replay).
func (m *Model) SetNow(t time.Time) {
	if m.ticking() {
		old := m.elapsed()
		m.now = t
		if clock(m.elapsed()) != clock(old) {
			m.Changed()
		}
	}
	m.now = t
}

func (m *Model) startCall(st Status, at time.Time) {
	m.st, m.err = st, ""
	m.callStart, m.first, m.last = at, time.Time{}, time.Time{}
	m.tokens, m.tps, m.latency = 0, 0, 0
}

// AddTokens takes n coalesced token events of phase whose text is s, the
// first arriving at first and the last at last.
func (m *Model) AddTokens(phase engine.Phase, s string, n int, first, last time.Time) {
	m.Changed()
	if m.first.IsZero() {
		m.first = first
		if !m.callStart.IsZero() {
			m.latency = first.Sub(m.callStart)
		}
	}
	m.last = last
	m.tokens += n
	m.total += n
	if d := m.last.Sub(m.first); d > 200*time.Millisecond && m.tokens > 1 {
		m.tps = float64(m.tokens-1) / d.Seconds()
	}
	switch phase {
	case engine.PhasePropose:
		m.st = Streaming
		m.raw.WriteString(s)
		m.buf.Append(m.stream.Write(s))
	case engine.PhaseReview:
		m.reviewTokens(s, n)
	case engine.PhaseConsensus:
		if m.st != Summarising {
			m.startCall(Summarising, first)
			m.first, m.latency = first, 0
			m.tokens = n
		}
	}
}

// ProposalDone shows the finished proposal. If tokens were coalesced away or
// never recorded, the streamed text is replaced with the whole reply.
func (m *Model) ProposalDone(ev *engine.ProposalDone) {
	m.Changed()
	if m.raw.String() != ev.Text {
		m.buf.Truncate(m.mark)
		m.stream.Reset()
		m.buf.Append(safe.String(ev.Text))
	} else {
		m.buf.Append(m.stream.Flush())
	}
	m.raw.Reset()
	m.st = Proposed
	m.answer, m.flags = proposalNotes(ev)
	m.finish(ev.Stats)
}

// proposalNotes are the lines that say what the engine made of a proposal:
// "answer: …" or why it has none, and the ways its prose addressed the
// reviewers ("⚑ flagged: addresses reviewers, score request"), "" if none.
func proposalNotes(ev *engine.ProposalDone) (answer, flags string) {
	switch {
	case ev.NoAnswer != "":
		answer = safe.Line(ev.NoAnswer) // "no answer (thinking ran out)"
	case strings.TrimSpace(ev.Answer) == "":
		answer = "no answer line"
	default:
		answer = "answer: " + safe.Line(ev.Answer)
	}
	if len(ev.Flags) > 0 {
		fs := make([]string, len(ev.Flags))
		for i, f := range ev.Flags {
			fs[i] = safe.Line(f)
		}
		flags = "⚑ flagged: " + strings.Join(fs, ", ")
	}
	return answer, flags
}

// ReviewDone records the agent's review.
func (m *Model) ReviewDone(ev *engine.ReviewDone) {
	m.Changed()
	m.st = Reviewed
	m.reviewDone(ev)
	if ev.Abstained {
		// Said as what it is: the line stays after the status moves on.
		m.st = Abstained
		m.err = "abstained: " + safe.Line(ev.Reason)
	}
	m.finish(ev.Stats)
}

func (m *Model) finish(s engine.CallStats) {
	// The server cut a prompt that overflowed the context window: the agent
	// answered without seeing all of it, which the user must know.
	m.warn = callWarning(s)
	if s.OutputTokens > 0 {
		m.total += s.OutputTokens - m.tokens
		m.tokens = s.OutputTokens
	}
	if s.TokensPerSec > 0 {
		m.tps = s.TokensPerSec
	}
}

// warning is one thing to know about a call, said in full and in the
// fewest cells (a pane at 80 columns has 24 inside).
type warning struct{ long, short string }

// callWarning is the pane's warnings about a call: its prompt did not fit
// the context (ContextWarning, said short: the transcript has the whole
// advice), the server cut it (ContextFull), and/or it was asked again with
// thinking off after thinking away its whole budget.
func callWarning(s engine.CallStats) []warning {
	var ws []warning
	switch {
	case s.ContextWarning != "" && s.NumCtx > 0:
		ws = append(ws, warning{fmt.Sprintf("prompt over ctx %d: raise max_ctx", s.NumCtx), fmt.Sprintf("ctx %d too small", s.NumCtx)})
	case s.ContextWarning != "":
		ws = append(ws, warning{"prompt over context: raise max_ctx", "context too small"})
	case s.ContextFull:
		ws = append(ws, warning{"context full, prompt cut: raise num_ctx in [sampling]", "context full, prompt cut"})
	}
	if s.ThinkRetried {
		ws = append(ws, warning{"retried without thinking", "retried: thinking off"})
	}
	return ws
}

// warnLines packs the warnings into lines of w cells: "⚠ a · b", each in
// full where it fits a line, else short; a new line where the next would
// not fit, so none is cut off on a narrow pane.
func (m *Model) warnLines(w int) []string {
	var out []string
	line := ""
	for _, x := range m.warn {
		s := x.long
		if text.Width("⚠ "+s) > w {
			s = x.short
		}
		switch {
		case line == "":
			line = "⚠ " + s
		case text.Width(line+" · "+s) <= w:
			line += " · " + s
		default:
			out = append(out, line)
			line = "⚠ " + s
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// Answer is what the pane says of this round's proposal's answer ("answer:
// …", "no answer line", "no answer (thinking ran out)"); "" before one.
func (m *Model) Answer() string { return m.answer }

// Failed shows a failed call.
func (m *Model) Failed(ev *engine.AgentFailed) {
	m.st, m.err = Failed, safe.Line(ev.Error)
	m.Changed()
}

// Rebound shows a new binding.
func (m *Model) Rebound(ev *engine.Rebound) {
	m.was = safe.Line(ev.From.Model)
	if ev.From.Host != ev.To.Host && ev.From.Host != "" {
		m.was += "@" + safe.Line(ev.From.Host)
	}
	m.setInfo(ev.To)
	m.Changed()
}

// SetSupport shows the votes the agent's proposal received.
func (m *Model) SetSupport(v float64, leader bool) {
	m.support, m.voted, m.leader = v, true, leader
	m.Changed()
}

// SummaryDone ends a summarising call (the consensus state arrived).
func (m *Model) SummaryDone() {
	if m.st == Summarising {
		m.st = Summarised
		m.Changed()
	}
}

// Finish marks the end of the run.
func (m *Model) Finish() {
	if m.st != Failed {
		m.st = Done
	}
	m.Changed()
}

// SetWinner marks the agent whose proposal won the run.
func (m *Model) SetWinner() { m.leader, m.winner = true, true; m.Changed() }

// Update scrolls the pane.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if m.scroll.Update(msg, m.buf.Len(), m.textRows()) {
		m.Changed()
	}
	return nil
}

func (m *Model) textRows() int {
	return max(m.Height()-3-m.notes()-m.reviewRows(), 0) // borders and the binding line
}

// notes is the number of error and warning lines.
func (m *Model) notes() int {
	n := 0
	if m.err != "" {
		n++
	}
	n += len(m.warnLines(m.Width() - 2))
	if m.answer != "" {
		n++
	}
	if m.flags != "" {
		n++
	}
	return n
}

// Title is the agent's label: id and role.
func (m *Model) Title() string {
	if m.info.Role == "" {
		return m.info.ID
	}
	return m.info.ID + " " + m.info.Role
}

// KeyBindings are the keys the pane handles when focused: scrolling.
func (m *Model) KeyBindings() []key.Binding { return scroll.Keys.Bindings() }

// View draws the pane: what Refresh kept, or afresh.
func (m *Model) View() string { return m.Kept(m.draw) }

// Refresh draws the view again if something it shows has changed, and
// puts the scroll offset back in range of the text there now; the screen
// calls it from Update, so View has nothing to do.
func (m *Model) Refresh() {
	m.scroll.Clamp(m.buf.Len(), m.textRows())
	m.Keep(m.draw)
}

func (m *Model) draw() string {
	th := m.Theme()
	inner := m.Width() - 2
	body := make([]string, 0, max(m.Height()-2, 0))

	// The model, what it replaced (after a rebind), then the host: as much
	// as fits, in that order of importance.
	line := th.Style(th.Muted).Render(text.Truncate(m.info.Model, inner, "…"))
	used := text.Width(m.info.Model)
	if m.was != "" && used+2 < inner {
		s := text.Truncate(" ↻ was "+m.was, inner-used, "…")
		line += th.Style(th.Warn).Render(s)
		used += text.Width(s)
	}
	if m.info.Host != "" && used+4 < inner {
		line += th.Style(th.Muted).Render(text.Truncate(" @ "+m.info.Host, inner-used, "…"))
	}
	body = append(body, line)
	if m.err != "" {
		body = append(body, th.Style(th.Bad).Render(text.Truncate(m.err, inner, "…")))
	}
	for _, l := range m.warnLines(inner) {
		body = append(body, th.Style(th.Warn).Render(text.Truncate(l, inner, "…")))
	}
	if m.answer != "" {
		c := th.Accent
		if !strings.HasPrefix(m.answer, "answer: ") {
			c = th.Bad
		}
		body = append(body, th.Style(c).Render(text.Truncate(m.answer, inner, "…")))
	}
	if m.flags != "" {
		body = append(body, th.Style(th.Warn).Render(text.Truncate(m.flags, inner, "…")))
	}
	body = append(body, m.reviewLines(inner)...)
	lines := m.buf.Lines()
	from, to := m.scroll.Window(len(lines), m.textRows())
	for _, l := range lines[from:to] {
		if strings.HasPrefix(l, "── round ") {
			l = th.Style(th.Faint).Render(text.Truncate(l, inner, "…"))
		}
		body = append(body, l)
	}

	status := m.statusLabel()
	name := m.Title()
	marks := 0 // "★ " and " WINNER" around the name
	if m.leader {
		marks += 2
	}
	if m.winner {
		marks += len(" WINNER")
	}
	if text.Width(name)+marks+text.Width(status)+8 > inner {
		name = m.info.ID // narrow: the status and the marks matter more than the role
	}
	title := th.Style(th.AgentColor(m.index)).Bold(true).Render(name)
	if m.leader {
		title = th.Style(th.Accent).Render("★ ") + title
	}
	if m.winner {
		title += th.Style(th.Accent).Bold(true).Render(" WINNER")
	}
	info := m.info2()
	box := frame.Box{
		Width: m.Width(), Height: m.Height(), Focused: m.Focused(),
		Title:  title,
		Status: status,
		Footer: th.Style(th.Muted).Render(m.stats(inner - 6 - text.Width(info))),
		Info:   info,
	}
	return box.Render(th, body)
}

func (m *Model) statusLabel() string {
	th := m.Theme()
	c := th.Muted
	switch m.st {
	case Streaming, Summarising:
		c = th.Good
	case Waiting, Reviewing:
		c = th.Warn
	case Failed, Abstained:
		c = th.Bad
	case Proposed, Reviewed, Summarised, Done:
		c = th.Text
	}
	return th.Style(c).Render(statusGlyph[m.st] + " " + statusText[m.st])
}

// stats is "412 tok · 38.2 tok/s · 1st 0.41s" for the current call, or as
// much of it as fits in w cells.
func (m *Model) stats(w int) string {
	if m.st == Reviewing || m.st == Summarising {
		return "" // the call's own lines show its counters
	}
	if m.tokens == 0 && m.latency == 0 {
		return ""
	}
	s := fmt.Sprintf("%d tok", m.tokens)
	if m.tps > 0 {
		if long := s + " · " + rate(m.tps, 1) + " tok/s"; text.Width(long) <= w {
			s = long
		} else if short := s + " " + rate(m.tps, 0) + "/s"; text.Width(short) <= w {
			return short
		}
	}
	if m.latency > 0 {
		if long := s + fmt.Sprintf(" · 1st %.2fs", m.latency.Seconds()); text.Width(long) <= w {
			s = long
		}
	}
	return s
}

// info2 is the bottom-right label: where the view is scrolled, else the
// support the proposal received.
func (m *Model) info2() string {
	th := m.Theme()
	if s := m.scroll.Indicator(m.buf.Len(), m.textRows()); s != "" {
		return th.Style(th.Warn).Render(s)
	}
	if !m.voted {
		return ""
	}
	c := th.Good
	if m.support < 0 {
		c = th.Bad
	}
	s := fmt.Sprintf("support %+.2f", m.support)
	if m.Width() < 40 {
		s = fmt.Sprintf("%+.2f", m.support)
	}
	return th.Style(c).Render(s)
}

// rate formats a speed; in-process backends report millions.
func rate(v float64, prec int) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.*f", prec, v)
}
