package agentpane

import (
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui/demo"
	"github.com/nsed/nsed/tui/internal/golden"
)

// The demo's first agent through the whole run (its proposals, its
// reviews, the votes it got, the end), at golden.Widths.
func TestGolden(t *testing.T) {
	evs, err := demo.Events()
	if err != nil {
		t.Fatal(err)
	}
	golden.AtWidths(t, golden.Widths, func(w int) string {
		var m *Model
		for _, e := range evs {
			if ev, ok := e.(*engine.RunStarted); ok {
				m = New(ev.Agents[0], 0, themes.Dark())
				m.SetSize(w, 14)
				m.SetReviewBudget(ev.Settings.Sampling.Review.NumPredict)
				continue
			}
			if m == nil {
				continue
			}
			mine := e.Header().Agent == m.Info().ID
			switch ev := e.(type) {
			case *engine.PhaseStarted:
				m.PhaseStarted(ev.Round, ev.Phase, ev.Time)
			case *engine.Token:
				if mine {
					m.AddTokens(ev.Phase, ev.Text, 1, ev.Time, ev.Time)
				}
			case *engine.ProposalDone:
				if mine {
					m.ProposalDone(ev)
				}
			case *engine.ReviewDone:
				if mine {
					m.ReviewDone(ev)
				}
			case *engine.VotesCast:
				if v, ok := ev.Support[m.Info().ID]; ok {
					m.SetSupport(v, ev.Winner == m.Info().ID)
				}
			case *engine.ConsensusUpdated:
				m.SummaryDone()
			case *engine.RunEnded:
				m.Finish()
				if ev.Winner == m.Info().ID {
					m.SetWinner()
				}
			}
			m.SetNow(e.Header().Time)
		}
		return m.View()
	})
}
