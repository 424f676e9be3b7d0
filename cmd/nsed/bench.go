package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/eval"
	"github.com/nsed/nsed/models"
)

func init() {
	commands["bench"] = command{summary: "run a dataset through NSED and baselines; report accuracy, cost and dynamics", run: cmdBench}
	commands["darkbench"] = command{summary: "measure dark patterns (sycophancy, …) of single agents vs the NSED ensemble", run: cmdDarkBench}
}

// benchFlags are bench's and darkbench's flags.
type benchFlags struct {
	run                                        runFlags
	dataset, format, protocols, out, judge     string
	category                                   string
	problemField, answerField, idField         string
	categoryField                              string
	limit, minRounds, debateRounds, aggregator int
	voteSamples                                int
	numPredict, reviewPredict, gateBudget      int
	credits                                    float64
	skipBad, noTranscripts, quiet              bool
	live                                       bool           // darkbench: the live TUI demo
	backend                                    models.Backend // tests substitute one; nil means Ollama
}

func (f *benchFlags) register(fs *flag.FlagSet, dark bool) {
	fs.StringVar(&f.run.config, "config", "", "read this nsed.toml (default ./nsed.toml, else the built-in one)")
	fs.StringVar(&f.run.host, "host", "", "Ollama host:port (default $OLLAMA_HOST, else the config's first host)")
	fs.StringVar(&f.run.models, "models", "", "bind agents to these Ollama models in order, comma-separated")
	def := "sample:aime"
	if dark {
		def = "sample:darkbench"
	}
	fs.StringVar(&f.dataset, "dataset", def, "dataset file (JSON Lines or JSON array), or a shipped sample: sample:aime, sample:lcb, sample:darkbench")
	if !dark {
		fs.StringVar(&f.format, "format", "", "aime, lcb or darkbench (default: detected from the file)")
		fs.StringVar(&f.protocols, "protocols", strings.Join(eval.AllProtocols, ","), "protocols to compare: single,majority,debate,moa,nsed")
	} else {
		fs.StringVar(&f.category, "category", "", "only this DarkBench category (e.g. sycophancy)")
		fs.StringVar(&f.protocols, "protocols", "single,nsed", "protocols to compare: single,debate,moa,nsed")
		fs.BoolVar(&f.live, "live", false, "the live demo: open the TUI on the first prompt of --category (default sycophancy) and watch peer review correct the agents' first answers")
		fs.StringVar(&f.run.theme, "theme", "", "with --live: TUI theme")
	}
	fs.IntVar(&f.limit, "limit", 0, "run only the first N items (0: all)")
	fs.StringVar(&f.out, "out", "", "output directory: checkpoint, reports, plots, transcripts (default bench-out/<dataset>-<format>)")
	fs.StringVar(&f.judge, "judge", "", "DarkBench judge model (default: the first agent's model)")
	fs.IntVar(&f.run.rounds, "rounds", 0, "NSED maximum rounds (overrides the config)")
	fs.IntVar(&f.minRounds, "min-rounds", 0, "NSED minimum rounds (overrides the config)")
	fs.Float64Var(&f.credits, "credits", 0, "NSED quadratic-vote credits per voter per round (overrides the config)")
	fs.IntVar(&f.gateBudget, "gate-budget", 0, "NSED forget-gate state budget in tokens (overrides the config)")
	fs.IntVar(&f.debateRounds, "debate-rounds", 2, "debate rounds, the first independent one included")
	fs.IntVar(&f.aggregator, "aggregator", 1, "Mixture-of-Agents aggregator: the agent number (1-based)")
	fs.IntVar(&f.voteSamples, "vote-samples", 1, "answers per agent for majority vote (self-consistency); raise it to match another protocol's token budget")
	fs.IntVar(&f.numPredict, "num-predict", 0, "output-token cap per answer, the same under every protocol (overrides the config)")
	fs.IntVar(&f.reviewPredict, "review-predict", 0, "output-token cap per NSED review (overrides the config)")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "skip malformed dataset records (reported) instead of stopping")
	fs.StringVar(&f.problemField, "problem-field", "", "dataset field holding the problem/prompt text")
	fs.StringVar(&f.answerField, "answer-field", "", "dataset field holding the reference answer")
	fs.StringVar(&f.idField, "id-field", "", "dataset field holding the item id")
	fs.StringVar(&f.categoryField, "category-field", "", "dataset field holding the DarkBench category")
	fs.BoolVar(&f.noTranscripts, "no-transcripts", false, "do not write per-item transcripts")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
}

// benchHook, when set (by tests), sees the bench before it runs.
var benchHook func(*eval.Bench)

func cmdBench(ctx context.Context, io stdio, args []string) int {
	return benchMain(ctx, io, args, false, nil)
}

func cmdDarkBench(ctx context.Context, io stdio, args []string) int {
	return benchMain(ctx, io, args, true, nil)
}

func benchMain(ctx context.Context, io stdio, args []string, dark bool, backend models.Backend) int {
	name := "bench"
	if dark {
		name = "darkbench"
	}
	fs := flag.NewFlagSet("nsed "+name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	f := &benchFlags{backend: backend}
	f.register(fs, dark)
	fs.Usage = func() {
		if dark {
			fmt.Fprintln(io.err, "Usage: nsed darkbench [--dataset FILE] [--category NAME] [flags]")
			fmt.Fprintln(io.err, "Measures headless and prints the dark-pattern rates; --live opens the TUI on one prompt instead.")
		} else {
			fmt.Fprintln(io.err, "Usage: nsed bench --dataset FILE [--format aime|lcb|darkbench] [--protocols single,majority,debate,moa,nsed] [--limit N] [--out DIR] [flags]")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(io.err, "nsed %s: unexpected argument %q\n", name, fs.Arg(0))
		return exitUsage
	}
	var err error
	if f.live {
		err = liveDarkBench(ctx, io, f)
	} else {
		err = runBench(ctx, io, f, dark)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(io.err, "nsed:", err)
	}
	return exitCode(err)
}

// liveDarkBench is the DarkBench demo: the first prompt of the category
// deliberated live in the TUI. Each agent's pane keeps its own first
// answer above the later rounds, beside the peer-corrected consensus.
func liveDarkBench(ctx context.Context, io stdio, f *benchFlags) error {
	cat := f.category
	if cat == "" {
		cat = "sycophancy"
	}
	items, _, _, err := eval.LoadDataset(f.dataset, eval.LoadOptions{Format: eval.FormatDarkBench, SkipBad: true,
		ProblemField: f.problemField, CategoryField: f.categoryField})
	if err != nil {
		return &usageError{err}
	}
	for _, it := range items {
		if it.Category == eval.NormalizeCategory(cat) {
			if liveTUI == nil {
				return usagef("this binary has no TUI")
			}
			return deliberate(ctx, io, &f.run, it.Problem)
		}
	}
	return usagef("%s has no %q prompt (categories: %s)", f.dataset, cat, strings.Join(eval.Categories, ", "))
}

func runBench(ctx context.Context, io stdio, f *benchFlags, dark bool) error {
	format, err := eval.ParseFormat(f.format)
	if err != nil {
		return &usageError{err}
	}
	if dark {
		format = eval.FormatDarkBench
	}
	protocols, err := eval.ParseProtocols(f.protocols)
	if err != nil {
		return &usageError{err}
	}
	items, bad, hash, err := eval.LoadDataset(f.dataset, eval.LoadOptions{Format: format, SkipBad: f.skipBad,
		ProblemField: f.problemField, AnswerField: f.answerField, IDField: f.idField, CategoryField: f.categoryField})
	for _, b := range bad {
		if f.skipBad {
			fmt.Fprintf(io.err, "nsed: %s: skipped %v\n", f.dataset, b)
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usagef("%v", err)
		}
		return &usageError{err}
	}
	format = items[0].Format
	if f.category != "" {
		c := eval.NormalizeCategory(f.category)
		if c == "" {
			return usagef("--category %q: want one of %s", f.category, strings.Join(eval.Categories, ", "))
		}
		var keep []eval.Item
		for _, it := range items {
			if it.Category == c {
				keep = append(keep, it)
			}
		}
		if len(keep) == 0 {
			return usagef("no %s items in %s", c, f.dataset)
		}
		items = keep
	}
	if f.limit > 0 && f.limit < len(items) {
		items = items[:f.limit]
	}

	// The same configuration, model binding and checks as `nsed run`.
	var backend models.Backend = f.backend
	var settings engine.Settings
	var agents []engine.AgentInfo
	var checker models.Checker
	if backend == nil {
		s, err := prepare(ctx, &f.run, "bench", func(msg string) { fmt.Fprintln(io.err, "nsed:", msg) })
		if err != nil {
			return err
		}
		backend, settings, agents, checker = s.backend, s.settings, s.agents, s.backend
	} else {
		settings = engine.DefaultSettings()
		if f.run.rounds > 0 {
			settings.MaxRounds = f.run.rounds
			settings.MinRounds = min(settings.MinRounds, f.run.rounds)
		}
		if agents, err = bindModels([]engine.AgentInfo{{}}, f.run.models); err != nil {
			return &usageError{err}
		}
		checker, _ = backend.(models.Checker)
	}
	if f.minRounds > 0 {
		settings.MinRounds = f.minRounds
		settings.MaxRounds = max(settings.MaxRounds, f.minRounds)
	}
	if f.credits > 0 {
		settings.Credits = f.credits
	}
	if f.gateBudget > 0 {
		settings.Gate.BudgetTokens = f.gateBudget
	}
	if f.numPredict > 0 {
		settings.Sampling.Propose.NumPredict = f.numPredict
		settings.Sampling.Summary.NumPredict = f.numPredict
	}
	if f.reviewPredict > 0 {
		settings.Sampling.Review.NumPredict = f.reviewPredict
	}
	if err := settings.Validate(); err != nil {
		return usagef("settings: %v", err)
	}
	if f.aggregator < 1 || f.aggregator > len(agents) {
		return usagef("--aggregator %d: want 1 to %d", f.aggregator, len(agents))
	}
	b := &eval.Bench{
		Env:   eval.Env{Backend: backend, Agents: agents, Settings: settings, DebateRounds: f.debateRounds, Aggregator: f.aggregator - 1, VoteSamples: f.voteSamples},
		Items: items, Format: format, Protocols: protocols, Dataset: f.dataset, DatasetHash: hash,
		OutDir: f.out, Transcripts: !f.noTranscripts,
	}
	if !f.quiet {
		b.Progress = io.err
	}
	if benchHook != nil {
		benchHook(b)
	}
	if b.OutDir == "" {
		base := strings.TrimSuffix(filepath.Base(strings.TrimPrefix(f.dataset, eval.SamplePrefix)), filepath.Ext(f.dataset))
		b.OutDir = filepath.Join("bench-out", base+"-"+string(format))
	}
	switch format {
	case eval.FormatLCB:
		b.Sandbox = &eval.Sandbox{}
		if !f.quiet {
			fmt.Fprintln(io.err, "nsed: sandbox:", b.Sandbox.Describe())
		}
	case eval.FormatDarkBench:
		judge := agents[0]
		judge.ID = "judge"
		if f.judge != "" && f.judge != judge.Model {
			// The judge takes the think settings of an agent on its model,
			// else the model's defaults: another model's would not fit.
			judge.Model, judge.Options = f.judge, nil
			for _, a := range agents {
				if a.Model == f.judge {
					judge.Options = a.Options
				}
			}
		}
		if checker != nil {
			if err := checker.CheckModel(ctx, judge.Host, judge.Model); err != nil {
				return err
			}
		}
		b.Judge = &eval.Judge{Backend: backend, Agent: judge}
	}
	if !f.quiet {
		fmt.Fprintf(io.err, "nsed: bench %s: %d %s items × %s → %s\n", f.dataset, len(items), format, strings.Join(protocols, ","), b.OutDir)
	}
	results, runErr := b.Run(ctx)
	if len(results) == 0 {
		if errors.Is(runErr, context.Canceled) {
			fmt.Fprintln(io.err, "nsed: interrupted before the first item finished; run the same command again to resume")
		}
		return runErr
	}
	// Reports cover every finished item, also after an interruption.
	s := b.Summarize(results)
	if err := eval.WriteReports(b.OutDir, s); err != nil && runErr == nil {
		runErr = err
	}
	eval.WriteMarkdown(io.out, s)
	fmt.Fprintf(io.err, "nsed: reports in %s (%s, %s, %s, %s)\n", b.OutDir, eval.ReportMarkdown, eval.ReportCSV, eval.ReportJSON, eval.PlotProtocols)
	if errors.Is(runErr, context.Canceled) {
		fmt.Fprintf(io.err, "nsed: interrupted after %d of %d items; run the same command again to resume\n", len(results), len(items))
	}
	return runErr
}
