package engine

import "math"

// The stopping rule follows the paper's efficiency–fatigue model of
// consensus quality against rounds:
//
//	U(t) = 1 − (1 − p_g)·e^(−Λ·(p_v − p_g)·t) − β·t²
//
// Each round adds evidence: the conviction (the winning answer cluster's
// share of all absolute support, clamped to [0, 1]; clusters.go — the
// reference takes the winning proposal's share, which a unanimous panel of
// N splits N ways) times the round's marginal utility
// U(t) − U(t−1). The total extractable signal is U(t*) − U(0), where t* is the
// round at which the curve peaks (capped at max_rounds). The run stops once
// the evidence reaches a share `effort` of that signal ("converged"), when a
// further round would lower U ("fatigue"), when the conviction has not
// improved for `patience` rounds ("plateau"), or at max_rounds — never
// before min_rounds. A unanimous panel thus stops early; a split one keeps
// deliberating until fatigue says more rounds no longer pay.

// Stop reasons recorded in round_ended and run_ended.
const (
	StopConverged = "converged"
	StopFatigue   = "fatigue"
	StopPlateau   = "plateau"
	StopMaxRounds = "max_rounds"
	StopCancelled = "cancelled"
	StopFailed    = "failed"
)

// Utility is U(t).
func (s StopSettings) Utility(t float64) float64 {
	return 1 - (1-s.PG)*math.Exp(-s.Lambda*(s.PV-s.PG)*t) - s.Beta*t*t
}

// Marginal is U'(t).
func (s StopSettings) Marginal(t float64) float64 {
	k := s.Lambda * (s.PV - s.PG)
	return (1-s.PG)*k*math.Exp(-k*t) - 2*s.Beta*t
}

// Optimum is the t ≥ 0 maximising U, or +Inf when β = 0 (no fatigue).
func (s StopSettings) Optimum() float64 {
	if s.Beta == 0 {
		return math.Inf(1)
	}
	// U' is strictly decreasing, positive at 0 and negative for large t:
	// bisect for its root.
	lo, hi := 0.0, 1.0
	for s.Marginal(hi) > 0 {
		hi *= 2
	}
	for i := 0; i < 80; i++ {
		mid := (lo + hi) / 2
		if s.Marginal(mid) > 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// Stopper applies the rule round by round.
type Stopper struct {
	s                  StopSettings
	minRounds, max     int
	target, evidence   float64
	bestConviction     float64
	stale, roundsSoFar int
}

// StopDecision is the rule's verdict after a round.
type StopDecision struct {
	Utility, Marginal, Evidence, Target float64
	Continue                            bool
	Reason                              string
}

// NewStopper prepares the rule for a run of at most maxRounds rounds.
func NewStopper(s StopSettings, minRounds, maxRounds int) *Stopper {
	peak := math.Min(s.Optimum(), float64(maxRounds))
	return &Stopper{
		s: s, minRounds: minRounds, max: maxRounds,
		target:         s.Effort * (s.Utility(peak) - s.Utility(0)),
		bestConviction: math.Inf(-1),
	}
}

// Observe records round t's winner conviction and says whether to go on.
func (st *Stopper) Observe(t int, conviction float64) StopDecision {
	st.roundsSoFar = t
	c := math.Max(0, math.Min(1, conviction))
	ft := float64(t)
	gain := st.s.Utility(ft) - st.s.Utility(ft-1)
	st.evidence += c * math.Max(0, gain)
	if conviction > st.bestConviction+1e-9 {
		st.bestConviction, st.stale = conviction, 0
	} else {
		st.stale++
	}
	d := StopDecision{Utility: st.s.Utility(ft), Marginal: st.s.Marginal(ft), Evidence: st.evidence, Target: st.target, Continue: true}
	switch {
	case t >= st.max:
		d.Continue, d.Reason = false, StopMaxRounds
	case t < st.minRounds:
	case st.evidence >= st.target:
		d.Continue, d.Reason = false, StopConverged
	case st.s.Utility(ft+1) <= st.s.Utility(ft):
		d.Continue, d.Reason = false, StopFatigue
	case st.s.Patience > 0 && st.stale >= st.s.Patience:
		d.Continue, d.Reason = false, StopPlateau
	}
	return d
}
