package broker

import (
	"cmp"
	"math"
	"slices"
)

// state is a partial binding, updated incrementally by the search.
type state struct {
	in   *instance
	caps caps
	use  []int     // agents per candidate
	cnt  []int     // agents per model name
	sum  []float64 // value per model name
	mem  []int64   // per host
	usec []int64   // per host
	toks int64
}

func newState(in *instance, c caps) *state {
	return &state{
		in: in, caps: c,
		use: make([]int, in.nc), cnt: make([]int, len(in.models)), sum: make([]float64, len(in.models)),
		mem: make([]int64, len(in.hosts)), usec: make([]int64, len(in.hosts)),
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
	s.toks -= in.toks[c]
}

// prices are the Lagrange multipliers of the bounds: per host, value per
// byte of memory and per microsecond of round time (any non-negative
// prices give valid bounds), and per slot, groupBound's μ (any sign).
type prices struct {
	mem, time []float64 // per host
	slot      []float64 // per slot: μ of groupBound
}

func (in *instance) zeroPrices() prices {
	return prices{mem: make([]float64, len(in.hosts)), time: make([]float64, len(in.hosts)), slot: make([]float64, in.nr)}
}

func (p prices) clone() prices {
	return prices{mem: slices.Clone(p.mem), time: slices.Clone(p.time), slot: slices.Clone(p.slot)}
}

// slack is what the budget left over is worth at p: Σ over hosts of the
// prices times the memory and round time still free.
func (s *state) slack(p prices) float64 {
	v := 0.0
	for h := range s.mem {
		if p.mem[h] > 0 {
			v += p.mem[h] * float64(s.caps.mem[h]-s.mem[h])
		}
		if p.time[h] > 0 {
			v += p.time[h] * float64(s.caps.usec-s.usec[h])
		}
	}
	return v
}

// term bounds what slot r can add by taking candidate c while open slots
// are still unbound, net of the prices of what it uses. The diversity
// discount is at least the one of the copies already bound; a candidate
// not yet loaded costs its swap and priced memory once, shared by the n
// open slots that take it, and those n are then n copies; so the slot
// gets at most the best over n of v/(1+(k+n−1)ρ) − cost/n. Stickiness
// adds; round time costs its price.
func (s *state) term(r, c int, p prices, open int) float64 {
	in := s.in
	h, m := in.host[c], in.model[c]
	v, k := in.value[r][c], float64(s.cnt[m])
	t := v / (1 + k*in.rho)
	if cost := p.mem[h]*float64(in.mem[c]) + in.swap[c]; s.use[c] == 0 && cost > 0 {
		most := open
		if in.maxPer > 0 {
			most = min(most, in.maxPer-s.cnt[m])
		}
		t -= cost
		for n := 2; n <= most; n++ {
			t = max(t, v/(1+(k+float64(n-1))*in.rho)-cost/float64(n))
		}
	}
	if c == in.bonus[r] {
		t += in.stick
	}
	return t - p.time[h]*float64(in.usec[c])
}

// slotTerm is the best term of slot r over the candidates that fit, and
// false when none fits.
func (s *state) slotTerm(r int, p prices, open int) (float64, bool) {
	in := s.in
	best, ok := math.Inf(-1), false
	for _, c := range in.allowed[r] {
		if ok && in.top(r, c) <= best {
			break // sorted by top, which no term exceeds
		}
		if s.fits(c) {
			best, ok = max(best, s.term(r, c, p, open)), true
		}
	}
	return best, ok
}

// groupBound is a second bound on what the open slots can add, net of
// prices, that sees diversity among them. If a of them take model m, each
// is discounted at least by 1/(1+(k+a−1)ρ), and a model not yet loaded on
// a host costs its memory once among at most a slots; the a best slots'
// terms so discounted, less their prices μ, make a group value. Any choice
// of a per model with Σ a = open slots, each group picking its slots as
// if the others did not exist, plus Σ μ over the open slots, bounds every
// completion (μ prices "each slot in exactly one group", so it holds for
// any μ). When g.used is set it records, for tuning, how many groups take
// each slot and what memory and time the groups use per host.
func (s *state) groupBound(open []int, p prices, g *groupScratch) float64 {
	in := s.in
	n := len(open)
	dp, next := g.dp[:n+1], g.next[:n+1]
	for j := range dp {
		dp[j] = math.Inf(-1)
	}
	dp[0] = 0
	for c := range g.fits {
		g.fits[c] = s.fits(c)
	}
	for m, cands := range in.byModel {
		k := s.cnt[m]
		most := n
		if in.maxPer > 0 {
			most = min(most, in.maxPer-k)
		}
		if g.used != nil {
			clear(g.pick[m*(n+1) : (m+1)*(n+1)])
		}
		if most <= 0 {
			continue
		}
		// terms[a-1][i]: open slot i's best term in a group of a on m.
		terms := g.terms[:most*n]
		for i := range terms {
			terms[i] = slotPick{val: math.Inf(-1), c: -1}
		}
		for i, r := range open {
			for _, c := range cands {
				if !g.fits[c] || !in.isAllow[r][c] {
					continue
				}
				h := in.host[c]
				extra := -p.slot[r] - p.time[h]*float64(in.usec[c])
				if c == in.bonus[r] {
					extra += in.stick
				}
				cost := 0.0
				if s.use[c] == 0 {
					cost = p.mem[h]*float64(in.mem[c]) + in.swap[c]
				}
				for a := 1; a <= most; a++ {
					t := in.value[r][c]*g.discount[k+a-1] + extra - cost/float64(a)
					if x := &terms[(a-1)*n+i]; t > x.val {
						*x = slotPick{t, i, c}
					}
				}
			}
		}
		copy(next, dp)
		for a := 1; a <= most; a++ {
			w := g.w[:0]
			for _, x := range terms[(a-1)*n : a*n] {
				if x.c >= 0 {
					w = append(w, x)
				}
			}
			if len(w) < a {
				break
			}
			sortDesc(w)
			val := 0.0
			for _, x := range w[:a] {
				val += x.val
			}
			if g.used != nil {
				copy(g.choice[(m*n+a-1)*n:], w[:a])
			}
			for j := n; j >= a; j-- {
				if v := dp[j-a] + val; v > next[j] {
					next[j] = v
					if g.used != nil {
						g.pick[m*(n+1)+j] = a
					}
				}
			}
		}
		dp, next = next, dp
	}
	total := dp[n] + s.slack(p)
	for _, r := range open {
		total += p.slot[r]
	}
	if g.used != nil {
		g.trace(s, open, p)
	}
	return total
}

// sortDesc sorts a few picks by value, largest first.
func sortDesc(w []slotPick) {
	if len(w) > 12 {
		slices.SortStableFunc(w, func(a, b slotPick) int { return cmp.Compare(b.val, a.val) })
		return
	}
	for i := 1; i < len(w); i++ {
		for j := i; j > 0 && w[j].val > w[j-1].val; j-- {
			w[j], w[j-1] = w[j-1], w[j]
		}
	}
}

// slotPick is a slot's best candidate for a group and its term.
type slotPick struct {
	val  float64
	i, c int // index into open, candidate
}

// groupScratch is groupBound's working memory; used, mem and time (set
// only while tuning) receive the chosen groups' use.
type groupScratch struct {
	dp, next  []float64
	discount  []float64 // [x]: 1/(1+xρ)
	terms, w  []slotPick
	fits      []bool     // per candidate: fits now
	pick      []int      // per model and slots so far: the group size taken
	choice    []slotPick // per model, group size − 1 and member: the slots of each group
	used      []int      // per open slot: groups taking it
	picks     []slotPick // the chosen groups' slots (by slot, not index) and candidates
	mem, time []float64  // per host
}

func newGroupScratch(in *instance) *groupScratch {
	n := in.nr
	discount := make([]float64, 2*n+1)
	for x := range discount {
		discount[x] = 1 / (1 + float64(x)*in.rho)
	}
	return &groupScratch{
		dp: make([]float64, n+1), next: make([]float64, n+1), discount: discount,
		terms: make([]slotPick, n*n), w: make([]slotPick, 0, n), fits: make([]bool, in.nc),
		pick: make([]int, len(in.models)*(n+1)), choice: make([]slotPick, len(in.models)*n*n),
	}
}

// trace walks the knapsack back from the full count and records the use of
// the chosen groups.
func (g *groupScratch) trace(s *state, open []int, p prices) {
	in := s.in
	n := len(open)
	clear(g.used)
	clear(g.mem)
	clear(g.time)
	g.picks = g.picks[:0]
	j := n
	for m := len(in.models) - 1; m >= 0 && j > 0; m-- {
		a := g.pick[m*(n+1)+j]
		if a == 0 {
			continue
		}
		for _, x := range g.choice[(m*n+a-1)*n:][:a] {
			g.picks = append(g.picks, slotPick{x.val, open[x.i], x.c})
			g.used[x.i]++
			h := in.host[x.c]
			if s.use[x.c] == 0 {
				g.mem[h] += float64(in.mem[x.c]) / float64(a)
			}
			g.time[h] += float64(in.usec[x.c])
		}
		j -= a
	}
}

// least is the least the open slots still need of the round's tokens and
// of round time (all hosts together), each on its leanest candidate.
func (s *state) least(open []int) (toks, usec int64) {
	for _, r := range open {
		toks += s.in.minToks[r]
		usec += s.in.minUsec[r]
	}
	return toks, usec
}

// feasible is a quick test that the open slots can still all be bound:
// each has a candidate that fits, and together they fit the tokens and
// the round time left.
func (s *state) feasible(open []int) bool {
	for _, r := range open {
		if !slices.ContainsFunc(s.in.allowed[r], s.fits) {
			return false
		}
	}
	toks, usec := s.least(open)
	if s.caps.toks != math.MaxInt64 && toks > s.caps.toks-s.toks {
		return false
	}
	if s.caps.usec != math.MaxInt64 {
		var free int64
		for _, u := range s.usec {
			free += s.caps.usec - u
		}
		return usec <= free
	}
	return true
}

// search is the exact branch and bound over slots.
type search struct {
	in         *instance
	st         *state
	order      []int
	same       []bool // same[d]: slot order[d] is interchangeable with order[d-1]
	pos        []int  // per depth: index into allowed of the choice
	assign     []int  // per slot
	terms      [][]float64
	kids       [][]slotPick // per depth: the children to try
	p          prices       // tuned at the root
	best       float64
	bestAssign []int
	found      bool
	nodes      int
	maxNodes   int
	aborted    bool
	rootBound  float64
	scratch    *groupScratch
}

func newSearch(in *instance, c caps, p prices) *search {
	order, same := in.roleOrder()
	s := &search{
		in: in, st: newState(in, c), order: order, same: same, p: p,
		pos: make([]int, in.nr), assign: make([]int, in.nr), bestAssign: make([]int, in.nr),
		terms: make([][]float64, in.nr), best: math.Inf(-1), maxNodes: in.maxNodes,
		scratch: newGroupScratch(in),
	}
	s.kids = make([][]slotPick, in.nr)
	for d := range s.terms {
		s.terms[d] = make([]float64, in.nr-d)
	}
	return s
}

// search runs the branch and bound from the greedy incumbent, with prices
// tuned at the root.
func (in *instance) search(c caps) *search {
	s := newSearch(in, c, in.zeroPrices())
	if assign, ok := in.heuristic(s.order, c); ok {
		s.best, s.found = in.evaluate(assign, c).obj, true
		copy(s.bestAssign, assign)
		s.p = s.tune()
	}
	s.rootBound = s.st.groupBound(s.order, s.p, s.scratch)
	s.dfs(0, 0)
	return s
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
	open := in.nr - d
	if !st.feasible(s.order[d:]) {
		return
	}
	terms := s.terms[d]
	total := st.slack(s.p)
	for e, r := range s.order[d:] {
		t, ok := st.slotTerm(r, s.p, open)
		if !ok {
			return
		}
		terms[e] = t
		total += t
	}
	if s.found && (obj+total <= s.best+tol || open > 1 && obj+st.groupBound(s.order[d:], s.p, s.scratch) <= s.best+tol) {
		return
	}
	// rest bounds everything but this slot; with this slot on c the
	// subtree is bounded by rest + its term for c.
	rest := total - terms[0]
	r := s.order[d]
	list := in.allowed[r]
	first := 0
	if s.same[d] {
		first = s.pos[d-1] // interchangeable slots take candidates in order
	}
	// Children best bound first, so good bindings come early.
	kids := s.kids[d][:0]
	for i := first; i < len(list); i++ {
		c := list[i]
		if s.found && obj+rest+in.top(r, c) <= s.best+tol {
			break // sorted by top, which bounds the term
		}
		if st.fits(c) {
			kids = append(kids, slotPick{st.term(r, c, s.p, open), i, c})
		}
	}
	sortDesc(kids)
	for _, k := range kids {
		if s.found && obj+rest+k.val <= s.best+tol {
			break
		}
		dl := st.delta(r, k.c)
		st.add(r, k.c)
		s.assign[r], s.pos[d] = k.c, k.i
		s.dfs(d+1, obj+dl)
		st.remove(r, k.c)
		if s.aborted {
			return
		}
	}
}

// tuneIters bounds the subgradient steps that tune the prices.
const tuneIters = 60

// tune picks prices that make groupBound small at the root: projected
// subgradient steps toward the incumbent's objective. Memory and time are
// priced per share of each host's budget, so their steps are alike.
func (s *search) tune() prices {
	in, st, g := s.in, s.st, s.scratch
	g.used, g.mem, g.time = make([]int, in.nr), make([]float64, len(in.hosts)), make([]float64, len(in.hosts))
	defer func() { g.used = nil }()
	memScale, timeScale := make([]float64, len(in.hosts)), make([]float64, len(in.hosts))
	for h := range in.hosts {
		memScale[h], timeScale[h] = limitScale(st.caps.mem[h]), limitScale(st.caps.usec)
	}
	p := in.zeroPrices()
	best, bestVal, step := p.clone(), math.Inf(1), 1.0
	for it := range tuneIters {
		val := st.groupBound(s.order, p, g)
		s.repair(g.picks)
		if val < bestVal-eps {
			bestVal, best = val, p.clone()
		} else if it%4 == 3 {
			step /= 2
		}
		// The subgradient, in the scaled units.
		norm := 0.0
		gSlot := make([]float64, in.nr)
		for i, r := range s.order {
			gSlot[r] = 1 - float64(g.used[i])
			norm += gSlot[r] * gSlot[r]
		}
		gMem, gTime := make([]float64, len(in.hosts)), make([]float64, len(in.hosts))
		for h := range in.hosts {
			gMem[h] = (float64(st.caps.mem[h]) - g.mem[h]) * memScale[h]
			gTime[h] = (float64(st.caps.usec) - g.time[h]) * timeScale[h]
			norm += gMem[h]*gMem[h] + gTime[h]*gTime[h]
		}
		if val <= s.best+tol || norm == 0 {
			break
		}
		t := step * (val - s.best) / norm
		for r := range p.slot {
			p.slot[r] -= t * gSlot[r]
		}
		for h := range p.mem {
			p.mem[h] = max(0, p.mem[h]-t*gMem[h]*memScale[h])
			p.time[h] = max(0, p.time[h]-t*gTime[h]*timeScale[h])
		}
	}
	return best
}

// repair turns the groups groupBound chose into a binding, a Lagrangian
// heuristic: each group's candidate goes to the slots it chose, or if a
// better group took one, to the free slot that values it most, while it
// fits; slots left over take the candidate adding most; then local search; a binding better than the incumbent replaces it.
func (s *search) repair(picks []slotPick) {
	in := s.in
	st := newState(in, s.st.caps)
	assign := make([]int, in.nr)
	for r := range assign {
		assign[r] = -1
	}
	slices.SortFunc(picks, func(a, b slotPick) int { return cmp.Compare(b.val, a.val) })
	for _, x := range picks {
		r := x.i
		if assign[r] >= 0 { // taken by a better group: another free slot, the best for x.c
			r = -1
			for r2, c := range assign {
				if c < 0 && in.isAllow[r2][x.c] && (r < 0 || in.top(r2, x.c) > in.top(r, x.c)) {
					r = r2
				}
			}
		}
		if r >= 0 && st.fits(x.c) {
			st.add(r, x.c)
			assign[r] = x.c
		}
	}
	for _, r := range s.order {
		if assign[r] >= 0 {
			continue
		}
		best, gain := -1, math.Inf(-1)
		for _, c := range in.allowed[r] {
			if st.fits(c) {
				if d := st.delta(r, c); d > gain {
					best, gain = c, d
				}
			}
		}
		if best < 0 {
			return
		}
		st.add(r, best)
		assign[r] = best
	}
	in.improve(assign, st.caps)
	if obj := in.evaluate(assign, st.caps).obj; obj > s.best+eps {
		s.best = obj
		copy(s.bestAssign, assign)
	}
}

// limitScale is 1/limit for a limited resource, 0 for an unlimited one.
func limitScale(limit int64) float64 {
	if limit == math.MaxInt64 || limit <= 0 {
		return 0
	}
	return 1 / float64(limit)
}

// heuristic is the search's first incumbent: a greedy binding (each slot
// in order takes the candidate adding most while every later slot still
// has one that fits; if that dead-ends, the smallest models first), then
// local search.
func (in *instance) heuristic(order []int, c caps) ([]int, bool) {
	assign, ok := in.greedy(order, c, nil)
	if !ok {
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
			live := st.feasible(order[d+1:])
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

// improve rebinds single slots, each to its best candidate given the
// rest, until none moves (or a pass limit is reached). assign must fit c.
func (in *instance) improve(assign []int, c caps) {
	st := newState(in, c)
	for r, cand := range assign {
		st.add(r, cand)
	}
	for range 100 {
		if !in.move(st, assign) {
			return
		}
	}
}

// move makes one pass of improve and says whether any slot moved.
func (in *instance) move(st *state, assign []int) bool {
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
	return better
}
