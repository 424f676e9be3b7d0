package broker

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/nsed/nsed/engine"
)

func env(kind engine.Kind, round int, agent string) engine.Envelope {
	return engine.Envelope{Kind: kind, Round: round, Agent: agent}
}

// run is two rounds of three agents; agent-3 is rebound after round 1.
func run() []engine.Event {
	return []engine.Event{
		&engine.RunStarted{Envelope: env(engine.KindRunStarted, 0, ""), Agents: []engine.AgentInfo{
			{ID: "agent-1", Role: "solver", Model: "a"},
			{ID: "agent-2", Role: "critic", Model: "b"},
			{ID: "agent-3", Role: "critic", Model: "c"},
		}},
		&engine.ProposalDone{Envelope: env(engine.KindProposalDone, 1, "agent-1"), Model: "a"},
		&engine.ProposalDone{Envelope: env(engine.KindProposalDone, 1, "agent-2"), Model: "b"},
		&engine.ProposalDone{Envelope: env(engine.KindProposalDone, 1, "agent-3"), Model: "c"},
		&engine.ReviewDone{Envelope: env(engine.KindReviewDone, 1, "agent-1"), Evaluations: []engine.Evaluation{
			{Author: "agent-2", Weight: 100}, {Author: "agent-3", Weight: -100}}},
		&engine.ReviewDone{Envelope: env(engine.KindReviewDone, 1, "agent-2"), Evaluations: []engine.Evaluation{
			{Author: "agent-1", Weight: 50}, {Author: "agent-3", Weight: 0}}},
		&engine.ReviewDone{Envelope: env(engine.KindReviewDone, 1, "agent-3"), Abstained: true, Reason: "invalid JSON"},
		&engine.VotesCast{Envelope: env(engine.KindVotesCast, 1, ""), Support: map[string]float64{"agent-1": 3, "agent-2": 1, "agent-3": -1}},
		&engine.Rebound{Envelope: env(engine.KindRebound, 2, "agent-3"), From: engine.AgentInfo{ID: "agent-3", Role: "critic", Model: "c"},
			To: engine.AgentInfo{ID: "agent-3", Model: "d"}, By: "user"},
		&engine.ProposalDone{Envelope: env(engine.KindProposalDone, 2, "agent-1"), Model: "a"},
		&engine.ProposalDone{Envelope: env(engine.KindProposalDone, 2, "agent-2"), Model: "b"},
		&engine.ProposalDone{Envelope: env(engine.KindProposalDone, 2, "agent-3"), Model: "d"},
		&engine.ReviewDone{Envelope: env(engine.KindReviewDone, 2, "agent-1"), Evaluations: []engine.Evaluation{
			{Author: "agent-2", Weight: 0}, {Author: "agent-3", Weight: 100}}},
		&engine.VotesCast{Envelope: env(engine.KindVotesCast, 2, ""), Support: map[string]float64{"agent-1": 2, "agent-2": 2, "agent-3": 2}},
		&engine.RunEnded{Envelope: env(engine.KindRunEnded, 2, ""), Status: engine.StatusCompleted},
	}
}

func TestEvidenceFrom(t *testing.T) {
	got := EvidenceFrom(run())
	want := []Observation{
		// c wrote round 1 only: reviews −100 and 0; lowest support.
		{Role: "critic", Model: "b", Evidence: Evidence{Review: (1 + 0.5) / 2, Reviews: 2, Vote: (0.5 + 0.5) / 2, Rounds: 2}},
		{Role: "critic", Model: "c", Evidence: Evidence{Review: (0 + 0.5) / 2, Reviews: 2, Vote: 0, Rounds: 1}},
		// d is agent-3 after the rebind; it keeps the critic role.
		{Role: "critic", Model: "d", Evidence: Evidence{Review: 1, Reviews: 1, Vote: 0.5, Rounds: 1}},
		{Role: "solver", Model: "a", Evidence: Evidence{Review: 0.75, Reviews: 1, Vote: (1 + 0.5) / 2, Rounds: 2}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d observations %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Role != w.Role || g.Model != w.Model || g.Reviews != w.Reviews || g.Rounds != w.Rounds ||
			math.Abs(g.Review-w.Review) > 1e-12 || math.Abs(g.Vote-w.Vote) > 1e-12 {
			t.Errorf("observation %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestStoreUpdatedAfterRun is the path a finished run takes: events →
// evidence → store → file.
func TestStoreUpdatedAfterRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quality.json")
	s, _ := Open(path, Priors{})
	before := s.Quality("solver", "a")
	s.ObserveAll(EvidenceFrom(run()))
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, Priors{})
	if err != nil {
		t.Fatal(err)
	}
	if after := r.Quality("solver", "a"); after <= before {
		t.Fatalf("solver/a quality %v after a good run, was %v", after, before)
	}
	if r.Quality("critic", "c") >= before {
		t.Fatalf("critic/c quality %v after a poor run, want below the prior %v", r.Quality("critic", "c"), before)
	}
	if got := len(r.Records()); got != 4 {
		t.Fatalf("%d records, want 4", got)
	}
}
