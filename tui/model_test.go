package tui

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsed/nsed/tui/internal/golden"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/bridge"
	"github.com/nsed/nsed/tui/header"
)

// fakeControl records the calls the screen makes.
type fakeControl struct {
	mu     sync.Mutex
	calls  []string
	rebind func(agent, model, host string) error
	more   chan struct{} // a call was logged (made lazily: the zero value works)
}

func (c *fakeControl) log(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	more := c.signal()
	c.mu.Unlock()
	select {
	case more <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// signal is the channel a call is announced on; c.mu is held.
func (c *fakeControl) signal() chan struct{} {
	if c.more == nil {
		c.more = make(chan struct{}, 1)
	}
	return c.more
}
func (c *fakeControl) Pause()          { c.log("pause") }
func (c *fakeControl) Resume()         { c.log("resume") }
func (c *fakeControl) Step()           { c.log("step") }
func (c *fakeControl) Inject(t string) { c.log("inject " + t) }
func (c *fakeControl) Rebind(_ context.Context, agent, model, host string) error {
	c.log("rebind " + agent + " " + model + " " + host)
	if c.rebind != nil {
		return c.rebind(agent, model, host)
	}
	return nil
}

// wait returns the calls once there are n of them (they run off the
// Update loop).
func (c *fakeControl) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		calls, more := append([]string(nil), c.calls...), c.signal()
		c.mu.Unlock()
		if len(calls) >= n {
			return calls
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("control got %v, want %d calls", calls, n)
		}
	}
}

// drive feeds msg and every message its commands produce (but ticks and
// the bridge, which wait) back into the model, like the program would.
func drive(m *Model, msg tea.Msg) (quit bool) {
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		msg, queue = queue[0], queue[1:]
		if _, ok := msg.(tea.QuitMsg); ok {
			return true
		}
		_, cmd := m.Update(msg)
		queue = append(queue, run(cmd)...)
	}
	return false
}

// run executes a command tree, dropping the messages that only arrive
// later (ticks).
func run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		if batch, ok := msg.(tea.BatchMsg); ok {
			var out []tea.Msg
			for _, c := range batch {
				out = append(out, run(c)...)
			}
			return out
		}
		if msg == nil {
			return nil
		}
		return []tea.Msg{msg}
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

func keyMsg(s string) tea.Msg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune(" ")}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// midRun is the demo up to round 2's review.
func midRun(t *testing.T) []engine.Event {
	evs := demoEvents(t)
	return evs[:cut(t, evs, isPhase(2, engine.PhaseReview))]
}

func liveWith(t *testing.T, c engine.Control, list func(context.Context) ([]models.ModelInfo, error)) *Model {
	evs := midRun(t)
	now := evs[len(evs)-1].Header().Time
	m := New(Options{Control: c, Models: list, Now: func() time.Time { return now }})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.Update(bridge.EventsMsg{Events: evs})
	return m
}

func TestPauseStepResume(t *testing.T) {
	c := &fakeControl{}
	m := liveWith(t, c, nil)
	drive(m, keyMsg("n"))
	if !strings.Contains(plain(m), "n steps while paused") {
		t.Errorf("step while running should explain itself:\n%s", plain(m))
	}
	drive(m, keyMsg("space"))
	c.wait(t, 1)
	if !strings.Contains(plain(m), "PAUSING AFTER PHASE") {
		t.Errorf("no pausing badge:\n%s", plain(m))
	}
	ev := &engine.Paused{}
	ev.Kind, ev.Round, ev.Phase = engine.KindPaused, 2, engine.PhaseReview
	drive(m, bridge.EventsMsg{Events: []engine.Event{ev}})
	if !strings.Contains(plain(m), "⏸ PAUSED") {
		t.Errorf("no paused badge:\n%s", plain(m))
	}
	drive(m, keyMsg("n"))
	drive(m, keyMsg("space"))
	if got := strings.Join(c.wait(t, 3), ","); got != "pause,step,resume" {
		t.Errorf("calls = %s", got)
	}
	if m.header.State() != header.Running {
		t.Errorf("state = %v after resume", m.header.State())
	}
}

func testModels(context.Context) ([]models.ModelInfo, error) {
	return []models.ModelInfo{
		{Host: "localhost:11434", Name: "qwen2.5:1.5b"},
		{Host: "localhost:11434", Name: "llama3.2:1b"},
		{Host: "localhost:11434", Name: "missing:7b"},
	}, nil
}

func TestRebindThroughScreen(t *testing.T) {
	c := &fakeControl{rebind: func(agent, model, host string) error {
		if model == "missing:7b" {
			return &models.ModelNotFoundError{Host: host, Model: model}
		}
		return nil
	}}
	m := liveWith(t, c, testModels)
	drive(m, keyMsg("r"))
	if !strings.Contains(plain(m), "Which agent?") {
		t.Fatalf("bindings view not open:\n%s", plain(m))
	}
	drive(m, keyMsg("enter")) // a1
	for range 2 {
		drive(m, keyMsg("down"))
	}
	drive(m, keyMsg("enter")) // missing:7b
	drive(m, keyMsg("enter")) // confirm
	s := plain(m)
	if !strings.Contains(s, `model "missing:7b" is not available`) || !strings.Contains(s, "The old binding stays") {
		t.Fatalf("refusal not shown:\n%s", s)
	}
	drive(m, keyMsg("esc"))
	drive(m, keyMsg("k")) // up to llama3.2:1b
	drive(m, keyMsg("enter"))
	drive(m, keyMsg("y"))
	if m.overlay != noOverlay {
		t.Fatalf("dialog still open after an accepted rebind:\n%s", plain(m))
	}
	if s := plain(m); !strings.Contains(s, "a1 will use llama3.2:1b from the next phase") {
		t.Errorf("no confirmation:\n%s", s)
	}
	calls := c.wait(t, 2)
	if calls[1] != "rebind a1 llama3.2:1b localhost:11434" {
		t.Errorf("calls = %v", calls)
	}
	// The engine's rebound event updates the pane.
	ev := &engine.Rebound{From: engine.AgentInfo{ID: "a1", Role: "solver", Model: "qwen2.5:1.5b", Host: "localhost:11434"},
		To: engine.AgentInfo{ID: "a1", Role: "solver", Model: "llama3.2:1b", Host: "localhost:11434"}, By: "user"}
	ev.Kind, ev.Agent = engine.KindRebound, "a1"
	drive(m, bridge.EventsMsg{Events: []engine.Event{ev}})
	if s := plain(m); !strings.Contains(s, "↻ was qwen2.5:1.5b") || !strings.Contains(s, "a1 now runs llama3.2:1b") {
		t.Errorf("rebound not shown:\n%s", s)
	}
}

func TestInjectThroughScreen(t *testing.T) {
	c := &fakeControl{}
	m := liveWith(t, c, nil)
	drive(m, keyMsg("i"))
	drive(m, keyMsg("q")) // typed, not quit
	drive(m, keyMsg("uick check"))
	drive(m, keyMsg("enter"))
	if got := c.wait(t, 1); got[0] != "inject quick check" {
		t.Errorf("calls = %v", got)
	}
	ev := &engine.HumanMessage{Text: "quick check"}
	ev.Kind = engine.KindHumanMessage
	drive(m, bridge.EventsMsg{Events: []engine.Event{ev}})
	m.setFocus(len(m.agents) + paneConsensus)
	drive(m, keyMsg("enter")) // zoom the consensus pane
	if s := plain(m); !strings.Contains(s, "you (next round): quick check") {
		t.Errorf("pending message not shown:\n%s", s)
	}
}

func TestQuitCancelsAndWaitsForRunEnd(t *testing.T) {
	cancelled := false
	evs := midRun(t)
	m := New(Options{Bridge: bridge.New(0), Cancel: func() { cancelled = true }})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	m.Update(bridge.EventsMsg{Events: evs})
	if drive(m, keyMsg("q")) {
		t.Fatal("quit before the run ended: its transcript would be cut short")
	}
	if !cancelled || !strings.Contains(plain(m), "STOPPING") {
		t.Fatalf("q did not cancel the run:\n%s", plain(m))
	}
	end := &engine.RunEnded{Status: engine.StatusCancelled, Reason: "cancelled"}
	end.Kind = engine.KindRunEnded
	if !drive(m, bridge.EventsMsg{Events: []engine.Event{end}, Closed: true, Err: context.Canceled}) {
		t.Error("the screen did not quit once the run ended")
	}
}

func TestSecondQuitLeavesAtOnce(t *testing.T) {
	m := New(Options{Bridge: bridge.New(0), Cancel: func() {}})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	m.Update(bridge.EventsMsg{Events: midRun(t)})
	drive(m, keyMsg("ctrl+c"))
	if !drive(m, keyMsg("ctrl+c")) {
		t.Error("a second ctrl+c should leave without waiting")
	}
}

func TestRunThatFailsBeforeStartingQuits(t *testing.T) {
	m := New(Options{Bridge: bridge.New(0)})
	if !drive(m, bridge.EventsMsg{Closed: true, Err: errors.New("no models")}) {
		t.Error("a run that never started should close the screen")
	}
}

func TestFocusZoomMouse(t *testing.T) {
	m := liveModel(demoEvents(t), 120, 40)
	if m.focus != 0 {
		t.Fatalf("focus = %d", m.focus)
	}
	for range 3 {
		drive(m, keyMsg("tab"))
	}
	if m.focus != 3 { // after a1 a2 a3: the matrix
		t.Errorf("focus = %d, want the matrix (3)", m.focus)
	}
	drive(m, keyMsg("enter"))
	s := plain(m)
	if !strings.Contains(s, "Peer review") || strings.Contains(s, "Quadratic votes") || !strings.Contains(s, "verified") {
		t.Errorf("zoomed matrix should fill the body alone, with the wide legend:\n%s", s)
	}
	drive(m, keyMsg("esc"))
	if !strings.Contains(plain(m), "Quadratic votes") {
		t.Errorf("esc did not unzoom")
	}
	// Click the second agent pane.
	r := m.layout.rects[1]
	drive(m, tea.MouseMsg{X: r.x + 2, Y: r.y + 2, Action: tea.MouseActionPress, Button: tea.MouseButtonLeft})
	if m.focus != 1 {
		t.Errorf("click focused %d, want 1", m.focus)
	}
	before := plain(m)
	drive(m, tea.MouseMsg{X: r.x + 2, Y: r.y + 2, Button: tea.MouseButtonWheelUp, Action: tea.MouseActionPress})
	if plain(m) == before || !strings.Contains(plain(m), "↓") {
		t.Errorf("wheel did not scroll the pane under it")
	}
	drive(m, keyMsg("shift+tab"))
}

func TestOverlays(t *testing.T) {
	m := liveModel(demoEvents(t), 100, 30)
	drive(m, keyMsg("?"))
	if s := plain(m); !strings.Contains(s, "Keys") || !strings.Contains(s, "rebind a model") || !strings.Contains(s, "mouse on/off") {
		t.Errorf("full help:\n%s", s)
	}
	drive(m, keyMsg("esc"))
	drive(m, keyMsg("f"))
	if s := plain(m); !strings.Contains(s, "the ball cost?") {
		t.Errorf("full question:\n%s", s)
	}
	drive(m, keyMsg("esc"))
	drive(m, keyMsg("c"))
	if s := plain(m); !strings.Contains(s, "Review by a1 of a2 (round 3)") || !strings.Contains(s, "critique:") {
		t.Errorf("critique:\n%s", s)
	}
	drive(m, keyMsg("c"))
	if m.overlay != noOverlay {
		t.Errorf("c did not close the critique")
	}
}

func TestTooSmall(t *testing.T) {
	m := liveModel(demoEvents(t), 50, 12)
	s := plain(m)
	if !strings.Contains(s, "needs a bigger terminal") || !strings.Contains(s, "50×12") {
		t.Errorf("too-small screen:\n%s", s)
	}
	checkShape(t, s, 50, 12)
	checkGolden(t, "50x12", s)
	// Growing back draws the screen again.
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if !strings.Contains(plain(m), "Peer review") {
		t.Errorf("no screen after growing back")
	}
}

func TestThemesKeepLayout(t *testing.T) {
	evs := demoEvents(t)
	golden.Colour(t)
	var first string
	for _, name := range themes.Names() {
		th, _ := themes.Lookup(name)
		m := New(Options{Theme: th, Now: func() time.Time { return evs[len(evs)-1].Header().Time }})
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		m.Update(bridge.EventsMsg{Events: evs})
		raw := m.View()
		if !strings.Contains(raw, "\x1b[") {
			t.Errorf("%s: no colour at all", name)
		}
		s := ansi.Strip(raw)
		checkShape(t, s, 120, 40)
		if first == "" {
			first = s
		} else if s != first {
			t.Errorf("theme %s changes the layout", name)
		}
	}
	m := liveModel(evs, 120, 40)
	drive(m, keyMsg("t"))
	if m.th.Name != themes.Next(themes.Dark()).Name || !strings.Contains(plain(m), "theme: ") {
		t.Errorf("t did not switch theme (now %s)", m.th.Name)
	}
}

var escSeq = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// TestHostileModelOutput runs the real engine on a backend whose models
// write terminal attacks, and checks the screen carries none of them.
func TestHostileModelOutput(t *testing.T) {
	golden.Colour(t)
	hostile := "Sure.\x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J\x1b[H\x1b]0;owned\x1b\\\u009b31m\u202eevil\u202c\r\x1bPq#0\x1b\\ 日本語e\u0301 👩‍💻\nFINAL ANSWER: 4\x1b[?1049l"
	be := &models.Scripted{Chunk: 3, Reply: func(req models.Request) (string, error) {
		if len(req.Format) > 0 {
			return models.DefaultReply(req)
		}
		return hostile, nil
	}}
	var mu sync.Mutex
	var evs []engine.Event
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	r, err := engine.New(engine.Config{Question: "2+2?\x1b]0;q\x07", Settings: s, Backend: be,
		Agents: []engine.AgentInfo{{ID: "a1", Model: "m\x1b[31m1"}, {ID: "a2", Model: "m2"}, {ID: "a3", Model: "m3"}},
		Sink:   engine.SinkFunc(func(e engine.Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{len(evs) / 3, len(evs)} {
		for _, sz := range sizes {
			m := liveModel(evs[:cut], sz[0], sz[1])
			for _, zoom := range []bool{false, true} {
				if zoom {
					drive(m, keyMsg("enter"))
				}
				v := m.View()
				rest := escSeq.ReplaceAllString(v, "")
				if i := strings.IndexAny(rest, "\x1b\a\r\u009b\u009c\u009d\u202e"); i >= 0 {
					t.Fatalf("%dx%d: a control reached the screen at %d: %q", sz[0], sz[1], i, rest[max(i-20, 0):min(i+20, len(rest))])
				}
				if strings.Contains(v, "owned") || strings.Contains(v, "cm0gLXJmIH4=") {
					t.Fatalf("an escape sequence's payload was shown")
				}
				checkShape(t, ansi.Strip(v), sz[0], sz[1])
			}
		}
	}
}

// TestEverySizeKeepsItsShape draws every moment of both recordings at the
// minimum size, just above it, odd sizes and a very large terminal.
func TestEverySizeKeepsItsShape(t *testing.T) {
	recordings := map[string][]engine.Event{"demo": demoEvents(t), "eight": eightEvents(t)}
	for name, evs := range recordings {
		for _, n := range []int{len(evs) / 5, len(evs) / 2, len(evs)} {
			for _, sz := range [][2]int{{MinWidth, MinHeight}, {61, 17}, {79, 23}, {97, 31}, {143, 47}, {400, 120}} {
				m := liveModel(evs[:n], sz[0], sz[1])
				checkShape(t, plain(m), sz[0], sz[1])
				drive(m, keyMsg("tab"))
				drive(m, keyMsg("enter"))
				checkShape(t, plain(m), sz[0], sz[1])
				if t.Failed() {
					t.Fatalf("%s at event %d, %dx%d", name, n, sz[0], sz[1])
				}
			}
		}
	}
}

// A run that nsed stopped because its transcript could not be written
// (run_ended failed, with the cause as its error) says so in the header,
// naming the file, rather than "cancelled" as if the user had quit.
func TestTranscriptFailureShowsOnScreen(t *testing.T) {
	m := New(Options{Bridge: bridge.New(0)})
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 50})
	m.Update(bridge.EventsMsg{Events: midRun(t)})
	why := "transcript write failed: /runs/r.jsonl: no space left on device"
	end := &engine.RunEnded{Status: engine.StatusFailed, Reason: engine.StopFailed, Error: why}
	end.Kind = engine.KindRunEnded
	m.Update(bridge.EventsMsg{Events: []engine.Event{end}, Closed: true, Err: errors.New(why)})
	screen := plain(m)
	if !strings.Contains(screen, "stopped: "+why) || strings.Contains(strings.ToLower(screen), "cancelled") {
		t.Errorf("the screen does not say why the run stopped:\n%s", screen)
	}
}
