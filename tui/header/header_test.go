package header

import (
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/tui/internal/golden"

	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
)

func TestMain(m *testing.M) { golden.Main(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func started() *Model {
	m := New(themes.Dark())
	m.SetWidth(100)
	ev := &engine.RunStarted{Question: "What is\x1b]0;evil\x07 6×7?\nReally?", Settings: engine.DefaultSettings()}
	ev.Time = t0
	m.Start(ev)
	return m
}

func TestLiveHeader(t *testing.T) {
	m := started()
	m.Phase(2, engine.PhaseReview)
	for i := range 10 {
		m.AddTokens(100, t0.Add(time.Duration(i)*200*time.Millisecond))
	}
	m.SetNow(t0.Add(83 * time.Second))
	m.SetAgreement([]float64{0.2, 0.6})
	v := ansi.Strip(m.View())
	for _, want := range []string{"What is 6×7? Really?", "● LIVE", "round 2/6", "review", "01:23", "agreement", "0.60"} {
		if !strings.Contains(v, want) {
			t.Errorf("header lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "evil") {
		t.Errorf("OSC payload shown: %s", v)
	}
	if m.Height() != 2 || len(strings.Split(v, "\n")) != 2 {
		t.Errorf("live header should be 2 lines")
	}
}

func TestRateWindow(t *testing.T) {
	m := started()
	m.AddTokens(300, t0)
	m.AddTokens(300, t0.Add(time.Second))
	m.SetNow(t0.Add(time.Second))
	if got := m.Rate(); got != 120 { // 600 tokens in the 5 s window
		t.Errorf("rate = %v, want 120", got)
	}
	m.SetNow(t0.Add(10 * time.Second))
	if got := m.Rate(); got != 0 {
		t.Errorf("rate after silence = %v, want 0", got)
	}
}

func TestStatesAndEnd(t *testing.T) {
	m := started()
	for s, want := range map[State]string{Pausing: "PAUSING", Paused: "PAUSED", Stopping: "STOPPING"} {
		m.SetState(s)
		if v := ansi.Strip(m.View()); !strings.Contains(v, want) {
			t.Errorf("state %v not shown:\n%s", s, v)
		}
	}
	end := &engine.RunEnded{Status: engine.StatusCancelled, Reason: "cancelled", OutputTokens: 1234}
	end.Time = t0.Add(5 * time.Second)
	m.End(end)
	m.SetState(Running) // ignored once ended
	v := ansi.Strip(m.View())
	for _, want := range []string{"CANCELLED", "stopped: cancelled", "00:05", "1234 tok"} {
		if !strings.Contains(v, want) {
			t.Errorf("ended header lacks %q:\n%s", want, v)
		}
	}
}

func TestReplayBanner(t *testing.T) {
	m := started()
	m.SetReplay("a scripted demo run")
	m.SetPlayer(true, 4, false)
	v := ansi.Strip(m.View())
	if m.Height() != 3 || !strings.Contains(v, "REPLAY 4×") || !strings.Contains(v, "RECORDING of a scripted demo run — no models are running") {
		t.Errorf("replay header:\n%s", v)
	}
	for proto, want := range map[string]string{"": "RECORDING of a scripted", engine.ProtocolNSED: "RECORDING of a scripted", "majority": "RECORDING (majority) of a scripted"} {
		ev := &engine.RunStarted{Protocol: proto}
		m.Start(ev)
		if v := ansi.Strip(m.View()); !strings.Contains(v, want) {
			t.Errorf("protocol %q: replay header lacks %q:\n%s", proto, want, v)
		}
	}
	m.SetPlayer(false, 0.5, false)
	if v := ansi.Strip(m.View()); !strings.Contains(v, "⏸ REPLAY 0.5×") {
		t.Errorf("paused replay:\n%s", v)
	}
}

func TestNarrowKeepsWidth(t *testing.T) {
	m := started()
	m.SetWidth(60)
	for _, l := range strings.Split(ansi.Strip(m.View()), "\n") {
		if w := ansi.StringWidth(l); w != 60 {
			t.Errorf("line %q is %d wide", l, w)
		}
	}
}

// TestSlowStreamIsNotZero: small-model reviewers on a busy CPU stream a
// token every second or two between them, or a few at once then nothing for
// seconds while the server serves others. The status line must not read
// "0 tok/s" while they do.
func TestSlowStreamIsNotZero(t *testing.T) {
	for _, tc := range []struct {
		every time.Duration
		n     int
	}{{1500 * time.Millisecond, 1}, {4 * time.Second, 3}} {
		m := started()
		m.Phase(1, engine.PhaseReview)
		for i := range 8 {
			at := t0.Add(time.Duration(i) * tc.every)
			m.AddTokens(tc.n, at)
			for _, look := range []time.Duration{100 * time.Millisecond, tc.every - 100*time.Millisecond} {
				m.SetNow(at.Add(look))
				v := ansi.Strip(m.View())
				if strings.Contains(v, " 0 tok/s") || !strings.Contains(v, "tok/s") {
					t.Fatalf("%d tokens every %v: at %v: %s", tc.n, tc.every, at.Add(look).Sub(t0), strings.Split(v, "\n")[1])
				}
			}
		}
	}
}
