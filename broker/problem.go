package broker

import (
	"fmt"
	"math"
	"strings"

	"github.com/nsed/nsed/models"
)

// Binding names a model on a host.
type Binding struct {
	Host  string `json:"host,omitempty"`
	Model string `json:"model"`
}

func (b Binding) String() string {
	if b.Host == "" {
		return b.Model
	}
	return b.Model + "@" + b.Host
}

// RoleSlot is one agent to bind.
type RoleSlot struct {
	Agent string // agent id ("agent-1"…, as config.File.AgentInfos numbers them); may be empty
	Role  string
	// Pin, when set, restricts the slot to Pin.Model (on Pin.Host, unless
	// empty). The user's manual rebind is passed as a pin.
	Pin *Binding
	// Current is the binding in force when re-solving between rounds;
	// keeping it earns Weights.Stickiness so agents don't churn for nothing.
	Current *Binding
}

// Candidate is a model on a host that a slot may be bound to, with what it
// costs. NewCandidate fills one from telemetry.
type Candidate struct {
	Host  string
	Model string
	// Memory is the bytes the model holds while loaded; MemoryMeasured says
	// whether Ollama reported it (else it is an estimate from the size on disk).
	Memory         int64
	MemoryMeasured bool
	// TokensPerSec and LatencySec (first-token wall time) price a call.
	// TokensPerSec must be positive when the budget limits round time.
	TokensPerSec  float64
	LatencySec    float64
	SpeedMeasured bool
	// Loaded says the model is in memory now; otherwise loading it takes
	// LoadSec, charged as Weights.SwapPerSec × LoadSec once per run.
	Loaded  bool
	LoadSec float64
	// FailureRate is the share of calls that failed; value is scaled by
	// 1 − FailureRate since a failed call contributes nothing.
	FailureRate float64
	// RoundTokens is the expected output tokens of one agent in one round;
	// 0 uses Problem.RoundTokens.
	RoundTokens int
	// Served says the model is on an OpenAI-compatible server, which holds
	// it loaded and reports neither its size nor its memory (see Served).
	Served bool
}

// Binding returns the candidate's host and model.
func (c Candidate) Binding() Binding { return Binding{Host: c.Host, Model: c.Model} }

// Assumptions for models never measured. Generating a token reads every
// weight once, so decode speed is about memory bandwidth / model size;
// 60 GB/s is a modest GPU or a fast CPU, so estimates err slow and the
// first real call corrects them.
const (
	assumedBandwidth  = 60e9 // bytes/s read while decoding
	assumedDiskRate   = 1e9  // bytes/s when loading from disk
	assumedLatencySec = 0.3
	callsPerRound     = 2 // propose and review
	// assumedServedTokensPerSec is the speed assumed of a model on an
	// OpenAI-compatible server before nsed has measured it: a modest GPU
	// rate, corrected by the first call's telemetry.
	assumedServedTokensPerSec = 30
)

// NewCandidate prices a model from what the server reported and nsed
// measured of it.
func NewCandidate(info models.ModelInfo) Candidate {
	c := Candidate{
		Host:           info.Host,
		Model:          info.Name,
		Memory:         info.MemoryEstimate(),
		MemoryMeasured: info.LoadedBytes > 0,
		Loaded:         info.Loaded,
		FailureRate:    1 - info.Measured.SuccessRatio(),
	}
	weights := info.SizeBytes
	if weights <= 0 {
		weights = c.Memory
	}
	if s := info.Measured; s.TokensPerSec > 0 {
		c.TokensPerSec, c.LatencySec, c.SpeedMeasured = s.TokensPerSec, s.LatencyMS/1000, true
	} else if weights > 0 {
		c.TokensPerSec, c.LatencySec = assumedBandwidth/float64(weights), assumedLatencySec
	}
	if !c.Loaded {
		if info.Measured.LoadMS > 0 {
			c.LoadSec = info.Measured.LoadMS / 1000
		} else {
			c.LoadSec = float64(weights) / assumedDiskRate
		}
	}
	if info.API == "openai" {
		c = served(c, info)
	}
	return c
}

// served prices a model on an OpenAI-compatible server (vLLM, SGLang,
// llama.cpp, LM Studio). The server holds its model loaded and its memory is
// the server's business, so it costs no memory in the knapsack and no load
// time; it reports no size, so an unmeasured speed is assumed, not derived
// from a size it does not have.
func served(c Candidate, info models.ModelInfo) Candidate {
	c.Memory, c.MemoryMeasured, c.Loaded, c.LoadSec, c.Served = 0, true, true, 0, true
	if !c.SpeedMeasured {
		c.TokensPerSec, c.LatencySec = assumedServedTokensPerSec, assumedLatencySec
	}
	return c
}

// Served is what the user configured of the models on one OpenAI-compatible
// host (nsed.toml's [[hosts]] model_memory and tokens_per_sec), since the
// server reports neither.
type Served struct {
	// Memory is what each model holds on the server, by name. A model
	// listed costs that much in its host's memory budget; one not listed
	// costs none (the server's business).
	Memory map[string]int64
	// TokensPerSec is the speed assumed of the host's models until a call
	// measures one; 0 keeps the built-in assumption.
	TokensPerSec float64
}

// WithServed applies what the user configured of served hosts, by host, to
// the candidates on them. A measured speed (now or in an earlier run) is
// never replaced by the configured one.
func WithServed(cands []Candidate, hosts map[string]Served) []Candidate {
	out := append([]Candidate(nil), cands...)
	for i, c := range out {
		cfg, ok := hosts[c.Host]
		if !c.Served || !ok {
			continue
		}
		if m, ok := cfg.MemoryOf(c.Model); ok {
			out[i].Memory, out[i].MemoryMeasured = m, true
		}
		if cfg.TokensPerSec > 0 && !c.SpeedMeasured {
			out[i].TokensPerSec = cfg.TokensPerSec
		}
	}
	return out
}

// MemoryOf is the configured memory of model, matched by name as Ollama
// matches them ("m" is "m:latest").
func (s Served) MemoryOf(model string) (int64, bool) {
	if m, ok := s.Memory[model]; ok {
		return m, true
	}
	for name, m := range s.Memory {
		if sameModel(name, model) {
			return m, true
		}
	}
	return 0, false
}

// Candidates prices every model in infos. With a store it also remembers
// what was measured now (memory of loaded models, speed) and fills in, for
// models not loaded or not called in this process, what was measured in
// earlier runs, so the estimate before first load is corrected by the last
// measurement. st may be nil.
func Candidates(infos []models.ModelInfo, st *Store) []Candidate {
	if st != nil {
		st.RememberTelemetry(infos)
	}
	out := make([]Candidate, 0, len(infos))
	for _, info := range infos {
		c := NewCandidate(info)
		if st != nil {
			if t, ok := st.Telemetry(info.Host, info.Name); ok {
				c = corrected(c, info, t)
			}
		}
		out = append(out, c)
	}
	return out
}

// corrected replaces estimates in c with what t remembers of earlier runs.
func corrected(c Candidate, info models.ModelInfo, t Telemetry) Candidate {
	if info.LoadedBytes <= 0 && t.MemoryBytes > 0 {
		c.Memory, c.MemoryMeasured = t.MemoryBytes, true
	}
	if info.Measured.TokensPerSec <= 0 && t.TokensPerSec > 0 {
		c.TokensPerSec, c.LatencySec, c.SpeedMeasured = t.TokensPerSec, t.LatencyMS/1000, true
	}
	if !c.Loaded && info.Measured.LoadMS <= 0 && t.LoadMS > 0 {
		c.LoadSec = t.LoadMS / 1000
	}
	return c
}

// Budget is what a binding may use. Non-positive values mean unlimited.
type Budget struct {
	// Memory is per host, in bytes; hosts not listed get DefaultMemory.
	Memory        map[string]int64
	DefaultMemory int64
	// RoundSeconds bounds each host's time for one round (see the package
	// comment for the time model).
	RoundSeconds float64
	// RoundTokens bounds the expected output tokens of one round, all
	// agents together: a run's token budget divided by its rounds.
	RoundTokens int
}

// MemoryFor is the memory budget of host, 0 if unlimited.
func (b Budget) MemoryFor(host string) int64 {
	if m, ok := b.Memory[host]; ok {
		return max(m, 0)
	}
	return max(b.DefaultMemory, 0)
}

// Weights tune the objective (see the package comment).
type Weights struct {
	// Correlation ρ in [0, 1] between the errors of two copies of one model:
	// the diversity rule. 0 lets every slot take the same model.
	Correlation float64
	// SwapPerSec is the value lost per second of loading a model that is
	// not in memory yet.
	SwapPerSec float64
	// Stickiness is the value of keeping a slot's current binding when
	// re-solving mid-run.
	Stickiness float64
}

// DefaultWeights: copies of a model are half-correlated; a 10 s load costs
// 0.02 quality (a tie-breaker, not a veto); keeping a binding is worth 0.03,
// so a rebind needs a clear gain.
func DefaultWeights() Weights {
	return Weights{Correlation: 0.5, SwapPerSec: 0.002, Stickiness: 0.03}
}

// Defaults of NewProblem.
const (
	DefaultRoundTokens = 2048 // one agent: a proposal and a review at num_predict 1024
	DefaultQuality     = 0.5
	DefaultMaxNodes    = 1_000_000
)

// The largest problem Solve takes: runs have at most 8 agents, and a home
// lab a few hosts. Within these the search is exact and fast (see the
// package comment); beyond them Solve returns an error wrapping ErrTooLarge
// that says what to cut.
const (
	MaxRoles  = 8
	MaxModels = 50 // distinct model names over all hosts
	MaxHosts  = 4
)

// Problem is one binding to solve.
type Problem struct {
	Roles      []RoleSlot
	Candidates []Candidate
	Budget     Budget
	// Quality is the expected quality in [0, 1] of model playing role
	// (values outside are clamped); nil values every pair at DefaultQuality.
	Quality func(role, model string) float64
	Weights Weights
	// RoundTokens is a candidate's expected output tokens per round when
	// it does not say.
	RoundTokens int
	// MaxPerModel caps the agents on one model name; 0 means no cap.
	MaxPerModel int
	// MaxNodes caps the exact search; 0 means DefaultMaxNodes.
	MaxNodes int
}

// NewProblem returns a problem with the default weights and round tokens.
// quality may be nil (see Problem.Quality); a *Store's Quality method fits.
func NewProblem(roles []RoleSlot, cands []Candidate, b Budget, quality func(role, model string) float64) *Problem {
	return &Problem{
		Roles:       roles,
		Candidates:  cands,
		Budget:      b,
		Quality:     quality,
		Weights:     DefaultWeights(),
		RoundTokens: DefaultRoundTokens,
	}
}

// Slots returns n slots for agents agent-1…agent-n, playing roles in turn.
func Slots(n int, roles []string) []RoleSlot {
	out := make([]RoleSlot, n)
	for i := range out {
		out[i].Agent = fmt.Sprintf("agent-%d", i+1)
		if len(roles) > 0 {
			out[i].Role = roles[i%len(roles)]
		}
	}
	return out
}

// sameModel compares model names as Ollama does: "llama3.2" is
// "llama3.2:latest".
func sameModel(a, b string) bool {
	return canonical(a) == canonical(b)
}

func canonical(m string) string {
	if i := strings.LastIndexByte(m, ':'); i < 0 || strings.Contains(m[i:], "/") {
		return m + ":latest"
	}
	return m
}

func clamp01(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}
