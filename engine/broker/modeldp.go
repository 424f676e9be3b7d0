package broker

import (
	"math"
	"slices"
)

// modelDP is an exact solver for the common case in which round time is
// unlimited and the token budget cannot bind: a dynamic program over model
// names instead of slots. Solve tries it before the branch and bound.
//
// Slots that are interchangeable (instance.classes) form classes, and a
// partial binding is summarised by how many slots of each class are bound
// (a mixed-radix count vector x) and the memory it holds per host. Models
// are taken one at a time; each either stays unused or is loaded on a
// non-empty set H of its candidates (hosts) and takes a[c] slots of each
// class c. With k = Σ a[c] agents on the model, a slot of class c earns the
// most any candidate of H allowed to it earns, v/D(k) + stickiness, so the
// model's share of the objective is Σ_c a[c]·f(c, H, k) − swap(H): for a
// fixed k the diversity discount is a common factor, so the share is
// linear in a and exact. Charging memory and swap for all of H even if an
// agent-less candidate slips in only undervalues a binding, and the binding
// whose H is exactly what it uses is among the options, so the best label
// is the optimum. The labels of one count vector are kept Pareto-optimal
// in (memory per host, value): a label that holds no less memory on every
// host and is worth no more than another of the same vector, with the same
// models left, cannot lead anywhere better.
//
// Labels are dropped when their value plus a bound on what the remaining
// models can add cannot beat the target. Two bounds, both computed
// backwards over the models once per solve:
//
//   - tails: exact in the count vector, with memory priced at η per byte
//     (a Lagrangian relaxation; the label's free memory is added back at
//     the same price). A few prices are tried at the root; the best and
//     η = 0 are kept.
//   - per-host tables: exact 0/1 knapsacks per host over memory rounded
//     down, each candidate its own group, with slot classes relaxed by a
//     price per class; combined over hosts by the number of slots.
//
// The first is loose on memory, the second on classes and on models that
// run on several hosts; the smaller of them leaves about 3–5 % at the root
// on the benchmark instances, where the optimum has to be told apart from
// many teams nearly as good. So the target is raised first (solve): a run
// pruning by a target above the incumbent is cheap, and if it finds any
// binding above the target, the best it finds is optimal.
//
// This replaces permutations of slots by counts, and the slot-by-slot
// search's re-exploration of the same loaded set (reached in many orders)
// by dominance between labels.
type modelDP struct {
	in    *instance
	caps  caps
	hosts []int // hosts whose memory is limited
	// classes
	rep   []int // per class: a slot of it
	size  []int // per class: its slots
	radix []int // per class: its weight in the count vector
	nx    int   // count vectors
	full  int
	digit [][]int // [x][c]
	total []int   // [x]: slots
	subs  [][]int // [x]: the non-zero sub-vectors a ≤ x
	// models
	models []dpModel
	// tails bound what models i.. can add: memory priced at eta per byte
	// on each limited host (eta = 0: memory ignored), the free memory added
	// back at the same price.
	tails []dpTail
	// pool[i][h][k][u] bounds what the candidates of models i.. on limited
	// host h can add with k slots and u units of h's memory: each candidate
	// its own group (a model on several hosts counts as several, which only
	// overvalues it), memory exact up to rounding down, slot classes
	// ignored (every slot valued as the class best on the candidate).
	pool      [][][][]float64 // [i][limited host][k][u]
	free      [][]float64     // [i][k]: the same on hosts of unlimited memory
	hunit     []float64
	mu        []float64 // per class: price of the per-host tables
	muSum     []float64 // [x]: Σ_c mu[c]·x[c]
	acc, acc2 []float64
}

// dpTail is t[i][y], the most models i.. can add with y slots open when
// each option pays eta per byte of the memory it loads (−Inf when they
// cannot take all y slots).
type dpTail struct {
	eta []float64 // per limited host
	t   [][]float64
}

type dpModel struct {
	m    int
	opts []dpOpt
	best []float64 // [a]: best option value for a, memory ignored
}

// dpOpt is a model loaded on a set of hosts.
type dpOpt struct {
	cands []int
	mem   []int64     // per limited host
	val   []float64   // [a]: value for a slots (−Inf: not allowed)
	pick  [][]int     // [c][k]: candidate class c takes with k agents on the model
	gain  [][]float64 // [c][k]: f(c, H, k)
}

// dpLabel is a partial binding: count vector, memory, value and how it was
// reached.
type dpLabel struct {
	x      int
	mem    int // offset into the memory arena
	val    float64
	parent int32
	model  int16
	opt    int16
	a      int32
	dead   bool
}

const (
	dpMaxStates = 4096
	dpMaxSubs   = 200_000
	dpMaxCands  = 4 // per model: 2^4 − 1 host sets
)

// newModelDP returns nil when the instance is outside what the DP handles.
func newModelDP(in *instance, c caps) *modelDP {
	if c.usec != math.MaxInt64 {
		return nil
	}
	if c.toks != math.MaxInt64 {
		most := int64(0)
		for _, t := range in.toks {
			most = max(most, t)
		}
		if most > 0 && most > c.toks/int64(in.nr) {
			return nil
		}
	}
	d := &modelDP{in: in, caps: c, acc: make([]float64, in.nr+1), acc2: make([]float64, in.nr+1)}
	for h := range in.hosts {
		if c.mem[h] != math.MaxInt64 {
			d.hosts = append(d.hosts, h)
		}
	}
	class := in.classes()
	idx := make([]int, in.nr)
	for r := range in.nr {
		if class[r] == r {
			idx[r] = len(d.rep)
			d.rep = append(d.rep, r)
			d.size = append(d.size, 0)
		}
		d.size[idx[class[r]]]++
	}
	d.nx = 1
	for _, n := range d.size {
		d.radix = append(d.radix, d.nx)
		d.nx *= n + 1
		if d.nx > dpMaxStates {
			return nil
		}
	}
	d.full = d.nx - 1
	nc := len(d.rep)
	d.digit = make([][]int, d.nx)
	d.total = make([]int, d.nx)
	d.subs = make([][]int, d.nx)
	nsubs := 0
	for x := range d.nx {
		dg := make([]int, nc)
		rest, t := x, 0
		for c := range nc {
			dg[c] = rest % (d.size[c] + 1)
			rest /= d.size[c] + 1
			t += dg[c]
		}
		d.digit[x], d.total[x] = dg, t
	}
	for x := range d.nx {
		// Sub-vectors of x by odometer.
		a := make([]int, nc)
		for {
			c := 0
			for ; c < nc; c++ {
				if a[c] < d.digit[x][c] {
					a[c]++
					break
				}
				a[c] = 0
			}
			if c == nc {
				break
			}
			v := 0
			for c := range nc {
				v += a[c] * d.radix[c]
			}
			d.subs[x] = append(d.subs[x], v)
		}
		nsubs += len(d.subs[x])
		if nsubs > dpMaxSubs {
			return nil
		}
	}
	// Models and their options.
	byModel := make([][]int, len(in.models))
	for cand, m := range in.model {
		byModel[m] = append(byModel[m], cand)
	}
	for m, cands := range byModel {
		if len(cands) > dpMaxCands {
			return nil
		}
		dm := dpModel{m: m, best: make([]float64, d.nx)}
		for i := range dm.best {
			dm.best[i] = math.Inf(-1)
		}
		for set := 1; set < 1<<len(cands); set++ {
			o, ok := d.option(cands, set)
			if !ok {
				continue
			}
			for a, v := range o.val {
				dm.best[a] = max(dm.best[a], v)
			}
			dm.opts = append(dm.opts, o)
		}
		dm.opts = d.undominated(dm.opts)
		if len(dm.opts) > 0 {
			d.models = append(d.models, dm)
		}
	}
	// Strong models first, so good labels appear early.
	strength := func(dm dpModel) float64 {
		s := math.Inf(-1)
		for _, u := range d.radix {
			s = max(s, dm.best[u])
		}
		return s
	}
	slices.SortStableFunc(d.models, func(a, b dpModel) int {
		return compareFloat(strength(b), strength(a))
	})
	d.priceMemory()
	d.tunePool()
	return d
}

// dpHostUnits is the resolution of the per-host memory bound.
const dpHostUnits = 64

// fillPool computes pool (see modelDP).
func (d *modelDP) fillPool(mu []float64) {
	nl := len(d.hosts)
	if nl == 0 {
		return
	}
	in := d.in
	nr, nu := in.nr, dpHostUnits+1
	d.hunit = make([]float64, nl)
	for j, h := range d.hosts {
		d.hunit[j] = float64(d.caps.mem[h]) / dpHostUnits
	}
	limited := make([]int, len(in.hosts)) // host → index in d.hosts, or −1
	for h := range limited {
		limited[h] = -1
	}
	for j, h := range d.hosts {
		limited[h] = j
	}
	n := len(d.models)
	d.pool = make([][][][]float64, n+1)
	// free is the per-slot-count table of unlimited hosts (no memory axis).
	d.free = make([][]float64, n+1)
	mk := func() [][][]float64 {
		t := make([][][]float64, nl)
		for j := range t {
			t[j] = make([][]float64, nr+1)
			for k := range t[j] {
				t[j][k] = make([]float64, nu)
			}
		}
		return t
	}
	ninf := math.Inf(-1)
	d.pool[n] = mk()
	d.free[n] = make([]float64, nr+1)
	for k := 1; k <= nr; k++ {
		d.free[n][k] = ninf
		for j := range nl {
			for u := range nu {
				d.pool[n][j][k][u] = ninf
			}
		}
	}
	gj := make([]float64, nr+1)
	for i := n - 1; i >= 0; i-- {
		next, cur := d.pool[i+1], mk()
		for j := range cur {
			for k := range cur[j] {
				copy(cur[j][k], next[j][k])
			}
		}
		nf, cf := d.free[i+1], append([]float64(nil), d.free[i+1]...)
		m := d.models[i].m
		for cand := range in.nc {
			if in.model[cand] != m {
				continue
			}
			// gj[j]: the most j slots can add on this candidate alone.
			ok := false
			for j := 1; j <= nr; j++ {
				b := ninf
				if in.maxPer <= 0 || j <= in.maxPer {
					for c, r := range d.rep {
						if in.isAllow[r][cand] {
							v := in.value[r][cand] / (1 + float64(j-1)*in.rho)
							if cand == in.bonus[r] {
								v += in.stick
							}
							b = max(b, v-mu[c])
						}
					}
				}
				gj[j] = float64(j)*b - in.swap[cand]
				ok = ok || !math.IsInf(b, -1)
			}
			if !ok {
				continue
			}
			lj := limited[in.host[cand]]
			if lj < 0 {
				for k := nr; k >= 1; k-- {
					for j := 1; j <= k; j++ {
						if v := gj[j] + nf[k-j]; v > cf[k] {
							cf[k] = v
						}
					}
				}
				continue
			}
			w := int(float64(in.mem[cand]) / d.hunit[lj])
			if w >= nu {
				continue
			}
			for k := 1; k <= nr; k++ {
				for j := 1; j <= k; j++ {
					g := gj[j]
					if math.IsInf(g, -1) {
						continue
					}
					row, from := cur[lj][k], next[lj][k-j]
					for u := w; u < nu; u++ {
						if v := g + from[u-w]; v > row[u] {
							row[u] = v
						}
					}
				}
			}
		}
		d.pool[i], d.free[i] = cur, cf
	}
}

// hostVector fills out[k], k = 0..nr, with the per-host bound of what
// models i.. add with k slots open and mem held: each host's table at its
// free memory, combined over the split of the k slots among hosts.
func (d *modelDP) hostVector(i int, mem []int64, out []float64, kmax int) {
	f := out[:kmax+1]
	copy(f, d.free[i])
	for j, h := range d.hosts {
		u := min(dpHostUnits, int(float64(d.caps.mem[h]-mem[j])/d.hunit[j]))
		t := d.pool[i][j]
		nx := d.acc2[:kmax+1]
		for a := range nx {
			b := math.Inf(-1)
			for c := 0; c <= a; c++ {
				if v := f[a-c] + t[c][u]; v > b {
					b = v
				}
			}
			nx[a] = b
		}
		copy(f, nx)
	}
}

// poolBound is hostBound with the class prices added back: the bound of
// the per-host tables for the open count vector rem.
func (d *modelDP) poolBound(i, rem int, mem []int64) float64 {
	d.hostVector(i, mem, d.acc, d.in.nr)
	b := d.acc[d.total[rem]]
	for c, n := range d.digit[rem] {
		b += d.mu[c] * float64(n)
	}
	return b
}

// tunePool sets the class prices mu of the per-host tables, which may be
// any: a slot of class c is valued v − mu[c] and mu[c] is added back per
// open slot of class c. Without them every slot would be valued as the
// best class on a candidate. Each class's mean value centres the classes.
func (d *modelDP) tunePool() {
	in := d.in
	nc := len(d.rep)
	d.mu = make([]float64, nc)
	for c, r := range d.rep {
		sum, n := 0.0, 0
		for _, cand := range in.allowed[r] {
			sum += in.value[r][cand]
			n++
		}
		d.mu[c] = sum / float64(n)
	}
	d.fillPool(d.mu)
	d.muSum = make([]float64, d.nx)
	for x, dg := range d.digit {
		for c, n := range dg {
			d.muSum[x] += d.mu[c] * float64(n)
		}
	}
}

// priceMemory adds the tails of a few memory prices: a geometric grid of
// one price for every limited host, keeping the ones whose root bound is
// lowest. Any price gives a valid bound; good ones make it tight.
func (d *modelDP) priceMemory() {
	zero := make([]float64, len(d.hosts))
	// Scale: the best value per byte of any option with one slot.
	scale := 0.0
	for _, dm := range d.models {
		for _, o := range dm.opts {
			mem := int64(0)
			for _, m := range o.mem {
				mem += m
			}
			if mem <= 0 {
				continue
			}
			for _, u := range d.radix {
				if v := o.val[u]; v > 0 {
					scale = max(scale, v/float64(mem))
				}
			}
		}
	}
	if scale == 0 {
		d.tails = []dpTail{d.tail(zero)}
		return
	}
	type cand struct {
		tail dpTail
		root float64
	}
	var cs []cand
	etas := [][]float64{zero}
	for f := 1.0 / 256; f <= 1.0/8; f *= 2 {
		eta := make([]float64, len(d.hosts))
		for j := range eta {
			eta[j] = f * scale
		}
		etas = append(etas, eta)
	}
	all := d.tailsFor(etas)
	for _, t := range all[1:] {
		cs = append(cs, cand{t, d.root(t)})
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return compareFloat(a.root, b.root) })
	// The best first: fastBound stops at the first tail that prunes.
	d.tails = nil
	for _, c := range cs[:min(len(cs), dpPrices)] {
		d.tails = append(d.tails, c.tail)
	}
	d.tails = append(d.tails, all[0])
}

// dpPrices is how many memory prices (besides 0) the bound tries at each
// label: one prunes nearly as much as two and costs less per label.
const dpPrices = 1

// root is tail t's bound on the whole binding.
func (d *modelDP) root(t dpTail) float64 {
	b := t.t[0][d.full]
	for j, h := range d.hosts {
		b += t.eta[j] * float64(d.caps.mem[h])
	}
	return b
}

// bound is the least of the tails' bounds on what models i.. add to a
// label with rem slots open and mem held.
func (d *modelDP) bound(i, rem int, mem []int64) float64 {
	b := math.Inf(1)
	for _, t := range d.tails {
		v := t.t[i][rem]
		for j, h := range d.hosts {
			v += t.eta[j] * float64(d.caps.mem[h]-mem[j])
		}
		b = min(b, v)
	}
	if d.pool != nil {
		b = min(b, d.poolBound(i, rem, mem))
	}
	return b
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// undominated drops the options that hold at least as much memory on
// every host as another option of the model and are worth no more for any
// count vector (loading a model on a second host gains nothing unless its
// value, pins or stickiness differ there).
func (d *modelDP) undominated(opts []dpOpt) []dpOpt {
	out := opts[:0]
	for i, o := range opts {
		dom := false
		for j, p := range opts {
			if i == j || !d.covers(p, o) {
				continue
			}
			// p is at least as good; of two equal options keep the first.
			if !d.covers(o, p) || j < i {
				dom = true
				break
			}
		}
		if !dom {
			out = append(out, o)
		}
	}
	return out
}

// covers says option p holds no more memory than o on any host and is
// worth at least as much for every count vector.
func (d *modelDP) covers(p, o dpOpt) bool {
	for j := range p.mem {
		if p.mem[j] > o.mem[j] {
			return false
		}
	}
	for a := range p.val {
		if p.val[a] < o.val[a] {
			return false
		}
	}
	return true
}

// option builds the option of loading model on the candidates in set.
func (d *modelDP) option(cands []int, set int) (dpOpt, bool) {
	in := d.in
	o := dpOpt{mem: make([]int64, len(d.hosts))}
	swap := 0.0
	for i, cand := range cands {
		if set&(1<<i) == 0 {
			continue
		}
		o.cands = append(o.cands, cand)
		swap += in.swap[cand]
		for j, h := range d.hosts {
			if in.host[cand] == h {
				o.mem[j] += in.mem[cand]
				if o.mem[j] > d.caps.mem[h] {
					return o, false
				}
			}
		}
	}
	nc := len(d.rep)
	o.pick = make([][]int, nc)
	o.gain = make([][]float64, nc)
	for c, r := range d.rep {
		o.pick[c] = make([]int, in.nr+1)
		o.gain[c] = make([]float64, in.nr+1)
		for k := 1; k <= in.nr; k++ {
			best, bc := math.Inf(-1), -1
			for _, cand := range o.cands {
				if !in.isAllow[r][cand] {
					continue
				}
				v := in.value[r][cand] / (1 + float64(k-1)*in.rho)
				if cand == in.bonus[r] {
					v += in.stick
				}
				if v > best {
					best, bc = v, cand
				}
			}
			o.gain[c][k], o.pick[c][k] = best, bc
		}
	}
	o.val = make([]float64, d.nx)
	o.val[0] = math.Inf(-1)
	for a := 1; a < d.nx; a++ {
		k := d.total[a]
		if in.maxPer > 0 && k > in.maxPer {
			o.val[a] = math.Inf(-1)
			continue
		}
		v := -swap
		for c, n := range d.digit[a] {
			if n > 0 {
				v += float64(n) * o.gain[c][k]
			}
		}
		o.val[a] = v
	}
	return o, true
}

// tail computes the tail bound for memory prices eta.
func (d *modelDP) tail(eta []float64) dpTail {
	return d.tailsFor([][]float64{eta})[0]
}

// tailsFor computes the tail bounds of several memory prices in one pass.
func (d *modelDP) tailsFor(etas [][]float64) []dpTail {
	n, ne := len(d.models), len(etas)
	ninf := math.Inf(-1)
	// Interleaved: row[y*ne+e].
	rows := make([][]float64, n+1)
	rows[n] = make([]float64, d.nx*ne)
	for i := ne; i < len(rows[n]); i++ {
		rows[n][i] = ninf
	}
	best := make([]float64, d.nx*ne)
	for i := n - 1; i >= 0; i-- {
		for k := range best {
			best[k] = ninf
		}
		for _, o := range d.models[i].opts {
			for e, eta := range etas {
				price := 0.0
				for j, m := range o.mem {
					price += eta[j] * float64(m)
				}
				for a, v := range o.val {
					best[a*ne+e] = max(best[a*ne+e], v-price)
				}
			}
		}
		next := rows[i+1]
		cur := make([]float64, d.nx*ne)
		copy(cur, next)
		for y := range d.nx {
			out := cur[y*ne : y*ne+ne]
			for _, a := range d.subs[y] {
				g, nx := best[a*ne:a*ne+ne], next[(y-a)*ne:(y-a)*ne+ne]
				for e := range out {
					if v := g[e] + nx[e]; v > out[e] {
						out[e] = v
					}
				}
			}
		}
		rows[i] = cur
	}
	out := make([]dpTail, ne)
	for e := range out {
		out[e] = dpTail{eta: etas[e], t: make([][]float64, n+1)}
		for i := range rows {
			t := make([]float64, d.nx)
			for y := range t {
				t[y] = rows[i][y*ne+e]
			}
			out[e].t[i] = t
		}
	}
	return out
}

// solve finds a binding better than lower, or proves there is none. It
// returns the binding (nil if none beats lower), the labels made in all,
// and false if it gave up at maxLabels.
func (d *modelDP) solve(lower float64, maxLabels int) ([]int, int, bool) {
	// Raise the bar first: a run pruning by a target above lower still
	// finds every binding better than the target, so if it finds one, the
	// best it finds is optimal. Runs with a high target are cheap, and the
	// optimum tends to lie a few percent below the root bound, so the
	// target walks down from there in small steps.
	ub := d.bound(0, d.full, make([]int64, len(d.hosts)))
	step := max(dpStep*math.Abs(ub), (ub-lower)/dpMaxRuns, 1e-9)
	total := 0
	for k := 1; ; k++ {
		target := ub - float64(k)*step
		last := target <= lower+eps
		if last {
			target = lower
		}
		exact, _, n, done := d.run(target, maxLabels-total)
		total += n
		if !done {
			return nil, total, false
		}
		if exact != nil || last {
			return exact, total, true
		}
	}
}

// The target's step is dpStep of the root bound, or more so that at most
// dpMaxRuns runs reach the incumbent.
const (
	dpStep    = 0.01
	dpMaxRuns = 16
)

// run searches for a binding better than lower. It returns the binding
// (nil if none beats lower), its value, the labels made, and false if it
// gave up at maxLabels.
func (d *modelDP) run(lower float64, maxLabels int) ([]int, float64, int, bool) {
	nh := len(d.hosts)
	zero := make([]int64, nh)
	if lower+eps >= d.bound(0, d.full, zero) {
		return nil, 0, 0, true // nothing can beat the incumbent
	}
	start, bid := lower, int32(-1)
	labels := []dpLabel{{x: 0, mem: 0, val: 0, parent: -1}}
	arena := make([]int64, nh)
	buckets := make([][]int32, d.nx)
	buckets[0] = []int32{0}
	var cur []int32
	newMem := make([]int64, nh)
	// Per (label, option): the memory terms of the bounds at the next layer.
	tm := &terms{eta: make([]float64, len(d.tails)), hostK: make([]float64, d.in.nr+1)}
	for i, dm := range d.models {
		// Snapshot the live labels; labels made now join the next layer.
		cur = cur[:0]
		for x := range buckets {
			cur = append(cur, buckets[x]...)
		}
		for _, id := range cur {
			lb := labels[id]
			rem := d.full - lb.x
			for oi := range dm.opts {
				o := &dm.opts[oi]
				fits := true
				for j, h := range d.hosts {
					newMem[j] = arena[lb.mem+j] + o.mem[j]
					if newMem[j] > d.caps.mem[h] {
						fits = false
						break
					}
				}
				if !fits {
					continue
				}
				d.setTerms(tm, i+1, newMem)
				for _, a := range d.subs[rem] {
					g := o.val[a]
					if math.IsInf(g, -1) {
						continue
					}
					val := lb.val + g
					if floor := lower + eps - val; d.fastBound(tm, rem-a, floor) <= floor {
						continue
					}
					x := lb.x + a
					if d.dominated(labels, arena, buckets[x], newMem, val) {
						continue
					}
					if len(labels) >= maxLabels {
						return nil, 0, len(labels), false
					}
					nid := int32(len(labels))
					off := len(arena)
					arena = append(arena, newMem...)
					labels = append(labels, dpLabel{x: x, mem: off, val: val, parent: id, model: int16(i), opt: int16(oi), a: int32(a)})
					buckets[x] = d.insert(labels, arena, buckets[x], nid)
					if x == d.full && val > lower {
						lower, bid = val, nid // a complete binding: the incumbent to beat
					}
				}
			}
		}
		// Labels that skip this model: prune by the bound.
		for x := range buckets {
			b := buckets[x][:0]
			for _, id := range buckets[x] {
				lb := &labels[id]
				if lb.dead {
					continue
				}
				d.setTerms(tm, i+1, arena[lb.mem:lb.mem+nh])
				if lb.val+d.fastBound(tm, d.full-x, lower+eps-lb.val) > lower+eps {
					b = append(b, id)
				}
			}
			buckets[x] = b
		}
	}
	if bid < 0 || labels[bid].val <= start+eps {
		return nil, 0, len(labels), true
	}
	assign := make([]int, d.in.nr)
	class := d.in.classes()
	free := make([][]int, len(d.rep)) // per class: its slots not yet bound
	for r := range d.in.nr {
		for c, rep := range d.rep {
			if class[r] == rep {
				free[c] = append(free[c], r)
			}
		}
	}
	for id := bid; labels[id].parent >= 0; id = labels[id].parent {
		lb := labels[id]
		o := &d.models[lb.model].opts[lb.opt]
		k := d.total[lb.a]
		for c, n := range d.digit[lb.a] {
			for range n {
				r := free[c][len(free[c])-1]
				free[c] = free[c][:len(free[c])-1]
				assign[r] = o.pick[c][k]
			}
		}
	}
	return assign, labels[bid].val, len(labels), true
}

// terms holds the parts of the bounds at one layer that depend on memory
// only: per memory-priced tail, the price of the free memory; per slot
// count k, the per-host tables' bound (filled on first use, up to kmax).
type terms struct {
	eta   []float64
	hostK []float64
	kmax  int // hostK is filled for k ≤ kmax; −1: not yet
	i     int
	mem   []int64
}

func (d *modelDP) setTerms(t *terms, i int, mem []int64) {
	for k, tl := range d.tails {
		v := 0.0
		for j, h := range d.hosts {
			v += tl.eta[j] * float64(d.caps.mem[h]-mem[j])
		}
		t.eta[k] = v
	}
	t.i, t.mem, t.kmax = i, mem, -1
}

// fastBound is bound(t.i, rem, t.mem) from the terms, cheapest part first:
// it stops as soon as the bound is at most floor.
func (d *modelDP) fastBound(t *terms, rem int, floor float64) float64 {
	b := math.Inf(1)
	for k, tl := range d.tails {
		if b = min(b, tl.t[t.i][rem]+t.eta[k]); b <= floor {
			return b
		}
	}
	if d.pool != nil {
		k := d.total[rem]
		if t.kmax < k {
			d.hostVector(t.i, t.mem, t.hostK, k)
			t.kmax = k
		}
		b = min(b, t.hostK[k]+d.muSum[rem])
	}
	return b
}

// dominated says some live label in bucket holds no more memory on any host
// and is worth at least val.
func (d *modelDP) dominated(labels []dpLabel, arena []int64, bucket []int32, mem []int64, val float64) bool {
	for _, id := range bucket {
		lb := &labels[id]
		if lb.dead || lb.val < val {
			continue
		}
		ok := true
		for j, m := range mem {
			if arena[lb.mem+j] > m {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// insert adds label id to bucket, marking and dropping the labels it
// dominates.
func (d *modelDP) insert(labels []dpLabel, arena []int64, bucket []int32, id int32) []int32 {
	nl := &labels[id]
	out := bucket[:0]
	for _, o := range bucket {
		lb := &labels[o]
		if lb.val <= nl.val {
			dom := true
			for j := range d.hosts {
				if arena[nl.mem+j] > arena[lb.mem+j] {
					dom = false
					break
				}
			}
			if dom {
				lb.dead = true
				continue
			}
		}
		out = append(out, o)
	}
	return append(out, id)
}

// dpLabelsPerNode is the model DP's budget of labels per node of
// Problem.MaxNodes (a label costs about as much as a search node), so
// MaxNodes bounds both; past it Solve falls back to the branch and bound.
const dpLabelsPerNode = 2
