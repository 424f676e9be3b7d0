package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/nsed/nsed/app"
)

func init() {
	commands["resume"] = command{summary: "continue an interrupted run from its last complete round", run: cmdResume}
}

func cmdResume(ctx context.Context, io stdio, args []string) int {
	fs := flag.NewFlagSet("nsed resume", flag.ContinueOnError)
	fs.SetOutput(io.err)
	var f runFlags
	fs.StringVar(&f.Config, "config", "", "read the servers and the transcript directory from this nsed.toml (default ./nsed.toml, else the built-in one)")
	fs.StringVar(&f.Host, "host", "", "Ollama host:port, or an OpenAI-compatible server's URL ending in /v1 (default $OLLAMA_HOST, else the config's first host)")
	fs.StringVar(&f.Theme, "theme", "", "TUI theme: dark, light or high-contrast")
	fs.BoolVar(&f.headless, "headless", false, "no TUI: print a compact live log and the answer")
	fs.BoolVar(&f.json, "json", false, "with --headless: print every new event as JSON Lines instead")
	fs.Usage = func() {
		fmt.Fprintln(io.err, "Usage: nsed resume [flags] RUN-ID|TRANSCRIPT.jsonl|last")
		fmt.Fprintln(io.err, "\nGoes on with a killed, cancelled or failed run from its last complete round, with its own")
		fmt.Fprintln(io.err, "question, settings and models, appending to its transcript.")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fs.Usage()
		return exitUsage
	}
	f.Set = given(fs)
	if f.json {
		f.headless = true
	}
	if !f.headless && liveTUI == nil {
		fmt.Fprintln(io.err, "nsed: this binary has no TUI; use --headless")
		return exitUsage
	}
	err = resume(ctx, io, &f, rest[0])
	var done *app.AlreadyCompleted
	if errors.As(err, &done) {
		fmt.Fprintln(io.out, "nsed:", done)
		return exitOK
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(io.err, "nsed:", err)
	}
	return exitCode(err)
}

// resume finds the run's transcript, reopens the run and drives it on.
func resume(ctx context.Context, io stdio, f *runFlags, run string) error {
	path, err := resolveTranscript(run, f.Config)
	if err != nil {
		return err
	}
	s, err := app.Load(f.Flags, func(msg string) { fmt.Fprintln(io.err, "nsed:", msg) })
	if err != nil {
		return err
	}
	d, err := s.Resume(ctx, path)
	if err != nil {
		return err
	}
	if rs := d.Resumed(); !f.json {
		fmt.Fprintf(io.err, "nsed: resuming run %s after round %d (it was %s)\n", d.ID, rs.After, rs.Reason)
	}
	return drive(ctx, io, f, s, d)
}
