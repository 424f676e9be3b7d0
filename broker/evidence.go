package broker

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"github.com/nsed/nsed/engine"
)

// EvidenceFrom computes, from the events of a finished run, what the run
// showed of each (role, model) pair: the mean peer-review endorsement its
// proposals received and its mean per-round vote support, each scaled to
// [0, 1]. A proposal is credited to the model that wrote it (ProposalDone),
// so rebinds mid-run credit each model with its own rounds. Abstentions
// carry no evidence. Feed the result to Store.ObserveAll.
func EvidenceFrom(events []engine.Event) []Observation {
	type key struct{ role, model string }
	type turn struct {
		round int
		agent string
	}
	type acc struct {
		review, vote    float64
		reviews, rounds int
	}
	bound := map[string]engine.AgentInfo{} // agent → binding in force
	wrote := map[turn]key{}                // who wrote each round's proposal
	sums := map[key]*acc{}
	author := func(round int, agent string) (key, bool) {
		if k, ok := wrote[turn{round, agent}]; ok {
			return k, true
		}
		b, ok := bound[agent]
		return key{b.Role, b.Model}, ok && b.Model != ""
	}
	get := func(k key) *acc {
		a := sums[k]
		if a == nil {
			a = &acc{}
			sums[k] = a
		}
		return a
	}
	for _, ev := range events {
		switch e := ev.(type) {
		case *engine.RunStarted:
			for _, a := range e.Agents {
				bound[a.ID] = a
			}
		case *engine.Rebound:
			to := e.To
			if to.Role == "" {
				to.Role = bound[e.Agent].Role
			}
			bound[cmp.Or(to.ID, e.Agent)] = to
		case *engine.ProposalDone:
			b := bound[e.Agent]
			wrote[turn{e.Round, e.Agent}] = key{b.Role, cmp.Or(e.Model, b.Model)}
		case *engine.ReviewDone:
			if e.Abstained {
				continue
			}
			for _, v := range e.Evaluations {
				k, ok := author(e.Round, v.Author)
				if !ok {
					continue
				}
				a := get(k)
				a.review += (float64(min(max(v.Weight, -100), 100)) + 100) / 200
				a.reviews++
			}
		case *engine.VotesCast:
			if len(e.Support) < 2 {
				continue
			}
			lo, hi := 0.0, 0.0
			first := true
			for _, s := range e.Support {
				if first || s < lo {
					lo = s
				}
				if first || s > hi {
					hi = s
				}
				first = false
			}
			for agent, s := range e.Support {
				k, ok := author(e.Round, agent)
				if !ok {
					continue
				}
				x := 0.5
				if hi > lo {
					x = (s - lo) / (hi - lo)
				}
				a := get(k)
				a.vote += x
				a.rounds++
			}
		}
	}
	out := make([]Observation, 0, len(sums))
	for k, a := range sums {
		o := Observation{Role: k.role, Model: k.model}
		if a.reviews > 0 {
			o.Review, o.Reviews = a.review/float64(a.reviews), a.reviews
		}
		if a.rounds > 0 {
			o.Vote, o.Rounds = a.vote/float64(a.rounds), a.rounds
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Observation) int {
		if c := strings.Compare(a.Role, b.Role); c != 0 {
			return c
		}
		return strings.Compare(a.Model, b.Model)
	})
	return out
}

// Recorder is an engine.Sink that keeps a run's events, all but streamed
// tokens, for EvidenceFrom. It is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []engine.Event
}

// Emit keeps e unless it is a token.
func (r *Recorder) Emit(e engine.Event) {
	if _, ok := e.(*engine.Token); ok {
		return
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns what was kept so far.
func (r *Recorder) Events() []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}
