package broker

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/nsed/nsed/models"
)

// ErrInfeasible is wrapped by every error that means no binding fits.
var ErrInfeasible = errors.New("no binding fits the budget")

// PinError is a slot pinned to a model no host has.
type PinError struct {
	Slot  RoleSlot
	Hosts []string // hosts that listed models
}

func (e *PinError) Error() string {
	who := fmt.Sprintf("role %q", e.Slot.Role)
	if e.Slot.Agent != "" {
		who = fmt.Sprintf("agent %s (role %q)", e.Slot.Agent, e.Slot.Role)
	}
	pin := e.Slot.Pin
	if pin == nil {
		return who + " has no candidate model"
	}
	where := "on any host (" + strings.Join(e.Hosts, ", ") + ")"
	if pin.Host != "" {
		where = "on " + pin.Host
		if !slices.Contains(e.Hosts, pin.Host) {
			where += ", which listed no models (hosts with models: " + strings.Join(e.Hosts, ", ") + ")"
		}
	}
	return fmt.Sprintf("%s is pinned to model %q, which is not available %s: pull it with `ollama pull %s`, or pick one listed by `nsed models`",
		who, pin.Model, where, pin.Model)
}

// Unwrap lets errors.Is(err, models.ErrModelNotFound) match, as for the
// engine's own missing-model errors.
func (e *PinError) Unwrap() error { return models.ErrModelNotFound }

// Resources a budget limits.
const (
	ResourceMemory = "memory"
	ResourceTime   = "round time"
	ResourceTokens = "round tokens"
)

// Need is a budget that must grow for any binding to fit.
type Need struct {
	Resource string
	// Have and Need are bytes per host (memory), seconds per host (round
	// time) or tokens (round tokens). Need is the least that admits a
	// binding given the needs before it in InfeasibleError.Needs.
	Have, Need float64
	// Approx says the search was cut short: Need admits a binding but a
	// smaller budget might too.
	Approx bool
}

// InfeasibleError says no binding fits, and what budget would.
type InfeasibleError struct {
	Slots int
	Needs []Need // memory first, then round time, then tokens
	// Reason is set when no budget would help (pins, the per-model cap).
	Reason string
}

func (e *InfeasibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no binding of %d agents fits", e.Slots)
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
		return b.String()
	}
	b.WriteString(" the budget")
	for i, n := range e.Needs {
		sep := ": "
		if i > 0 {
			sep = "; and then "
		}
		least := "the smallest"
		if n.Approx {
			least = "a (possibly not the smallest)"
		}
		switch n.Resource {
		case ResourceMemory:
			fmt.Fprintf(&b, "%s%s per host is too small; %s feasible memory budget is %s per host (--vram-budget %s)",
				sep, formatBytes(int64(n.Have)), least, formatNeed(int64(n.Need)), formatFlagBytes(int64(n.Need)))
		case ResourceTime:
			fmt.Fprintf(&b, "%sa round time of %s is too short; %s feasible is %s",
				sep, formatSeconds(n.Have), least, formatSeconds(n.Need))
		default:
			fmt.Fprintf(&b, "%s%.0f tokens per round are too few; %s feasible is %.0f",
				sep, n.Have, least, n.Need)
		}
	}
	return b.String()
}

func (e *InfeasibleError) Unwrap() error { return ErrInfeasible }

// MinMemory is the smallest feasible memory budget per host, 0 if memory
// was not the problem.
func (e *InfeasibleError) MinMemory() int64 {
	for _, n := range e.Needs {
		if n.Resource == ResourceMemory {
			return int64(n.Need)
		}
	}
	return 0
}

// measure kinds for minimize.
const (
	kindFeasible = iota
	kindMemory
	kindTime
	kindTokens
)

const diagnoseNodes = 1_000_000

// infeasible explains why no binding fits within full. It settles the
// budgets one at a time, memory first: the least memory that admits a
// binding with time and tokens unlimited, then the least time with that
// memory, then tokens; so the needs together admit a binding.
func (in *instance) infeasible(full, all caps) error {
	e := &InfeasibleError{Slots: in.nr}
	if _, ok, _ := in.minimize(all, kindFeasible, full); !ok {
		e.Reason = in.structural()
		return e
	}
	settled := all
	settled.mem = slices.Clone(all.mem)

	limited := slices.ContainsFunc(full.mem, func(m int64) bool { return m != math.MaxInt64 })
	if limited {
		try := settled
		try.mem = full.mem
		if _, ok, _ := in.minimize(try, kindFeasible, full); ok {
			settled.mem = full.mem
		} else {
			need, _, approx := in.minimize(settled, kindMemory, full)
			have := int64(math.MaxInt64)
			for h, m := range full.mem {
				have = min(have, m)
				settled.mem[h] = max(m, need)
			}
			e.Needs = append(e.Needs, Need{Resource: ResourceMemory, Have: float64(have), Need: float64(need), Approx: approx})
		}
	}
	if full.usec != math.MaxInt64 {
		try := settled
		try.usec = full.usec
		if _, ok, _ := in.minimize(try, kindFeasible, full); ok {
			settled.usec = full.usec
		} else {
			timed := settled
			timed.usec = math.MaxInt64 - 1 // limited: candidates without a speed are out
			need, _, approx := in.minimize(timed, kindTime, full)
			settled.usec = need
			e.Needs = append(e.Needs, Need{Resource: ResourceTime, Have: float64(full.usec) / 1e6, Need: float64(need) / 1e6, Approx: approx})
		}
	}
	if full.toks != math.MaxInt64 {
		try := settled
		try.toks = full.toks
		if _, ok, _ := in.minimize(try, kindFeasible, full); !ok {
			need, _, approx := in.minimize(settled, kindTokens, full)
			e.Needs = append(e.Needs, Need{Resource: ResourceTokens, Have: float64(full.toks), Need: float64(need), Approx: approx})
		}
	}
	return e
}

// structural says why no binding exists whatever the budget.
func (in *instance) structural() string {
	if in.maxPer > 0 && len(in.models)*in.maxPer < in.nr {
		return fmt.Sprintf("%d models × at most %d agents each cannot fill %d slots", len(in.models), in.maxPer, in.nr)
	}
	var pins []string
	for _, r := range in.p.Roles {
		if r.Pin != nil {
			pins = append(pins, fmt.Sprintf("%s→%s", cmp.Or(r.Agent, r.Role), r.Pin))
		}
	}
	if len(pins) > 0 && in.maxPer > 0 {
		return fmt.Sprintf("the pins (%s) conflict with at most %d agents per model", strings.Join(pins, ", "), in.maxPer)
	}
	return "the pins and per-model cap leave no binding"
}

// minimize finds a binding within c that minimises a measure (kindMemory:
// the largest per-host memory among hosts over their budget in base;
// kindTime: the largest per-host round time; kindTokens: the round's
// tokens), or any binding within c (kindFeasible). It is an exact depth-first
// search, pruned because each measure only grows as slots are bound; approx
// reports that it stopped at diagnoseNodes with the best found so far.
func (in *instance) minimize(c caps, kind int, base caps) (best int64, found, approx bool) {
	order, same := in.roleOrder()
	key := func(cand int) int64 {
		switch kind {
		case kindMemory:
			return in.mem[cand]
		case kindTime:
			return in.usec[cand]
		case kindTokens:
			return in.toks[cand]
		}
		return 0
	}
	lists := make([][]int, in.nr)
	for r := range lists {
		lists[r] = slices.Clone(in.allowed[r])
		slices.SortStableFunc(lists[r], func(a, b int) int { return cmp.Compare(key(a), key(b)) })
	}
	st := newState(in, c)
	measure := func() int64 {
		var m int64
		switch kind {
		case kindMemory:
			for h, used := range st.mem {
				if used > base.mem[h] {
					m = max(m, used)
				}
			}
		case kindTime:
			m = slices.Max(st.usec)
		case kindTokens:
			m = st.toks
		}
		return m
	}
	// lowest bounds the measure of any completion from below.
	lowest := func(d int) int64 {
		toks, usec := st.least(order[d:])
		switch kind {
		case kindTime:
			var sum int64
			for _, u := range st.usec {
				sum += u
			}
			return max(slices.Max(st.usec), (sum+usec)/int64(len(st.usec)))
		case kindTokens:
			return st.toks + toks
		}
		return measure()
	}
	pos := make([]int, in.nr)
	nodes := 0
	var rec func(d int) bool // true: stop
	rec = func(d int) bool {
		if nodes++; nodes > diagnoseNodes {
			approx = true
			return true
		}
		if d == in.nr {
			best, found = measure(), true
			return kind == kindFeasible
		}
		if !st.feasible(order[d:]) || found && lowest(d) >= best {
			return false
		}
		r := order[d]
		first := 0
		if same[d] {
			first = pos[d-1]
		}
		for i := first; i < len(lists[r]); i++ {
			cand := lists[r][i]
			if !st.fits(cand) {
				continue
			}
			st.add(r, cand)
			pos[d] = i
			stop := false
			if !found || measure() < best {
				stop = rec(d + 1)
			}
			st.remove(r, cand)
			if stop {
				return true
			}
		}
		return false
	}
	rec(0)
	return best, found, approx && found
}
