// Package header is the top of the screen: the question, where the run is
// (round k of max, phase), how long it has run, how fast tokens arrive in
// total, and why it stopped. A replay says plainly that it is a recording.
package header

import (
	"fmt"
	"strings"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/internal/chart"
	"github.com/nsed/nsed/tui/internal/text"
	"github.com/nsed/nsed/tui/safe"
)

// State is the run's state as the badge shows it.
type State int

const (
	Running State = iota
	Pausing       // pause requested, takes effect after the current phase
	Paused
	Stopping // quit requested: the run is being cancelled
	Ended
)

// rateWindow is how far back the aggregate tokens/s looks: long enough
// that small models on a shared CPU, which stream in bursts seconds apart,
// do not read as 0 between bursts; short enough to follow a stall.
const rateWindow = 5 * time.Second

type sample struct {
	at time.Time
	n  int
}

// Model is the header.
type Model struct {
	th        themes.Theme
	question  string
	round     int
	maxRounds int
	phase     engine.Phase
	start     time.Time
	end       time.Time
	now       time.Time
	state     State
	status    string // run_ended status
	reason    string

	samples []sample // token arrivals within rateWindow
	total   int

	// Replay: what the recording is, and the player's state.
	replay   bool
	banner   string
	protocol string // run_started's: NSED or a baseline
	playing  bool
	speed    float64
	atEnd    bool

	agreement []float64
	width     int
}

// New returns an empty header.
func New(th themes.Theme) *Model { return &Model{th: th, speed: 1} }

// SetTheme switches colours.
func (m *Model) SetTheme(th themes.Theme) { m.th = th }

// SetWidth sets the width.
func (m *Model) SetWidth(w int) { m.width = w }

// Height is the number of lines View draws.
func (m *Model) Height() int {
	if m.replay {
		return 3
	}
	return 2
}

// SetReplay marks the screen as a replay of a recording described by banner.
func (m *Model) SetReplay(banner string) { m.replay, m.banner = true, safe.Line(banner) }

// SetPlayer shows the replay player's state.
func (m *Model) SetPlayer(playing bool, speed float64, atEnd bool) {
	m.playing, m.speed, m.atEnd = playing, speed, atEnd
}

// Start records the run's question and its start.
func (m *Model) Start(ev *engine.RunStarted) {
	m.question = safe.Line(ev.Question)
	m.maxRounds = ev.Settings.MaxRounds
	m.start = ev.Time
	m.protocol = safe.Line(ev.Protocol)
}

// Question is the whole question, for the full view.
func (m *Model) Question() string { return m.question }

// Phase records a phase starting.
func (m *Model) Phase(round int, p engine.Phase) { m.round, m.phase = round, p }

// SetState sets the badge.
func (m *Model) SetState(s State) {
	if m.state != Ended {
		m.state = s
	}
}

// State is the badge's state.
func (m *Model) State() State { return m.state }

// End records the end of the run.
func (m *Model) End(ev *engine.RunEnded) {
	m.state, m.status, m.end = Ended, ev.Status, ev.Time
	if ev.OutputTokens > 0 {
		m.total = ev.OutputTokens
	}
	m.reason = safe.Line(ev.Reason)
	switch {
	case ev.Error == "":
	case ev.Reason == "" || ev.Reason == engine.StopFailed: // what failed says more than "failed"
		m.reason = safe.Line(ev.Error)
	default: // a named stop (quorum) and what caused it
		m.reason += ": " + safe.Line(ev.Error)
	}
}

// Reset forgets the run (a replay stepping back rebuilds from the start).
func (m *Model) Reset() {
	*m = Model{th: m.th, width: m.width, replay: m.replay, banner: m.banner, playing: m.playing, speed: m.speed}
}

// AddTokens counts n tokens arriving at t for the aggregate rate.
func (m *Model) AddTokens(n int, t time.Time) {
	m.samples = append(m.samples, sample{t, n})
	m.total += n
	m.prune(t)
}

func (m *Model) prune(now time.Time) {
	i := 0
	for i < len(m.samples) && now.Sub(m.samples[i].at) > rateWindow {
		i++
	}
	if i > 0 {
		m.samples = append(m.samples[:0], m.samples[i:]...)
	}
}

// SetNow sets the clock for the elapsed time and the rate.
func (m *Model) SetNow(t time.Time) { m.now = t; m.prune(t) }

// SetAgreement gives the per-round agreement for the sparkline.
func (m *Model) SetAgreement(a []float64) { m.agreement = a }

// Rate is the aggregate tokens per second over the last rateWindow.
func (m *Model) Rate() float64 {
	n := 0
	for _, s := range m.samples {
		n += s.n
	}
	return float64(n) / rateWindow.Seconds()
}

// View draws the header lines.
func (m *Model) View() string {
	th := m.th
	w := m.width
	badge := m.badge()
	title := th.Style(th.Accent).Bold(true).Render("nsed") + " "
	q := m.question
	if q == "" {
		q = "…"
	}
	qw := w - text.Width("nsed ") - text.Width(badge) - 1
	line1 := title + th.Style(th.Text).Render(text.Fit(q, max(qw, 0))) + " " + badge

	muted := th.Style(th.Muted)
	var parts []string
	if m.round > 0 {
		parts = append(parts, fmt.Sprintf("round %d/%d", m.round, m.maxRounds))
	} else if m.maxRounds > 0 {
		parts = append(parts, fmt.Sprintf("round –/%d", m.maxRounds))
	}
	if m.phase != "" && m.state != Ended {
		parts = append(parts, string(m.phase))
	}
	if !m.start.IsZero() {
		end := m.now
		if !m.end.IsZero() {
			end = m.end
		}
		parts = append(parts, "⏱ "+clock(end.Sub(m.start)))
	}
	if m.state != Ended {
		parts = append(parts, tokRate(m.Rate())+" tok/s")
	} else if m.total > 0 {
		parts = append(parts, fmt.Sprintf("%d tok", m.total))
	}
	if len(m.agreement) > 0 {
		parts = append(parts, fmt.Sprintf("agreement %s %.2f", chart.Spark(m.agreement, 0, 1), m.agreement[len(m.agreement)-1]))
	}
	line2 := muted.Render(strings.Join(parts, " · "))
	if m.state == Ended {
		stop := "stopped: " + m.reason
		if m.reason == "" {
			stop = m.status
		}
		c := th.Warn
		if m.status == engine.StatusFailed {
			c = th.Bad
		}
		line2 += muted.Render(" · ") + th.Style(c).Render(stop)
	}
	line2 = text.Fit(line2, w)
	if !m.replay {
		return line1 + "\n" + line2
	}
	what := "RECORDING"
	if m.protocol != "" && m.protocol != engine.ProtocolNSED { // a baseline's transcript: say which
		what += " (" + m.protocol + ")"
	}
	banner := what + " — nothing here is running live"
	if m.banner != "" {
		banner = what + " of " + m.banner + " — no models are running"
	}
	return line1 + "\n" + line2 + "\n" + th.Swatch(th.Rec).Render(text.Fit(" "+banner, w))
}

func (m *Model) badge() string {
	th := m.th
	if m.replay {
		s := fmt.Sprintf("▶ REPLAY %s", speed(m.speed))
		switch {
		case m.atEnd:
			s = "■ END OF RECORDING"
		case !m.playing:
			s = fmt.Sprintf("⏸ REPLAY %s", speed(m.speed))
		}
		return th.Swatch(th.Rec).Render(" " + s + " ")
	}
	switch m.state {
	case Pausing:
		return th.Swatch(th.Rec).Render(" ⏸ PAUSING AFTER PHASE ")
	case Paused:
		return th.Swatch(th.Rec).Render(" ⏸ PAUSED ")
	case Stopping:
		return th.Swatch(th.Rec).Render(" ■ STOPPING… ")
	case Ended:
		s := " ■ " + strings.ToUpper(m.status) + " "
		if m.status == "" {
			s = " ■ ENDED "
		}
		return th.Style(th.Muted).Render(s)
	}
	return th.Swatch(th.Live).Render(" ● LIVE ")
}

// tokRate formats the aggregate rate: a small model reviewing on a CPU
// streams under one token a second, which whole numbers would show as 0.
func tokRate(r float64) string {
	if r > 0 && r < 10 {
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.0f", r)
}

func speed(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%g×", s)
	}
	return fmt.Sprintf("%.0f×", s)
}

func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}
