package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/export"
)

func init() {
	commands["export"] = command{summary: "turn a run's transcript into a Markdown report or one JSON document", run: cmdExport}
}

func cmdExport(ctx context.Context, std stdio, args []string) int {
	fs := flag.NewFlagSet("nsed export", flag.ContinueOnError)
	fs.SetOutput(std.err)
	format := fs.String("format", "md", "md (Markdown report) or json (one JSON document)")
	out := fs.String("o", "", "write here instead of stdout")
	fs.Usage = func() {
		fmt.Fprintln(std.err, "Usage: nsed export [--format md|json] [-o FILE] TRANSCRIPT.jsonl|RUN-ID|last")
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
	write := export.Markdown
	switch *format {
	case "md", "markdown":
	case "json":
		write = export.JSON
	default:
		fmt.Fprintf(std.err, "nsed export: --format %q: use md or json\n", *format)
		return exitUsage
	}
	path, err := resolveTranscript(rest[0], "")
	if err != nil {
		fmt.Fprintln(std.err, "nsed export:", err)
		return exitCode(err)
	}
	evs, err := engine.ReadTranscriptFile(path)
	if errors.Is(err, engine.ErrTruncated) {
		// A killed run's last line may be cut: report what is there.
		fmt.Fprintln(std.err, "nsed export: warning:", err)
	} else if err != nil {
		fmt.Fprintln(std.err, "nsed export:", err)
		return exitUsage
	}
	run, err := export.Gather(evs)
	if err != nil {
		fmt.Fprintf(std.err, "nsed export: %s: %v\n", rest[0], err)
		return exitUsage
	}
	var w io.Writer = std.out
	if *out != "" {
		// The report quotes the whole run: the owner's alone, like the transcript.
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			fmt.Fprintln(std.err, "nsed export:", err)
			return exitFailed
		}
		defer f.Close()
		w = f
	}
	if err := write(w, run); err != nil {
		fmt.Fprintln(std.err, "nsed export:", err)
		return exitFailed
	}
	return exitOK
}
