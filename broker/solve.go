package broker

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Solution is a binding and what it costs.
type Solution struct {
	Problem     *Problem
	Assignments []Assignment // in slot order
	// Objective = Value + Stickiness − SwapCost (see the package comment).
	Objective  float64
	Value      float64 // Σ diversity-discounted values
	Stickiness float64
	SwapCost   float64
	Hosts      []HostUse // hosts with candidates, in the order first seen
	// RoundTokens is the expected output tokens of a round, all agents.
	RoundTokens int
	Models      int // distinct model names bound
	// Exact says the binding is proven optimal (to within 1e-7);
	// otherwise the search stopped at Problem.MaxNodes, as Method says.
	Exact  bool
	Method string
	// Bound is a proven upper bound on the best objective: equal to
	// Objective when Exact, else it says how far from optimal the binding
	// can be.
	Bound   float64
	Nodes   int
	Elapsed time.Duration
}

// Assignment binds one slot.
type Assignment struct {
	Slot      int
	Agent     string
	Role      string
	Candidate Candidate
	// Quality is the expected quality of the model in the role; Value is
	// this slot's share of the objective: Quality × (1 − failure rate)
	// discounted for copies, plus stickiness when it keeps its binding.
	Quality float64
	Value   float64
	Copies  int // agents bound to this model name, this one included
	// Memory is what this slot adds: 0 when an earlier slot already loads
	// the model on this host.
	Memory       int64
	RoundSeconds float64
	Reason       string
	RunnerUp     *RunnerUp // nil when the slot had no other candidate
}

// RunnerUp is the best alternative for a slot and why it lost.
type RunnerUp struct {
	Candidate Candidate
	Quality   float64
	// Delta is the change in objective were it swapped in (negative or
	// zero); NaN when the swap does not fit.
	Delta float64
	Why   string
}

// HostUse is what a binding uses of one host. Zero budgets are unlimited.
type HostUse struct {
	Host          string
	Memory        int64
	MemoryBudget  int64
	RoundSeconds  float64
	SecondsBudget float64
	Agents        int
	Models        []string
}

// Errors Solve returns (besides *PinError and *InfeasibleError).
var (
	ErrNoCandidates = errors.New("no models to bind: no Ollama host listed any installed model (pull one with `ollama pull`, or check --host)")
	ErrBadProblem   = errors.New("invalid broker problem")
	ErrTooLarge     = errors.New("beyond the size the broker solves")
)

// Solve finds the binding of greatest objective within the budget (see the
// package comment). It returns ErrNoCandidates when there is nothing to
// bind to, a *PinError for a pinned model no host has, an *InfeasibleError
// naming the smallest sufficient budget when nothing fits, an error
// wrapping ErrTooLarge beyond MaxRoles, MaxModels or MaxHosts, and an error
// wrapping ErrBadProblem for malformed input.
func Solve(p *Problem) (*Solution, error) {
	start := time.Now()
	if len(p.Roles) == 0 {
		return &Solution{Problem: p, Exact: true, Method: "nothing to bind"}, nil
	}
	in, err := compile(p)
	if err != nil {
		return nil, err
	}
	full := in.budgetCaps()
	s := in.search(full)
	if !s.found {
		if s.aborted {
			return nil, fmt.Errorf("%w: no binding found within %d search nodes", ErrInfeasible, s.maxNodes)
		}
		return nil, in.infeasible(full, in.unlimited())
	}
	sol := in.solution(s.bestAssign, full)
	sol.Exact, sol.Method, sol.Nodes = !s.aborted, "branch and bound", s.nodes
	sol.Bound = sol.Objective
	if s.aborted {
		sol.Method = fmt.Sprintf("best found, branch and bound stopped at %d nodes", s.maxNodes)
		sol.Bound = max(s.rootBound, sol.Objective)
	}
	sol.Elapsed = time.Since(start)
	return sol, nil
}

// eps absorbs floating-point drift when comparing objectives.
const eps = 1e-9

// tol is how close to the optimum the search proves its binding: a branch
// whose bound is within tol of the incumbent is not explored. The bounds
// are sums of many terms, so at a tie they can exceed the optimum by
// rounding alone, and chasing that costs the search its speed.
const tol = 1e-7

// instance is a Problem compiled to indices.
type instance struct {
	p        *Problem
	nr, nc   int
	value    [][]float64 // [slot][candidate]: quality × (1 − failure rate)
	quality  [][]float64
	bonus    []int    // per slot: the candidate keeping its binding, or -1
	minToks  []int64  // per slot: the fewest round tokens of its candidates
	minUsec  []int64  // per slot: the least round time of its candidates
	allowed  [][]int  // per slot: candidates, best value first
	isAllow  [][]bool // [slot][candidate]
	host     []int    // per candidate
	model    []int    // per candidate: model name id
	mem      []int64
	usec     []int64 // round time, microseconds
	untimed  []bool  // no speed known: cannot be timed
	toks     []int64
	swap     []float64
	hosts    []string
	models   []string
	byModel  [][]int // per model name: its candidates
	rho      float64
	stick    float64
	maxPer   int
	maxNodes int
}

// caps are the limits a search enforces; math.MaxInt64 is unlimited.
type caps struct {
	mem  []int64
	usec int64
	toks int64
}

func compile(p *Problem) (*instance, error) {
	if len(p.Candidates) == 0 {
		return nil, ErrNoCandidates
	}
	w := p.Weights
	if w.Correlation < 0 || w.Correlation > 1 || math.IsNaN(w.Correlation) {
		return nil, fmt.Errorf("%w: correlation %v is outside [0, 1]", ErrBadProblem, w.Correlation)
	}
	in := &instance{
		p: p, nr: len(p.Roles), nc: len(p.Candidates),
		rho: w.Correlation, stick: max(w.Stickiness, 0), maxPer: p.MaxPerModel,
		maxNodes: p.MaxNodes,
	}
	if in.maxNodes <= 0 {
		in.maxNodes = DefaultMaxNodes
	}
	hostID, modelID := map[string]int{}, map[string]int{}
	seen := map[Binding]bool{}
	for _, c := range p.Candidates {
		b := Binding{Host: c.Host, Model: canonical(c.Model)}
		if seen[b] {
			return nil, fmt.Errorf("%w: %s is listed twice", ErrBadProblem, c.Binding())
		}
		seen[b] = true
		h, ok := hostID[c.Host]
		if !ok {
			h = len(in.hosts)
			hostID[c.Host] = h
			in.hosts = append(in.hosts, c.Host)
		}
		m, ok := modelID[canonical(c.Model)]
		if !ok {
			m = len(in.models)
			modelID[canonical(c.Model)] = m
			in.models = append(in.models, c.Model)
			in.byModel = append(in.byModel, nil)
		}
		in.byModel[m] = append(in.byModel[m], len(in.host))
		tok := c.RoundTokens
		if tok <= 0 {
			tok = max(p.RoundTokens, 0)
		}
		var usec int64
		untimed := c.TokensPerSec <= 0
		if !untimed {
			usec = int64(math.Ceil((callsPerRound*max(c.LatencySec, 0) + float64(tok)/c.TokensPerSec) * 1e6))
		}
		swap := 0.0
		if !c.Loaded {
			swap = max(w.SwapPerSec, 0) * max(c.LoadSec, 0)
		}
		in.host = append(in.host, h)
		in.model = append(in.model, m)
		in.mem = append(in.mem, max(c.Memory, 0))
		in.usec = append(in.usec, usec)
		in.untimed = append(in.untimed, untimed)
		in.toks = append(in.toks, int64(tok))
		in.swap = append(in.swap, swap)
	}

	if err := in.checkSize(); err != nil {
		return nil, err
	}
	quality := p.Quality
	if quality == nil {
		quality = func(string, string) float64 { return DefaultQuality }
	}
	in.value = make([][]float64, in.nr)
	in.quality = make([][]float64, in.nr)
	in.isAllow = make([][]bool, in.nr)
	in.allowed = make([][]int, in.nr)
	in.bonus = make([]int, in.nr)
	qcache := map[[2]string]float64{}
	for r, slot := range p.Roles {
		in.value[r] = make([]float64, in.nc)
		in.quality[r] = make([]float64, in.nc)
		in.isAllow[r] = make([]bool, in.nc)
		in.bonus[r] = -1
		for c, cand := range p.Candidates {
			k := [2]string{slot.Role, cand.Model}
			q, ok := qcache[k]
			if !ok {
				q = clamp01(quality(slot.Role, cand.Model))
				qcache[k] = q
			}
			in.quality[r][c] = q
			in.value[r][c] = q * (1 - clamp01(cand.FailureRate))
			if pin := slot.Pin; pin != nil && (!sameModel(pin.Model, cand.Model) || pin.Host != "" && pin.Host != cand.Host) {
				continue
			}
			if cur := slot.Current; cur != nil && sameModel(cur.Model, cand.Model) && (cur.Host == "" || cur.Host == cand.Host) && in.bonus[r] < 0 {
				in.bonus[r] = c
			}
			in.isAllow[r][c] = true
			in.allowed[r] = append(in.allowed[r], c)
		}
		if len(in.allowed[r]) == 0 {
			return nil, &PinError{Slot: slot, Hosts: in.hosts}
		}
		in.minToks = append(in.minToks, slices.Min(pick(in.toks, in.allowed[r])))
		in.minUsec = append(in.minUsec, slices.Min(pick(in.usec, in.allowed[r])))
		slices.SortStableFunc(in.allowed[r], func(a, b int) int {
			return cmp.Compare(in.top(r, b), in.top(r, a))
		})
	}
	return in, nil
}

// pick is xs at the indices.
func pick[T any](xs []T, indices []int) []T {
	out := make([]T, len(indices))
	for i, j := range indices {
		out[i] = xs[j]
	}
	return out
}

// checkSize refuses problems beyond MaxRoles, MaxModels or MaxHosts,
// saying what to change.
func (in *instance) checkSize() error {
	switch {
	case in.nr > MaxRoles:
		return fmt.Errorf("%w: %d agents, at most %d: run fewer agents (--roles, or fewer [[agents]] in the config)",
			ErrTooLarge, in.nr, MaxRoles)
	case len(in.hosts) > MaxHosts:
		return fmt.Errorf("%w: %d hosts list models, at most %d: name fewer with --host or the config's hosts",
			ErrTooLarge, len(in.hosts), MaxHosts)
	case len(in.models) > MaxModels:
		return fmt.Errorf("%w: the hosts list %d distinct models, at most %d: bind agents yourself with --models, name fewer hosts with --host, or remove models you do not use (`ollama rm`)",
			ErrTooLarge, len(in.models), MaxModels)
	}
	return nil
}

// top is the most candidate c can add in slot r: its value undiscounted
// plus stickiness.
func (in *instance) top(r, c int) float64 {
	if c == in.bonus[r] {
		return in.value[r][c] + in.stick
	}
	return in.value[r][c]
}

func (in *instance) unlimited() caps {
	m := make([]int64, len(in.hosts))
	for i := range m {
		m[i] = math.MaxInt64
	}
	return caps{mem: m, usec: math.MaxInt64, toks: math.MaxInt64}
}

func (in *instance) budgetCaps() caps {
	c := in.unlimited()
	b := in.p.Budget
	for h, name := range in.hosts {
		if m := b.MemoryFor(name); m > 0 {
			c.mem[h] = m
		}
	}
	if b.RoundSeconds > 0 {
		c.usec = int64(math.Floor(b.RoundSeconds * 1e6))
	}
	if b.RoundTokens > 0 {
		c.toks = int64(b.RoundTokens)
	}
	return c
}

// identical says slots a and b are interchangeable: the same value and
// stickiness with every candidate, and the same candidates allowed. Slots
// of different roles qualify when their qualities agree (as they do while
// everything is at its prior).
func (in *instance) identical(a, b int) bool {
	return in.bonus[a] == in.bonus[b] && slices.Equal(in.value[a], in.value[b]) && slices.Equal(in.isAllow[a], in.isAllow[b])
}

// classes maps each slot to the first slot identical to it.
func (in *instance) classes() []int {
	class := make([]int, in.nr)
	for r := range class {
		class[r] = r
		for q := range r {
			if class[q] == q && in.identical(q, r) {
				class[r] = q
				break
			}
		}
	}
	return class
}

// roleOrder fills the scarcest slots first (pins have one or few
// candidates), then those where the choice matters most (the largest gap
// between the best and second-best value), keeping interchangeable slots
// together so the search can skip their permutations.
func (in *instance) roleOrder() (order []int, same []bool) {
	class := in.classes()
	order = make([]int, in.nr)
	regret := make([]float64, in.nr)
	for r := range order {
		order[r] = r
		if a := in.allowed[r]; len(a) > 1 {
			regret[r] = in.top(r, a[0]) - in.top(r, a[1])
		} else {
			regret[r] = math.Inf(1)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(len(in.allowed[a]), len(in.allowed[b])); c != 0 {
			return c
		}
		if c := cmp.Compare(regret[b], regret[a]); c != 0 {
			return c
		}
		return cmp.Compare(class[a], class[b])
	})
	same = make([]bool, in.nr)
	for d := 1; d < in.nr; d++ {
		same[d] = class[order[d-1]] == class[order[d]]
	}
	return order, same
}

// usage is a complete binding evaluated from scratch.
type usage struct {
	obj, value, bonus, swap float64
	use                     []int
	cnt                     []int
	sum                     []float64
	mem                     []int64
	usec                    []int64
	toks                    int64
	viol                    *violation
}

func (u *usage) ok() bool { return u.viol == nil }

// violation is the first constraint a binding breaks.
type violation struct {
	kind       string // "pin", "per-model cap", "memory", "round time", "tokens"
	slot, host int
	model      int
	need, have int64
}

// evaluate checks and scores a complete binding without the incremental
// bookkeeping the search uses; tests compare the two.
func (in *instance) evaluate(assign []int, c caps) *usage {
	u := &usage{
		use: make([]int, in.nc), cnt: make([]int, len(in.models)), sum: make([]float64, len(in.models)),
		mem: make([]int64, len(in.hosts)), usec: make([]int64, len(in.hosts)),
	}
	untimed := make([]bool, len(in.hosts))
	for r, cand := range assign {
		if !in.isAllow[r][cand] && u.viol == nil {
			u.viol = &violation{kind: "pin", slot: r}
		}
		h, m := in.host[cand], in.model[cand]
		if u.use[cand] == 0 {
			u.mem[h] += in.mem[cand]
			u.swap += in.swap[cand]
		}
		u.use[cand]++
		u.cnt[m]++
		u.sum[m] += in.value[r][cand]
		u.usec[h] += in.usec[cand]
		untimed[h] = untimed[h] || in.untimed[cand]
		u.toks += in.toks[cand]
		if cand == in.bonus[r] {
			u.bonus += in.stick
		}
	}
	for m, k := range u.cnt {
		if k > 0 {
			u.value += u.sum[m] / (1 + float64(k-1)*in.rho)
			if in.maxPer > 0 && k > in.maxPer && u.viol == nil {
				u.viol = &violation{kind: "per-model cap", model: m, need: int64(k), have: int64(in.maxPer)}
			}
		}
	}
	u.obj = u.value + u.bonus - u.swap
	for h := range in.hosts {
		if u.mem[h] > c.mem[h] && u.viol == nil {
			u.viol = &violation{kind: "memory", host: h, need: u.mem[h], have: c.mem[h]}
		}
	}
	for h := range in.hosts {
		if c.usec != math.MaxInt64 && (untimed[h] || u.usec[h] > c.usec) && u.viol == nil {
			need := u.usec[h]
			if untimed[h] {
				need = -1
			}
			u.viol = &violation{kind: "round time", host: h, need: need, have: c.usec}
		}
	}
	if u.toks > c.toks && u.viol == nil {
		u.viol = &violation{kind: "tokens", need: u.toks, have: c.toks}
	}
	return u
}
