package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/tui/internal/golden"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/tui/bridge"
	"github.com/nsed/nsed/tui/demo"
)

func TestMain(m *testing.M) { golden.Main(m) }

var sizes = [][2]int{{80, 24}, {120, 40}, {200, 60}}

// demoEvents is the shipped recording: a scripted run.
func demoEvents(t testing.TB) []engine.Event {
	t.Helper()
	evs, err := demo.Events()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// liveModel is the live screen with no engine behind it, at a size, with
// the clock fixed at the last event's time.
func liveModel(evs []engine.Event, w, h int) *Model {
	var now time.Time
	if len(evs) > 0 {
		now = evs[len(evs)-1].Header().Time
	}
	m := New(Options{Now: func() time.Time { return now }})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(bridge.EventsMsg{Events: evs})
	return m
}

// plain is a screen without styling.
func plain(m *Model) string { return ansi.Strip(m.View()) }

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, name, got)
}

// checkShape verifies a screen is exactly w×h cells: nothing wraps or
// spills, whatever the content.
func checkShape(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != h {
		t.Errorf("screen has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d cells wide, want at most %d: %q", i, n, w, l)
		}
	}
}

// cut returns the index just after the first event matching f.
func cut(t *testing.T, evs []engine.Event, f func(engine.Event) bool) int {
	t.Helper()
	for i, e := range evs {
		if f(e) {
			return i + 1
		}
	}
	t.Fatal("no such event in the recording")
	return 0
}

func isPhase(round int, p engine.Phase) func(engine.Event) bool {
	return func(e engine.Event) bool {
		ps, ok := e.(*engine.PhaseStarted)
		return ok && ps.Round == round && ps.Phase == p
	}
}

func isKind(round int, k engine.Kind) func(engine.Event) bool {
	return func(e engine.Event) bool { h := e.Header(); return h.Round == round && h.Kind == k }
}

func goldenAt(t *testing.T, n func([]engine.Event) int) {
	evs := demoEvents(t)
	evs = evs[:n(evs)]
	for _, sz := range sizes {
		t.Run(sizeName(sz), func(t *testing.T) {
			m := liveModel(evs, sz[0], sz[1])
			s := plain(m)
			checkShape(t, s, sz[0], sz[1])
			checkGolden(t, "", s)
		})
	}
}

func sizeName(sz [2]int) string { return itoa(sz[0]) + "x" + itoa(sz[1]) }

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// Mid-proposal: round 2's proposals half streamed.
func TestGoldenMidProposal(t *testing.T) {
	goldenAt(t, func(evs []engine.Event) int {
		start := cut(t, evs, isPhase(2, engine.PhasePropose))
		done := cut(t, evs, isKind(2, engine.KindProposalDone))
		return (start + done) / 2
	})
}

// After review: round 2's matrix complete, its votes not yet cast.
func TestGoldenAfterReview(t *testing.T) {
	goldenAt(t, func(evs []engine.Event) int { return cut(t, evs, isPhase(2, engine.PhaseVote)) })
}

// After vote: round 2's tally in.
func TestGoldenAfterVote(t *testing.T) {
	goldenAt(t, func(evs []engine.Event) int { return cut(t, evs, isKind(2, engine.KindVotesCast)) })
}

// Final: the run has ended.
func TestGoldenFinal(t *testing.T) {
	goldenAt(t, func(evs []engine.Event) int { return len(evs) })
}

// Mid-review: round 2's reviews half streamed. Each reviewer's pane shows
// its call's time and tokens so far and which candidates it has scored.
func TestGoldenMidReview(t *testing.T) {
	goldenAt(t, func(evs []engine.Event) int {
		start := cut(t, evs, isPhase(2, engine.PhaseReview))
		done := cut(t, evs, isKind(2, engine.KindReviewDone))
		return (start + done) / 2
	})
}
