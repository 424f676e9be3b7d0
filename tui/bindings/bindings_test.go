package bindings

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nsed/nsed/tui/internal/golden"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
	"github.com/nsed/nsed/themes"
)

func TestMain(m *testing.M) { golden.Main(m) }

var agents = []engine.AgentInfo{
	{ID: "a1", Role: "solver", Model: "qwen2.5:0.5b", Host: "h1"},
	{ID: "a2", Role: "skeptic", Model: "llama3.2:1b", Host: "h1"},
}

func list(context.Context) ([]models.ModelInfo, error) {
	return []models.ModelInfo{
		{Host: "h1", Name: "qwen2.5:0.5b", ParameterSize: "494M", Quantization: "Q4_K_M", SizeBytes: 398 << 20, Loaded: true, LoadedBytes: 600 << 20,
			Measured: models.Speed{TokensPerSec: 88, LatencyMS: 120}},
		{Host: "h1", Name: "llama3.2:1b", ParameterSize: "1.2B", SizeBytes: 1300 << 20},
		{Host: "h2", Name: "gemma3:1b", ParameterSize: "1.0B", SizeBytes: 815 << 20},
	}, nil
}

// run feeds msg to the dialog and then every message its commands produce,
// as the program would; it returns the first DoneMsg, if any.
func run(m *Model, msg tea.Msg) *DoneMsg {
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		msg, queue = queue[0], queue[1:]
		if d, ok := msg.(DoneMsg); ok {
			return &d
		}
		if cmd := m.Update(msg); cmd != nil {
			queue = append(queue, cmd())
		}
	}
	return nil
}

func press(s string) tea.Msg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func view(m *Model) string { return ansi.Strip(m.View()) }

func TestRebindFlow(t *testing.T) {
	var got []string
	rebind := func(_ context.Context, agent, model, host string) error {
		got = append(got, agent, model, host)
		return nil
	}
	m := New(context.Background(), themes.Dark(), agents, list, rebind)
	m.SetSize(90, 20)
	if v := view(m); !strings.Contains(v, "Which agent?") || !strings.Contains(v, "a2   skeptic") {
		t.Fatalf("agent step:\n%s", v)
	}
	run(m, press("down"))
	run(m, press("enter"))
	v := view(m)
	for _, want := range []string{"Rebind a2: pick a model", "now: llama3.2:1b @ h1", "llama3.2:1b (now)", "gemma3:1b", "494M", "Q4_K_M", "● 600M", "88", "0.12s"} {
		if !strings.Contains(v, want) {
			t.Errorf("model step lacks %q:\n%s", want, v)
		}
	}
	run(m, press("down")) // from the current model to gemma3 on h2
	run(m, press("enter"))
	if v := view(m); !strings.Contains(v, "llama3.2:1b @ h1  →  gemma3:1b @ h2") {
		t.Errorf("confirm step:\n%s", v)
	}
	d := run(m, press("y"))
	if d == nil || !d.Accepted || d.Agent != "a2" || d.Model != "gemma3:1b" || d.Host != "h2" {
		t.Fatalf("done = %+v", d)
	}
	if strings.Join(got, " ") != "a2 gemma3:1b h2" {
		t.Errorf("Rebind called with %v", got)
	}
}

func TestRefusedRebindKeepsBinding(t *testing.T) {
	refuse := func(_ context.Context, agent, model, host string) error {
		return &models.ModelNotFoundError{Host: host, Model: model}
	}
	m := New(context.Background(), themes.Dark(), agents, list, refuse)
	m.SetSize(90, 20)
	run(m, press("enter"))
	run(m, press("down"))
	run(m, press("enter"))
	if d := run(m, press("enter")); d != nil {
		t.Fatalf("a refused rebind closed the dialog: %+v", d)
	}
	v := view(m)
	for _, want := range []string{"is not available", "ollama pull", "The old binding stays"} {
		if !strings.Contains(v, want) {
			t.Errorf("refusal lacks %q:\n%s", want, v)
		}
	}
	// esc goes back to the list, esc esc closes without a rebind.
	run(m, press("esc"))
	run(m, press("esc"))
	if d := run(m, press("esc")); d == nil || d.Accepted {
		t.Errorf("closing = %+v, want not accepted", d)
	}
}

func TestListFailure(t *testing.T) {
	broken := func(context.Context) ([]models.ModelInfo, error) {
		return nil, errors.New("cannot reach Ollama at h1")
	}
	m := New(context.Background(), themes.Dark(), agents, broken, nil)
	m.SetSize(80, 20)
	run(m, press("enter"))
	if v := view(m); !strings.Contains(v, "cannot reach Ollama at h1") {
		t.Errorf("list error not shown:\n%s", v)
	}
	if d := run(m, press("enter")); d != nil {
		t.Errorf("enter with no models did something: %+v", d)
	}
}

func TestNarrowDialogFits(t *testing.T) {
	m := New(context.Background(), themes.Dark(), agents, list, nil)
	m.SetSize(40, 8)
	run(m, press("enter"))
	for _, l := range strings.Split(view(m), "\n") {
		if w := ansi.StringWidth(l); w > 40 {
			t.Errorf("line %q is %d wide", l, w)
		}
	}
}

func TestBindingsShowWhoBoundAndWhy(t *testing.T) {
	agents := []engine.AgentInfo{{ID: "agent-1", Role: "solver", Model: "qwen3:8b", BoundBy: "broker", Reason: "best team value; already loaded"}}
	m := New(context.Background(), themes.Dark(), agents, nil, nil)
	m.SetSize(90, 20)
	if v := m.View(); !strings.Contains(v, "bound by broker: best team value") {
		t.Fatalf("reason missing:\n%s", v)
	}
}

// The screen opens the dialog on the agent in focus; no key presses needed.
func TestOpensOnAgent(t *testing.T) {
	for _, tc := range []struct{ at, want int }{{1, 1}, {0, 0}, {5, 1}, {-1, 0}} {
		m := New(context.Background(), themes.Dark(), agents, list, nil, WithAgent(tc.at))
		if m.agent != tc.want {
			t.Errorf("WithAgent(%d): agent %d, want %d", tc.at, m.agent, tc.want)
		}
	}
	m := New(context.Background(), themes.Dark(), agents, list, nil, WithAgent(1))
	m.SetSize(90, 20)
	run(m, press("enter"))
	if v := view(m); !strings.Contains(v, "Rebind a2: pick a model") {
		t.Errorf("enter on a dialog opened at a2:\n%s", v)
	}
}
