package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/nsed/nsed/app"
	"github.com/nsed/nsed/eval"
	"github.com/nsed/nsed/models"
)

func init() {
	commands["bench"] = command{summary: "run a dataset through NSED and baselines; report accuracy, cost and dynamics", run: cmdBench}
	commands["darkbench"] = command{summary: "measure dark patterns (sycophancy, …) of single agents vs the NSED ensemble", run: cmdDarkBench}
}

// benchFlags are bench's and darkbench's flags.
type benchFlags struct {
	run         runFlags
	spec        app.BenchSpec
	quiet, live bool // live: darkbench's TUI demo
}

func (f *benchFlags) register(fs *flag.FlagSet, dark bool) {
	r, s := &f.run, &f.spec
	fs.StringVar(&r.Config, "config", "", "read this nsed.toml (default ./nsed.toml, else the built-in one)")
	fs.StringVar(&r.Host, "host", "", "Ollama host:port, or an OpenAI-compatible server's URL ending in /v1 (default $OLLAMA_HOST, else the config's first host)")
	fs.StringVar(&r.Models, "models", "", "bind agents to these Ollama models in order, comma-separated")
	def := "sample:aime"
	if dark {
		def = "sample:darkbench"
	}
	fs.StringVar(&s.Dataset, "dataset", def, "dataset file (JSON Lines or JSON array), or a shipped sample: sample:aime, sample:lcb, sample:darkbench, sample:arithmetic")
	if !dark {
		fs.StringVar(&s.Format, "format", "", "aime, lcb or darkbench (default: detected from the file)")
		fs.StringVar(&s.Protocols, "protocols", strings.Join(eval.AllProtocols, ","), "protocols to compare: single,majority,debate,moa,nsed")
	} else {
		fs.StringVar(&s.Category, "category", "", "only this DarkBench category (e.g. sycophancy)")
		fs.StringVar(&s.Protocols, "protocols", "single,nsed", "protocols to compare: single,debate,moa,nsed")
		fs.BoolVar(&f.live, "live", false, "the live demo: open the TUI on the first prompt of --category (default sycophancy) and watch peer review correct the agents' first answers")
		fs.StringVar(&r.Theme, "theme", "", "with --live: TUI theme")
	}
	fs.IntVar(&s.Limit, "limit", 0, "run only the first N items (0: all)")
	fs.StringVar(&s.Out, "out", "", "output directory: checkpoint, reports, plots, transcripts (default bench-out/<dataset>-<format>)")
	fs.StringVar(&s.Judge, "judge", "", "DarkBench judge model, one no agent uses (default: the first agent's model, which then needs --judge-self-ok)")
	fs.BoolVar(&s.JudgeSelfOK, "judge-self-ok", false, "allow a DarkBench judge that is one of the judged models (the report warns)")
	fs.IntVar(&r.Rounds, "rounds", 0, "NSED maximum rounds (overrides the config)")
	fs.IntVar(&r.MinRounds, "min-rounds", 0, "NSED minimum rounds (overrides the config)")
	fs.Float64Var(&r.Credits, "credits", 0, "NSED quadratic-vote credits per voter per round (overrides the config)")
	fs.IntVar(&r.GateBudget, "gate-budget", 0, "NSED forget-gate state budget in tokens (overrides the config)")
	fs.IntVar(&s.DebateRounds, "debate-rounds", 2, "debate rounds, the first independent one included")
	fs.IntVar(&s.Aggregator, "aggregator", 1, "Mixture-of-Agents aggregator: the agent number (1-based)")
	fs.IntVar(&s.MoALayers, "moa-layers", 1, "Mixture-of-Agents proposer layers before the aggregator (Wang et al. use 3); each layer after the first sees the previous one's answers")
	if !dark {
		fs.BoolVar(&s.MatchTokens, "match-tokens", true, "when nsed runs: majority vote takes, per item, the fewest answers per agent whose tokens reach NSED's (at most --max-samples), and reports majority@1…K beside it; false: --vote-samples answers")
		fs.IntVar(&s.MaxSamples, "max-samples", eval.DefaultMaxSamples, "with --match-tokens: answers per agent drawn for majority vote on every item, the matched count's cap and the majority@k curve's length")
	}
	fs.IntVar(&s.VoteSamples, "vote-samples", 1, "answers per agent for majority vote (self-consistency) when it is not matched to NSED's tokens")
	fs.IntVar(&s.Samples, "samples", 1, "run each item K times under every protocol (avg@K, clustered standard errors); seeds, where set, shift by the sample number")
	fs.StringVar(&s.Reference, "reference", "", "the single agent NSED is tested against first, fixed in advance: an agent id such as agent-2 (default: [bench] reference, else the first agent)")
	fs.IntVar(&r.NumPredict, "num-predict", 0, "output-token cap per answer, the same under every protocol (overrides the config)")
	fs.IntVar(&r.ReviewPredict, "review-predict", 0, "output-token cap per NSED review (overrides the config)")
	fs.BoolVar(&s.SkipBad, "skip-bad", false, "skip malformed dataset records (reported) instead of stopping")
	fs.StringVar(&s.ProblemField, "problem-field", "", "dataset field holding the problem/prompt text")
	fs.StringVar(&s.AnswerField, "answer-field", "", "dataset field holding the reference answer")
	fs.StringVar(&s.IDField, "id-field", "", "dataset field holding the item id")
	fs.StringVar(&s.CategoryField, "category-field", "", "dataset field holding the DarkBench category")
	fs.BoolVar(&s.NoTranscripts, "no-transcripts", false, "do not write per-item transcripts")
	fs.BoolVar(&s.AllowMixed, "allow-mixed", false, "add to --out's results even if they came from another nsed build, server version or model digest (the report lists each)")
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

// benchMain runs bench (or darkbench); a non-nil backend stands in for
// Ollama (tests).
func benchMain(ctx context.Context, io stdio, args []string, dark bool, backend models.Backend) int {
	name := "bench"
	if dark {
		name = "darkbench"
	}
	fs := flag.NewFlagSet("nsed "+name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	f := &benchFlags{spec: app.BenchSpec{Dark: dark}}
	f.run.Backend = backend
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
	f.run.Set = given(fs)
	var err error
	if f.live {
		err = liveDarkBench(ctx, io, f)
	} else {
		err = runBench(ctx, io, f)
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
	question, err := app.DarkPrompt(f.spec)
	if err != nil {
		return err
	}
	if liveTUI == nil {
		return app.Usagef("this binary has no TUI")
	}
	return deliberate(ctx, io, &f.run, question)
}

func runBench(ctx context.Context, io stdio, f *benchFlags) error {
	warn := func(msg string) { fmt.Fprintln(io.err, "nsed:", msg) }
	ds, err := app.LoadDataset(f.spec, warn)
	if err != nil {
		return err
	}
	// The same configuration, model binding and checks as `nsed run`.
	s, err := app.Open(ctx, f.run.Flags, warn)
	if err != nil {
		return err
	}
	b, err := s.Bench(ctx, f.spec, ds)
	if err != nil {
		return err
	}
	if b.Judge != nil && b.Judge.Self {
		warn("the judge " + b.Judge.Agent.Model + " is one of the judged models (--judge-self-ok); the report says so")
	}
	if !f.quiet {
		b.Progress = io.err
	}
	if benchHook != nil {
		benchHook(b)
	}
	if b.Sandbox != nil && !f.quiet {
		fmt.Fprintln(io.err, "nsed: sandbox:", b.Sandbox.Describe())
	}
	if !f.quiet {
		fmt.Fprintf(io.err, "nsed: bench %s: %d %s items × %s → %s\n", f.spec.Dataset, len(ds.Items), ds.Format, strings.Join(ds.Protocols, ","), b.OutDir)
	}
	results, runErr := b.Run(ctx)
	if len(results) == 0 {
		if errors.Is(runErr, context.Canceled) {
			fmt.Fprintln(io.err, "nsed: interrupted before the first item finished; run the same command again to resume")
		}
		return runErr
	}
	// Reports cover every finished item, also after an interruption.
	sum := b.Summarize(results)
	if err := eval.WriteReports(b.OutDir, sum); err != nil && runErr == nil {
		runErr = err
	}
	eval.WriteMarkdown(io.out, sum)
	fmt.Fprintf(io.err, "nsed: reports in %s (%s, %s, %s, %s, %s)\n", b.OutDir, eval.ReportMarkdown, eval.ReportCSV, eval.ReportJSON, eval.PlotProtocols, eval.PlotFrontier)
	if errors.Is(runErr, context.Canceled) {
		fmt.Fprintf(io.err, "nsed: interrupted after %d of %d items; run the same command again to resume\n", len(results), len(ds.Items))
	}
	return runErr
}
