package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nsed/nsed/broker"
	"github.com/nsed/nsed/config"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

func init() {
	commands["run"] = command{summary: "run a deliberation on a question (live TUI, or --headless)", run: cmdRun}
}

// liveSetup is what the live TUI needs to drive a run. The TUI adds its own
// sink (a bridge into Bubble Tea) when it creates the run, runs it, and on
// quit cancels it and waits for run_ended before exiting.
type liveSetup struct {
	Question       string
	Agents         []engine.AgentInfo
	Settings       engine.Settings
	Theme          string
	TranscriptPath string
	// NewRun creates the run with sink added to the transcript's.
	NewRun func(sink engine.Sink) (*engine.Run, error)
	// Models lists the reachable models for the rebind picker.
	Models func(ctx context.Context) ([]models.ModelInfo, error)
}

// liveTUI opens the live TUI and askQuestion asks for a question on
// screen; tui.go sets them.
var (
	liveTUI     func(ctx context.Context, io stdio, s liveSetup) error
	askQuestion func(ctx context.Context, io stdio, theme string) (string, error)
)

// runFlags are the flags shared by every command that starts a deliberation.
type runFlags struct {
	config, host, models, transcript, theme, file string
	rounds                                        int
	headless, json                                bool
	// The Dynamic Expertise Broker: bind models by it, within this budget,
	// learning into this store.
	broker            bool
	vramBudget, store string
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "read this nsed.toml (default ./nsed.toml, else the built-in one)")
	fs.StringVar(&f.host, "host", "", "Ollama host:port (default $OLLAMA_HOST, else the config's first host)")
	fs.StringVar(&f.models, "models", "", "bind agents to these Ollama models in order, comma-separated")
	fs.IntVar(&f.rounds, "rounds", 0, "maximum rounds (overrides the config)")
	fs.StringVar(&f.transcript, "transcript", "", "write the run's JSONL transcript here (default: the config's transcript dir)")
	fs.StringVar(&f.theme, "theme", "", "TUI theme: dark, light or high-contrast")
	fs.BoolVar(&f.broker, "broker", false, "let the Dynamic Expertise Broker bind models to roles (see `nsed broker --explain`)")
	fs.StringVar(&f.vramBudget, "vram-budget", "", "with --broker: memory per host the binding may fill, e.g. 8GiB (default: [broker] vram_budget)")
	fs.StringVar(&f.store, "store", "", "the broker's quality store, updated after every run (default $XDG_DATA_HOME/nsed/quality.json)")
}

// parseInterleaved lets flags follow the question: `nsed run "q" --rounds 2`.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// setup is a configured, checked deliberation ready to run.
type setup struct {
	cfg      *config.File
	settings engine.Settings
	agents   []engine.AgentInfo
	backend  *models.Ollama
	hosts    []string
	question string
}

// prepare loads the configuration, applies flags, and checks that every
// server answers and every model exists — before any round starts.
func prepare(ctx context.Context, f *runFlags, question string, warn func(string)) (*setup, error) {
	cfg, err := config.Load(f.config)
	if err != nil {
		return nil, &usageError{err}
	}
	s := &setup{cfg: cfg, settings: cfg.Settings(), agents: cfg.AgentInfos(), question: question}
	if f.rounds > 0 {
		s.settings.MaxRounds = f.rounds
		if s.settings.MinRounds > f.rounds {
			s.settings.MinRounds = f.rounds
		}
	}
	if f.models != "" {
		if f.broker {
			return nil, usagef("--models and --broker both choose the models: use one (pin agents with `nsed broker --pin` to combine them)")
		}
		if s.agents, err = bindModels(s.agents, f.models); err != nil {
			return nil, &usageError{err}
		}
	}
	if err := s.settings.Validate(); err != nil {
		return nil, usagef("settings: %v", err)
	}
	s.hosts = resolveHosts(nil, cfg)
	if f.host != "" {
		// --host replaces the default host; the config's others stay
		// available to agents bound to them.
		s.hosts = append([]string{f.host}, s.hosts[1:]...)
	}
	if s.backend, err = models.NewOllama(s.hosts...); err != nil {
		return nil, usagef("%v", err)
	}
	if f.broker {
		if err := s.bindByBroker(ctx, f, warn); err != nil {
			return nil, err
		}
	}
	used := map[string]bool{}
	for _, a := range s.agents {
		used[a.Host] = true
	}
	for h := range used {
		if _, err := s.backend.Ping(ctx, h); err != nil {
			return nil, err
		}
	}
	for _, a := range s.agents {
		if err := s.backend.CheckModel(ctx, a.Host, a.Model); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// brokerPlan builds the broker's problem for the agents, from the config
// and flags.
func (s *setup) brokerPlan(f *runFlags, slots []broker.RoleSlot, warn func(string)) (brokerPlan, error) {
	plan := brokerPlan{
		Slots: slots, StorePath: f.store, Warn: warn,
		Correlation: s.cfg.Broker.Diversity, DefaultPrior: s.cfg.Broker.DefaultPrior, Priors: s.cfg.Broker.Priors,
	}
	budget := s.cfg.Broker.VRAMBudget
	if f.vramBudget != "" {
		budget = f.vramBudget
	}
	if budget != "" {
		b, err := config.ParseBytes(budget)
		if err != nil {
			return plan, usagef("--vram-budget: %v", err)
		}
		plan.Budget.DefaultMemory = b
	}
	return plan, nil
}

// bindByBroker replaces the agents' models with the broker's binding.
func (s *setup) bindByBroker(ctx context.Context, f *runFlags, warn func(string)) error {
	slots := broker.SlotsFrom(s.agents, nil)
	for i := range slots {
		slots[i].Current = nil // the configured models are suggestions, not incumbents
	}
	plan, err := s.brokerPlan(f, slots, warn)
	if err != nil {
		return err
	}
	sol, _, err := planBinding(ctx, s.backend, nil, plan)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	s.agents = sol.Agents()
	for _, a := range s.agents {
		warn(fmt.Sprintf("broker bound %s (%s) to %s%s: %s", a.ID, a.Role, a.Model, hostSuffix(a.Host), a.Reason))
	}
	return nil
}

// rebalancer re-runs the broker between rounds on fresh telemetry (the
// meter's measured speeds and failures included), keeping the current team
// unless a clearly better one appears and honouring the user's rebinds as
// pins.
func (s *setup) rebalancer(f *runFlags, meter *models.Meter) func(context.Context, []engine.AgentInfo, map[string]bool, map[string]engine.AgentInfo) ([]engine.Rebound, error) {
	return func(ctx context.Context, agents []engine.AgentInfo, failed map[string]bool, pins map[string]engine.AgentInfo) ([]engine.Rebound, error) {
		bp := map[string]broker.Binding{}
		for id, a := range pins {
			bp[id] = broker.Binding{Host: a.Host, Model: a.Model}
		}
		slots := broker.SlotsFrom(agents, bp)
		for i := range slots {
			if failed[slots[i].Agent] {
				slots[i].Current = nil // no loyalty to a model that just failed
			}
		}
		// Mid-run there is no terminal line to warn on (the TUI owns the
		// screen); the decision and its reason are events.
		plan, err := s.brokerPlan(f, slots, func(string) {})
		if err != nil {
			return nil, err
		}
		sol, _, err := planBinding(ctx, s.backend, meter, plan)
		if err != nil {
			return nil, err
		}
		return broker.Rebinds(agents, sol), nil
	}
}

// learn feeds a finished run's evidence — peer-review scores received and
// vote share won per role and model — into the broker's quality store, with
// the telemetry measured on the way. Failing to learn never fails the run.
func learn(ctx context.Context, f *runFlags, s *setup, rec *broker.Recorder, meter *models.Meter, warn func(string)) {
	obs := broker.EvidenceFrom(rec.Events())
	if len(obs) == 0 {
		return
	}
	store, err := broker.Open(f.store, broker.Priors{Default: s.cfg.Broker.DefaultPrior, Roles: s.cfg.Broker.Priors})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		warn(err.Error())
	}
	store.ObserveAll(obs)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if infos, _, err := listModels(ctx, s.backend, meter); err == nil {
		store.RememberTelemetry(infos)
	}
	if err := store.Save(); err != nil {
		warn("quality store not updated: " + err.Error())
	}
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

func readQuestion(rest []string, file string, in io.Reader) (string, error) {
	switch {
	case file == "-":
		b, err := io.ReadAll(in)
		return strings.TrimSpace(string(b)), err
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("question file: %v", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(strings.Join(rest, " ")), nil
}

func cmdRun(ctx context.Context, io stdio, args []string) int {
	fs := flag.NewFlagSet("nsed run", flag.ContinueOnError)
	fs.SetOutput(io.err)
	var f runFlags
	f.register(fs)
	fs.BoolVar(&f.headless, "headless", false, "no TUI: print a compact live log and the answer")
	fs.BoolVar(&f.json, "json", false, "with --headless: print every event as JSON Lines instead")
	fs.StringVar(&f.file, "f", "", "read the question from this file (- for stdin)")
	fs.Usage = func() {
		fmt.Fprintln(io.err, "Usage: nsed run [flags] \"question\"   (or -f question.txt)")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	question, err := readQuestion(rest, f.file, io.in)
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitCode(err)
	}
	if question == "" && f.file == "" && !f.headless && !f.json && askQuestion != nil && isTerminal(io.out) && isTerminal(io.in) {
		// `nsed` alone opens the app: ask for the question on screen.
		theme := f.theme
		if theme == "" {
			if cfg, err := config.Load(f.config); err == nil {
				theme = cfg.TUI.Theme
			}
		}
		if question, err = askQuestion(ctx, io, theme); err != nil {
			fmt.Fprintln(io.err, "nsed:", err)
			return exitCode(err)
		}
		if question == "" {
			return exitOK // the user changed their mind
		}
	}
	if question == "" {
		fmt.Fprintln(io.err, "nsed run: no question: pass it as an argument or with -f FILE (or start nsed in a terminal to be asked)")
		return exitUsage
	}
	if f.json && !f.headless {
		f.headless = true
	}
	if !f.headless && liveTUI == nil {
		fmt.Fprintln(io.err, "nsed: this binary has no TUI; use --headless")
		return exitUsage
	}
	err = deliberate(ctx, io, &f, question)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(io.err, "nsed:", err)
	}
	return exitCode(err)
}

// deliberate prepares and runs one deliberation, headless or in the TUI. The
// transcript is closed (and so on disk) before it returns, whatever happened.
func deliberate(ctx context.Context, io stdio, f *runFlags, question string) error {
	warn := func(msg string) { fmt.Fprintln(io.err, "nsed:", msg) }
	s, err := prepare(ctx, f, question, warn)
	if err != nil {
		return err
	}
	rec := &broker.Recorder{}
	runID := engine.NewRunID(timeNow())
	path := f.transcript
	if path == "" {
		path = filepath.Join(s.cfg.TranscriptDir(), runID+".jsonl")
	}
	tw, err := engine.CreateTranscript(path, s.cfg.Transcript.Tokens)
	if err != nil {
		return err
	}
	meter := &models.Meter{}
	newRun := func(sink engine.Sink) (*engine.Run, error) {
		cfg := engine.Config{
			Question: s.question, Agents: s.agents, Settings: s.settings,
			Backend: s.backend, Sink: engine.Tee(tw, rec, sink), RunID: runID, Meter: meter,
		}
		if f.broker {
			cfg.Rebalance = s.rebalancer(f, meter)
		}
		return engine.New(cfg)
	}
	var runErr error
	if f.headless {
		var sink engine.Sink
		if f.json {
			jw := engine.NewTranscriptWriter(io.out, true)
			defer jw.Close()
			sink = jw
		} else {
			sink = newPrinter(io.out, isTerminal(io.out))
		}
		r, err := newRun(sink)
		if err != nil {
			tw.Close()
			return err
		}
		if !f.json {
			fmt.Fprintf(io.err, "nsed: run %s · transcript %s\n", runID, path)
		}
		_, runErr = r.Run(ctx)
	} else {
		theme := s.cfg.TUI.Theme
		if f.theme != "" {
			theme = f.theme
		}
		runErr = liveTUI(ctx, io, liveSetup{
			Question: s.question, Agents: s.agents, Settings: s.settings, Theme: theme,
			TranscriptPath: path, NewRun: newRun,
			Models: func(ctx context.Context) ([]models.ModelInfo, error) {
				infos, _, err := listModels(ctx, s.backend, meter)
				return infos, err
			},
		})
	}
	if err := tw.Close(); err != nil && runErr == nil {
		runErr = err
	}
	learn(ctx, f, s, rec, meter, warn)
	if !f.json {
		fmt.Fprintf(io.err, "nsed: transcript saved to %s\n", path)
	}
	return runErr
}

// resolveHosts applies the host precedence: hosts given by flag, else
// OLLAMA_HOST in place of the config's first host, else the config's.
func resolveHosts(flagHosts []string, cfg *config.File) []string {
	if len(flagHosts) > 0 {
		return flagHosts
	}
	hosts := cfg.Ollama.Hosts
	if env := os.Getenv("OLLAMA_HOST"); env != "" {
		hosts = append([]string{env}, hosts[1:]...)
	}
	return hosts
}

// listModels gathers telemetry from every configured host; unreachable
// hosts are skipped, with their errors returned as skipped, unless none
// answers.
func listModels(ctx context.Context, o *models.Ollama, meter *models.Meter) (infos []models.ModelInfo, skipped []error, err error) {
	for _, h := range o.Hosts() {
		ms, err := o.Models(ctx, h, meter)
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

// exitCodeForModelErr maps model-server failures to their exit codes.
func exitCodeForModelErr(err error) int {
	switch {
	case errors.Is(err, models.ErrUnreachable):
		return exitUnreachable
	case errors.Is(err, models.ErrModelNotFound):
		return exitNoModel
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		return exitUsage
	}
	return exitFailed
}
