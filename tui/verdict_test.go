package tui

import (
	"strings"
	"testing"

	"github.com/nsed/nsed/engine"
)

// verdictEvents is the demo run as the engine now reports it: every
// round's votes carry answer clusters; in round 1 a2's proposal addresses
// its reviewers (flagged); in round 3 a1 thinks away its budget twice and
// has no answer (it streams nothing), and a3's prompt overflows max_ctx.
func verdictEvents(t *testing.T) []engine.Event {
	t.Helper()
	var out []engine.Event
	answers := map[int]map[string]string{} // round -> agent -> answer
	for _, e := range demoEvents(t) {
		h := e.Header()
		switch ev := e.(type) {
		case *engine.Token:
			if h.Round == 3 && h.Agent == "a1" && h.Phase == engine.PhasePropose {
				continue
			}
		case *engine.ProposalDone:
			switch {
			case h.Round == 1 && h.Agent == "a2":
				ev.Flags = []string{"addresses reviewers", "score request"}
			case h.Round == 3 && h.Agent == "a1":
				ev.Text, ev.Answer, ev.NoAnswer = "", "", engine.NoAnswerThinking
				ev.Stats.ThinkRetried = true
			case h.Round == 3 && h.Agent == "a3":
				ev.Stats.NumCtx, ev.Stats.ContextWarning = 4096, "the prompt needs about 5000 tokens but the context is capped at 4096: raise deliberation.max_ctx"
			}
			if answers[h.Round] == nil {
				answers[h.Round] = map[string]string{}
			}
			answers[h.Round][h.Agent] = ev.Answer
		case *engine.VotesCast:
			ev.Clusters, ev.Cluster = clustersOf(answers[h.Round], ev.Support, ev.Winner)
		case *engine.RoundEnded:
			ev.Cluster = "c1"
		}
		out = append(out, e)
	}
	return out
}

// clustersOf groups a round's answers by the engine's answer key, in agent
// order, with their support; the winner's cluster is the winning one.
func clustersOf(answers map[string]string, support map[string]float64, winner string) ([]engine.Cluster, string) {
	var cs []engine.Cluster
	win := ""
	for _, a := range []string{"a1", "a2", "a3"} {
		k := engine.AnswerKey(answers[a])
		if k == engine.NoAnswerKey {
			continue
		}
		i := 0
		for i < len(cs) && cs[i].Key != k {
			i++
		}
		if i == len(cs) {
			cs = append(cs, engine.Cluster{ID: "c" + itoa(i+1), Key: k, Answer: answers[a]})
		}
		cs[i].Members = append(cs[i].Members, a)
		cs[i].Support += support[a]
		if a == winner {
			win = cs[i].ID
		}
	}
	return cs, win
}

// TestVerdictsOnScreen feeds the whole run to the live screen and to a
// replay and checks, at every size, that the flagged proposal, the
// no-answer proposal, the warnings and the clusters are on the screen
// without scrolling to them.
func TestVerdictsOnScreen(t *testing.T) {
	evs := verdictEvents(t)
	round1 := cut(t, evs, isKind(1, engine.KindVotesCast))
	moments := []struct {
		name string
		n    int
		want []string
		not  []string
	}{
		{"round1", round1, []string{"⚑ flagged", "answer: $0.10", "answer: $0.05", "2 answer(s) · winner a1", "★ $0.05", "$0.10"}, []string{"no answer"}},
		// A call's warnings stand until its agent's next call ends.
		{"review3", cut(t, evs, isPhase(3, engine.PhaseReview)), []string{"no answer (thinking", "⚠ retried", "ctx 4096"}, []string{"⚑ flagged"}},
		{"final", len(evs), []string{"no answer (thinking", "1 answer(s) · winner a2", "no answer: a1", "★ $0.05"}, []string{"⚑ flagged", "⚠ retried"}},
	}
	for _, mo := range moments {
		for _, sz := range sizes {
			t.Run(mo.name+"/"+sizeName(sz), func(t *testing.T) {
				s := plain(liveModel(evs[:mo.n], sz[0], sz[1]))
				checkShape(t, s, sz[0], sz[1])
				for _, w := range mo.want {
					if !strings.Contains(s, w) {
						t.Errorf("screen lacks %q", w)
					}
				}
				for _, w := range mo.not {
					if strings.Contains(s, w) {
						t.Errorf("screen has %q", w)
					}
				}
				if t.Failed() {
					t.Logf("\n%s", s)
				}
				checkGolden(t, "", s)
			})
		}
	}
	// A replay runs the same events through the same screen: stepped to
	// the end, its panes say what the live screen's say.
	live := liveModel(evs, 120, 40)
	m := replayModel(evs, 120, 40, true)
	for m.player.pos < len(evs) {
		drive(m, keyMsg("n"))
	}
	for i, p := range m.agents {
		if got, want := p.Answer(), live.agents[i].Answer(); got != want || got == "" {
			t.Errorf("agent %d: replay says %q, live %q", i, got, want)
		}
	}
	if s := plain(m); !strings.Contains(s, "no answer (thinking") || !strings.Contains(s, "no answer: a1") {
		t.Errorf("replay screen lacks the no-answer proposal:\n%s", s)
	}
}
