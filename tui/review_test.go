package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/tui/bridge"
)

var r0 = time.Date(2026, 12, 1, 23, 15, 0, 0, time.UTC)

// reviewRun is a small-model run up to its review phase: three agents,
// whose proposals (but for failedID's, if set) are in.
type reviewRun struct {
	t     *testing.T
	m     *Model
	now   time.Time
	seq   int64
	chunk int // review tokens streamed, for the chunks' times
}

func newReviewRun(t *testing.T, w, h int, failedID string) *reviewRun {
	r := &reviewRun{t: t, now: r0}
	r.m = New(Options{Now: func() time.Time { return r.now }})
	r.m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	s := engine.DefaultSettings()
	s.MaxRounds = 2
	s.Sampling.Review.NumPredict = 300
	agents := []engine.AgentInfo{
		{ID: "agent-1", Role: "solver", Model: "smollm2:135m"},
		{ID: "agent-2", Role: "critic", Model: "smollm2:135m"},
		{ID: "agent-3", Role: "synthesiser", Model: "smollm2:135m"},
	}
	evs := []engine.Event{
		r.ev(&engine.RunStarted{Question: "What is 17 times 23?", Agents: agents, Settings: s}, engine.KindRunStarted, 0, "", ""),
		r.ev(&engine.PhaseStarted{}, engine.KindPhaseStarted, 1, engine.PhasePropose, ""),
	}
	for _, a := range agents {
		if a.ID == failedID {
			evs = append(evs, r.ev(&engine.AgentFailed{Model: a.Model, Error: "call_timeout"}, engine.KindAgentFailed, 1, engine.PhasePropose, a.ID))
			continue
		}
		evs = append(evs, r.ev(&engine.ProposalDone{Model: a.Model, Text: "17 × 23 = 391.\nFINAL ANSWER: 391"}, engine.KindProposalDone, 1, engine.PhasePropose, a.ID))
	}
	r.send(append(evs, r.ev(&engine.PhaseStarted{}, engine.KindPhaseStarted, 1, engine.PhaseReview, ""))...)
	return r
}

func (r *reviewRun) ev(e engine.Event, k engine.Kind, round int, p engine.Phase, agent string) engine.Event {
	r.seq++
	h := e.Header()
	h.V, h.Seq, h.Time, h.Kind, h.Round, h.Phase, h.Agent = 1, r.seq, r.now, k, round, p, agent
	return e
}

func (r *reviewRun) send(evs ...engine.Event) { r.m.Update(bridge.EventsMsg{Events: evs}) }

// tokens streams text as n review tokens of agent over the last d.
func (r *reviewRun) tokens(agent, text string, n int, d time.Duration) {
	r.now = r.now.Add(d)
	c := &bridge.Chunk{Text: text, N: n, First: r.now.Add(-d + d/time.Duration(n))}
	r.ev(c, engine.KindToken, 1, engine.PhaseReview, agent)
	r.send(c)
}

// tick is the screen's one-second clock, with no event.
func (r *reviewRun) tick(d time.Duration) {
	r.now = r.now.Add(d)
	r.m.Update(clockMsg(r.now))
}

// pane is agent's pane as drawn on the screen.
func (r *reviewRun) pane(agent string) string {
	r.t.Helper()
	i, ok := r.m.byID[agent]
	if !ok {
		r.t.Fatalf("no pane for %s", agent)
	}
	return ansi.Strip(r.m.agents[i].View())
}

// TestReviewProgressMoves is the frozen-screen fix: while reviews stream,
// each reviewer's pane shows its elapsed time (moving on the screen's
// clock, with no event), its tokens and rate, and which labels it has
// scored; the header's rate counts review tokens.
func TestReviewProgressMoves(t *testing.T) {
	for _, w := range []int{80, 120} {
		r := newReviewRun(t, w, 30, "")
		if p := r.pane("agent-1"); !strings.Contains(p, "⏱ 00:00") || !strings.Contains(p, map[int]string{80: "no tokens yet", 120: "waiting for the first token"}[w]) {
			t.Fatalf("%d cols: a review with no token yet:\n%s", w, p)
		}
		// Nothing arrives for 4 s (the prompt being read): the clock moves.
		for range 4 {
			r.tick(time.Second)
		}
		if p := r.pane("agent-1"); !strings.Contains(p, "⏱ 00:04") {
			t.Fatalf("%d cols: elapsed time did not move with the clock:\n%s", w, p)
		}
		r.tokens("agent-1", "{\n  \"A\": {\n    \"claims\" : [", 10, 2*time.Second)
		p := r.pane("agent-1")
		for _, want := range []string{"⏱ 00:06", "10 tok", "writing A", "1 to go"} {
			if !strings.Contains(p, want) {
				t.Errorf("%d cols: pane lacks %q:\n%s", w, want, p)
			}
		}
		if hdr := strings.Split(plain(r.m), "\n")[1]; strings.Contains(hdr, " 0 tok/s") || !strings.Contains(hdr, "review") {
			t.Errorf("%d cols: header during review tokens: %s", w, hdr)
		}
		r.tokens("agent-1", "]\n, \"weight\": 10 }\n\n,\n\"B", 10, 2*time.Second)
		r.tokens("agent-1", "\": {", 2, time.Second)
		p = r.pane("agent-1")
		for _, want := range []string{"⏱ 00:09", "22 tok", "scored A · writing B"} {
			if !strings.Contains(p, want) {
				t.Errorf("%d cols: pane lacks %q:\n%s", w, want, p)
			}
		}
		// Another reviewer's tokens do not move this one's labels.
		r.tokens("agent-2", `{"A": {}, "B": {`, 8, time.Second)
		if p := r.pane("agent-1"); !strings.Contains(p, "scored A · writing B") || !strings.Contains(r.pane("agent-2"), "scored A · writing B") {
			t.Errorf("%d cols: panes mixed up:\n%s\n%s", w, p, r.pane("agent-2"))
		}
		r.tokens("agent-1", "\"weight\": -20 }\n}", 6, time.Second)
		if p := r.pane("agent-1"); !strings.Contains(p, "scored A, B · finished") {
			t.Errorf("%d cols: closed review:\n%s", w, p)
		}
		// The labels' authors arrive with review_done.
		done := &engine.ReviewDone{Model: "smollm2:135m", Labels: map[string]string{"A": "agent-3", "B": "agent-2"}, Stats: engine.CallStats{OutputTokens: 29, TokensPerSec: 5.2}}
		r.send(r.ev(done, engine.KindReviewDone, 1, engine.PhaseReview, "agent-1"))
		p = r.pane("agent-1")
		want := "reviewed in 00:11"
		if w >= 120 {
			want = "took 00:11 · A agent-3, B agent-2"
		}
		if !strings.Contains(p, want) || !strings.Contains(p, "29 tok") {
			t.Errorf("%d cols: after review_done, want %q:\n%s", w, want, p)
		}
		// Done is done: the clock no longer moves it.
		r.tick(5 * time.Second)
		if p := r.pane("agent-1"); !strings.Contains(p, "00:11") {
			t.Errorf("%d cols: a finished review's time moved:\n%s", w, p)
		}
		checkShape(t, plain(r.m), w, 30)
	}
}

// TestFailedProposerDoesNotReview: an agent whose proposal failed sits the
// review out (the engine gives it nothing to review), so its pane keeps its
// failure instead of a review clock that never ends.
func TestFailedProposerDoesNotReview(t *testing.T) {
	r := newReviewRun(t, 120, 30, "agent-2")
	r.tick(3 * time.Second)
	p := r.pane("agent-2")
	if strings.Contains(p, "reviewing") || strings.Contains(p, "⏱") || !strings.Contains(p, "failed") || !strings.Contains(p, "call_timeout") {
		t.Errorf("failed proposer's pane during review:\n%s", p)
	}
	// Its peers each have one candidate.
	r.tokens("agent-1", `{"A": {`, 3, time.Second)
	if p := r.pane("agent-1"); !strings.Contains(p, "writing A") || strings.Contains(p, "to go") {
		t.Errorf("reviewer of one candidate:\n%s", p)
	}
}
