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

func TestPairedBootstrapMatchesNormalTheoryOnALargeSample(t *testing.T) {
	// 1,000 items: 200 only A right (+1), 100 only B right (−1), 700 tied.
	// Mean 0.1, plug-in variance E[d²]−mean² = 0.3−0.01 = 0.29, so the
	// normal-theory interval is 0.1 ± 1.96·√(0.29/1000) = [0.0666, 0.1334];
	// the percentile bootstrap converges to it.
	var d []float64
	for i := 0; i < 1000; i++ {
		switch {
		case i < 200:
			d = append(d, 1)
		case i < 300:
			d = append(d, -1)
		default:
			d = append(d, 0)
		}
	}
	lo, hi := PairedBootstrap(d, BootstrapResamples, BootstrapSeed)
	half := Z95 * math.Sqrt(0.29/1000)
	if math.Abs(lo-(0.1-half)) > 0.003 || math.Abs(hi-(0.1+half)) > 0.003 {
		t.Errorf("bootstrap [%.4f, %.4f], want ≈ [%.4f, %.4f]", lo, hi, 0.1-half, 0.1+half)
	}
	if lo2, hi2 := PairedBootstrap(d, BootstrapResamples, BootstrapSeed); lo2 != lo || hi2 != hi {
		t.Errorf("the same seed gave [%g, %g] then [%g, %g]", lo, hi, lo2, hi2)
	}
}

func TestPairedBootstrapSmallCases(t *testing.T) {
	// Two items d = {0, 1}: a resample's mean is 0, ½ or 1 with chances
	// ¼, ½, ¼, so the 2.5th and 97.5th percentiles are 0 and 1.
	if lo, hi := PairedBootstrap([]float64{0, 1}, BootstrapResamples, BootstrapSeed); lo != 0 || hi != 1 {
		t.Errorf("d={0,1}: [%g, %g], want [0, 1]", lo, hi)
	}
	// Every item the same difference: no spread.
	if lo, hi := PairedBootstrap([]float64{0.5, 0.5, 0.5}, 100, 1); lo != 0.5 || hi != 0.5 {
		t.Errorf("constant: [%g, %g], want [0.5, 0.5]", lo, hi)
	}
	if lo, hi := PairedBootstrap(nil, 100, 1); lo != 0 || hi != 0 {
		t.Errorf("empty: [%g, %g]", lo, hi)
	}
}

func TestHolmTextbook(t *testing.T) {
	// Holm (1979) as in Wikipedia's example and R's
	// p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm"): 0.03 0.06 0.06 0.02.
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
	// Capped at 1, monotone in the sorted order.
	got = Holm([]float64{0.5, 0.4, 0.02})
	want = []float64{0.8, 0.8, 0.06}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
	if got := Holm([]float64{0.6, 0.7}); got[0] != 1 || got[1] != 1 {
		t.Errorf("Holm = %v, want capped at 1", got)
	}
}

func TestClusteredMeanHandComputed(t *testing.T) {
	// Items {1,1}, {0,1}, {0,0}: p̂ = 3/6 = 0.5; the items' residual sums
	// are 1, 0, −1, so SE² = 3/2 · 2/36 = 1/12, the variance of the item
	// means (1, ½, 0) over G = 3.
	m, se := ClusteredMean([][]float64{{1, 1}, {0, 1}, {0, 0}})
	if m != 0.5 || math.Abs(se-math.Sqrt(1.0/12)) > 1e-12 {
		t.Errorf("equal clusters: %g ± %g, want 0.5 ± %g", m, se, math.Sqrt(1.0/12))
	}
	// Unequal clusters {1}, {0,0,1}: p̂ = 0.5, residual sums 0.5 and −0.5,
	// SE² = 2 · 0.5/16 = 1/16.
	m, se = ClusteredMean([][]float64{{1}, {0, 0, 1}})
	if m != 0.5 || math.Abs(se-0.25) > 1e-12 {
		t.Errorf("unequal clusters: %g ± %g, want 0.5 ± 0.25", m, se)
	}
	// One sample per item: p̂(1−p̂)/(G−1).
	m, se = ClusteredMean([][]float64{{1}, {1}, {0}, {1}})
	if want := math.Sqrt(0.75 * 0.25 / 3); m != 0.75 || math.Abs(se-want) > 1e-12 {
		t.Errorf("K=1: %g ± %g, want 0.75 ± %g", m, se, want)
	}
	// The correlation matters: perfectly correlated samples (items all or
	// nothing) have the SE of G draws, not of N.
	_, se = ClusteredMean([][]float64{{1, 1, 1, 1}, {0, 0, 0, 0}})
	if naive := math.Sqrt(0.25 / 8); se <= naive {
		t.Errorf("clustered SE %g not above the naive %g", se, naive)
	}
}

func TestMinDetectableConnor(t *testing.T) {
	// Connor (1987): n = (z_{.975}√ψ + z_{.8}√(ψ−δ²))²/δ². For ψ = 0.2 and
	// δ = 0.1: (1.95996·0.44721 + 0.84162·0.43589)²/0.01 = 154.6, so 155
	// items detect δ = 0.1 and 154 do not quite.
	if d := MinDetectable(155, 0.2, Z95, Z80); d > 0.1 || d < 0.099 {
		t.Errorf("n=155, ψ=0.2: δ = %.5f, want just under 0.1", d)
	}
	if d := MinDetectable(154, 0.2, Z95, Z80); d <= 0.1 {
		t.Errorf("n=154, ψ=0.2: δ = %.5f, want above 0.1", d)
	}
	// The design note's rule of thumb: ~870 items (ψ = 0.1) for 3 points.
	if d := MinDetectable(870, 0.1, Z95, Z80); math.Abs(d-0.03) > 0.0002 {
		t.Errorf("n=870, ψ=0.1: δ = %.5f, want 0.030", d)
	}
	if !math.IsNaN(MinDetectable(30, 0, Z95, Z80)) || !math.IsNaN(MinDetectable(0, 0.2, Z95, Z80)) {
		t.Error("no discordance or no items should detect nothing (NaN)")
	}
}
