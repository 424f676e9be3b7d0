package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nsed/nsed/app"
)

func init() {
	commands["models"] = command{summary: "list reachable models with size, memory and speed", run: cmdModels}
}

func cmdModels(ctx context.Context, io stdio, args []string) int {
	fs := flag.NewFlagSet("nsed models", flag.ContinueOnError)
	fs.SetOutput(io.err)
	cfgPath := fs.String("config", "", "read this nsed.toml")
	var hosts hostList
	fs.Var(&hosts, "host", "Ollama host:port or an OpenAI-compatible URL ending in /v1 (repeatable; default $OLLAMA_HOST, else the config's hosts)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	f := app.Flags{Config: *cfgPath, Hosts: hosts, Set: given(fs)}
	s, err := app.Load(f, func(string) {})
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitCode(err)
	}
	all, err := s.ModelTable(ctx, func(err error) { fmt.Fprintln(io.err, "nsed:", err) })
	if err != nil {
		return exitCode(err)
	}
	if *asJSON {
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(all)
		return exitOK
	}
	tw := tabwriter.NewWriter(io.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tAPI\tMODEL\tFAMILY\tPARAMS\tQUANT\tSIZE\tCONTEXT\tLOADED\tVRAM\tUNLOADS\tTOK/S\t1ST TOKEN")
	for _, m := range all {
		loaded, vram, until := "-", "-", "-"
		if m.Loaded {
			loaded = humanBytes(m.LoadedBytes)
			vram = humanBytes(m.VRAMBytes)
			if !m.ExpiresAt.IsZero() {
				until = time.Until(m.ExpiresAt).Round(time.Second).String()
			}
		}
		speed, first := "-", "-"
		if m.Measured.TokensPerSec > 0 {
			speed = fmt.Sprintf("%.1f", m.Measured.TokensPerSec)
		}
		if m.Measured.LatencyMS > 0 {
			first = fmt.Sprintf("%.0fms", m.Measured.LatencyMS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", m.Host, cmp.Or(m.API, "ollama"), m.Name, dash(m.Family), dash(m.ParameterSize),
			dash(m.Quantization), humanBytes(m.SizeBytes), m.ContextLength, loaded, vram, until, speed, first)
	}
	tw.Flush()
	if len(all) == 0 {
		fmt.Fprintln(io.err, "nsed: no models installed; pull one with `ollama pull NAME`")
	}
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
