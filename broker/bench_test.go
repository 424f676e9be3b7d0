package broker

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// labProblem is shaped like the largest setup the broker supports: nModels
// models (0.5–12.5 GiB, quality a model effect around the 0.5 prior plus
// a smaller role effect) installed on every one of nHosts hosts of 24, 16,
// 12 and 8 GiB, fast to slow, a quarter of them loaded; roles agents of
// distinct roles. With roundSeconds > 0 the round-time budget applies.
func labProblem(rng *rand.Rand, roles, nModels, nHosts int, roundSeconds float64) *Problem {
	sizes, effect := make([]float64, nModels), make([]float64, nModels)
	for m := range sizes {
		sizes[m] = 0.5 + rng.Float64()*12
		effect[m] = rng.NormFloat64() * 0.05
	}
	name := func(m int) string { return fmt.Sprintf("model%02d", m) }
	mems := []int64{24 * gib, 16 * gib, 12 * gib, 8 * gib}
	b := Budget{Memory: map[string]int64{}, RoundSeconds: roundSeconds}
	var cands []Candidate
	for h := range nHosts {
		host := fmt.Sprintf("host%d", h)
		b.Memory[host] = mems[h%len(mems)]
		for m := range nModels {
			cands = append(cands, Candidate{
				Host: host, Model: name(m),
				Memory: int64(sizes[m] * gib), TokensPerSec: 150 / sizes[m] * float64(4-h%4) / 2,
				LatencySec: 0.2, Loaded: rng.IntN(4) == 0, LoadSec: 1 + sizes[m],
			})
		}
	}
	roleNames := []string{"solver", "critic", "skeptic", "verifier", "synthesiser", "planner", "historian", "judge"}
	q := map[[2]string]float64{}
	for _, r := range roleNames {
		for m := range nModels {
			q[[2]string{r, name(m)}] = clamp01(0.5 + effect[m] + 0.03*rng.NormFloat64())
		}
	}
	return NewProblem(Slots(roles, roleNames), cands, b, func(r, m string) float64 { return q[[2]string{r, m}] })
}

// The largest supported size: 8 agents over 50 models on each of 4 hosts
// (200 candidates), without and with a round-time budget.
func BenchmarkSolve8x50x4(b *testing.B) {
	benchSolve(b, func(rng *rand.Rand) *Problem { return labProblem(rng, 8, 50, 4, 0) })
}

func BenchmarkSolve8x50x4Budget(b *testing.B) {
	benchSolve(b, func(rng *rand.Rand) *Problem { return labProblem(rng, 8, 50, 4, 300) })
}

// Typical: 5 agents over 20 models on 2 hosts.
func BenchmarkSolve5x20x2(b *testing.B) {
	benchSolve(b, func(rng *rand.Rand) *Problem { return labProblem(rng, 5, 20, 2, 0) })
}

func BenchmarkSolve5x20x2Budget(b *testing.B) {
	benchSolve(b, func(rng *rand.Rand) *Problem { return labProblem(rng, 5, 20, 2, 300) })
}
