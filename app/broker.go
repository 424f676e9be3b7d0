package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/nsed/nsed/broker"
	"github.com/nsed/nsed/config"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// budget is the broker's memory budget per host: a [[hosts]] table's own
// vram_budget, else --vram-budget, else [broker] vram_budget; none means
// unlimited.
func (s *Session) budget() (broker.Budget, error) {
	v := s.Config.Broker.VRAMBudget
	if s.flags.given("vram-budget") {
		v = s.flags.VRAMBudget
	}
	var b broker.Budget
	if v != "" {
		n, err := config.ParseBytes(v)
		if err != nil {
			return b, Usagef("--vram-budget: %v", err)
		}
		b.DefaultMemory = n
	}
	for host, c := range s.Config.Capacities() {
		if c.VRAMBudget > 0 {
			if b.Memory == nil {
				b.Memory = map[string]int64{}
			}
			b.Memory[host] = c.VRAMBudget
		}
	}
	return b, nil
}

// served is what [[hosts]] says of the models on OpenAI-compatible
// servers, which report neither their memory nor a size to guess a speed
// from.
func (s *Session) served() map[string]broker.Served {
	out := map[string]broker.Served{}
	for host, c := range s.Config.Capacities() {
		out[host] = broker.Served{Memory: c.ModelMemory, TokensPerSec: c.TokensPerSec}
	}
	return out
}

// priors are the quality store's priors from [broker].
func (s *Session) priors() broker.Priors {
	return broker.Priors{Default: s.Config.Broker.DefaultPrior, Roles: s.Config.Broker.Priors}
}

// solve reads telemetry from every host, opens the quality store, and
// solves the binding of slots within budget. Hosts that do not answer are
// skipped with a warning unless none does.
func (s *Session) solve(ctx context.Context, slots []broker.RoleSlot, budget broker.Budget, meter *models.Meter, warn func(string)) (*broker.Solution, error) {
	infos, skipped, err := s.listModels(ctx, meter)
	if err != nil {
		return nil, err
	}
	for _, err := range skipped {
		warn(err.Error() + " (skipping that host)")
	}
	store, err := broker.Open(s.flags.Store, s.priors())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		warn(fmt.Sprintf("no quality store at %s yet: expected qualities are the configured priors", store.Path()))
	case err != nil:
		warn(err.Error())
	}
	cands := broker.WithServed(broker.Candidates(infos, store), s.served())
	p := broker.NewProblem(slots, cands, budget, store.Quality)
	if d := s.Config.Broker.Diversity; d > 0 {
		p.Weights.Correlation = min(d, 1)
	}
	return broker.Solve(p)
}

// bindByBroker replaces the agents' models with the broker's binding.
func (s *Session) bindByBroker(ctx context.Context) error {
	if s.ollama == nil {
		return Usagef("--broker needs Ollama servers to read telemetry from")
	}
	slots := broker.SlotsFrom(s.Agents, nil)
	for i := range slots {
		slots[i].Current = nil // the configured models are suggestions, not incumbents
	}
	budget, err := s.budget()
	if err != nil {
		return err
	}
	sol, err := s.solve(ctx, slots, budget, nil, s.warn)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	s.Agents = sol.Bind(s.Agents)
	for i, a := range s.Agents {
		if to, note := engine.FitThink(ctx, s.Backend, a, s.Settings.Sampling); note != "" {
			s.Agents[i], a = to, to
			s.warn("broker: " + note)
		}
		s.warn(fmt.Sprintf("broker bound %s (%s) to %s%s: %s", a.ID, a.Role, a.Model, hostSuffix(a.Host), a.Reason))
	}
	return nil
}

func hostSuffix(h string) string {
	if h == "" {
		return ""
	}
	return " @" + h
}

// rebalancer re-runs the broker between rounds on fresh telemetry (the
// meter's measured speeds and failures included), keeping the current team
// unless a clearly better one appears and honouring the user's rebinds as
// pins.
func (s *Session) rebalancer(meter *models.Meter) func(context.Context, []engine.AgentInfo, map[string]bool, map[string]engine.AgentInfo) ([]engine.Rebound, error) {
	return func(ctx context.Context, agents []engine.AgentInfo, failed map[string]bool, pins map[string]engine.AgentInfo) ([]engine.Rebound, error) {
		bp := map[string]broker.Binding{}
		for id, a := range pins {
			bp[id] = broker.Binding{Host: a.Host, Model: a.Model}
		}
		slots := broker.SlotsFrom(agents, bp)
		for i := range slots {
			if failed[slots[i].Agent] {
				slots[i].Current = nil // no loyalty to a model that just failed
			}
		}
		budget, err := s.budget()
		if err != nil {
			return nil, err
		}
		// Mid-run there is no terminal line to warn on (the TUI owns the
		// screen); the decision and its reason are events.
		sol, err := s.solve(ctx, slots, budget, meter, func(string) {})
		if err != nil {
			return nil, err
		}
		return broker.Rebinds(agents, sol), nil
	}
}

// learn feeds a finished run's evidence — peer-review scores received and
// vote share won per role and model — into the broker's quality store, with
// the telemetry measured on the way. Failing to learn never fails the run.
func (s *Session) learn(ctx context.Context, rec *broker.Recorder, meter *models.Meter) {
	obs := broker.EvidenceFrom(rec.Events())
	if len(obs) == 0 {
		return
	}
	store, err := broker.Open(s.flags.Store, s.priors())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.warn(err.Error())
	}
	store.ObserveAll(obs)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if infos, _, err := s.listModels(ctx, meter); err == nil {
		store.RememberTelemetry(infos)
	}
	if err := store.Save(); err != nil {
		s.warn("quality store not updated: " + err.Error())
	}
}

// BindQuery is what `nsed broker` asks: a binding for Roles agents (0: as
// many as nsed.toml has), some pinned, within RoundSeconds per round (0:
// unlimited) and the memory budget.
type BindQuery struct {
	Roles        int
	Pins         map[string]broker.Binding // agent id → model, host optional
	RoundSeconds float64
}

// Bind solves q without running anything.
func (s *Session) Bind(ctx context.Context, q BindQuery) (*broker.Solution, error) {
	budget, err := s.budget()
	if err != nil {
		return nil, err
	}
	if q.RoundSeconds < 0 {
		return nil, Usagef("--round-seconds must be zero (unlimited) or positive")
	}
	budget.RoundSeconds = q.RoundSeconds
	n := q.Roles
	if n == 0 {
		n = len(s.Config.Agents)
	}
	if n < 1 {
		return nil, Usagef("--roles must be at least 1")
	}
	var roles []string
	for _, a := range s.Config.Agents {
		roles = append(roles, a.Role)
	}
	slots := broker.Slots(n, roles)
	for agent, b := range q.Pins {
		i := -1
		for j, sl := range slots {
			if sl.Agent == agent {
				i = j
			}
		}
		if i < 0 {
			return nil, Usagef("--pin %s: no such agent (agent-1 … agent-%d)", agent, n)
		}
		if b.Host != "" {
			if b.Host, err = models.NormalizeHost(b.Host); err != nil {
				return nil, Usagef("--pin %s: %v", agent, err)
			}
		}
		slots[i].Pin = &b
	}
	if s.ollama == nil {
		return nil, Usagef("the broker needs Ollama servers to read telemetry from")
	}
	return s.solve(ctx, slots, budget, nil, s.warn)
}
