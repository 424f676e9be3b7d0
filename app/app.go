// Package app is the wiring the commands share: nsed.toml and the command
// line become a Session — the settings, the agents and their models, the
// backend, the broker's binding — and a Session starts deliberations (with
// their transcript, quality-store learning and rebalancer) and benches.
//
// One precedence rule holds for every value a flag can set:
//
//	a flag given on the command line  >  nsed.toml  >  the built-in default
//
// where nsed.toml is --config FILE, else ./nsed.toml, layered over the
// built-in nsed.toml (package config does the layering). A flag counts as
// given when it appears on the command line (Flags.Set), whatever its
// value. Hosts add one step: $OLLAMA_HOST stands in for the file's first
// host, below any --host flag. applyFlags is the one place flags meet the
// file.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nsed/nsed/config"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// Flags are the command-line values a session is built from, by their
// meaning; a command fills those it has.
type Flags struct {
	Config string // --config: nsed.toml to read
	// Host (--host of run and bench) replaces the default, first, host;
	// the file's other hosts stay for agents bound to them.
	Host string
	// Hosts (--host of models and broker, repeatable) replace every host.
	Hosts []string
	// Models (--models) binds the agents to these models in order,
	// comma-separated; more models than agents adds agents.
	Models string

	Rounds, MinRounds                     int     // --rounds, --min-rounds
	Credits                               float64 // --credits
	GateBudget, NumPredict, ReviewPredict int     // --gate-budget, --num-predict, --review-predict

	Transcript, Theme string // --transcript, --theme
	// Broker (--broker) lets the broker bind the models, within
	// VRAMBudget (--vram-budget) per host, learning into Store (--store;
	// empty: the default store).
	Broker            bool
	VRAMBudget, Store string

	// Set names the flags given on the command line, by their names there
	// ("rounds", "min-rounds", …): only those override nsed.toml.
	Set map[string]bool

	// Backend, when not nil, stands in for the Ollama servers (tests): no
	// host is pinged, and models are checked only if it is a Checker.
	Backend models.Backend
}

func (f *Flags) given(name string) bool { return f.Set[name] }

// Session is a configured deliberation setup: what every command that
// talks to models starts from.
type Session struct {
	Config   *config.File
	Settings engine.Settings
	Agents   []engine.AgentInfo
	Backend  models.Backend
	// Provenance is which nsed, servers and exact models the agents use,
	// gathered by Open; nil after Load alone.
	Provenance *models.Provenance

	flags  Flags
	ollama *models.Router // Ollama and OpenAI-compatible hosts; nil when Flags.Backend stands in
	warn   func(string)
}

// Load reads the configuration and applies the flags, without talking to
// any server. warn (nil: none) receives what the user should know but
// does not stop the command.
func Load(f Flags, warn func(string)) (*Session, error) {
	if warn == nil {
		warn = func(string) {}
	}
	cfg, err := config.Load(f.Config)
	if err != nil {
		return nil, &UsageError{err}
	}
	s := &Session{Config: cfg, Settings: cfg.Settings(), Agents: cfg.AgentInfos(), flags: f, warn: warn}
	if err := s.applyFlags(); err != nil {
		return nil, err
	}
	if f.Backend != nil {
		s.Backend = f.Backend
		return s, nil
	}
	if s.ollama, err = models.NewRouter(s.hosts(), s.Config.KeyEnvs()); err != nil {
		return nil, Usagef("%v", err)
	}
	s.Backend = s.ollama
	s.warnPlainHTTP()
	return s, nil
}

// Open is Load, then the broker's binding if --broker asked for it, then a
// check that every server the agents use answers and has their models —
// all before any round starts.
func Open(ctx context.Context, f Flags, warn func(string)) (*Session, error) {
	s, err := Load(f, warn)
	if err != nil {
		return nil, err
	}
	if f.Broker {
		if err := s.bindByBroker(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.check(ctx); err != nil {
		return s, err
	}
	p := models.Describe(ctx, s.Backend, agentRefs(s.Agents))
	s.Provenance = &p
	return s, nil
}

// agentRefs names the agents' models for models.Describe.
func agentRefs(agents []engine.AgentInfo) []models.Ref {
	refs := make([]models.Ref, len(agents))
	for i, a := range agents {
		refs[i] = models.Ref{Host: a.Host, Model: a.Model}
	}
	return refs
}

// applyFlags is the precedence rule for settings and agents: each flag
// given replaces what nsed.toml says.
func (s *Session) applyFlags() error {
	f, set := &s.flags, &s.Settings
	if f.given("rounds") {
		set.MaxRounds = f.Rounds
		set.MinRounds = min(set.MinRounds, f.Rounds)
	}
	if f.given("min-rounds") {
		set.MinRounds = f.MinRounds
		set.MaxRounds = max(set.MaxRounds, f.MinRounds)
	}
	if f.given("credits") {
		set.Credits = f.Credits
	}
	if f.given("gate-budget") {
		set.Gate.BudgetTokens = f.GateBudget
	}
	if f.given("num-predict") {
		// The same answer budget for every protocol: proposals and summaries.
		set.Sampling.Propose.NumPredict = f.NumPredict
		set.Sampling.Summary.NumPredict = f.NumPredict
	}
	if f.given("review-predict") {
		set.Sampling.Review.NumPredict = f.ReviewPredict
	}
	if f.given("models") {
		if f.Broker {
			return Usagef("--models and --broker both choose the models: use one (pin agents with `nsed broker --pin` to combine them)")
		}
		agents, err := bindModels(s.Agents, f.Models)
		if err != nil {
			return &UsageError{err}
		}
		s.Agents = agents
	}
	if err := s.Settings.Validate(); err != nil {
		return Usagef("settings: %v", err)
	}
	return nil
}

// hosts applies the host precedence: --host (repeatable) replaces every
// host; else $OLLAMA_HOST replaces the file's first Ollama host (none
// when only [[hosts]] tables list servers), and --host (single) replaces
// the first in turn. ollama.hosts come before [[hosts]].
func (s *Session) hosts() []string {
	if s.flags.given("host") && len(s.flags.Hosts) > 0 {
		return s.flags.Hosts
	}
	hosts := s.Config.HostList()
	if env := os.Getenv("OLLAMA_HOST"); env != "" && len(s.Config.Ollama.Hosts) > 0 {
		hosts[0] = env
	}
	if s.flags.given("host") && s.flags.Host != "" {
		if len(hosts) == 0 {
			hosts = []string{""}
		}
		hosts[0] = s.flags.Host
	}
	return hosts
}

// Theme is the TUI theme: --theme, else nsed.toml's.
func (s *Session) Theme() string {
	if s.flags.given("theme") {
		return s.flags.Theme
	}
	return s.Config.TUI.Theme
}

// Theme is the TUI theme for commands that need no session (replay, the
// question prompt): --theme, else nsed.toml's.
func Theme(f Flags) (string, error) {
	if f.given("theme") {
		return f.Theme, nil
	}
	cfg, err := config.Load(f.Config)
	if err != nil {
		return "", &UsageError{err}
	}
	return cfg.TUI.Theme, nil
}

// check pings every host the agents use and asks each for its agent's model.
func (s *Session) check(ctx context.Context) error {
	if s.ollama == nil {
		if c, ok := s.Backend.(models.Checker); ok {
			for _, a := range s.Agents {
				if err := c.CheckModel(ctx, a.Host, a.Model); err != nil {
					return err
				}
			}
		}
		return nil
	}
	used := map[string]bool{}
	for _, a := range s.Agents {
		used[a.Host] = true
	}
	for h := range used {
		if _, err := s.ollama.Ping(ctx, h); err != nil {
			return err
		}
	}
	for _, a := range s.Agents {
		if err := s.ollama.CheckModel(ctx, a.Host, a.Model); err != nil {
			return err
		}
	}
	return nil
}

// bindModels binds agents to the listed models in order. More models than
// agents adds agents, cycling through the configured roles.
func bindModels(agents []engine.AgentInfo, list string) ([]engine.AgentInfo, error) {
	var names []string
	for _, m := range strings.Split(list, ",") {
		if m = strings.TrimSpace(m); m != "" {
			names = append(names, m)
		}
	}
	if len(names) < 2 || len(names) > 8 {
		return nil, fmt.Errorf("--models needs 2 to 8 comma-separated model names, got %d", len(names))
	}
	out := make([]engine.AgentInfo, len(names))
	for i, m := range names {
		base := agents[i%len(agents)]
		out[i] = engine.AgentInfo{ID: fmt.Sprintf("agent-%d", i+1), Role: base.Role, Host: base.Host, Model: m, BoundBy: "flag"}
		if i < len(agents) {
			out[i].Options = base.Options // the slot's own think and budgets ([[agents]] keys) stay with it
		}
	}
	return out, nil
}

// listModels gathers telemetry from every host; unreachable hosts are
// skipped, with their errors returned as skipped, unless none answers.
func (s *Session) listModels(ctx context.Context, meter *models.Meter) (infos []models.ModelInfo, skipped []error, err error) {
	if s.ollama == nil {
		return nil, nil, errors.New("listing models needs Ollama servers")
	}
	for _, h := range s.ollama.Hosts() {
		ms, err := s.ollama.Models(ctx, h, meter)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		infos = append(infos, ms...)
	}
	if len(infos) == 0 && len(skipped) > 0 {
		return nil, nil, errors.Join(skipped...)
	}
	return infos, skipped, nil
}

// TranscriptDir is where runs are saved, from nsed.toml (configPath, else
// ./nsed.toml, else the built-in one).
func TranscriptDir(configPath string) (string, error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return "", &UsageError{err}
	}
	return cfg.TranscriptDir(), nil
}
