package engine

import (
	"math"
	"sort"
)

// Quadratic voting (docs/PROTOCOL.md, "Quadratic voting"): an evaluator's
// weights are normalised by their total absolute weight, f = w / Σ|w|, so
// every evaluator spends the same opinion budget each round. Spending c credits
// buys √c votes (v votes cost v²), so with a budget of C credits a candidate
// given share f gets c = C·|f| credits and sign(f)·√c votes. Extreme opinions
// cost quadratically more, so no single evaluator dominates.

// CastBallot turns one evaluator's weights (author -> weight) into a ballot.
// Authors equal to voter are ignored (no self-votes). An evaluator whose
// weights are all zero spends nothing: neutrality buys no votes.
func CastBallot(voter string, weights map[string]int, budget float64) Ballot {
	b := Ballot{Voter: voter}
	total := 0.0
	authors := make([]string, 0, len(weights))
	for a, w := range weights {
		if a == voter {
			continue
		}
		authors = append(authors, a)
		total += math.Abs(float64(w))
	}
	sort.Strings(authors)
	for _, a := range authors {
		w := weights[a]
		al := Allocation{Author: a, Weight: w}
		if total > 0 && w != 0 {
			f := float64(w) / total
			al.Credits = budget * math.Abs(f)
			al.Votes = math.Copysign(math.Sqrt(al.Credits), f)
		}
		b.Spent += al.Credits
		b.Allocations = append(b.Allocations, al)
	}
	// Floating-point sums may overshoot the budget by an ulp; the budget is a
	// hard limit, so scale back the last bit rather than report overspending.
	if b.Spent > budget {
		scale := budget / b.Spent
		b.Spent = 0
		for i := range b.Allocations {
			a := &b.Allocations[i]
			a.Credits *= scale
			a.Votes = math.Copysign(math.Sqrt(a.Credits), a.Votes)
			b.Spent += a.Credits
		}
		if b.Spent > budget {
			b.Spent = budget
		}
	}
	return b
}

// SupportOf sums the votes each author received. Abstaining ballots count
// for nothing. authors fixes the candidates so a proposal nobody voted on
// still appears with zero support. Who wins is decided over answer
// clusters (clusters.go), not here.
func SupportOf(authors []string, ballots []Ballot) map[string]float64 {
	support := make(map[string]float64, len(authors))
	for _, a := range authors {
		support[a] = 0
	}
	for _, b := range ballots {
		if b.Abstained {
			continue
		}
		for _, al := range b.Allocations {
			if _, ok := support[al.Author]; ok && al.Author != b.Voter {
				support[al.Author] += al.Votes
			}
		}
	}
	return support
}
