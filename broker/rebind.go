package broker

import (
	"cmp"
	"fmt"

	"github.com/nsed/nsed/engine"
)

// Agents returns the binding as the engine describes it.
func (s *Solution) Agents() []engine.AgentInfo {
	out := make([]engine.AgentInfo, len(s.Assignments))
	for i, a := range s.Assignments {
		out[i] = engine.AgentInfo{
			ID:      cmp.Or(a.Agent, fmt.Sprintf("agent-%d", a.Slot+1)),
			Role:    a.Role,
			Model:   a.Candidate.Model,
			Host:    a.Candidate.Host,
			BoundBy: "broker",
			Reason:  a.Reason,
		}
	}
	return out
}

// Bind is team bound to the solution's models. Each agent keeps its own
// options (temperature, seed, think, …): the broker chooses a model, not how
// it is sampled. Think keys a new model cannot take are the engine's to
// drop (engine.FitThink), since only the server knows what a model can do.
func (s *Solution) Bind(team []engine.AgentInfo) []engine.AgentInfo {
	own := map[string]*engine.AgentOptions{}
	for _, a := range team {
		own[a.ID] = a.Options
	}
	out := s.Agents()
	for i := range out {
		out[i].Options = own[out[i].ID]
	}
	return out
}

// SlotsFrom turns a running team back into slots for re-solving between
// rounds: each agent's binding becomes Current (kept unless a clearly
// better one appears), and pins, by agent id, hold the user's manual
// rebinds.
func SlotsFrom(agents []engine.AgentInfo, pins map[string]Binding) []RoleSlot {
	out := make([]RoleSlot, len(agents))
	for i, a := range agents {
		out[i] = RoleSlot{Agent: a.ID, Role: a.Role, Current: &Binding{Host: a.Host, Model: a.Model}}
		if p, ok := pins[a.ID]; ok {
			out[i].Pin = &p
		}
	}
	return out
}

// Rebinds lists the changes from prev to sol as Rebound events (By
// "broker", Reason the slot's reason) for the engine to apply and emit;
// the engine fills in the envelope.
func Rebinds(prev []engine.AgentInfo, sol *Solution) []engine.Rebound {
	was := map[string]engine.AgentInfo{}
	for _, a := range prev {
		was[a.ID] = a
	}
	var out []engine.Rebound
	for i, to := range sol.Bind(prev) {
		from, ok := was[to.ID]
		if ok && sameModel(from.Model, to.Model) && from.Host == to.Host {
			continue
		}
		r := engine.Rebound{From: from, To: to, By: "broker", Reason: sol.Assignments[i].Reason}
		r.Agent = to.ID
		out = append(out, r)
	}
	return out
}
