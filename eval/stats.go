package eval

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Z95 is the normal quantile for a two-sided 95% interval.
const Z95 = 1.959963984540054

// Wilson is the Wilson score interval for k successes in n trials at
// normal quantile z (Z95 for 95%). With n = 0 it is [0, 1].
func Wilson(k, n int, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return math.Max(0, centre-half), math.Min(1, centre+half)
}

// McNemarExact is the two-sided exact McNemar test on paired binary
// outcomes: b pairs where only the first is right, c where only the second
// is. It is the binomial test of min(b, c) under Binomial(b+c, 1/2),
// doubled and capped at 1; with no discordant pairs it is 1.
func McNemarExact(b, c int) float64 {
	n := b + c
	if n == 0 {
		return 1
	}
	k := min(b, c)
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	sum := 0.0
	for i := 0; i <= k; i++ {
		sum += math.Exp(lg(n) - lg(i) - lg(n-i) - float64(n)*math.Ln2)
	}
	return math.Min(1, 2*sum)
}

// Z80 is the normal quantile for 80% power (one-sided 0.80).
const Z80 = 0.8416212335729143

// BootstrapResamples and BootstrapSeed fix the paired bootstrap: the same
// data give the same interval on every machine and every run.
const (
	BootstrapResamples = 10000
	BootstrapSeed      = 20260116 // any fixed value; arXiv 2601.16863's date
)

// PairedBootstrap is the percentile bootstrap 95% interval of the mean of
// per-item differences d (a protocol's score minus another's on the same
// item: -1, 0 or 1 with one sample, a difference of item means with K):
// resamples items with replacement, n at a time, `resamples` times from a
// PCG seeded with seed, and takes the 2.5th and 97.5th percentiles of the
// resampled means. Items, not samples, are the unit, so repeated samples of
// one item stay together. With no items it is [0, 0].
func PairedBootstrap(d []float64, resamples int, seed uint64) (lo, hi float64) {
	n := len(d)
	if n == 0 || resamples <= 0 {
		return 0, 0
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	means := make([]float64, resamples)
	for r := range means {
		sum := 0.0
		for range n {
			sum += d[rng.IntN(n)]
		}
		means[r] = sum / float64(n)
	}
	slices.Sort(means)
	return quantile(means, 0.025), quantile(means, 0.975)
}

// quantile of sorted xs by linear interpolation between order statistics
// (type 7, R's and NumPy's default).
func quantile(xs []float64, q float64) float64 {
	h := q * float64(len(xs)-1)
	i := int(math.Floor(h))
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[i] + (h-float64(i))*(xs[i+1]-xs[i])
}

// Holm adjusts p-values for m simultaneous tests (Holm 1979, step-down):
// with p sorted ascending p(1) ≤ … ≤ p(m), the adjusted
//
//	p̃(i) = min(1, max_{j ≤ i} (m − j + 1)·p(j))
//
// and a hypothesis is rejected at level α when its p̃ ≤ α, which holds the
// family-wise error rate at α. The result is in the input's order.
func Holm(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmpFloat(p[a], p[b]) })
	out := make([]float64, m)
	run := 0.0
	for rank, i := range idx {
		run = math.Max(run, float64(m-rank)*p[i])
		out[i] = math.Min(1, run)
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ClusteredMean is the mean of every observation y (1 hit, 0 miss) pooled
// over items, with its standard error clustered by item (Liang–Zeger, with
// the CR1 small-sample factor G/(G−1)), as Miller (2024, "Adding error bars
// to evals") recommends for repeated samples of one item:
//
//	p̂ = Σ_i Σ_j y_ij / N,   SE² = G/(G−1) · Σ_i (Σ_j (y_ij − p̂))² / N²
//
// over G items and N observations. The samples of one item are correlated
// (an item is hard or easy for every sample), so the plain binomial SE,
// which counts N independent draws, is too small. With K samples of every
// item it is the standard deviation of the item means over √G; with one
// sample per item SE² = p̂(1−p̂)/(G−1); with G < 2 it is 0.
func ClusteredMean(items [][]float64) (mean, se float64) {
	g, n, sum := 0, 0, 0.0
	for _, ys := range items {
		if len(ys) == 0 {
			continue
		}
		g++
		for _, y := range ys {
			sum += y
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	mean = sum / float64(n)
	if g < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, ys := range items {
		e := 0.0
		for _, y := range ys {
			e += y - mean
		}
		ss += e * e
	}
	gf, nf := float64(g), float64(n)
	return mean, math.Sqrt(gf / (gf - 1) * ss / (nf * nf))
}

// MinDetectable is the smallest true mean paired difference δ that a
// two-sided test at level α (quantile zAlpha = z_{1−α/2}) detects with
// power 1−β (zBeta = z_{1−β}) over n items, after Connor (1987) for
// McNemar's test:
//
//	n·δ² = (z_{1−α/2}·√s + z_{1−β}·√(s − δ²))²
//
// where s = E[d²] is the mean squared per-item difference, the variance of
// d under the null hypothesis. With one sample per item d ∈ {−1, 0, 1} and
// s is the discordant share ψ, Connor's formula exactly; with K samples
// d is a difference of item means and s generalises it. The left side
// grows with δ and the right shrinks, so the root in (0, √s] is found by
// bisection. With n = 0 or s = 0 (no discordant items) nothing is
// detectable and it returns NaN.
func MinDetectable(n int, s, zAlpha, zBeta float64) float64 {
	if n <= 0 || s <= 0 {
		return math.NaN()
	}
	f := func(d float64) float64 {
		r := zAlpha*math.Sqrt(s) + zBeta*math.Sqrt(math.Max(0, s-d*d))
		return float64(n)*d*d - r*r
	}
	lo, hi := 0.0, math.Sqrt(s)
	if f(hi) < 0 { // even the largest possible difference is not enough
		return math.NaN()
	}
	for range 100 {
		mid := (lo + hi) / 2
		if f(mid) < 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
