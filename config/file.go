package config

import (
	"fmt"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// The file format lives here: nsed.toml decodes into these types, whose
// toml tags are the file's key names, and Settings and AgentInfos convert
// them into the engine's types — the one place the two meet. The engine
// knows nothing of TOML.

// File is nsed.toml.
type File struct {
	Ollama       Ollama          `toml:"ollama"`
	Hosts        []Host          `toml:"hosts"`
	Agents       []Agent         `toml:"agents"`
	Roles        map[string]Role `toml:"roles"`
	Deliberation Deliberation    `toml:"deliberation"`
	Stopping     Stopping        `toml:"stopping"`
	Gate         Gate            `toml:"gate"`
	Review       Review          `toml:"review"`
	Sampling     Sampling        `toml:"sampling"`
	Transcript   Transcript      `toml:"transcript"`
	TUI          TUI             `toml:"tui"`
	Broker       Broker          `toml:"broker"`
	Bench        Bench           `toml:"bench"`

	// Source names the files that were read, lowest precedence first.
	Source []string `toml:"-"`

	lines []sourceLines
}

// Bench is [bench]: what `nsed bench` fixes before it runs.
type Bench struct {
	// Reference is the agent id of the single agent NSED is tested
	// against first; empty: the first agent.
	Reference string `toml:"reference"`
}

// Ollama says where the model servers are.
type Ollama struct {
	// Hosts are the servers agents may be bound to; the first is the default.
	Hosts     []string `toml:"hosts"`
	KeepAlive Duration `toml:"keep_alive"`
}

// Host is a [[hosts]] table: a server and the API it speaks. An
// OpenAI-compatible server (vLLM, SGLang, llama.cpp, LM Studio) is named
// by its base URL, ending in /v1; its API key, if it needs one, is read
// from the environment variable APIKeyEnv, never from this file.
type Host struct {
	URL       string `toml:"url"`
	API       string `toml:"api"`         // "ollama" (default) or "openai"
	APIKeyEnv string `toml:"api_key_env"` // e.g. "VLLM_API_KEY"; default models.DefaultKeyEnv

	// VRAMBudget is the memory of this host the broker may fill, e.g.
	// "80GiB"; empty: [broker] vram_budget.
	VRAMBudget string `toml:"vram_budget"`
	// ModelMemory is what each model holds on an OpenAI-compatible server,
	// by name, e.g. {"qwen3-8b" = "16GiB"}: the server reports none, so a
	// model not listed costs no memory in the broker's budget.
	ModelMemory map[string]string `toml:"model_memory"`
	// TokensPerSec is the speed the broker assumes of an OpenAI-compatible
	// server's models until a call measures one; 0: a modest GPU's 30.
	TokensPerSec float64 `toml:"tokens_per_sec"`
}

// HostCapacity is what [[hosts]] says of a server's memory and speed, with
// sizes in bytes.
type HostCapacity struct {
	VRAMBudget   int64            // 0: [broker] vram_budget
	ModelMemory  map[string]int64 // OpenAI-compatible hosts only
	TokensPerSec float64          // OpenAI-compatible hosts only; 0: assumed
}

// Capacities maps each [[hosts]] server (its normalized address, as
// telemetry names it) that sets vram_budget, model_memory or tokens_per_sec
// to what it sets. Load has checked the sizes.
func (f *File) Capacities() map[string]HostCapacity {
	out := map[string]HostCapacity{}
	for _, h := range f.Hosts {
		if h.VRAMBudget == "" && len(h.ModelMemory) == 0 && h.TokensPerSec == 0 {
			continue
		}
		host, err := models.NormalizeHost(h.URL)
		if err != nil {
			continue
		}
		c := HostCapacity{TokensPerSec: h.TokensPerSec}
		c.VRAMBudget, _ = parseOptionalBytes(h.VRAMBudget)
		for name, size := range h.ModelMemory {
			if c.ModelMemory == nil {
				c.ModelMemory = map[string]int64{}
			}
			c.ModelMemory[name], _ = ParseBytes(size)
		}
		out[host] = c
	}
	return out
}

func parseOptionalBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return ParseBytes(s)
}

// HostList is every configured server, the default first: ollama.hosts,
// then the [[hosts]] tables.
func (f *File) HostList() []string {
	out := append([]string(nil), f.Ollama.Hosts...)
	for _, h := range f.Hosts {
		out = append(out, h.URL)
	}
	return out
}

// KeyEnvs maps each OpenAI-compatible [[hosts]] URL to the environment
// variable holding its API key.
func (f *File) KeyEnvs() map[string]string {
	m := map[string]string{}
	for _, h := range f.Hosts {
		if h.APIKeyEnv != "" {
			m[h.URL] = h.APIKeyEnv
		}
	}
	return m
}

// Agent binds one agent to a role and a model, with its own model options:
// each one set wins over the same key of every [sampling.*] phase.
type Agent struct {
	Role  string `toml:"role"`
	Model string `toml:"model"`
	Host  string `toml:"host"`

	Temperature *float64 `toml:"temperature"`
	Seed        *int     `toml:"seed"`
	TopP        *float64 `toml:"top_p"`
	NumCtx      int      `toml:"num_ctx"`
	NumPredict  int      `toml:"num_predict"`
	Think       string   `toml:"think"`
	ThinkBudget *int     `toml:"think_budget"`
}

// Role is a [roles.NAME] table: a persona an agent plays.
type Role struct {
	Persona string `toml:"persona"`
}

// Deliberation holds the round-level knobs.
type Deliberation struct {
	MinRounds      int      `toml:"min_rounds"`
	MaxRounds      int      `toml:"max_rounds"`
	Credits        float64  `toml:"credits"`
	Seed           int64    `toml:"seed"`
	ReasoningChars int      `toml:"reasoning_chars"`
	ProposalChars  int      `toml:"proposal_chars"`
	MaxCtx         int      `toml:"max_ctx"`
	CallTimeout    Duration `toml:"call_timeout"`
	Quorum         int      `toml:"quorum"`
}

// Stopping is [stopping]: the efficiency-fatigue stopping rule (see
// engine.StopSettings for what each knob does).
type Stopping struct {
	Effort   float64 `toml:"effort"`
	PG       float64 `toml:"p_g"`
	PV       float64 `toml:"p_v"`
	Lambda   float64 `toml:"lambda"`
	Beta     float64 `toml:"beta"`
	Patience int     `toml:"patience"`
}

// Gate is [gate]: the bounded state carried between rounds (see
// engine.GateSettings).
type Gate struct {
	BudgetTokens  int     `toml:"budget_tokens"`
	Gamma         float64 `toml:"gamma"`
	DropBelow     float64 `toml:"drop_below"`
	Summarise     bool    `toml:"summarise"`
	SynthesisRole string  `toml:"synthesis_role"`
}

// Review is [review]: the bounds of each structured review (see
// engine.ReviewSettings).
type Review struct {
	MaxClaims     int `toml:"max_claims"`
	ClaimChars    int `toml:"claim_chars"`
	CritiqueChars int `toml:"critique_chars"`
	Retries       int `toml:"retries"`
}

// Sampling holds per-phase model options.
type Sampling struct {
	Propose Options `toml:"propose"`
	Review  Options `toml:"review"`
	Summary Options `toml:"summary"`
}

// Options are model options as nsed.toml spells them ([sampling.*]);
// keep_alive comes from [ollama] and is added on conversion.
type Options struct {
	Temperature *float64 `toml:"temperature"`
	Seed        *int     `toml:"seed"`
	TopP        *float64 `toml:"top_p"`
	NumCtx      int      `toml:"num_ctx"`
	NumPredict  int      `toml:"num_predict"`
	// Think: "true", "false", or "low"/"medium"/"high" for reasoning models;
	// empty leaves each model's default.
	Think string `toml:"think"`
	// ThinkBudget is the tokens for thinking on top of num_predict, given
	// to calls that may think.
	ThinkBudget int `toml:"think_budget"`
}

// Transcript says where runs are recorded.
type Transcript struct {
	// Dir holds one JSONL file per run; empty means the user's data directory.
	Dir string `toml:"dir"`
	// Tokens records streamed tokens too, so replays show streaming.
	Tokens bool `toml:"tokens"`
}

// TUI holds display preferences.
type TUI struct {
	Theme string `toml:"theme"`
}

// Broker holds the Dynamic Expertise Broker's budget and priors.
type Broker struct {
	// VRAMBudget is the memory per host the broker may fill, e.g. "8GiB"; empty means unlimited.
	VRAMBudget string `toml:"vram_budget"`
	// Priors are expected quality per role and model in [0, 1].
	Priors map[string]map[string]float64 `toml:"priors"`
	// DefaultPrior is the expected quality of a model with no prior and no evidence.
	DefaultPrior float64 `toml:"default_prior"`
	// Diversity is the error correlation ρ assumed between copies of one
	// model (0–1): k copies are worth k/(1+(k−1)ρ) independent agents.
	Diversity float64 `toml:"diversity"`
}

// ---- conversion into the engine's types ----

// Settings assembles the engine's settings.
func (f *File) Settings() engine.Settings {
	keepAlive := f.Ollama.KeepAlive.Duration
	return engine.Settings{
		MinRounds: f.Deliberation.MinRounds, MaxRounds: f.Deliberation.MaxRounds,
		Credits: f.Deliberation.Credits, Seed: f.Deliberation.Seed,
		ReasoningChars: f.Deliberation.ReasoningChars, ProposalChars: f.Deliberation.ProposalChars,
		MaxCtx:      f.Deliberation.MaxCtx,
		CallTimeout: f.Deliberation.CallTimeout.Duration,
		Quorum:      f.Deliberation.Quorum,
		Stop:        engine.StopSettings(f.Stopping),
		Gate:        engine.GateSettings(f.Gate),
		Review:      engine.ReviewSettings(f.Review),
		Sampling: engine.SamplingSettings{
			Propose: f.Sampling.Propose.models(keepAlive),
			Review:  f.Sampling.Review.models(keepAlive),
			Summary: f.Sampling.Summary.models(keepAlive),
		},
		Roles: f.engineRoles(),
	}
}

func (f *File) engineRoles() map[string]engine.Role {
	if f.Roles == nil {
		return nil
	}
	out := make(map[string]engine.Role, len(f.Roles))
	for name, r := range f.Roles {
		out[name] = engine.Role(r)
	}
	return out
}

func (o Options) models(keepAlive time.Duration) models.Options {
	return models.Options{Temperature: o.Temperature, Seed: o.Seed, TopP: o.TopP, NumCtx: o.NumCtx, NumPredict: o.NumPredict, KeepAlive: keepAlive, Think: o.Think, ThinkBudget: o.ThinkBudget}
}

// options are the agent's own model options, nil when it sets none.
func (a Agent) options() *engine.AgentOptions {
	o := engine.AgentOptions{Temperature: a.Temperature, Seed: a.Seed, TopP: a.TopP, NumCtx: a.NumCtx,
		NumPredict: a.NumPredict, Think: a.Think, ThinkBudget: a.ThinkBudget}
	if o == (engine.AgentOptions{}) {
		return nil
	}
	return &o
}

// AgentInfos numbers the configured agents agent-1, agent-2, ….
func (f *File) AgentInfos() []engine.AgentInfo {
	out := make([]engine.AgentInfo, len(f.Agents))
	for i, a := range f.Agents {
		out[i] = engine.AgentInfo{ID: fmt.Sprintf("agent-%d", i+1), Role: a.Role, Model: a.Model, Host: a.Host, BoundBy: "config", Options: a.options()}
	}
	return out
}
