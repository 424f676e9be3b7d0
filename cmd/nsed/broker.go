package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nsed/nsed/app"
	"github.com/nsed/nsed/broker"
)

func init() {
	commands["broker"] = command{summary: "bind models to roles within a memory budget, and explain why", run: cmdBroker}
}

// pinList collects --pin agent-N=MODEL[@HOST].
type pinList map[string]broker.Binding

func (p pinList) String() string { return fmt.Sprint(map[string]broker.Binding(p)) }

func (p pinList) Set(v string) error {
	agent, target, ok := strings.Cut(v, "=")
	if !ok || agent == "" || target == "" {
		return fmt.Errorf("want agent-N=MODEL or agent-N=MODEL@HOST, got %q", v)
	}
	model, host, _ := strings.Cut(target, "@")
	p[agent] = broker.Binding{Model: model, Host: host}
	return nil
}

// hostList collects a repeatable --host.
type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error { *h = append(*h, v); return nil }

func cmdBroker(ctx context.Context, io stdio, args []string) int {
	fset := flag.NewFlagSet("nsed broker", flag.ContinueOnError)
	fset.SetOutput(io.err)
	var f app.Flags
	var q app.BindQuery
	fset.StringVar(&f.Config, "config", "", "read this nsed.toml (default ./nsed.toml, else the built-in one)")
	fset.Var((*hostList)(&f.Hosts), "host", "Ollama host:port or an OpenAI-compatible URL ending in /v1 (repeatable; default $OLLAMA_HOST, else the config's hosts)")
	explain := fset.Bool("explain", false, "also print every candidate's cost and value, the budget used, and why each runner-up lost")
	fset.StringVar(&f.VRAMBudget, "vram-budget", "", "memory per host the binding may fill, e.g. 8GiB (default: the config's broker.vram_budget; none: unlimited)")
	fset.IntVar(&q.Roles, "roles", 0, "agents to bind (default: as many as the config has), taking the config's roles in turn")
	fset.Float64Var(&q.RoundSeconds, "round-seconds", 0, "longest a round may take on any host, in seconds (0: unlimited)")
	pins := pinList{}
	fset.Var(pins, "pin", "agent-N=MODEL[@HOST]: keep that agent on that model (repeatable)")
	fset.StringVar(&f.Store, "store", "", "the quality store (default $XDG_DATA_HOME/nsed/quality.json)")
	fset.Usage = func() {
		fmt.Fprintln(io.err, "Usage: nsed broker [--explain] [--config F] [--host H ...] [--vram-budget 8GiB] [--roles N] [--pin agent-N=MODEL[@HOST] ...]")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(io.err, "nsed broker: unexpected argument %q\n", fset.Arg(0))
		return exitUsage
	}
	f.Set, q.Pins = given(fset), pins
	s, err := app.Load(f, func(s string) { fmt.Fprintln(io.err, "nsed: warning:", s) })
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitCode(err)
	}
	sol, err := s.Bind(ctx, q)
	if err != nil {
		fmt.Fprintln(io.err, "nsed broker:", err)
		return exitCode(err)
	}
	if *explain {
		if err := broker.Explain(io.out, sol); err != nil {
			return exitFailed
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tROLE\tMODEL\tHOST\tVALUE")
	for _, a := range sol.Assignments {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f\n", a.Agent, a.Role, a.Candidate.Model, a.Candidate.Host, a.Value)
	}
	tw.Flush()
	proven := "proven optimal"
	if !sol.Exact {
		proven = fmt.Sprintf("not proven optimal: at most %.3f better exists", sol.Bound-sol.Objective)
	}
	fmt.Fprintf(io.out, "objective %.3f, %d distinct models (%s); --explain says why\n", sol.Objective, sol.Models, proven)
	return exitOK
}
