package engine

import (
	"fmt"
	"time"

	"github.com/nsed/nsed/models"
)

// Settings are the protocol's knobs. The JSON names are the transcript's
// (run_started carries the settings used); nsed.toml's names and its
// decoding live in package config, which converts into these types.
type Settings struct {
	MinRounds int     `json:"min_rounds"`
	MaxRounds int     `json:"max_rounds"`
	Credits   float64 `json:"credits"` // quadratic-vote budget per voter per round
	// Seed, hashed with the run id, drives label shuffling and tie draws,
	// so a run with the same seed and run id can be repeated exactly.
	Seed int64 `json:"seed"`
	// ReasoningChars is how much of an agent's previous reasoning it sees
	// again in the next round (the reference cuts to about 500 characters).
	ReasoningChars int `json:"reasoning_chars"`
	// ProposalChars is how much of each proposal's reasoning a reviewer is
	// shown: longer reasoning loses its middle, marked. The final answer and
	// the solution (last code block, final derivation) are always shown in
	// full. The reference shows up to about 4,000 characters.
	ProposalChars int `json:"proposal_chars"`
	// MaxCtx is the largest context a call may ask for. Each call's num_ctx
	// starts at its phase's sampling num_ctx and doubles until the prompt
	// and num_predict fit, up to MaxCtx (0: never above num_ctx).
	MaxCtx int `json:"max_ctx,omitempty"`
	// CallTimeout is each model call's deadline (0: none). A proposer that
	// misses it sits the round out; a reviewer abstains.
	CallTimeout time.Duration `json:"call_timeout_ns,omitempty"`
	// Quorum is how many agents must propose and review for a round to
	// count (0: a majority of the team, QuorumSize); a round without it
	// ends the run with reason "quorum".
	Quorum int `json:"quorum,omitempty"`

	Stop     StopSettings     `json:"stopping"`
	Gate     GateSettings     `json:"gate"`
	Review   ReviewSettings   `json:"review"`
	Sampling SamplingSettings `json:"sampling"`
	Roles    map[string]Role  `json:"roles,omitempty"`
}

// StopSettings parameterise the efficiency-fatigue stopping rule:
// U(t) = 1 − (1 − PG)·e^(−Lambda·(PV − PG)·t) − Beta·t².
type StopSettings struct {
	Effort float64 `json:"effort"` // share of extractable signal at which to stop
	PG     float64 `json:"p_g"`    // zero-shot precision
	PV     float64 `json:"p_v"`    // verification precision
	Lambda float64 `json:"lambda"`
	Beta   float64 `json:"beta"`
	// Patience stops the run when the winner's conviction has not improved
	// for this many consecutive rounds (0 disables): "agreement stopped improving".
	Patience int `json:"patience"`
}

// GateSettings bound the state carried between rounds.
type GateSettings struct {
	BudgetTokens int     `json:"budget_tokens"`
	Gamma        float64 `json:"gamma"`      // retention per round of age
	DropBelow    float64 `json:"drop_below"` // items retained less than this are forgotten
	// Summarise asks the agent bound to SynthesisRole to compress the kept
	// material when it exceeds the budget; otherwise (or if that fails) the
	// lowest-retention items are truncated.
	Summarise     bool   `json:"summarise"`
	SynthesisRole string `json:"synthesis_role"`
}

// ReviewSettings bound the structured evaluation each reviewer returns.
// Every string in the schema has a maximum length so even a weak model's
// output is complete JSON within its token limit.
type ReviewSettings struct {
	MaxClaims     int `json:"max_claims"`
	ClaimChars    int `json:"claim_chars"`
	CritiqueChars int `json:"critique_chars"`
	Retries       int `json:"retries"`
}

// SamplingSettings are per-phase model options.
type SamplingSettings struct {
	Propose models.Options `json:"propose"`
	Review  models.Options `json:"review"`
	Summary models.Options `json:"summary"`
}

// Role is a persona an agent plays.
type Role struct {
	Persona string `json:"persona"`
}

// DefaultSettings are the defaults nsed.toml documents.
func DefaultSettings() Settings {
	t := func(v float64) *float64 { return &v }
	return Settings{
		MinRounds:      2,
		MaxRounds:      6,
		Credits:        100,
		ReasoningChars: 500,
		ProposalChars:  4000,
		MaxCtx:         32768,
		CallTimeout:    10 * time.Minute,
		Stop:           StopSettings{Effort: 0.6, PG: 0.6, PV: 0.8, Lambda: 2, Beta: 0.005, Patience: 2},
		Gate:           GateSettings{BudgetTokens: 600, Gamma: 0.7, DropBelow: 0.15, Summarise: true, SynthesisRole: "synthesiser"},
		Review:         ReviewSettings{MaxClaims: 2, ClaimChars: 100, CritiqueChars: 200, Retries: 1},
		Sampling: SamplingSettings{
			Propose: models.Options{Temperature: t(0.7), NumPredict: 1024, NumCtx: 8192, ThinkBudget: 4096},
			Review:  models.Options{Temperature: t(0.2), NumPredict: 1024, NumCtx: 8192, ThinkBudget: 4096},
			Summary: models.Options{Temperature: t(0.2), NumPredict: 512, NumCtx: 8192, ThinkBudget: 1024},
		},
	}
}

// Validate reports the first setting that cannot work, naming its key.
func (s Settings) Validate() error {
	bad := func(key, why string) error { return fmt.Errorf("%s: %s", key, why) }
	switch {
	case s.MinRounds < 1:
		return bad("min_rounds", "must be at least 1")
	case s.MaxRounds < s.MinRounds:
		return bad("max_rounds", fmt.Sprintf("must be at least min_rounds (%d)", s.MinRounds))
	case s.Credits <= 0:
		return bad("credits", "must be positive")
	case s.ReasoningChars < 0 || s.ProposalChars < 1:
		return bad("proposal_chars", "must be positive (reasoning_chars may be 0)")
	case s.Stop.Effort <= 0 || s.Stop.Effort > 1:
		return bad("stopping.effort", "must be in (0, 1]")
	case s.Stop.PG < 0 || s.Stop.PG >= 1 || s.Stop.PV <= s.Stop.PG || s.Stop.PV > 1:
		return bad("stopping.p_v", "need 0 ≤ p_g < p_v ≤ 1")
	case s.Stop.Lambda <= 0:
		return bad("stopping.lambda", "must be positive")
	case s.Stop.Beta < 0:
		return bad("stopping.beta", "must be zero or positive")
	case s.Stop.Patience < 0:
		return bad("stopping.patience", "must be zero (off) or positive")
	case s.Gate.BudgetTokens < 32:
		return bad("gate.budget_tokens", "must be at least 32")
	case s.Gate.Gamma <= 0 || s.Gate.Gamma > 1:
		return bad("gate.gamma", "must be in (0, 1]")
	case s.Gate.DropBelow < 0 || s.Gate.DropBelow >= 1:
		return bad("gate.drop_below", "must be in [0, 1)")
	case s.Review.MaxClaims < 0 || s.Review.MaxClaims > 5:
		return bad("review.max_claims", "must be between 0 and 5")
	case s.Review.ClaimChars < 8 || s.Review.CritiqueChars < 8:
		return bad("review.critique_chars", "claim_chars and critique_chars must be at least 8")
	case s.CallTimeout < 0:
		return bad("call_timeout", "must be zero (none) or positive")
	case s.Review.Retries < 0:
		return bad("review.retries", "must be zero or positive")
	case s.Quorum < 0 || s.Quorum == 1:
		return bad("quorum", QuorumProblem(s.Quorum, s.Quorum))
	case s.MaxCtx < 0:
		return bad("max_ctx", "must be zero (contexts stay at num_ctx) or positive")
	}
	for i, o := range []models.Options{s.Sampling.Propose, s.Sampling.Review, s.Sampling.Summary} {
		if s.MaxCtx > 0 && o.NumCtx > s.MaxCtx {
			phase := []string{"propose", "review", "summary"}[i]
			return bad("max_ctx", fmt.Sprintf("is %d, below sampling.%s.num_ctx (%d): max_ctx is the ceiling a call's context may grow to, num_ctx its floor", s.MaxCtx, phase, o.NumCtx))
		}
	}
	return nil
}
