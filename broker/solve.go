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
	// Exact says the binding is proven optimal; otherwise it came from the
	// fallback, as Method says.
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
)

// Solve finds the binding of greatest objective within the budget (see the
// package comment). It returns ErrNoCandidates when there is nothing to
// bind to, a *PinError for a pinned model no host has, an *InfeasibleError
// naming the smallest sufficient budget when nothing fits, and an error
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
	all := in.unlimited()
	full := in.budgetCaps()

	order, same := in.roleOrder()
	heur, ok := in.heuristic(order, full)
	if !ok {
		heur = nil
	}
	var (
		assign []int
		nodes  int
		exact  bool
		method string
		bound  float64
	)
	switch {
	case in.nr <= ExactLimitRoles && in.nc <= ExactLimitCandidates:
		s := in.search(full, order, same, heur)
		nodes = s.nodes
		if !s.found {
			if s.aborted {
				return nil, fmt.Errorf("%w: no binding found within %d search nodes", ErrInfeasible, s.maxNodes)
			}
			return nil, in.infeasible(full, all)
		}
		assign, exact, bound = s.bestAssign, !s.aborted, s.bound
		method = "branch and bound"
		if s.aborted {
			method = fmt.Sprintf("best found, branch and bound stopped at %d nodes", s.maxNodes)
		}
	case ok:
		assign, bound = heur, in.slotBound(full)
		method = fmt.Sprintf("greedy + local search (%d slots × %d candidates is beyond the exact limit of %d × %d)",
			in.nr, in.nc, ExactLimitRoles, ExactLimitCandidates)
	default:
		return nil, in.infeasible(full, all)
	}
	sol := in.solution(assign, full)
	sol.Exact, sol.Method, sol.Nodes = exact, method, nodes
	sol.Bound = max(bound, sol.Objective)
	if exact {
		sol.Bound = sol.Objective
	}
	sol.Elapsed = time.Since(start)
	return sol, nil
}

// search runs the exact branch and bound from the incumbent heur (nil if
// the heuristic found none); where the model DP applies (modeldp.go) and
// finishes, it answers instead.
func (in *instance) search(full caps, order []int, same []bool, heur []int) *search {
	s := newSearch(in, full, order, same, in.maxNodes)
	if heur != nil {
		s.best, s.found = in.evaluate(heur, full).obj, true
		copy(s.bestAssign, heur)
		if in.searchDP(s, full) {
			return s
		}
	}
	s.lag = newLagrange(in, order, full)
	s.bound = in.slotBound(full)
	if heur != nil {
		// Tune a little, let the prices guide a better binding, then tune
		// on toward it.
		s.bound = min(s.bound, s.lag.tune(s.st, in.shares(heur, full), s.best, tuneIters/2))
		if alt, ok := in.priced(order, full, s.lag); ok {
			if obj := in.evaluate(alt, full).obj; obj > s.best+eps {
				s.best = obj
				copy(s.bestAssign, alt)
			}
		}
		if s.bound > s.best+eps {
			s.bound = min(s.bound, s.lag.tune(s.st, nil, s.best, tuneIters))
		}
		if s.bound <= s.best+eps {
			s.nodes = 1 // the bound at the root proves the incumbent optimal
			return s
		}
	}
	s.lag.prepare()
	s.dfs(0, 0)
	return s
}

// searchDP runs the model DP from s's incumbent and says whether it
// settled the problem: then s holds the optimum, proven. A binding it
// returns must beat the incumbent and fit, or the branch and bound runs.
func (in *instance) searchDP(s *search, full caps) bool {
	d := newModelDP(in, full)
	if d == nil {
		return false
	}
	assign, labels, done := d.solve(s.best, dpLabelsPerNode*in.maxNodes)
	if !done {
		return false
	}
	if assign != nil {
		u := in.evaluate(assign, full)
		if !u.ok() || u.obj <= s.best+eps {
			return false
		}
		s.best = u.obj
		copy(s.bestAssign, assign)
	}
	s.nodes = max(labels, 1)
	s.bound = s.best
	return true
}

// slotBound is the per-slot bound at the root.
func (in *instance) slotBound(c caps) float64 {
	st := newState(in, c)
	ub := 0.0
	for r := range in.nr {
		b, _ := st.bound(r)
		ub += b
	}
	return ub
}

// eps absorbs floating-point drift when comparing objectives.
const eps = 1e-9

// instance is a Problem compiled to indices.
type instance struct {
	p        *Problem
	nr, nc   int
	value    [][]float64 // [slot][candidate]: quality × (1 − failure rate)
	quality  [][]float64
	bonus    []int    // per slot: the candidate keeping its binding, or -1
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
		}
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
		slices.SortStableFunc(in.allowed[r], func(a, b int) int {
			return cmp.Compare(in.top(r, b), in.top(r, a))
		})
	}
	return in, nil
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

// state is a partial binding, updated incrementally by the search.
type state struct {
	in      *instance
	caps    caps
	use     []int     // agents per candidate
	cnt     []int     // agents per model name
	sum     []float64 // value per model name
	mem     []int64   // per host
	usec    []int64   // per host
	untimed []int     // agents without a speed, per host
	toks    int64
}

func newState(in *instance, c caps) *state {
	return &state{
		in: in, caps: c,
		use: make([]int, in.nc), cnt: make([]int, len(in.models)), sum: make([]float64, len(in.models)),
		mem: make([]int64, len(in.hosts)), usec: make([]int64, len(in.hosts)), untimed: make([]int, len(in.hosts)),
	}
}

// fits says candidate c can take one more agent.
func (s *state) fits(c int) bool {
	in := s.in
	h := in.host[c]
	if s.use[c] == 0 && in.mem[c] > s.caps.mem[h]-s.mem[h] {
		return false
	}
	if s.caps.usec != math.MaxInt64 && (in.untimed[c] || in.usec[c] > s.caps.usec-s.usec[h]) {
		return false
	}
	if in.toks[c] > s.caps.toks-s.toks {
		return false
	}
	return in.maxPer <= 0 || s.cnt[in.model[c]] < in.maxPer
}

// delta is the change in objective from binding slot r to c.
func (s *state) delta(r, c int) float64 {
	in := s.in
	m := in.model[c]
	k := s.cnt[m]
	d := (s.sum[m] + in.value[r][c]) / (1 + float64(k)*in.rho)
	if k > 0 {
		d -= s.sum[m] / (1 + float64(k-1)*in.rho)
	}
	if c == in.bonus[r] {
		d += in.stick
	}
	if s.use[c] == 0 {
		d -= in.swap[c]
	}
	return d
}

func (s *state) add(r, c int) {
	in := s.in
	h, m := in.host[c], in.model[c]
	if s.use[c] == 0 {
		s.mem[h] += in.mem[c]
	}
	s.use[c]++
	s.cnt[m]++
	s.sum[m] += in.value[r][c]
	s.usec[h] += in.usec[c]
	if in.untimed[c] {
		s.untimed[h]++
	}
	s.toks += in.toks[c]
}

func (s *state) remove(r, c int) {
	in := s.in
	h, m := in.host[c], in.model[c]
	s.use[c]--
	if s.use[c] == 0 {
		s.mem[h] -= in.mem[c]
	}
	s.cnt[m]--
	s.sum[m] -= in.value[r][c]
	if s.cnt[m] == 0 {
		s.sum[m] = 0 // drop accumulated rounding
	}
	s.usec[h] -= in.usec[c]
	if in.untimed[c] {
		s.untimed[h]--
	}
	s.toks -= in.toks[c]
}

// bound is an upper bound on what slot r can still add, and false when no
// candidate of r fits. See the package comment for why it is valid.
func (s *state) bound(r int) (float64, bool) {
	in := s.in
	best, ok := math.Inf(-1), false
	for _, c := range in.allowed[r] {
		top := in.top(r, c)
		if ok && top <= best {
			break // sorted: no later candidate can beat best
		}
		if !s.fits(c) {
			continue
		}
		ub := in.value[r][c] / (1 + float64(s.cnt[in.model[c]])*in.rho)
		if c == in.bonus[r] {
			ub += in.stick
		}
		if !ok || ub > best {
			best, ok = ub, true
		}
	}
	return best, ok
}

// search is the exact branch and bound.
type search struct {
	in         *instance
	st         *state
	order      []int
	same       []bool
	pos        []int // per depth: index into allowed of the choice
	assign     []int // per slot
	best       float64
	bestAssign []int
	found      bool
	nodes      int
	maxNodes   int
	aborted    bool
	lag        *lagrange // nil: per-slot bound only
	bound      float64   // proven upper bound on the optimum, from the root
}

func newSearch(in *instance, c caps, order []int, same []bool, maxNodes int) *search {
	return &search{
		in: in, st: newState(in, c), order: order, same: same,
		pos: make([]int, in.nr), assign: make([]int, in.nr), bestAssign: make([]int, in.nr),
		best: math.Inf(-1), maxNodes: maxNodes,
	}
}

func (s *search) dfs(d int, obj float64) {
	s.nodes++
	if s.nodes > s.maxNodes {
		s.aborted = true
		return
	}
	in, st := s.in, s.st
	if d == in.nr {
		if !s.found || obj > s.best+eps {
			s.best, s.found = obj, true
			copy(s.bestAssign, s.assign)
		}
		return
	}
	// rest bounds the slots after this one; it stays valid below because
	// binding this slot only tightens the others' bounds.
	here, rest := 0.0, 0.0
	for e := d; e < in.nr; e++ {
		b, ok := st.bound(s.order[e])
		if !ok {
			return
		}
		if e == d {
			here = b
		} else {
			rest += b
		}
	}
	if s.found && obj+here+rest <= s.best+eps {
		return
	}
	if s.lag != nil && s.found {
		// The Lagrangian bounds, cheapest first; any one that prunes will do.
		for _, b := range [...]func(*state, int) float64{s.lag.boundHostsMem, s.lag.boundModelsNoTrace, s.lag.boundHostsNoTrace} {
			if obj+b(st, d) <= s.best+eps {
				return
			}
		}
	}
	r := s.order[d]
	list := in.allowed[r]
	first := 0
	if s.same[d] {
		first = s.pos[d-1]
	}
	for i := first; i < len(list); i++ {
		c := list[i]
		if s.found && obj+in.top(r, c)+rest <= s.best+eps {
			break
		}
		if !st.fits(c) {
			continue
		}
		dl := st.delta(r, c)
		if s.found && obj+dl+rest <= s.best+eps {
			continue
		}
		st.add(r, c)
		s.assign[r], s.pos[d] = c, i
		s.dfs(d+1, obj+dl)
		st.remove(r, c)
		if s.aborted {
			return
		}
	}
}

// tuneIters bounds the subgradient steps that tune the Lagrangian bound.
const tuneIters = 60

// shares is each slot's part of assign's objective, a starting point for
// the Lagrangian multipliers; nil assign gives each slot its best value.
func (in *instance) shares(assign []int, c caps) []float64 {
	out := make([]float64, in.nr)
	if assign == nil {
		for r := range out {
			out[r] = in.top(r, in.allowed[r][0])
		}
		return out
	}
	u := in.evaluate(assign, c)
	for r, cand := range assign {
		out[r] = in.value[r][cand] / (1 + float64(u.cnt[in.model[cand]]-1)*in.rho)
		if cand == in.bonus[r] {
			out[r] += in.stick
		}
	}
	return out
}

// heuristic is the fallback and the exact search's first incumbent: a
// greedy binding (each slot in order takes the candidate adding most while
// every later slot still has one that fits; if that dead-ends, the smallest
// models first), then local search.
func (in *instance) heuristic(order []int, c caps) ([]int, bool) {
	assign, ok := in.greedy(order, c, nil)
	if !ok {
		// Dead end: take the smallest models first, then improve.
		assign, ok = in.greedy(order, c, func(st *state, r, cand int) float64 {
			if st.use[cand] > 0 {
				return 1 // already paid for
			}
			return -float64(in.mem[cand])
		})
	}
	if !ok {
		return nil, false
	}
	in.improve(assign, c)
	return assign, true
}

// priced is the greedy guided by the Lagrangian prices of round time and
// memory, which say how scarce each host's budget is: a slot's gain minus
// what its time and (if loaded fresh) its memory would cost at those
// prices, scaled by f to try a few price levels.
func (in *instance) priced(order []int, c caps, l *lagrange) ([]int, bool) {
	var best []int
	bestObj := math.Inf(-1)
	for _, f := range []float64{0.5, 1, 2} {
		assign, ok := in.greedy(order, c, func(st *state, r, cand int) float64 {
			h := in.host[cand]
			v := st.delta(r, cand) - f*l.lam[h]*float64(in.usec[cand])
			if st.use[cand] == 0 {
				v -= f * l.eta[h] * float64(in.mem[cand])
			}
			return v
		})
		if !ok {
			continue
		}
		in.improve(assign, c)
		if obj := in.evaluate(assign, c).obj; obj > bestObj+eps {
			best, bestObj = assign, obj
		}
	}
	return best, best != nil
}

// greedy binds the slots in order, each to the candidate of best score
// (by default its gain) among those that leave every later slot one that
// fits.
func (in *instance) greedy(order []int, c caps, score func(st *state, r, cand int) float64) ([]int, bool) {
	if score == nil {
		score = func(st *state, r, cand int) float64 { return st.delta(r, cand) }
	}
	st := newState(in, c)
	assign := make([]int, in.nr)
	for d, r := range order {
		best, bestScore := -1, math.Inf(-1)
		for _, cand := range in.allowed[r] {
			if !st.fits(cand) {
				continue
			}
			sc := score(st, r, cand)
			if best >= 0 && sc <= bestScore {
				continue
			}
			st.add(r, cand)
			live := true
			for _, r2 := range order[d+1:] {
				if _, ok := st.bound(r2); !ok {
					live = false
					break
				}
			}
			st.remove(r, cand)
			if live {
				best, bestScore = cand, sc
			}
		}
		if best < 0 {
			return nil, false
		}
		st.add(r, best)
		assign[r] = best
	}
	return assign, true
}

// improve applies improving single-slot moves and pairwise swaps until none
// is left (or a pass limit is reached). assign must fit c.
func (in *instance) improve(assign []int, c caps) {
	st := newState(in, c)
	for r, cand := range assign {
		st.add(r, cand)
	}
	for range 100 {
		better := false
		for r, old := range assign {
			st.remove(r, old)
			best, gain := old, st.delta(r, old)
			for _, cand := range in.allowed[r] {
				if cand != old && st.fits(cand) {
					if d := st.delta(r, cand); d > gain+eps {
						best, gain = cand, d
					}
				}
			}
			st.add(r, best)
			assign[r] = best
			better = better || best != old
		}
		for a := range assign {
			for b := a + 1; b < len(assign); b++ {
				ca, cb := assign[a], assign[b]
				if ca == cb || !in.isAllow[a][cb] || !in.isAllow[b][ca] {
					continue
				}
				st.remove(a, ca)
				st.remove(b, cb)
				was := st.delta(a, ca)
				st.add(a, ca)
				was += st.delta(b, cb)
				st.remove(a, ca)
				if st.fits(cb) {
					now := st.delta(a, cb)
					st.add(a, cb)
					if st.fits(ca) && now+st.delta(b, ca) > was+eps {
						st.add(b, ca)
						assign[a], assign[b] = cb, ca
						better = true
						continue
					}
					st.remove(a, cb)
				}
				st.add(a, ca)
				st.add(b, cb)
			}
		}
		if in.replace(st, assign) {
			better = true
		}
		if !better {
			return
		}
	}
}

// replace tries moving every slot on one candidate to another candidate
// at once (swapping a loaded model for another, which single moves cannot
// do when memory is tight) and applies the first that improves.
func (in *instance) replace(st *state, assign []int) bool {
	var slots []int
	for from := range in.nc {
		if st.use[from] == 0 {
			continue
		}
		slots = slots[:0]
		for r, cand := range assign {
			if cand == from {
				slots = append(slots, r)
			}
		}
		was := 0.0
		for i := len(slots) - 1; i >= 0; i-- {
			st.remove(slots[i], from)
			was += st.delta(slots[i], from)
		}
		for to := range in.nc {
			if to == from {
				continue
			}
			now, n := 0.0, 0
			for _, r := range slots {
				if !in.isAllow[r][to] || !st.fits(to) {
					break
				}
				now += st.delta(r, to)
				st.add(r, to)
				n++
			}
			if n == len(slots) && now > was+eps {
				for _, r := range slots {
					assign[r] = to
				}
				return true
			}
			for _, r := range slots[:n] {
				st.remove(r, to)
			}
		}
		for _, r := range slots {
			st.add(r, from)
		}
	}
	return false
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
