package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
)

func replayModel(evs []engine.Event, w, h int, paused bool) *Model {
	m := New(Options{Replay: true, Events: evs, Paused: paused, Banner: "the demo"})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func TestReplayStepsByPhase(t *testing.T) {
	evs := demoEvents(t)
	phases := 0
	for _, e := range evs {
		if _, ok := e.(*engine.PhaseStarted); ok {
			phases++
		}
	}
	m := replayModel(evs, 120, 40, true)
	if s := plain(m); !strings.Contains(s, "RECORDING of the demo — no models are running") || !strings.Contains(s, "⏸ REPLAY") {
		t.Fatalf("replay screen does not say it is a recording:\n%s", s)
	}
	var positions []int
	for range phases + 1 {
		drive(m, keyMsg("n"))
		positions = append(positions, m.player.pos)
	}
	if m.player.pos != len(evs) || !strings.Contains(plain(m), "END OF RECORDING") {
		t.Fatalf("%d steps did not reach the end (at %d of %d)", phases+1, m.player.pos, len(evs))
	}
	// Each step ends a phase: the next event starts one.
	for _, p := range positions[:len(positions)-1] {
		if _, ok := evs[p].(*engine.PhaseStarted); !ok {
			t.Errorf("a step stopped before %T, not a phase start", evs[p])
		}
	}
	// At the end the replay shows what the live screen showed.
	live := liveModel(evs, 120, 40)
	for i, p := range m.agents {
		if p.Text() != live.agents[i].Text() {
			t.Errorf("agent %d's text differs from the live screen's", i)
		}
	}
	// Stepping back rebuilds exactly the state stepping forward reached.
	drive(m, keyMsg("p"))
	drive(m, keyMsg("p"))
	back := plain(m)
	fwd := replayModel(evs, 120, 40, true)
	for fwd.player.pos < m.player.pos {
		drive(fwd, keyMsg("n"))
	}
	if fwd.player.pos != m.player.pos || plain(fwd) != back {
		t.Errorf("stepping back to %d gave a different screen than stepping forward to %d:\n%s\n---\n%s", m.player.pos, fwd.player.pos, back, plain(fwd))
	}
	for range phases + 5 {
		drive(m, keyMsg("p"))
	}
	if m.player.pos != m.player.bounds[0] {
		t.Errorf("stepping back stops at %d, want the first phase start %d", m.player.pos, m.player.bounds[0])
	}
}

func TestReplayPlaysOnItsClock(t *testing.T) {
	evs := demoEvents(t)
	m := replayModel(evs, 100, 30, false)
	if !m.player.playing {
		t.Fatal("replay did not start playing")
	}
	// Update, not drive: the tick commands it returns would play on by
	// themselves in real time.
	m.Update(keyMsg("+"))
	m.Update(keyMsg("+"))
	if m.player.speed != 4 {
		t.Errorf("speed %v after two +, want 4", m.player.speed)
	}
	// Feed the ticks the program would: 40 ms apart.
	at := time.Now()
	ticks := 0
	for !m.player.atEnd() && ticks < 5000 {
		at = at.Add(frameInterval)
		m.Update(playMsg{gen: m.player.gen, at: at})
		ticks++
	}
	recorded := evs[len(evs)-1].Header().Time.Sub(evs[0].Header().Time)
	played := time.Duration(ticks) * frameInterval
	if !m.player.atEnd() || played > recorded/2 {
		t.Errorf("played %v of a %v recording at 4× in %d ticks", played, recorded, ticks)
	}
	s := plain(m)
	if !strings.Contains(s, "END OF RECORDING") || !strings.Contains(s, "stopped: converged") {
		t.Errorf("end of replay:\n%s", s)
	}
	// A stale tick from before a pause is ignored.
	m.Update(keyMsg("space")) // at the end: restart from the top
	if m.player.pos != 0 || !m.player.playing {
		t.Errorf("space at the end should replay from the start (pos %d)", m.player.pos)
	}
	m.Update(playMsg{gen: m.player.gen - 1, at: at.Add(time.Hour)})
	if m.player.pos != 0 {
		t.Errorf("a stale tick advanced the replay")
	}
}

func TestReplayGolden(t *testing.T) {
	evs := demoEvents(t)
	m := replayModel(evs, 100, 30, true)
	for range 6 { // through round 1 and into round 2's proposals
		drive(m, keyMsg("n"))
	}
	s := plain(m)
	checkShape(t, s, 100, 30)
	checkGolden(t, "100x30", s)
}
