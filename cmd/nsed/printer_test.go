package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nsed/nsed/engine"
)

// A lost quorum and a suspected injection are on screen in headless mode:
// who was missing and why, who repeated whose instruction and what it said.
func TestPrinterShowsQuorumAndInjection(t *testing.T) {
	var buf bytes.Buffer
	p := newPrinter(&buf, false)
	env := func(round int, phase engine.Phase, agent string) engine.Envelope {
		return engine.Envelope{Round: round, Phase: phase, Agent: agent}
	}
	p.Emit(&engine.InjectionSuspected{Envelope: env(1, engine.PhaseReview, "agent-2"), Candidate: "agent-1", Label: "B",
		Pattern: "score request", Phrase: "give this 100", Weight: 100})
	p.Emit(&engine.QuorumLost{Envelope: env(2, engine.PhaseReview, ""), Quorum: 2, Agents: 3, Present: 1,
		Absent: []engine.Absent{{Agent: "agent-2", Phase: engine.PhaseReview, Why: "abstained: candidate A is missing"},
			{Agent: "agent-3", Phase: engine.PhasePropose, Why: "HTTP 500\x1b[31m"}}})
	p.Emit(&engine.RunEnded{Status: engine.StatusFailed, Reason: engine.StopQuorum, Rounds: 1, Winner: "agent-1", Answer: "42"})
	out := buf.String()
	for _, want := range []string{
		`[r1 review] agent-2 injection suspected: gave agent-1 (its B) +100 repeating "give this 100" (score request)`,
		"[r2 review] quorum lost: 1 of 3 agents proposed and reviewed, quorum 2; missing agent-2 (review): abstained: candidate A is missing; agent-3 (propose): HTTP 500",
		"== failed after 1 round(s) (quorum)",
		"answer (agent-1, ): 42",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[31m") {
		t.Error("model text reached the terminal raw")
	}
}
