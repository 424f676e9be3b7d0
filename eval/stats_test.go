package eval

import (
	"math"
	"testing"
)

func TestWilsonKnownValues(t *testing.T) {
	// Reference values of the Wilson score interval (Newcombe 1998; e.g.
	// statsmodels proportion_confint(method="wilson")).
	cases := []struct {
		k, n   int
		lo, hi float64
	}{
		{8, 10, 0.4902, 0.9433},
		{0, 10, 0.0, 0.2775},
		{10, 10, 0.7225, 1.0},
		{50, 100, 0.4038, 0.5962},
		{1, 3, 0.0615, 0.7923},
		{0, 0, 0, 1},
	}
	for _, c := range cases {
		lo, hi := Wilson(c.k, c.n, Z95)
		if math.Abs(lo-c.lo) > 5e-5 || math.Abs(hi-c.hi) > 5e-5 {
			t.Errorf("Wilson(%d, %d) = [%.4f, %.4f], want [%.4f, %.4f]", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

func TestMcNemarExactKnownValues(t *testing.T) {
	// Two-sided exact binomial p-values (scipy.stats.binomtest(min, b+c, 0.5)).
	cases := []struct {
		b, c int
		p    float64
	}{
		{1, 9, 0.021484375},
		{9, 1, 0.021484375},
		{2, 8, 0.109375},
		{3, 12, 0.03515625},
		{5, 5, 1},
		{0, 0, 1},
		{0, 6, 0.03125},
		{0, 40, 2 * math.Pow(0.5, 40)},
	}
	for _, c := range cases {
		if p := McNemarExact(c.b, c.c); math.Abs(p-c.p) > 1e-12*math.Max(1, c.p) && math.Abs(p-c.p)/c.p > 1e-9 {
			t.Errorf("McNemarExact(%d, %d) = %.10g, want %.10g", c.b, c.c, p, c.p)
		}
	}
}
