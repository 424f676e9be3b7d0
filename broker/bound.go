package broker

import (
	"math"
)

// The per-slot bound (state.bound) lets every open slot take its favourite
// model at full value, and memory as if no other slot needed any; when
// memory, round time or the diversity discount make slots compete, that is
// far too optimistic to prune a 12-slot search. lagrange holds the stronger
// bounds, Lagrangian relaxations of the kind used for facility location:
//
//   - Groups instead of slots: each candidate (host, model) may take any
//     number j of the open slots, choosing which. Its gain is that of a
//     group, (S + Σ v) / D(k + j) − S / D(k) + stickiness, with
//     D(n) = 1 + (n − 1)·ρ and k slots worth S already on the model. When
//     one model's joiners split over several hosts, each part is charged
//     only its share of the existing slots' loss, and of a model not yet
//     in use only one copy (its "primary") is valued as a fresh group, the
//     others as joiners, "one primary per model" priced by π_m (see
//     best). The sum over candidates still bounds the true gain.
//   - Slots: different candidates may take the same slot; instead, each
//     slot r is priced μ_r, the multiplier of "every slot exactly once".
//   - Round time is priced λ_h per microsecond on host h; per-candidate
//     limits on agents (time, tokens, the per-model cap) stay hard.
//   - Memory stays hard: per host, the candidates loaded fresh are a 0/1
//     knapsack, solved exactly by dynamic programming over memory rounded
//     down to units of the host's budget (rounding down only admits more,
//     so it stays a relaxation). Candidates already loaded are free; swap
//     costs are fixed charges of fresh candidates.
//
// Three relaxations differ in what else they keep: boundHostsMem is the
// above, per host; boundHosts also keeps the number of slots (a table of
// memory × agents per host, combined over hosts), so the relaxation cannot
// open more groups than there are slots; boundModels keeps each model one
// group wherever it runs but pools the hosts' memory.
//
// For any μ, any λ, π ≥ 0 each relaxation's optimum bounds every completion
// from above: in a real binding each slot is taken once, so the μ terms
// cancel, and the priced slacks are non-negative. Pricing memory instead,
// as the textbook does, leaves a gap of about one large model per host,
// far too loose when a host holds only two or three. The multipliers are
// tuned once at the root by subgradient steps and reused in the whole
// tree, which keeps them valid though not optimal deeper down.
type lagrange struct {
	in    *instance
	order []int
	mu    []float64 // per slot
	lam   []float64 // per host, per microsecond
	// eta is, per host, the value per byte of the fresh models the memory
	// knapsack chose at the root: a price of memory for the greedy.
	eta    []float64
	setEta bool
	pi     []float64 // per model: price of a second primary copy (see best)
	// g0[d][m][j]: fresh gain of j slots of order[d:] on model m, net of μ;
	// gs the same valued as joiners of a one-member group.
	g0, gs [][][]float64
	vm     [][]float64 // [m][r]: best value of m in slot r, −1 if not allowed
	bm     [][]float64 // [m][r]: stickiness of m in slot r
	// Memory units: per host the unit, per candidate its rounded weight;
	// the c-prefixed ones are the coarser units of the agent-count DP.
	unit, cunit     []float64
	weight, cweight []int
	byHost          [][]int
	// poolUnit is the memory unit of boundModels' pooled knapsack, 0 when
	// no host's memory is limited.
	poolUnit float64
	cands    [][]int // per model: its candidates
	// scratch
	xs    []float64
	dp    []float64
	gm2   []float64
	cost  []float64
	sp    []float64
	nsp   []float64
	gm    [][]float64 // per model: gains at this node when in use
	stamp []int       // per model: node that filled gm
	opts  []option
	cdp   []float64 // boundHosts: memory units × agents
	hbest []float64 // boundHosts: per agent count, this host
	fcnt  []float64 // boundHosts: per agent count, hosts so far
	fnext []float64
	nfit  []int // per model: candidates that fit at this node
	node  int
}

// Resolutions of the memory knapsacks: per host (memUnits), per host with
// the agent count (countUnits, coarser since each unit costs a row of
// agent counts), pooled over hosts (poolUnits). Finer is tighter and
// slower; rounding is always down, so every resolution is valid.
const (
	memUnits   = 256
	countUnits = 64
	poolUnits  = 512
)

func newLagrange(in *instance, order []int, c caps) *lagrange {
	nm, nh := len(in.models), len(in.hosts)
	l := &lagrange{
		in: in, order: order,
		mu: make([]float64, in.nr), lam: make([]float64, nh), eta: make([]float64, nh), pi: make([]float64, nm),
		vm: make([][]float64, nm), bm: make([][]float64, nm),
		unit: make([]float64, nh), weight: make([]int, in.nc),
		cunit: make([]float64, nh), cweight: make([]int, in.nc), byHost: make([][]int, nh),
		xs: make([]float64, 0, in.nr), dp: make([]float64, poolUnits+1),
		gm2: make([]float64, in.nr+1), cost: make([]float64, in.nr+1),
		sp: make([]float64, in.nr+1), nsp: make([]float64, in.nr+1),
		cands: make([][]int, nm),
		gm:    make([][]float64, nm), stamp: make([]int, nm), nfit: make([]int, nm),
		cdp:   make([]float64, max(memUnits+1, (countUnits+1)*(in.nr+1))),
		hbest: make([]float64, in.nr+1), fcnt: make([]float64, in.nr+1), fnext: make([]float64, in.nr+1),
	}
	for m := range nm {
		l.vm[m] = make([]float64, in.nr)
		l.bm[m] = make([]float64, in.nr)
		l.gm[m] = make([]float64, in.nr+1)
		for r := range in.nr {
			l.vm[m][r] = -1
		}
	}
	for cand, m := range in.model {
		for r := range in.nr {
			if in.isAllow[r][cand] {
				l.vm[m][r] = max(l.vm[m][r], in.value[r][cand])
				if cand == in.bonus[r] {
					l.bm[m][r] = in.stick
				}
			}
		}
		h := in.host[cand]
		l.byHost[h] = append(l.byHost[h], cand)
		l.cands[m] = append(l.cands[m], cand)
	}
	for h := range in.hosts {
		if c.mem[h] != math.MaxInt64 && c.mem[h] > 0 {
			l.unit[h] = float64(c.mem[h]) / memUnits
			l.cunit[h] = float64(c.mem[h]) / countUnits
		}
	}
	pool := 0.0
	for h := range in.hosts {
		pool += l.unit[h] * memUnits
	}
	l.poolUnit = pool / poolUnits
	for cand := range in.nc {
		if u := l.cunit[in.host[cand]]; u > 0 {
			l.cweight[cand] = int(float64(in.mem[cand]) / u)
		}
		if u := l.unit[in.host[cand]]; u > 0 {
			l.weight[cand] = int(float64(in.mem[cand]) / u)
		}
	}
	return l
}

func (l *lagrange) d(n int) float64 { return 1 + float64(n-1)*l.in.rho }

// timePrice is λ_h, or 0 when round time is unlimited (no slack to price).
func (l *lagrange) timePrice(st *state, h int) float64 {
	if st.caps.usec == math.MaxInt64 {
		return 0
	}
	return l.lam[h]
}

// gain fills out[j], j = 0..open, with the best gain, net of μ, of j slots
// of order[depth:] joining model m that has k slots now; −Inf where fewer
// slots may join.
func (l *lagrange) gain(depth, m, k int, out []float64) {
	open := l.in.nr - depth
	out[0] = 0
	for j := 1; j <= open; j++ {
		dj := l.d(k + j)
		xs := l.xs[:0]
		for _, r := range l.order[depth:] {
			if v := l.vm[m][r]; v >= 0 {
				xs = append(xs, v/dj+l.bm[m][r]-l.mu[r])
			}
		}
		if len(xs) < j {
			for ; j <= open; j++ {
				out[j] = math.Inf(-1)
			}
			return
		}
		sortDesc(xs)
		sum := 0.0
		for _, x := range xs[:j] {
			sum += x
		}
		out[j] = sum
	}
}

// pick returns the slots of the best j for model m with k slots (trace).
func (l *lagrange) pick(depth, m, k, j int) []int {
	dj := l.d(k + j)
	type rx struct {
		r int
		x float64
	}
	var all []rx
	for _, r := range l.order[depth:] {
		if v := l.vm[m][r]; v >= 0 {
			all = append(all, rx{r, v/dj + l.bm[m][r] - l.mu[r]})
		}
	}
	for i := 1; i < len(all); i++ {
		for k := i; k > 0 && all[k].x > all[k-1].x; k-- {
			all[k], all[k-1] = all[k-1], all[k]
		}
	}
	out := make([]int, j)
	for i := range out {
		out[i] = all[i].r
	}
	return out
}

func sortDesc(xs []float64) {
	for i := 1; i < len(xs); i++ {
		for k := i; k > 0 && xs[k] > xs[k-1]; k-- {
			xs[k], xs[k-1] = xs[k-1], xs[k]
		}
	}
}

// prepare fills g0 for every depth with the current multipliers.
func (l *lagrange) prepare() {
	for d := range l.in.nr {
		l.prepareDepth(d)
	}
}

func (l *lagrange) prepareDepth(d int) {
	in := l.in
	if l.g0 == nil {
		l.g0, l.gs = make([][][]float64, in.nr), make([][][]float64, in.nr)
	}
	if l.g0[d] == nil {
		l.g0[d], l.gs[d] = make([][]float64, len(in.models)), make([][]float64, len(in.models))
		for m := range in.models {
			l.g0[d][m] = make([]float64, in.nr-d+1)
			l.gs[d][m] = make([]float64, in.nr-d+1)
		}
	}
	for m := range in.models {
		l.gain(d, m, 0, l.g0[d][m])
		if len(l.cands[m]) > 1 {
			l.gain(d, m, 1, l.gs[d][m])
		}
	}
}

// trace is the relaxation's solution, for the subgradient.
type trace struct {
	cover []int     // per slot: groups it joined
	usec  []float64 // per host: round time used
	// primary counts, per model, the candidates valued as primary copy.
	primary []int
}

// best is candidate cand's most profitable group size in state st, its
// profit (0, 0 when no group pays), and whether it is valued as its
// model's primary copy.
//
// A model not yet in use may run on several hosts, but its copies are one
// group. So that the per-host relaxation does not count each host's copy
// as a fresh group, one candidate per model is its primary, valued as a
// fresh group V/D(j); the others are valued as joiners of a group that
// has at least one member, V/D(1 + j), which bounds their share from above
// once any copy exists. "At most one primary per model" is priced by π_m:
// each candidate takes the better of primary − π_m and secondary, and the
// bound adds π_m back once.
func (l *lagrange) best(st *state, depth, cand int) (int, float64, bool) {
	opts := l.options(st, depth, cand, l.opts[:0])
	if len(opts) == 0 {
		return 0, 0, false
	}
	o := opts[len(opts)-1]
	return o.j, o.v, o.primary
}

// option is a group size j a candidate may take and its profit.
type option struct {
	j       int
	v       float64
	primary bool
}

// options appends to out the group sizes worth considering for cand: those
// with positive profit that beat every smaller size (for "at most so many
// slots", a larger group that earns no more is never needed), in
// increasing size and profit.
func (l *lagrange) options(st *state, depth, cand int, out []option) []option {
	in := l.in
	open := in.nr - depth
	h, m := in.host[cand], in.model[cand]
	k := st.cnt[m]
	most := l.most(st, cand, open)
	if in.maxPer > 0 {
		most = min(most, in.maxPer-k)
	}
	var g, sec []float64
	pi := 0.0
	if k == 0 {
		g = l.g0[depth][m]
		if l.nfit[m] > 1 {
			sec, pi = l.gs[depth][m], l.pi[m]
		}
	} else {
		g = l.gm[m]
		if l.stamp[m] != l.node {
			l.gain(depth, m, k, g)
			// The slots already on m lose value too: S·(1/D(k) − 1/D(k+j)),
			// increasing in j. Joiners may split over the n candidates of m
			// that fit, so each part is charged 1/n of it: the parts' charges
			// sum to at most the whole group's loss.
			s, n := st.sum[m], float64(l.nfit[m])
			for j := 1; j < len(g); j++ {
				g[j] -= s * (1/l.d(k) - 1/l.d(k+j)) / n
			}
			l.stamp[m] = l.node
		}
	}
	per := l.timePrice(st, h) * float64(in.usec[cand])
	swap := 0.0
	if st.use[cand] == 0 {
		swap = in.swap[cand]
	}
	top := 0.0
	for j := 1; j <= most; j++ {
		t := per*float64(j) + swap
		v, primary := g[j]-pi-t, true
		if sec != nil {
			if w := sec[j] - t; w > v {
				v, primary = w, false
			}
		}
		if v > top {
			out = append(out, option{j, v, primary})
			top = v
		}
	}
	return out
}

// bound is the smaller of the two relaxations' bounds on what the open
// slots order[depth:] can add in state st. With a trace it fills tr with
// the solution of the smaller.
func (l *lagrange) bound(st *state, depth int, tr *trace) float64 {
	if tr == nil {
		return min(l.boundHostsMem(st, depth), l.boundModels(st, depth, nil), l.boundHosts(st, depth, nil))
	}
	tm := newTrace(l.in)
	a, b := l.boundHosts(st, depth, tr), l.boundModels(st, depth, tm)
	if b < a {
		tr.cover, tr.usec = tm.cover, tm.usec
		clear(tr.primary) // π is not part of boundModels
		return b
	}
	return a
}

func newTrace(in *instance) *trace {
	return &trace{cover: make([]int, in.nr), usec: make([]float64, len(in.hosts)), primary: make([]int, len(in.models))}
}

// multipliers is the constant part of both per-host bounds: the prices of
// the models that could still be loaded more than once, and of the slots
// still open. It counts the node.
func (l *lagrange) multipliers(st *state, depth int) float64 {
	l.node++
	clear(l.nfit)
	for cand, m := range l.in.model {
		if st.fits(cand) {
			l.nfit[m]++
		}
	}
	ub := 0.0
	for m, n := range l.nfit {
		if n > 1 && st.cnt[m] == 0 {
			ub += l.pi[m]
		}
	}
	for _, r := range l.order[depth:] {
		ub += l.mu[r]
	}
	return ub
}

// boundHosts is the per-host relaxation: exact memory per host, each
// candidate its own group.
func (l *lagrange) boundHosts(st *state, depth int, tr *trace) float64 {
	if depth >= l.in.nr {
		return 0 // nothing left to bind
	}
	in := l.in
	ub := l.multipliers(st, depth)
	open := in.nr - depth
	ninf := math.Inf(-1)
	f := l.fcnt[:open+1]
	for a := range f {
		f[a] = ninf
	}
	f[0] = 0
	type pick struct {
		cand int
		opts []option
		ch   []int8 // per state: option taken + 1, or 0
	}
	var picks [][]pick  // trace: per host
	var hostA [][]int   // trace: per host, agents given to it for each total
	var dps [][]float64 // trace: per host, its table
	var rooms, widths []int
	for h, cands := range l.byHost {
		room := 0
		if l.cunit[h] > 0 {
			room = min(countUnits, int(float64(st.caps.mem[h]-st.mem[h])/l.cunit[h]))
			if room < 0 {
				return ninf // over budget already
			}
		}
		width := open + 1
		dp := l.cdp[:(room+1)*width]
		for i := range dp {
			dp[i] = ninf
		}
		dp[0] = 0
		var hp []pick
		for _, cand := range cands {
			if !st.fits(cand) {
				continue
			}
			opts := l.options(st, depth, cand, l.opts[:0])
			if len(opts) == 0 {
				continue
			}
			w := 0
			if st.use[cand] == 0 && l.cunit[h] > 0 {
				w = l.cweight[cand]
			}
			if w > room {
				continue
			}
			var ch []int8
			if tr != nil {
				ch = make([]int8, len(dp))
				hp = append(hp, pick{cand, append([]option(nil), opts...), ch})
			}
			for u := room; u >= w; u-- {
				row, from := dp[u*width:(u+1)*width], dp[(u-w)*width:(u-w+1)*width]
				for a := open; a >= 1; a-- {
					for i, o := range opts {
						if o.j > a {
							break
						}
						if x := from[a-o.j] + o.v; x > row[a] {
							row[a] = x
							if ch != nil {
								ch[u*width+a] = int8(i + 1)
							}
						}
					}
				}
			}
		}
		hb := l.hbest[:open+1]
		for a := range hb {
			hb[a] = ninf
			for u := 0; u <= room; u++ {
				hb[a] = max(hb[a], dp[u*width+a])
			}
		}
		next := l.fnext[:open+1]
		var ha []int
		if tr != nil {
			ha = make([]int, open+1)
		}
		for a := range next {
			next[a] = ninf
			for b := 0; b <= a; b++ {
				if x := f[a-b] + hb[b]; x > next[a] {
					next[a] = x
					if ha != nil {
						ha[a] = b
					}
				}
			}
		}
		copy(f, next)
		if tr != nil {
			picks = append(picks, hp)
			hostA = append(hostA, ha)
			dps = append(dps, append([]float64(nil), dp...))
			rooms, widths = append(rooms, room), append(widths, width)
		}
		if st.caps.usec != math.MaxInt64 {
			ub += l.lam[h] * float64(st.caps.usec-st.usec[h])
		}
	}
	best, total := ninf, 0
	for a, x := range f {
		if x > best {
			best, total = x, a
		}
	}
	if tr != nil && !math.IsInf(best, -1) {
		for h := len(picks) - 1; h >= 0; h-- {
			a := hostA[h][total]
			total -= a
			dp, width := dps[h], widths[h]
			u := 0
			for v := 0; v <= rooms[h]; v++ {
				if dp[v*width+a] > dp[u*width+a] {
					u = v
				}
			}
			for i := len(picks[h]) - 1; i >= 0 && a > 0; i-- {
				p := picks[h][i]
				if c := p.ch[u*width+a]; c > 0 {
					o := p.opts[c-1]
					l.record(st, depth, p.cand, o.j, o.primary, tr)
					if st.use[p.cand] == 0 && l.cunit[in.host[p.cand]] > 0 {
						u -= l.cweight[p.cand]
					}
					a -= o.j
				}
			}
		}
	}
	return ub + best
}

// boundModels is the per-model relaxation: each model one group wherever
// its agents run (so copies on several hosts are discounted together), its
// agents split over its hosts at the least priced time and swap cost, and
// the hosts' free memory pooled into one knapsack in which a model weighs
// its smallest fresh copy (nothing if a loaded copy can take agents). It
// is looser on memory than boundHosts and tighter on diversity.
func (l *lagrange) boundModels(st *state, depth int, tr *trace) float64 {
	if depth >= l.in.nr {
		return 0 // nothing left to bind
	}
	in := l.in
	open := in.nr - depth
	ub := 0.0
	for _, r := range l.order[depth:] {
		ub += l.mu[r]
	}
	room, pooled := 0, l.poolUnit > 0
	if pooled {
		free := 0.0
		for h := range in.hosts {
			if l.unit[h] > 0 {
				free += float64(st.caps.mem[h] - st.mem[h])
			}
		}
		room = min(len(l.dp)-1, int(free/l.poolUnit))
		if room < 0 {
			return math.Inf(-1)
		}
	}
	dp := l.dp[:room+1]
	clear(dp)
	var keep [][]bool
	var items []int
	var jbest []int
	g := l.gm2[:open+1]
	cost := l.cost[:open+1]
	for m := range in.models {
		k := st.cnt[m]
		if k == 0 {
			copy(g, l.g0[depth][m])
		} else {
			l.gain(depth, m, k, g)
			for j := 1; j <= open; j++ {
				g[j] -= st.sum[m] * (1/l.d(k) - 1/l.d(k+j))
			}
		}
		most := open
		if in.maxPer > 0 {
			most = min(most, in.maxPer-k)
		}
		if most < 1 || math.IsInf(g[1], -1) {
			continue
		}
		weight := -1 // -1: no fitting candidate
		l.split(st, m, open, cost)
		for _, cand := range l.cands[m] {
			if !st.fits(cand) {
				continue
			}
			w := 0
			if st.use[cand] == 0 && l.unit[in.host[cand]] > 0 {
				w = int(float64(in.mem[cand]) / l.poolUnit)
			}
			if weight < 0 || w < weight {
				weight = w
			}
		}
		if weight < 0 {
			continue
		}
		bj, bv := 0, 0.0
		for j := 1; j <= most; j++ {
			if v := g[j] - cost[j]; v > bv {
				bj, bv = j, v
			}
		}
		if bj == 0 {
			continue
		}
		if weight == 0 || !pooled {
			ub += bv
			if tr != nil {
				l.recordModel(st, depth, m, bj, tr)
			}
			continue
		}
		var kp []bool
		if tr != nil {
			kp = make([]bool, room+1)
		}
		for u := room; u >= weight; u-- {
			if x := dp[u-weight] + bv; x > dp[u] {
				dp[u] = x
				if kp != nil {
					kp[u] = true
				}
			}
		}
		if tr != nil {
			keep = append(keep, kp)
			items = append(items, m)
			jbest = append(jbest, bj)
		}
	}
	ub += dp[room]
	if tr != nil {
		u := room
		for i := len(items) - 1; i >= 0; i-- {
			if keep[i][u] {
				l.recordModel(st, depth, items[i], jbest[i], tr)
				u -= l.minWeight(st, items[i])
			}
		}
	}
	if st.caps.usec != math.MaxInt64 {
		for h := range in.hosts {
			ub += l.lam[h] * float64(st.caps.usec-st.usec[h])
		}
	}
	return ub
}

func (l *lagrange) minWeight(st *state, m int) int {
	weight := -1
	for _, cand := range l.cands[m] {
		if !st.fits(cand) {
			continue
		}
		w := 0
		if st.use[cand] == 0 && l.unit[l.in.host[cand]] > 0 {
			w = int(float64(l.in.mem[cand]) / l.poolUnit)
		}
		if weight < 0 || w < weight {
			weight = w
		}
	}
	return weight
}

// split fills cost[j] with the least priced round time plus swap cost of
// running j agents of model m over its candidates that fit; +Inf where
// they cannot all run.
func (l *lagrange) split(st *state, m, open int, cost []float64) {
	in := l.in
	sp, nsp := l.sp[:open+1], l.nsp[:open+1]
	sp[0] = 0
	for j := 1; j <= open; j++ {
		sp[j] = math.Inf(1)
	}
	for _, cand := range l.cands[m] {
		if !st.fits(cand) {
			continue
		}
		most := l.most(st, cand, open)
		h := in.host[cand]
		fixed, per := 0.0, l.timePrice(st, h)*float64(in.usec[cand])
		if st.use[cand] == 0 {
			fixed = in.swap[cand]
		}
		for j := range nsp {
			nsp[j] = sp[j]
			for i := 1; i <= min(most, j); i++ {
				if v := sp[j-i] + fixed + per*float64(i); v < nsp[j] {
					nsp[j] = v
				}
			}
		}
		sp, nsp = nsp, sp
	}
	copy(cost, sp)
}

// most is how many agents candidate cand can take in st by round time and
// tokens alone.
func (l *lagrange) most(st *state, cand, open int) int {
	in := l.in
	h := in.host[cand]
	most := open
	if st.caps.usec != math.MaxInt64 && in.usec[cand] > 0 {
		most = min(most, int((st.caps.usec-st.usec[h])/in.usec[cand]))
	}
	if st.caps.toks != math.MaxInt64 && in.toks[cand] > 0 {
		most = min(most, int((st.caps.toks-st.toks)/in.toks[cand]))
	}
	return most
}

// recordModel traces j slots on model m, their time spread as split would
// (approximated by the fastest candidate that fits).
func (l *lagrange) recordModel(st *state, depth, m, j int, tr *trace) {
	for _, r := range l.pick(depth, m, st.cnt[m], j) {
		tr.cover[r]++
	}
	left := j
	for _, cand := range l.cands[m] {
		if left == 0 {
			break
		}
		if !st.fits(cand) {
			continue
		}
		n := min(left, l.most(st, cand, j))
		tr.usec[l.in.host[cand]] += float64(n) * float64(l.in.usec[cand])
		left -= n
	}
}

func (l *lagrange) record(st *state, depth, cand, j int, primary bool, tr *trace) {
	m := l.in.model[cand]
	k := st.cnt[m]
	if k == 0 && !primary {
		k = 1
	}
	if k == 0 && l.nfit[m] > 1 {
		tr.primary[m]++
	}
	for _, r := range l.pick(depth, m, k, j) {
		tr.cover[r]++
	}
	tr.usec[l.in.host[cand]] += float64(j) * float64(l.in.usec[cand])
}

// tune sets the multipliers by subgradient steps at the root (state st
// empty), starting from μ = start (each slot's share in a good binding;
// nil continues from the current multipliers) and aiming at lower, the objective of that binding. Steps follow Polyak's
// rule toward lower, deflected by half the previous direction to damp
// zig-zagging; interchangeable slots share one multiplier (the dual has a
// symmetric optimum); after three steps without progress the step halves
// and restarts from the best multipliers. It returns the best bound found
// and leaves the multipliers that gave it.
func (l *lagrange) tune(st *state, start []float64, lower float64, iters int) float64 {
	in := l.in
	class := in.classes()
	size := make([]int, in.nr)
	for r := range class {
		size[class[r]]++
	}
	if start != nil {
		copy(l.mu, start)
		for r := range l.mu { // symmetric start
			if c := class[r]; c != r {
				l.mu[c] += l.mu[r]
			}
		}
		for r := range l.mu {
			if class[r] == r {
				l.mu[r] /= float64(size[r])
			}
		}
		for r := range l.mu {
			l.mu[r] = l.mu[class[r]]
		}
	}
	mu, lam := make([]float64, in.nr), make([]float64, len(in.hosts))
	best := math.Inf(1)
	theta, stall := 1.0, 0
	gmu, glam := make([]float64, in.nr), make([]float64, len(in.hosts))
	dmu, dlam := make([]float64, in.nr), make([]float64, len(in.hosts))
	gpi, dpi := make([]float64, len(in.models)), make([]float64, len(in.models))
	pi := make([]float64, len(in.models))
	for range iters {
		l.prepareDepth(0)
		tr := newTrace(in)
		ub := l.bound(st, 0, tr)
		if ub < best-eps {
			best, stall = ub, 0
			copy(mu, l.mu)
			copy(lam, l.lam)
			copy(pi, l.pi)
		} else if stall++; stall >= 3 {
			theta, stall = theta/2, 0
			copy(l.mu, mu)
			copy(l.lam, lam)
			copy(l.pi, pi)
			clear(dmu)
			clear(dlam)
			clear(dpi)
			continue
		}
		if best <= lower+eps || theta < 1e-3 {
			break
		}
		// Time gradients are in units of the budget, so they weigh like
		// slots.
		clear(gmu)
		for r := range gmu {
			gmu[class[r]] += 1 - float64(tr.cover[r])
		}
		for r := range gmu {
			if c := class[r]; c != r {
				gmu[r] = gmu[c] / float64(size[c])
			}
		}
		for r := range gmu {
			if class[r] == r {
				gmu[r] /= float64(size[r])
			}
		}
		norm := 0.0
		for r := range gmu {
			dmu[r] = gmu[r] + 0.5*dmu[r]
			norm += dmu[r] * dmu[r]
		}
		for h := range in.hosts {
			glam[h] = 0
			if st.caps.usec != math.MaxInt64 && st.caps.usec > 0 {
				glam[h] = 1 - tr.usec[h]/float64(st.caps.usec)
				if l.lam[h] == 0 && glam[h] > 0 {
					glam[h] = 0 // projected: the price is already zero
				}
			}
			dlam[h] = glam[h] + 0.5*dlam[h]
			norm += dlam[h] * dlam[h]
		}
		for m := range gpi {
			gpi[m] = 0
			if len(l.cands[m]) > 1 {
				gpi[m] = 1 - float64(tr.primary[m])
				if l.pi[m] == 0 && gpi[m] > 0 {
					gpi[m] = 0
				}
			}
			dpi[m] = gpi[m] + 0.5*dpi[m]
			norm += dpi[m] * dpi[m]
		}
		if norm == 0 {
			break
		}
		step := theta * (ub - lower) / norm
		for m := range l.pi {
			l.pi[m] = max(0, l.pi[m]-step*dpi[m])
		}
		for r := range l.mu {
			l.mu[r] -= step * dmu[r]
		}
		for h := range in.hosts {
			if dlam[h] != 0 {
				l.lam[h] = max(0, l.lam[h]-step*dlam[h]/float64(st.caps.usec))
			}
		}
	}
	copy(l.mu, mu)
	copy(l.lam, lam)
	copy(l.pi, pi)
	l.prepareDepth(0)
	l.setEta = true
	l.boundHostsMem(st, 0)
	l.setEta = false
	return best
}

// boundHostsMem is boundHosts without the agent count.
func (l *lagrange) boundHostsMem(st *state, depth int) float64 {
	if depth >= l.in.nr {
		return 0 // nothing left to bind
	}
	ub := l.multipliers(st, depth)
	for h, cands := range l.byHost {
		room := 0
		if l.unit[h] > 0 {
			room = min(memUnits, int(float64(st.caps.mem[h]-st.mem[h])/l.unit[h]))
			if room < 0 {
				return math.Inf(-1)
			}
		}
		dp := l.cdp[:room+1]
		clear(dp)
		for _, cand := range cands {
			if !st.fits(cand) {
				continue
			}
			j, v, _ := l.best(st, depth, cand)
			if j == 0 {
				continue
			}
			w := l.weight[cand]
			if st.use[cand] > 0 || l.unit[h] == 0 || w == 0 {
				ub += v
				continue
			}
			for u := room; u >= w; u-- {
				if x := dp[u-w] + v; x > dp[u] {
					dp[u] = x
				}
			}
		}
		ub += dp[room]
		if l.setEta && room > 0 {
			l.eta[h] = dp[room] / (float64(room) * l.unit[h])
		}
		if st.caps.usec != math.MaxInt64 {
			ub += l.lam[h] * float64(st.caps.usec-st.usec[h])
		}
	}
	return ub
}

func (l *lagrange) boundModelsNoTrace(st *state, depth int) float64 {
	return l.boundModels(st, depth, nil)
}
func (l *lagrange) boundHostsNoTrace(st *state, depth int) float64 {
	return l.boundHosts(st, depth, nil)
}
