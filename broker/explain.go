package broker

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// solution describes assign, which fits c.
func (in *instance) solution(assign []int, c caps) *Solution {
	u := in.evaluate(assign, c)
	sol := &Solution{
		Problem:   in.p,
		Objective: u.obj, Value: u.value, Stickiness: u.bonus, SwapCost: u.swap,
		RoundTokens: int(u.toks),
	}
	for _, k := range u.cnt {
		if k > 0 {
			sol.Models++
		}
	}
	for h, name := range in.hosts {
		hu := HostUse{Host: name, Memory: u.mem[h], RoundSeconds: float64(u.usec[h]) / 1e6}
		if c.mem[h] != math.MaxInt64 {
			hu.MemoryBudget = c.mem[h]
		}
		if c.usec != math.MaxInt64 {
			hu.SecondsBudget = float64(c.usec) / 1e6
		}
		for cand, n := range u.use {
			if n > 0 && in.host[cand] == h {
				hu.Agents += n
				hu.Models = append(hu.Models, in.p.Candidates[cand].Model)
			}
		}
		sol.Hosts = append(sol.Hosts, hu)
	}
	charged := make([]bool, in.nc)
	for r, cand := range assign {
		slot := in.p.Roles[r]
		m := in.model[cand]
		a := Assignment{
			Slot: r, Agent: slot.Agent, Role: slot.Role,
			Candidate:    in.p.Candidates[cand],
			Quality:      in.quality[r][cand],
			Value:        in.value[r][cand] / (1 + float64(u.cnt[m]-1)*in.rho),
			Copies:       u.cnt[m],
			RoundSeconds: float64(in.usec[cand]) / 1e6,
		}
		if cand == in.bonus[r] {
			a.Value += in.stick
		}
		if !charged[cand] {
			a.Memory, charged[cand] = in.mem[cand], true
		}
		a.Reason = in.reason(assign, r, u)
		a.RunnerUp = in.runnerUp(assign, r, u, c)
		sol.Assignments = append(sol.Assignments, a)
	}
	return sol
}

func (in *instance) reason(assign []int, r int, u *usage) string {
	slot, cand := in.p.Roles[r], assign[r]
	var parts []string
	switch {
	case slot.Pin != nil:
		parts = append(parts, "pinned by user")
	case len(in.allowed[r]) == 1:
		parts = append(parts, "only candidate")
	case cand == in.bonus[r]:
		parts = append(parts, "keeps its current binding")
	default:
		parts = append(parts, "best team value")
	}
	for r2, c2 := range assign {
		if r2 < r && c2 == cand {
			parts = append(parts, "shares the copy loaded for "+in.who(r2))
			break
		}
	}
	c := in.p.Candidates[cand]
	if c.Loaded {
		parts = append(parts, "already loaded")
	} else if !slices.Contains(assign[:r], cand) {
		parts = append(parts, fmt.Sprintf("loads in ~%s", formatSeconds(c.LoadSec)))
	}
	if k := u.cnt[in.model[cand]]; k > 1 && in.rho > 0 {
		parts = append(parts, fmt.Sprintf("%d copies of the model, each worth ×%.2f", k, 1/(1+float64(k-1)*in.rho)))
	}
	return strings.Join(parts, "; ")
}

func (in *instance) who(r int) string {
	s := in.p.Roles[r]
	if s.Agent != "" {
		return s.Agent + " (" + s.Role + ")"
	}
	return fmt.Sprintf("slot %d (%s)", r+1, s.Role)
}

// runnerUp picks the alternative a reader would ask about: the best-valued
// other model that looks better on its own, if any (it lost to the budget
// or to diversity); otherwise the swap that costs the team least. Other
// models come before the same model on another host.
func (in *instance) runnerUp(assign []int, r int, base *usage, c caps) *RunnerUp {
	chosen := assign[r]
	type alt struct {
		cand int
		u    *usage
	}
	var alts []alt
	trial := slices.Clone(assign)
	for _, cand := range in.allowed[r] {
		if cand == chosen {
			continue
		}
		trial[r] = cand
		alts = append(alts, alt{cand, in.evaluate(trial, c)})
	}
	if len(alts) == 0 {
		return nil
	}
	otherModel := func(a alt) bool { return in.model[a.cand] != in.model[chosen] }
	var pick *alt
	for i := range alts {
		a := &alts[i]
		if in.top(r, a.cand) <= in.top(r, chosen)+eps {
			continue
		}
		if pick == nil || otherModel(*a) && !otherModel(*pick) ||
			otherModel(*a) == otherModel(*pick) && in.top(r, a.cand) > in.top(r, pick.cand) {
			pick = a
		}
	}
	if pick == nil {
		for i := range alts {
			a := &alts[i]
			if pick == nil || better(a.u, pick.u, otherModel(*a), otherModel(*pick)) {
				pick = a
			}
		}
	}
	ru := &RunnerUp{Candidate: in.p.Candidates[pick.cand], Quality: in.quality[r][pick.cand], Delta: math.NaN()}
	if v := pick.u.viol; v != nil {
		ru.Why = in.describe(v)
		return ru
	}
	ru.Delta = pick.u.obj - base.obj
	var why []string
	if in.value[r][pick.cand] < in.value[r][chosen]-eps {
		why = append(why, fmt.Sprintf("lower quality here (%.2f vs %.2f)", in.value[r][pick.cand], in.value[r][chosen]))
	}
	if m := in.model[pick.cand]; base.cnt[m] > 0 && m != in.model[chosen] && in.rho > 0 {
		var roles []string
		for r2, c2 := range assign {
			if r2 != r && in.model[c2] == m {
				roles = append(roles, in.who(r2))
			}
		}
		why = append(why, "its model already serves "+strings.Join(roles, ", ")+" (diversity discount)")
	}
	if pick.u.swap > base.swap+eps {
		why = append(why, fmt.Sprintf("needs loading (−%.3f)", pick.u.swap-base.swap))
	}
	if pick.u.bonus < base.bonus-eps {
		why = append(why, "would change the current binding")
	}
	if len(why) == 0 && math.Abs(ru.Delta) <= 1e-6 {
		why = append(why, "tie")
	}
	ru.Why = fmt.Sprintf("team value %+.3f", ru.Delta)
	if len(why) > 0 {
		ru.Why += ": " + strings.Join(why, "; ")
	}
	return ru
}

// better orders alternatives: fitting first, then higher objective, then
// another model over the same model elsewhere.
func better(a, b *usage, aOther, bOther bool) bool {
	if a.ok() != b.ok() {
		return a.ok()
	}
	if math.Abs(a.obj-b.obj) > eps {
		return a.obj > b.obj
	}
	return aOther && !bOther
}

func (in *instance) describe(v *violation) string {
	switch v.kind {
	case "memory":
		return fmt.Sprintf("does not fit: %s would hold %s, budget %s", in.hosts[v.host], formatBytes(v.need), formatBytes(v.have))
	case "round time":
		if v.need < 0 {
			return fmt.Sprintf("cannot be timed on %s: no speed known", in.hosts[v.host])
		}
		return fmt.Sprintf("too slow: a round on %s would take %s, budget %s", in.hosts[v.host], formatSeconds(float64(v.need)/1e6), formatSeconds(float64(v.have)/1e6))
	case "tokens":
		return fmt.Sprintf("too many tokens: %d per round, budget %d", v.need, v.have)
	case "per-model cap":
		return fmt.Sprintf("%s would have %d agents, cap %d", in.models[v.model], v.need, v.have)
	}
	return "not allowed by the pin of " + in.who(v.slot)
}

// Explain writes sol as tables: the binding with each slot's runner-up and
// why it lost, the budget used per host, and every candidate's costs and
// value per role.
func Explain(w io.Writer, sol *Solution) error {
	p := sol.Problem
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	exact := "exact"
	if !sol.Exact {
		exact = "not proven optimal"
	}
	fmt.Fprintf(tw, "Binding (%s, %s, %d nodes, %s)\n", sol.Method, exact, sol.Nodes, sol.Elapsed.Round(1000))
	fmt.Fprintln(tw, "AGENT\tROLE\tMODEL@HOST\tQUALITY\tVALUE\tMEMORY\tTOK/S\tS/ROUND\tWHY\tRUNNER-UP\tWHY IT LOST")
	for _, a := range sol.Assignments {
		ru, lost := "-", "-"
		if a.RunnerUp != nil {
			ru = fmt.Sprintf("%s (%.2f)", a.RunnerUp.Candidate.Binding(), a.RunnerUp.Quality)
			lost = a.RunnerUp.Why
		}
		mem := formatBytes(a.Memory)
		if a.Memory == 0 {
			mem = "shared"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.3f\t%s\t%s\t%s\t%s\t%s\t%s\n",
			cmp.Or(a.Agent, fmt.Sprint(a.Slot+1)), a.Role, a.Candidate.Binding(), a.Quality, a.Value,
			mem, formatSpeed(a.Candidate), formatSeconds(a.RoundSeconds), a.Reason, ru, lost)
	}
	if p != nil {
		fmt.Fprintf(tw, "\nObjective %.3f = value %.3f + stickiness %.3f − swap %.3f; %d distinct models (diversity ρ = %.2f)\n",
			sol.Objective, sol.Value, sol.Stickiness, sol.SwapCost, sol.Models, p.Weights.Correlation)
	}
	fmt.Fprintln(tw, "\nBudget\nHOST\tAGENTS\tMEMORY USED\tMEMORY BUDGET\tROUND TIME\tTIME BUDGET\tMODELS")
	for _, h := range sol.Hosts {
		mb, tb := "unlimited", "unlimited"
		if h.MemoryBudget > 0 {
			mb = fmt.Sprintf("%s (%.0f%% used)", formatBytes(h.MemoryBudget), 100*float64(h.Memory)/float64(h.MemoryBudget))
		}
		if h.SecondsBudget > 0 {
			tb = formatSeconds(h.SecondsBudget)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", h.Host, h.Agents, formatBytes(h.Memory), mb,
			formatSeconds(h.RoundSeconds), tb, cmp.Or(strings.Join(h.Models, ", "), "-"))
	}
	if p != nil {
		tb := "unlimited"
		if p.Budget.RoundTokens > 0 {
			tb = fmt.Sprint(p.Budget.RoundTokens)
		}
		fmt.Fprintf(tw, "Output tokens per round: %d (budget %s)\n", sol.RoundTokens, tb)
		explainCandidates(tw, sol)
	}
	return tw.Flush()
}

// maxRoleColumns bounds the value-per-role columns of the candidate table.
const maxRoleColumns = 6

func explainCandidates(tw io.Writer, sol *Solution) {
	p := sol.Problem
	var roles []string
	for _, r := range p.Roles {
		if !slices.Contains(roles, r.Role) {
			roles = append(roles, r.Role)
		}
	}
	bound := map[Binding]bool{}
	for _, a := range sol.Assignments {
		bound[a.Candidate.Binding()] = true
	}
	quality := p.Quality
	if quality == nil {
		quality = func(string, string) float64 { return DefaultQuality }
	}
	fmt.Fprint(tw, "\nCandidates\n \tMODEL@HOST\tMEMORY\tTOK/S\tLATENCY\tLOADED\tLOAD\tFAIL")
	many := len(roles) > maxRoleColumns
	if many {
		fmt.Fprint(tw, "\tBEST ROLE\tQUALITY")
	} else {
		for _, r := range roles {
			fmt.Fprintf(tw, "\tQ(%s)", cmp.Or(r, "-"))
		}
	}
	fmt.Fprintln(tw)
	for _, c := range p.Candidates {
		mark := " "
		if bound[c.Binding()] {
			mark = "*"
		}
		mem := formatBytes(c.Memory)
		if !c.MemoryMeasured {
			mem = "~" + mem
		}
		loaded, load := "no", formatSeconds(c.LoadSec)
		if c.Loaded {
			loaded, load = "yes", "-"
		}
		lat := "-"
		if c.LatencySec > 0 {
			lat = formatSeconds(c.LatencySec)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%", mark, c.Binding(), mem, formatSpeed(c), lat, loaded, load, 100*clamp01(c.FailureRate))
		if many {
			best, bq := "", -1.0
			for _, r := range roles {
				if q := clamp01(quality(r, c.Model)); q > bq {
					best, bq = r, q
				}
			}
			fmt.Fprintf(tw, "\t%s\t%.2f", best, bq)
		} else {
			for _, r := range roles {
				fmt.Fprintf(tw, "\t%.2f", clamp01(quality(r, c.Model)))
			}
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "(* bound; ~ memory estimated from the size on disk until first load)")
}

func formatSpeed(c Candidate) string {
	if c.TokensPerSec <= 0 {
		return "?"
	}
	s := fmt.Sprintf("%.1f", c.TokensPerSec)
	if !c.SpeedMeasured {
		s = "~" + s
	}
	return s
}

func formatBytes(n int64) string {
	const gib, mib = 1 << 30, 1 << 20
	switch {
	case n == math.MaxInt64:
		return "unlimited"
	case n >= gib:
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	case n >= mib:
		return fmt.Sprintf("%.0f MiB", float64(n)/mib)
	}
	return fmt.Sprintf("%d B", n)
}

// formatFlagBytes spells n for --vram-budget, rounded up (to 0.1 GiB, or
// to the MiB below 1 GiB) so the suggested budget admits the binding.
func formatFlagBytes(n int64) string {
	const gib, mib = 1 << 30, 1 << 20
	if n < gib {
		return fmt.Sprintf("%dMiB", (n+mib-1)/mib)
	}
	return fmt.Sprintf("%.1fGiB", math.Ceil(float64(n)/gib*10)/10)
}

// formatNeed spells a needed size with a decimal, so it is not read as less
// than it is.
func formatNeed(n int64) string {
	const gib, mib = 1 << 30, 1 << 20
	if n < gib {
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/gib)
}

func formatSeconds(s float64) string {
	switch {
	case s <= 0:
		return "0s"
	case s < 1:
		return fmt.Sprintf("%.0fms", s*1000)
	case s < 100:
		return fmt.Sprintf("%.1fs", s)
	}
	return fmt.Sprintf("%.0fs", s)
}
