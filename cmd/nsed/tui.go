package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/charmbracelet/x/term"
	"github.com/nsed/nsed/app"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/themes"
	"github.com/nsed/nsed/tui"
	"github.com/nsed/nsed/tui/bridge"
	"github.com/nsed/nsed/tui/demo"
)

func init() {
	liveTUI = runLiveTUI
	askQuestion = func(ctx context.Context, io stdio, theme string) (string, error) {
		th, err := themes.Lookup(theme)
		if err != nil {
			return "", app.Usagef("%v", err)
		}
		return tui.Ask(ctx, th, tui.IO{In: io.in, Out: io.out})
	}
	commands["replay"] = command{summary: "replay a saved run's transcript in the TUI", run: cmdReplay}
	commands["demo"] = command{summary: "watch a recorded run in the TUI (no Ollama needed)", run: cmdDemo}
}

// runLiveTUI drives s's run under the live TUI: the run executes in its own
// goroutine, its events reach the screen through a bridge, and quitting
// cancels it and waits for its run_ended event before returning, so the
// transcript is complete. It returns the run's error (context.Canceled when
// the user stopped it).
func runLiveTUI(ctx context.Context, io stdio, s liveSetup) error {
	th, err := themes.Lookup(s.Theme)
	if err != nil {
		return app.Usagef("%v", err)
	}
	if err := needTerminal(io); err != nil {
		return err
	}
	b := bridge.New(0)
	for _, ev := range s.History {
		b.Emit(ev) // a resumed run's earlier rounds, on screen before it goes on
	}
	r, err := s.NewRun(b)
	if err != nil {
		return err
	}
	var res engine.Result
	run := func(ctx context.Context) error {
		var err error
		res, err = r.Run(ctx)
		return err
	}
	err = tui.Live(ctx, run, b, tui.Options{Theme: th, Control: r, Models: s.Models}, tuiIO(io))
	if e := res.Ended; e != nil && (e.Status == engine.StatusCompleted || e.Reason == engine.StopQuorum) && e.Winner != "" {
		// The alternate screen is gone: leave the answer where it can be read.
		fmt.Fprintf(io.out, "%s (after %d rounds, %s): %s\n", e.Winner, e.Rounds, e.Reason, engine.CleanText(e.Answer))
	}
	return err
}

// isTerminal says whether w is a terminal (not a pipe or a file).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// needTerminal refuses to draw a full-screen UI into a pipe or file.
func needTerminal(io stdio) error {
	if f, ok := io.out.(*os.File); ok && !term.IsTerminal(f.Fd()) {
		return app.Usagef("the TUI needs a terminal; use --headless (or --json) to run without one")
	}
	return nil
}

func tuiIO(io stdio) tui.IO {
	// The program reads keys from a terminal it opens itself when stdin
	// is one; anything else (tests) is passed through, and a screen that
	// is not a terminal gets a fixed size.
	t := tui.IO{Out: io.out}
	if f, ok := io.in.(*os.File); !ok || !term.IsTerminal(f.Fd()) {
		t.In = io.in
	}
	if f, ok := io.out.(*os.File); !ok || !term.IsTerminal(f.Fd()) {
		t.Width, t.Height = 120, 40
	}
	return t
}

type replayFlags struct {
	config, theme string
	speed         float64
	paused        bool
	set           map[string]bool // the flags given
}

func (f *replayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "read the theme from this nsed.toml (default ./nsed.toml, else the built-in one)")
	fs.StringVar(&f.theme, "theme", "", "TUI theme: "+joinNames())
	fs.Float64Var(&f.speed, "speed", 1, "playback speed (0.25 to 64)")
	fs.BoolVar(&f.paused, "paused", false, "start paused (space plays, n/p step by phase)")
}

func (f *replayFlags) themeOf() (themes.Theme, error) {
	name, err := app.Theme(app.Flags{Config: f.config, Theme: f.theme, Set: f.set})
	if err != nil {
		return themes.Theme{}, err
	}
	th, err := themes.Lookup(name)
	if err != nil {
		return th, app.Usagef("%v", err)
	}
	return th, nil
}

func joinNames() string {
	s := ""
	for i, n := range themes.Names() {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func cmdReplay(ctx context.Context, io stdio, args []string) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprintln(io.err, "Usage: nsed replay [--theme NAME] [--speed X] [--paused] TRANSCRIPT.jsonl|RUN-ID|last")
		fmt.Fprintln(io.err, "\nReplays a saved run in the TUI: space play/pause, n/p next/previous phase, +/- speed, q quit.")
		fs.PrintDefaults()
	}
	var f replayFlags
	f.register(fs)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	f.set = given(fs)
	if len(rest) != 1 {
		fs.Usage()
		return exitUsage
	}
	path, err := resolveTranscript(rest[0], f.config)
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitCode(err)
	}
	evs, err := engine.ReadTranscriptFile(path)
	if errors.Is(err, engine.ErrTruncated) && len(evs) > 0 {
		// A killed run's last line may be cut short; replay the rest.
		fmt.Fprintln(io.err, "nsed: warning:", err)
		err = nil
	}
	if err == nil && len(evs) == 0 {
		err = fmt.Errorf("%s has no events", path)
	}
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitFailed
	}
	return replay(ctx, io, &f, evs, "a saved run ("+path+")")
}

func cmdDemo(ctx context.Context, io stdio, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprintln(io.err, "Usage: nsed demo [--theme NAME] [--speed X] [--paused]")
		fmt.Fprintln(io.err, "\nPlays a recorded deliberation in the TUI; no Ollama needed.")
		fs.PrintDefaults()
	}
	var f replayFlags
	f.register(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	f.set = given(fs)
	evs, err := demo.Events()
	if err != nil {
		fmt.Fprintln(io.err, "nsed: the built-in demo is unreadable:", err)
		return exitFailed
	}
	return replay(ctx, io, &f, evs, demo.Banner)
}

func replay(ctx context.Context, io stdio, f *replayFlags, evs []engine.Event, banner string) int {
	th, err := f.themeOf()
	if err == nil {
		err = needTerminal(io)
	}
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitCode(err)
	}
	err = tui.Replay(ctx, evs, tui.Options{Theme: th, Banner: banner, Speed: f.speed, Paused: f.paused}, tuiIO(io))
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitFailed
	}
	return exitOK
}
