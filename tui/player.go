package tui

import (
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
)

// frameInterval is the replay's tick, the same pace as the live bridge.
const frameInterval = 40 * time.Millisecond

// maxGap is the longest real-time wait between two recorded events: a
// model loading for a minute needn't be watched for a minute.
const maxGap = 700 * time.Millisecond

var speeds = []float64{0.25, 0.5, 1, 2, 4, 8, 16, 32, 64}

// player plays recorded events on a virtual clock.
type player struct {
	events  []engine.Event
	pos     int // events[:pos] are applied
	bounds  []int
	playing bool
	speed   float64
	vt      time.Time // the recording's time now
	wall    time.Time // the wall time of the last tick
	gen     int       // ticks of an older play loop are ignored
}

type playMsg struct {
	gen int
	at  time.Time
}

func newPlayer(events []engine.Event, speed float64, playing bool) *player {
	if speed <= 0 {
		speed = 1
	}
	p := &player{events: events, speed: speed, playing: playing && len(events) > 0}
	for i, e := range events {
		if _, ok := e.(*engine.PhaseStarted); ok {
			p.bounds = append(p.bounds, i)
		}
	}
	if len(events) > 0 {
		p.vt = events[0].Header().Time
	}
	return p
}

func (p *player) atEnd() bool { return p.pos >= len(p.events) }

func (p *player) tick() tea.Cmd {
	if !p.playing {
		return nil
	}
	gen := p.gen
	return tea.Tick(frameInterval, func(t time.Time) tea.Msg { return playMsg{gen, t} })
}

// play advances the recording by one tick.
func (m *Model) play(msg playMsg) tea.Cmd {
	p := m.player
	if p == nil || msg.gen != p.gen || !p.playing {
		return nil
	}
	dt := frameInterval
	if !p.wall.IsZero() {
		dt = msg.at.Sub(p.wall)
	}
	p.wall = msg.at
	p.vt = p.vt.Add(time.Duration(float64(dt) * p.speed))
	if !p.atEnd() {
		next := p.events[p.pos].Header().Time
		if time.Duration(float64(next.Sub(p.vt))/p.speed) > maxGap {
			p.vt = next
		}
	}
	end := p.pos
	for end < len(p.events) && !p.events[end].Header().Time.After(p.vt) {
		end++
	}
	m.apply(p.events[p.pos:end]...)
	p.pos = end
	if p.atEnd() {
		p.playing = false
		m.setFlash("end of the recording · p steps back · q quits", false)
	}
	m.syncPlayer()
	return p.tick()
}

// seek shows the state after events[:target], replaying from the start
// when going backwards.
func (m *Model) seek(target int) {
	p := m.player
	target = min(max(target, 0), len(p.events))
	if target < p.pos {
		m.quiet = true
		m.resetRun()
		p.pos = 0
	}
	m.apply(p.events[p.pos:target]...)
	m.quiet = false
	p.pos = target
	switch {
	case target > 0:
		p.vt = p.events[target-1].Header().Time
	case len(p.events) > 0:
		p.vt = p.events[0].Header().Time
	}
	m.relayout()
}

// playerKey handles the replay's keys; it reports whether k was one.
func (m *Model) playerKey(k tea.KeyMsg) bool {
	p := m.player
	ks := m.keys
	switch {
	case key.Matches(k, ks.Pause):
		if p.atEnd() {
			m.seek(0)
		}
		p.playing = !p.playing
		p.gen++
		p.wall = time.Time{}
	case key.Matches(k, ks.Step):
		p.playing = false
		next := len(p.events)
		for _, b := range p.bounds {
			if b > p.pos {
				next = b
				break
			}
		}
		m.seek(next)
	case key.Matches(k, ks.Back):
		p.playing = false
		prev := -1
		for _, b := range p.bounds {
			if b < p.pos {
				prev = b
			}
		}
		if prev < 0 {
			return true
		}
		m.seek(prev)
	case key.Matches(k, ks.Faster):
		p.speed = nextSpeed(p.speed, 1)
		m.setFlash(fmt.Sprintf("speed %g×", p.speed), false)
	case key.Matches(k, ks.Slower):
		p.speed = nextSpeed(p.speed, -1)
		m.setFlash(fmt.Sprintf("speed %g×", p.speed), false)
	default:
		return false
	}
	m.syncPlayer()
	return true
}

// playerCmd restarts the tick loop after a key started playing.
func (m *Model) playerCmd() tea.Cmd {
	if m.player == nil || !m.player.playing {
		return nil
	}
	return m.player.tick()
}

func (m *Model) syncPlayer() {
	p := m.player
	m.header.SetPlayer(p.playing, p.speed, p.atEnd() && len(p.events) > 0)
}

func nextSpeed(s float64, dir int) float64 {
	for i, v := range speeds {
		if v >= s {
			j := min(max(i+dir, 0), len(speeds)-1)
			if v > s && dir < 0 {
				j = max(i-1, 0)
			}
			return speeds[j]
		}
	}
	return speeds[len(speeds)-1]
}
