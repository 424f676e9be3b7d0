package broker

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestModelDPMatchesBruteForce checks the model DP on its own (Solve falls
// back to the branch and bound when it gives up or errs, which would hide
// a bug): on random small instances it applies to, started from any
// incumbent below the optimum, it finishes, and the binding it returns fits
// and is optimal; started from the optimum it proves there is nothing
// better.
func TestModelDPMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	n := 3000
	if testing.Short() {
		n = 300
	}
	checked := 0
	for i := range n {
		p := randomProblem(rng)
		in, err := compile(p)
		if err != nil || in.nr == 0 {
			continue
		}
		full := in.budgetCaps()
		d := newModelDP(in, full)
		if d == nil {
			continue
		}
		best, feasible := bruteForce(p)
		if !feasible {
			continue
		}
		checked++
		lower := best - 0.5 - rng.Float64()
		assign, _, done := d.solve(lower, 1_000_000)
		if !done || assign == nil {
			t.Fatalf("#%d: done %v, binding %v; want the optimum %.6f", i, done, assign, best)
		}
		obj, err := check(p, assign)
		if err != nil {
			t.Fatalf("#%d: binding does not fit: %v", i, err)
		}
		if math.Abs(obj-best) > 1e-6 {
			t.Fatalf("#%d: DP %.9f, brute force %.9f", i, obj, best)
		}
		if u := in.evaluate(assign, full); math.Abs(u.obj-obj) > 1e-9 {
			t.Fatalf("#%d: evaluate %.9f, check %.9f", i, u.obj, obj)
		}
		if assign, _, done := d.solve(best, 1_000_000); !done || assign != nil {
			t.Fatalf("#%d: from the optimum: done %v, binding %v", i, done, assign)
		}
	}
	if checked < n/4 {
		t.Fatalf("only %d of %d instances checked", checked, n)
	}
	t.Logf("%d instances checked", checked)
}

// TestModelDPMediumAgrees compares the DP with the plain branch and bound
// on instances beyond brute force, with more slots per class.
func TestModelDPMediumAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	n := 30
	if testing.Short() {
		n = 6
	}
	for i := range n {
		p := realisticProblem(rng, 7, 5, 0.05, 0.03)
		if i%3 == 1 {
			p.Weights.Stickiness = 0.05
			p.Roles[i%7].Current = &Binding{Model: p.Candidates[i%len(p.Candidates)].Model}
		}
		if i%3 == 2 {
			p.MaxPerModel = 2
		}
		in, err := compile(p)
		if err != nil {
			t.Fatal(err)
		}
		full := in.budgetCaps()
		d := newModelDP(in, full)
		if d == nil {
			t.Fatalf("#%d: model DP does not apply", i)
		}
		order, same := in.roleOrder()
		s := newSearch(in, full, order, same, 50_000_000)
		s.dfs(0, 0)
		if s.aborted || !s.found {
			t.Fatalf("#%d: plain search aborted or found nothing", i)
		}
		assign, _, done := d.solve(math.Inf(-1), 5_000_000)
		if !done || assign == nil {
			t.Fatalf("#%d: done %v", i, done)
		}
		u := in.evaluate(assign, full)
		if !u.ok() || math.Abs(u.obj-s.best) > 1e-9 {
			t.Fatalf("#%d: DP %.9f (fits %v), plain search %.9f", i, u.obj, u.ok(), s.best)
		}
	}
}
