package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"strings"
	"text/tabwriter"

	"github.com/nsed/nsed/broker"
	"github.com/nsed/nsed/config"
	"github.com/nsed/nsed/models"
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

// brokerPlan is what a binding is solved from.
type brokerPlan struct {
	Slots        []broker.RoleSlot
	Budget       broker.Budget
	StorePath    string // empty: the default
	Warn         func(string)
	Correlation  float64 // the diversity rule's ρ; 0 keeps the default
	DefaultPrior float64
	Priors       map[string]map[string]float64
}

// planBinding reads telemetry from every host of o, opens the quality
// store, and solves the binding. Hosts that do not answer are skipped with
// a warning unless none does; then the error is the engine's own.
func planBinding(ctx context.Context, o *models.Ollama, meter *models.Meter, plan brokerPlan) (*broker.Solution, *broker.Store, error) {
	infos, skipped, err := listModels(ctx, o, meter)
	if err != nil {
		return nil, nil, err
	}
	for _, err := range skipped {
		plan.Warn(err.Error() + " (skipping that host)")
	}
	store, err := broker.Open(plan.StorePath, broker.Priors{Default: plan.DefaultPrior, Roles: plan.Priors})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		plan.Warn(fmt.Sprintf("no quality store at %s yet: expected qualities are the configured priors", store.Path()))
	case err != nil:
		plan.Warn(err.Error())
	}
	p := broker.NewProblem(plan.Slots, broker.Candidates(infos, store), plan.Budget, store.Quality)
	if plan.Correlation > 0 {
		p.Weights.Correlation = min(plan.Correlation, 1)
	}
	sol, err := broker.Solve(p)
	return sol, store, err
}

func cmdBroker(ctx context.Context, io stdio, args []string) int {
	fset := flag.NewFlagSet("nsed broker", flag.ContinueOnError)
	fset.SetOutput(io.err)
	cfgPath := fset.String("config", "", "read this nsed.toml (default ./nsed.toml, else the built-in one)")
	var hosts hostList
	fset.Var(&hosts, "host", "Ollama host:port (repeatable; default $OLLAMA_HOST, else the config's hosts)")
	explain := fset.Bool("explain", false, "also print every candidate's cost and value, the budget used, and why each runner-up lost")
	vram := fset.String("vram-budget", "", "memory per host the binding may fill, e.g. 8GiB (default: the config's broker.vram_budget; none: unlimited)")
	roles := fset.Int("roles", 0, "agents to bind (default: as many as the config has), taking the config's roles in turn")
	roundSeconds := fset.Float64("round-seconds", 0, "longest a round may take on any host, in seconds (0: unlimited)")
	pins := pinList{}
	fset.Var(pins, "pin", "agent-N=MODEL[@HOST]: keep that agent on that model (repeatable)")
	storePath := fset.String("store", "", "the quality store (default $XDG_DATA_HOME/nsed/quality.json)")
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
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitUsage
	}

	plan := brokerPlan{
		StorePath: *storePath, Correlation: cfg.Broker.Diversity,
		DefaultPrior: cfg.Broker.DefaultPrior, Priors: cfg.Broker.Priors,
		Warn: func(s string) { fmt.Fprintln(io.err, "nsed: warning:", s) },
	}
	budget := cfg.Broker.VRAMBudget
	if *vram != "" {
		budget = *vram
	}
	if budget != "" {
		if plan.Budget.DefaultMemory, err = config.ParseBytes(budget); err != nil {
			fmt.Fprintln(io.err, "nsed broker: --vram-budget:", err)
			return exitUsage
		}
	}
	if *roundSeconds < 0 {
		fmt.Fprintln(io.err, "nsed broker: --round-seconds must be zero (unlimited) or positive")
		return exitUsage
	}
	plan.Budget.RoundSeconds = *roundSeconds

	n := *roles
	if n == 0 {
		n = len(cfg.Agents)
	}
	if n < 1 {
		fmt.Fprintln(io.err, "nsed broker: --roles must be at least 1")
		return exitUsage
	}
	var roleNames []string
	for _, a := range cfg.Agents {
		roleNames = append(roleNames, a.Role)
	}
	plan.Slots = broker.Slots(n, roleNames)
	for agent, b := range pins {
		i := -1
		for j, s := range plan.Slots {
			if s.Agent == agent {
				i = j
			}
		}
		if i < 0 {
			fmt.Fprintf(io.err, "nsed broker: --pin %s: no such agent (agent-1 … agent-%d)\n", agent, n)
			return exitUsage
		}
		if b.Host != "" {
			if b.Host, err = models.NormalizeHost(b.Host); err != nil {
				fmt.Fprintf(io.err, "nsed broker: --pin %s: %v\n", agent, err)
				return exitUsage
			}
		}
		plan.Slots[i].Pin = &b
	}

	o, err := models.NewOllama(resolveHosts(hosts, cfg)...)
	if err != nil {
		fmt.Fprintln(io.err, "nsed:", err)
		return exitUsage
	}

	sol, _, err := planBinding(ctx, o, nil, plan)
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
