package broker

import (
	"strings"
	"testing"

	"github.com/nsed/nsed/engine"
)

func explainProblem() *Problem {
	slots := Slots(4, []string{"solver", "critic"})
	slots[3].Pin = &Binding{Model: "llama3.2:3b"}
	cands := []Candidate{
		{Host: "gpu", Model: "qwen3:8b", Memory: 6 * gib, MemoryMeasured: true, TokensPerSec: 40, SpeedMeasured: true, Loaded: true, LatencySec: 0.3},
		{Host: "gpu", Model: "llama3.2:3b", Memory: 3 * gib, TokensPerSec: 70, LoadSec: 2},
		{Host: "gpu", Model: "gemma3:12b", Memory: 9 * gib, TokensPerSec: 20, LoadSec: 6},
		{Host: "cpu", Model: "qwen3:8b", Memory: 6 * gib, TokensPerSec: 8, LoadSec: 5},
		{Host: "cpu", Model: "phi4-mini", Memory: 3 * gib, TokensPerSec: 12, LoadSec: 3, FailureRate: 0.2},
	}
	q := map[string]float64{"qwen3:8b": 0.7, "llama3.2:3b": 0.55, "gemma3:12b": 0.8, "phi4-mini": 0.5}
	return NewProblem(slots, cands, Budget{DefaultMemory: 10 * gib}, func(_, m string) float64 { return q[m] })
}

func TestExplain(t *testing.T) {
	sol, err := Solve(explainProblem())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Explain(&b, sol); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Binding (branch and bound, exact",
		"agent-4  critic  llama3.2:3b@gpu", // the pin
		"pinned by user",
		"shares the copy loaded for agent-1 (solver)",
		"gemma3:12b@gpu (0.80)",                                  // the runner-up a reader asks about…
		"does not fit: gpu would hold 18.0 GiB, budget 10.0 GiB", // …and why it lost
		"2 copies of the model, each worth ×0.67",
		"gpu   3       9.0 GiB      10.0 GiB (90% used)", // budget used per host
		"Q(solver)", // candidates' values per role
		"~9.0 GiB",  // an estimate is marked
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explanation lacks %q:\n%s", want, out)
		}
	}
}

func TestRunnerUpLosesOnValue(t *testing.T) {
	p := NewProblem(Slots(1, []string{"solver"}),
		[]Candidate{cand("h", "good", 1, true), cand("h", "worse", 1, true)}, Budget{},
		qualities(map[string]float64{"good": 0.8, "worse": 0.6}))
	sol, err := Solve(p)
	if err != nil {
		t.Fatal(err)
	}
	ru := sol.Assignments[0].RunnerUp
	if ru == nil || ru.Candidate.Model != "worse" || ru.Delta > -0.19 || !strings.Contains(ru.Why, "lower quality here (0.60 vs 0.80)") {
		t.Fatalf("runner-up %+v", ru)
	}
}

func TestRebindsAndSlotsFrom(t *testing.T) {
	temp := 0.3
	prev := []engine.AgentInfo{
		{ID: "agent-1", Role: "solver", Model: "a", Host: "h"},
		{ID: "agent-2", Role: "critic", Model: "gone", Host: "h", Options: &engine.AgentOptions{Temperature: &temp, Think: "true"}},
	}
	// agent-2's model failed: it is no longer a candidate. The user pinned
	// agent-1 to c.
	slots := SlotsFrom(prev, map[string]Binding{"agent-1": {Model: "c"}})
	if slots[1].Current == nil || slots[1].Current.Model != "gone" || slots[0].Pin == nil {
		t.Fatalf("slots %+v", slots)
	}
	p := NewProblem(slots, []Candidate{cand("h", "a", 1, true), cand("h", "b", 1, true), cand("h", "c", 1, true)}, Budget{}, nil)
	sol, err := Solve(p)
	if err != nil {
		t.Fatal(err)
	}
	got := Rebinds(prev, sol)
	if len(got) != 2 {
		t.Fatalf("rebinds %+v", got)
	}
	if got[0].Agent != "agent-1" || got[0].To.Model != "c" || got[0].By != "broker" || !strings.Contains(got[0].Reason, "pinned by user") {
		t.Errorf("first rebind %+v", got[0])
	}
	if got[1].Agent != "agent-2" || got[1].From.Model != "gone" || got[1].To.Model == "gone" || got[1].Reason == "" {
		t.Errorf("second rebind %+v", got[1])
	}
	// The broker chooses a model, not how it is sampled: the agent's own
	// options go with it to the new model.
	if o := got[1].To.Options; o == nil || o.Temperature == nil || *o.Temperature != temp || o.Think != "true" {
		t.Errorf("agent-2's own options lost in the rebind: %+v", o)
	}
	if team := sol.Bind(prev); team[1].Options != prev[1].Options || team[0].Options != nil || team[1].Model == "gone" {
		t.Errorf("bound team %+v", team)
	}
	// Nothing changes: no events.
	if again := Rebinds(sol.Agents(), sol); len(again) != 0 {
		t.Errorf("rebinds against itself: %+v", again)
	}
}

func TestStickinessKeepsAgentsOnATie(t *testing.T) {
	prev := []engine.AgentInfo{{ID: "agent-1", Role: "solver", Model: "b", Host: "h"}}
	p := NewProblem(SlotsFrom(prev, nil), []Candidate{cand("h", "a", 1, true), cand("h", "b", 1, true)}, Budget{}, nil)
	sol, err := Solve(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(Rebinds(prev, sol)) != 0 {
		t.Fatalf("rebound on a tie: %+v", sol.Agents())
	}
}
