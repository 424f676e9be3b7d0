package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nsed/nsed/broker"
	"github.com/nsed/nsed/config"
	"github.com/nsed/nsed/models"
)

func init() {
	commands["models"] = command{summary: "list reachable models with size, memory and speed", run: cmdModels}
}

type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error { *h = append(*h, v); return nil }

func cmdModels(ctx context.Context, io stdio, args []string) int {
	fs := flag.NewFlagSet("nsed models", flag.ContinueOnError)
	fs.SetOutput(io.err)
	cfgPath := fs.String("config", "", "read this nsed.toml")
	var hosts hostList
	fs.Var(&hosts, "host", "Ollama host:port (repeatable; default $OLLAMA_HOST, else the config's hosts)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitUsage
	}
	o, err := models.NewOllama(resolveHosts(hosts, cfg)...)
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitUsage
	}
	var all []models.ModelInfo
	var failed error
	for _, h := range o.Hosts() {
		if _, err := o.Ping(ctx, h); err != nil {
			fmt.Fprintln(io.err, "nsed:", err)
			failed = err
			continue
		}
		ms, err := o.Models(ctx, h, nil)
		if err != nil {
			fmt.Fprintln(io.err, "nsed:", err)
			failed = err
			continue
		}
		all = append(all, ms...)
	}
	if len(all) == 0 && failed != nil {
		return exitCode(failed)
	}
	// Speeds measured by earlier runs live in the broker's store.
	if store, _ := broker.Open("", broker.Priors{}); store != nil {
		for i, m := range all {
			if t, ok := store.Telemetry(m.Host, m.Name); ok {
				all[i].Measured.TokensPerSec, all[i].Measured.LatencyMS, all[i].Measured.LoadMS = t.TokensPerSec, t.LatencyMS, t.LoadMS
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(all)
		return exitOK
	}
	tw := tabwriter.NewWriter(io.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tMODEL\tFAMILY\tPARAMS\tQUANT\tSIZE\tCONTEXT\tLOADED\tVRAM\tUNLOADS\tTOK/S\t1ST TOKEN")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", m.Host, m.Name, dash(m.Family), dash(m.ParameterSize),
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
