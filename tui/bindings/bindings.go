// Package bindings is the rebind dialog: pick an agent, pick another model
// from the models the servers report (with what they weigh and how fast
// they were measured), confirm. The engine checks the model before it
// accepts; when it refuses, the dialog says why and the old binding stays.
// An accepted rebind takes effect from the next phase that starts.
package bindings

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/frame"
	"github.com/nsed/nsed/tui/internal/text"
	"github.com/nsed/nsed/tui/safe"
)

// Lister returns the models reachable now.
type Lister func(ctx context.Context) ([]models.ModelInfo, error)

// Rebinder asks the engine to rebind; engine.Control.Rebind fits.
type Rebinder func(ctx context.Context, agent, model, host string) error

// KeyMap are the dialog's keys.
type KeyMap struct {
	Up, Down, Choose, Back key.Binding
}

// Keys is the default KeyMap.
var Keys = KeyMap{
	Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move")),
	Down:   key.NewBinding(key.WithKeys("down", "j")),
	Choose: key.NewBinding(key.WithKeys("enter", "y"), key.WithHelp("enter", "choose")),
	Back:   key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),
}

type step int

const (
	pickAgent step = iota
	pickModel
	confirm
	checking
)

// DoneMsg is sent when the dialog closes. Accepted is true when the engine
// took the rebind (it shows as a rebound event when it takes effect).
type DoneMsg struct {
	Accepted           bool
	Agent, Model, Host string
}

type modelsMsg struct {
	models []models.ModelInfo
	err    error
}

type resultMsg struct{ err error }

// timeout bounds the engine's availability check of a model.
const timeout = 60 * time.Second

// Model is the dialog.
type Model struct {
	th     themes.Theme
	ctx    context.Context
	list   Lister
	rebind Rebinder
	agents []engine.AgentInfo

	step    step
	agent   int
	sel     int
	models  []models.ModelInfo
	loading bool
	loadErr string
	err     string

	width, height int
}

// Option adjusts a dialog as it opens.
type Option func(*Model)

// WithAgent opens the dialog with the i-th agent selected (clamped to the
// agents there are), so rebinding the agent in focus takes one key.
func WithAgent(i int) Option {
	return func(m *Model) { m.agent = min(max(i, 0), max(len(m.agents)-1, 0)) }
}

// New opens the dialog over the current bindings.
func New(ctx context.Context, th themes.Theme, agents []engine.AgentInfo, list Lister, rebind Rebinder, opts ...Option) *Model {
	m := &Model{ctx: ctx, th: th, agents: agents, list: list, rebind: rebind}
	for _, o := range opts {
		o(m)
	}
	return m
}

// SetTheme switches colours.
func (m *Model) SetTheme(th themes.Theme) { m.th = th }

// SetSize gives the space the dialog may use.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// SetAgents updates the bindings shown (a rebind took effect meanwhile).
func (m *Model) SetAgents(a []engine.AgentInfo) { m.agents = a }

func (m *Model) load() tea.Cmd {
	m.loading, m.loadErr, m.models = true, "", nil
	list, ctx := m.list, m.ctx
	return func() tea.Msg {
		if list == nil {
			return modelsMsg{err: fmt.Errorf("this run has no model list to pick from")}
		}
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		ms, err := list(ctx)
		return modelsMsg{ms, err}
	}
}

// Update handles keys and the results of the dialog's commands.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case modelsMsg:
		m.loading = false
		if msg.err != nil {
			m.loadErr = msg.err.Error()
		}
		m.models = msg.models
		m.sel = 0
		cur := m.agents[m.agent]
		for i, mi := range m.models {
			if mi.Name == cur.Model && (cur.Host == "" || mi.Host == cur.Host) {
				m.sel = i
			}
		}
		return nil
	case resultMsg:
		if msg.err != nil {
			m.step = confirm
			m.err = msg.err.Error()
			return nil
		}
		a, mi := m.agents[m.agent], m.models[m.sel]
		return func() tea.Msg { return DoneMsg{Accepted: true, Agent: a.ID, Model: mi.Name, Host: mi.Host} }
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	if m.step == checking {
		return nil
	}
	switch {
	case key.Matches(k, Keys.Back):
		m.err = ""
		if m.step == pickAgent {
			return func() tea.Msg { return DoneMsg{} }
		}
		m.step--
		return nil
	case key.Matches(k, Keys.Up):
		m.move(-1)
	case key.Matches(k, Keys.Down):
		m.move(1)
	case key.Matches(k, Keys.Choose):
		switch m.step {
		case pickAgent:
			if len(m.agents) == 0 {
				return nil
			}
			m.step = pickModel
			return m.load()
		case pickModel:
			if m.loading || len(m.models) == 0 {
				return nil
			}
			m.step, m.err = confirm, ""
		case confirm:
			m.step, m.err = checking, ""
			a, mi := m.agents[m.agent], m.models[m.sel]
			ctx, rebind := m.ctx, m.rebind
			return func() tea.Msg {
				ctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				return resultMsg{rebind(ctx, a.ID, mi.Name, mi.Host)}
			}
		}
	}
	return nil
}

func (m *Model) move(d int) {
	switch m.step {
	case pickAgent:
		m.agent = min(max(m.agent+d, 0), max(len(m.agents)-1, 0))
	case pickModel:
		m.sel = min(max(m.sel+d, 0), max(len(m.models)-1, 0))
	}
}

// View draws the dialog box.
func (m *Model) View() string {
	th := m.th
	w := min(max(m.width, 30), 96)
	inner := w - 2
	muted := th.Style(th.Muted)
	var body []string
	add := func(s string) { body = append(body, s) }
	sel := func(on bool, s string) string {
		if on {
			return th.Swatch(th.Sel).Render(text.Fit("▸ "+s, inner))
		}
		return "  " + s
	}
	title := "Rebind an agent"
	switch m.step {
	case pickAgent:
		add(muted.Render("Which agent? Its new model is used from the next phase."))
		for i, a := range m.agents {
			add(sel(i == m.agent, fmt.Sprintf("%-4s %-12s %s", safe.Line(a.ID), safe.Line(a.Role), binding(a.Model, a.Host))))
		}
		// Who chose the selected agent's model, and the broker's reason.
		if a := m.agents[m.agent]; a.BoundBy != "" {
			why := "bound by " + safe.Line(a.BoundBy)
			if a.Reason != "" {
				why += ": " + safe.Line(a.Reason)
			}
			for _, l := range text.Wrap(why, inner) {
				add(muted.Render(l))
			}
		}
	case pickModel:
		a := m.agents[m.agent]
		title = "Rebind " + safe.Line(a.ID) + ": pick a model"
		add(muted.Render(text.Truncate("now: "+binding(a.Model, a.Host), inner, "…")))
		switch {
		case m.loading:
			add(th.Style(th.Warn).Render("asking the servers which models they have…"))
		case m.loadErr != "":
			for _, l := range text.Wrap("✗ "+safe.Line(m.loadErr), inner) {
				add(th.Style(th.Bad).Render(l))
			}
		case len(m.models) == 0:
			add(th.Style(th.Bad).Render("no models found: pull one with `ollama pull NAME`"))
		default:
			add(muted.Render(text.Fit("  "+modelHeader(inner-2), inner)))
			for i, mi := range m.models {
				cur := mi.Name == a.Model && (a.Host == "" || mi.Host == a.Host)
				add(sel(i == m.sel, modelRow(mi, cur, inner-2)))
			}
		}
	case confirm, checking:
		a, mi := m.agents[m.agent], m.models[m.sel]
		title = "Rebind " + safe.Line(a.ID) + "?"
		for _, l := range text.Wrap(fmt.Sprintf("%s (%s): %s  →  %s", safe.Line(a.ID), safe.Line(a.Role), binding(a.Model, a.Host), binding(mi.Name, mi.Host)), inner) {
			add(th.Style(th.Text).Render(l))
		}
		add("")
		if m.step == checking {
			add(th.Style(th.Warn).Render("checking that the model is available…"))
		} else if m.err != "" {
			for _, l := range text.Wrap("✗ "+safe.Line(m.err), inner) {
				add(th.Style(th.Bad).Render(l))
			}
			add(th.Style(th.Warn).Render("The old binding stays. esc: pick another model."))
		} else {
			add(muted.Render("enter/y: rebind from the next phase · esc: back"))
		}
	}
	add("")
	add(muted.Render("↑↓ move · enter choose · esc back"))
	h := min(len(body)+2, max(m.height, 5))
	if len(body) > h-2 {
		// Keep the selection in view in a long model list.
		off := min(max(m.sel+3-(h-2)/2, 0), len(body)-(h-2))
		if m.step != pickModel {
			off = 0
		}
		body = body[off : off+h-2]
	}
	box := frame.Box{Width: w, Height: h, Focused: true, Title: th.Style(th.Accent).Bold(true).Render(title)}
	return box.Render(th, body)
}

func binding(model, host string) string {
	s := safe.Line(model)
	if host != "" {
		s += " @ " + safe.Line(host)
	}
	return s
}

// Model list columns, dropped from the right as the dialog narrows.
var cols = []struct {
	name string
	w    int
}{{"model", 20}, {"host", 14}, {"params", 7}, {"quant", 7}, {"size", 6}, {"loaded", 7}, {"tok/s", 6}, {"1st tok", 7}}

func visibleCols(w int) int {
	n, used := 0, 0
	for _, c := range cols {
		if used+c.w+1 > w {
			break
		}
		used += c.w + 1
		n++
	}
	return max(n, 1)
}

func modelHeader(w int) string {
	n := visibleCols(w)
	var b strings.Builder
	for _, c := range cols[:n] {
		b.WriteString(text.Fit(c.name, c.w) + " ")
	}
	return b.String()
}

func modelRow(mi models.ModelInfo, current bool, w int) string {
	loaded := ""
	if mi.Loaded {
		loaded = "● " + size(mi.LoadedBytes)
	}
	tps, lat := "", ""
	if mi.Measured.TokensPerSec > 0 {
		tps = fmt.Sprintf("%.0f", mi.Measured.TokensPerSec)
	}
	if mi.Measured.LatencyMS > 0 {
		lat = fmt.Sprintf("%.2fs", mi.Measured.LatencyMS/1000)
	}
	name := safe.Line(mi.Name)
	if current {
		name += " (now)"
	}
	vals := []string{name, safe.Line(mi.Host), safe.Line(mi.ParameterSize), safe.Line(mi.Quantization), size(mi.SizeBytes), loaded, tps, lat}
	n := visibleCols(w)
	var b strings.Builder
	for i, c := range cols[:n] {
		b.WriteString(text.Fit(vals[i], c.w) + " ")
	}
	return b.String()
}

func size(b int64) string {
	switch {
	case b <= 0:
		return ""
	case b >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(b)/(1<<30))
	default:
		return fmt.Sprintf("%.0fM", float64(b)/(1<<20))
	}
}
