package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nsed/nsed/app"
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
	// History is a resumed run's earlier rounds, shown before it goes on.
	History []engine.Event
}

// liveTUI opens the live TUI and askQuestion asks for a question on
// screen; tui.go sets them.
var (
	liveTUI     func(ctx context.Context, io stdio, s liveSetup) error
	askQuestion func(ctx context.Context, io stdio, theme string) (string, error)
)

// runFlags are `nsed run`'s flags; app.Flags holds those every command that
// starts a deliberation shares.
type runFlags struct {
	app.Flags
	file           string
	headless, json bool
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.Config, "config", "", "read this nsed.toml (default ./nsed.toml, else the built-in one)")
	fs.StringVar(&f.Host, "host", "", "Ollama host:port, or an OpenAI-compatible server's URL ending in /v1 (default $OLLAMA_HOST, else the config's first host)")
	fs.StringVar(&f.Models, "models", "", "bind agents to these Ollama models in order, comma-separated")
	fs.IntVar(&f.Rounds, "rounds", 0, "maximum rounds (overrides the config)")
	fs.StringVar(&f.Transcript, "transcript", "", "write the run's JSONL transcript here (default: the config's transcript dir)")
	fs.StringVar(&f.Theme, "theme", "", "TUI theme: dark, light or high-contrast")
	fs.BoolVar(&f.Broker, "broker", false, "let the Dynamic Expertise Broker bind models to roles (see `nsed broker --explain`)")
	fs.StringVar(&f.VRAMBudget, "vram-budget", "", "with --broker: memory per host the binding may fill, e.g. 8GiB (default: [broker] vram_budget)")
	fs.StringVar(&f.Store, "store", "", "the broker's quality store, updated after every run (default $XDG_DATA_HOME/nsed/quality.json)")
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

// given names the flags the command line set: they, and only they,
// override nsed.toml (see package app).
func given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func readQuestion(rest []string, file string, in io.Reader) (string, error) {
	switch {
	case file == "-":
		b, err := io.ReadAll(in)
		return strings.TrimSpace(string(b)), err
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", app.Usagef("question file: %v", err)
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
	f.Set = given(fs)
	question, err := readQuestion(rest, f.file, io.in)
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitCode(err)
	}
	if question == "" && f.file == "" && !f.headless && !f.json && askQuestion != nil && isTerminal(io.out) && isTerminal(io.in) {
		// `nsed` alone opens the app: ask for the question on screen.
		theme, _ := app.Theme(f.Flags)
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

// deliberate opens a session and runs one deliberation, headless or in the
// TUI. The transcript is closed (and so on disk) before it returns,
// whatever happened.
func deliberate(ctx context.Context, io stdio, f *runFlags, question string) error {
	warn := func(msg string) { fmt.Fprintln(io.err, "nsed:", msg) }
	s, err := app.Open(ctx, f.Flags, warn)
	if err != nil {
		return err
	}
	d, err := s.Deliberate(question, timeNow())
	if err != nil {
		return err
	}
	return drive(ctx, io, f, s, d)
}

// drive runs a deliberation, new or resumed, headless or in the TUI, and
// finishes it: the transcript is closed (and so on disk) before it
// returns, whatever happened.
func drive(ctx context.Context, io stdio, f *runFlags, s *app.Session, d *app.Deliberation) error {
	// A transcript that cannot be written (a full disk) stops the run.
	runCtx, stop := d.Watch(ctx)
	defer stop()
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
		r, err := d.NewRun(sink)
		if err != nil {
			return d.Finish(ctx, err)
		}
		if !f.json {
			fmt.Fprintf(io.err, "nsed: run %s · transcript %s\n", d.ID, d.Path)
		}
		_, runErr = r.Run(runCtx)
	} else {
		setup := liveSetup{
			Question: d.Question, Agents: s.Agents, Settings: s.Settings, Theme: s.Theme(),
			TranscriptPath: d.Path, NewRun: d.NewRun, Models: d.Models,
		}
		if rs := d.Resumed(); rs != nil {
			setup.History = rs.History
		}
		runErr = liveTUI(runCtx, io, setup)
	}
	runErr = d.Finish(ctx, runErr)
	if !f.json && d.TranscriptErr() == nil {
		fmt.Fprintf(io.err, "nsed: transcript saved to %s\n", d.Path)
	}
	return runErr
}
