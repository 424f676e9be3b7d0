package broker

import (
	"math/rand/v2"
	"testing"
)

func TestProbe(t *testing.T) {
	for _, v := range []struct {
		name string
		mem  int64
		rho  float64
		rs   float64
	}{{"base", 16 * gib, 0.5, 600}, {"nomem", 0, 0.5, 600}, {"rho0", 16 * gib, 0, 600}, {"notime", 16 * gib, 0.5, 0}, {"nomem-rho0", 0, 0, 0}} {
		rng := rand.New(rand.NewPCG(7, 8))
		for i := 0; i < 4; i++ {
			p := benchProblem(rng, 12, 30, 3)
			p.Budget.DefaultMemory = v.mem
			p.Weights.Correlation = v.rho
			p.Budget.RoundSeconds = v.rs
			p.MaxNodes = 3_000_000
			sol, err := Solve(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s #%d: nodes %d exact %v obj %.4f models %d %v", v.name, i, sol.Nodes, sol.Exact, sol.Objective, sol.Models, sol.Elapsed)
		}
	}
}
