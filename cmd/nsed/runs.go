package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/nsed/nsed/app"
	"github.com/nsed/nsed/engine"
)

func init() {
	commands["runs"] = command{summary: "list saved runs (newest first), for replay and export", run: cmdRuns}
}

// runSummary is what `nsed runs` shows of one transcript.
type runSummary struct {
	path, id, question, status, reason string
	rounds                             int
}

// summarise reads a transcript's first line (run_started) and its last
// (run_ended, if the run finished) without reading the tokens between.
func summarise(path string) (runSummary, error) {
	s := runSummary{path: path, id: strings.TrimSuffix(filepath.Base(path), ".jsonl"), status: "unfinished"}
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer f.Close()
	first, err := bufio.NewReaderSize(f, 1<<16).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return s, err
	}
	if ev, err := engine.DecodeEvent(first); err == nil {
		if rs, ok := ev.(*engine.RunStarted); ok {
			s.id, s.question = rs.RunID, rs.Question
		}
	}
	// The last line is within the file's last 256 KiB unless a model wrote
	// an enormous proposal; then the run shows as unfinished, no harm.
	st, err := f.Stat()
	if err != nil {
		return s, err
	}
	off := max(0, st.Size()-256<<10)
	tail := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return s, err
	}
	lines := strings.Split(strings.TrimRight(string(tail), "\n"), "\n")
	if ev, err := engine.DecodeEvent([]byte(lines[len(lines)-1])); err == nil {
		if end, ok := ev.(*engine.RunEnded); ok {
			s.status, s.reason, s.rounds = end.Status, end.Reason, end.Rounds
		}
	}
	return s, nil
}

// transcripts lists the transcript directory, newest first (run ids sort
// by time).
func transcripts(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	return paths, nil
}

// resolveTranscript accepts a path, a run id from `nsed runs`, or "last".
func resolveTranscript(arg, configPath string) (string, error) {
	if _, err := os.Stat(arg); err == nil {
		return arg, nil
	}
	dir, err := app.TranscriptDir(configPath)
	if err != nil {
		return "", err
	}
	if arg == "last" {
		paths, err := transcripts(dir)
		if err != nil || len(paths) == 0 {
			return "", app.Usagef("no saved runs in %s yet", dir)
		}
		return paths[0], nil
	}
	if p := filepath.Join(dir, arg+".jsonl"); fileExists(p) {
		return p, nil
	}
	return "", app.Usagef("%s: no such transcript file, and no run with that id in %s (see `nsed runs`)", arg, dir)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func cmdRuns(ctx context.Context, std stdio, args []string) int {
	fs := flag.NewFlagSet("nsed runs", flag.ContinueOnError)
	fs.SetOutput(std.err)
	cfgPath := fs.String("config", "", "read the transcript directory from this nsed.toml")
	limit := fs.Int("n", 20, "show at most this many runs (0: all)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	dir, err := app.TranscriptDir(*cfgPath)
	if err != nil {
		fmt.Fprintln(std.err, "nsed:", err)
		return exitCode(err)
	}
	paths, err := transcripts(dir)
	if err != nil {
		fmt.Fprintln(std.err, "nsed:", err)
		return exitFailed
	}
	if len(paths) == 0 {
		fmt.Fprintf(std.err, "nsed: no saved runs in %s yet\n", dir)
		return exitOK
	}
	if *limit > 0 && len(paths) > *limit {
		paths = paths[:*limit]
	}
	tw := tabwriter.NewWriter(std.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tROUNDS\tQUESTION")
	for _, p := range paths {
		s, err := summarise(p)
		if err != nil {
			fmt.Fprintf(tw, "%s\tunreadable\t-\t%v\n", s.id, err)
			continue
		}
		status := s.status
		if s.reason != "" && s.reason != s.status {
			status += " (" + s.reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.id, status, s.rounds, oneLine(s.question, 70))
	}
	tw.Flush()
	fmt.Fprintf(std.err, "in %s · `nsed replay RUN` (or `last`) · `nsed export RUN` · `nsed resume RUN` goes on with an unfinished one\n", dir)
	return exitOK
}
