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
//     the same price). A few prices are tried at the root (ranked by the
//     same bound with the count vector relaxed to its number of slots,
//     which is far cheaper); the best and η = 0 are kept.
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
	// hostTable caches hostVector(i, mem) by i and the memory units free on
	// each limited host (all it depends on), across the runs of a solve:
	// hostKeys/hostOffs map the key to an offset into hostVals (nr+1
	// values).
	hostKeys []uint64 // hash table: key+1, 0 when empty
	hostOffs []int32
	hostUsed int
	hostVals []float64
	// run's storage, kept across runs.
	labels  []dpLabel
	arena   []int64
	buckets [][]int32
	cur     []int32
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
	x      int32
	mem    int32 // offset into the memory arena
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
	// One slab for all tables; rows are capped views into it.
	slab := make([]float64, (n+1)*nl*(nr+1)*nu)
	rowsSlab := make([][]float64, (n+1)*nl*(nr+1))
	tabSlab := make([][][]float64, (n+1)*nl)
	mk := func() [][][]float64 {
		t := tabSlab[:nl:nl]
		tabSlab = tabSlab[nl:]
		for j := range t {
			t[j] = rowsSlab[: nr+1 : nr+1]
			rowsSlab = rowsSlab[nr+1:]
			for k := range t[j] {
				t[j][k] = slab[:nu:nu]
				slab = slab[nu:]
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
// lowest (with dpPrices = 1, lowest for the count-relaxed tails of
// countRoot, so that only two prices need the exact tails). Any price
// gives a valid bound; good ones make it tight.
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
	etas := [][]float64{zero}
	for f := 1.0 / 256; f <= 1.0/8; f *= 2 {
		eta := make([]float64, len(d.hosts))
		for j := range eta {
			eta[j] = f * scale
		}
		etas = append(etas, eta)
	}
	// rootOf is the root bound of lane e of rows computed for ps.
	rootOf := func(rows [][]float64, ps [][]float64, e int) float64 {
		b := rows[0][d.full*tailStride(len(ps))+e]
		for j, h := range d.hosts {
			b += ps[e][j] * float64(d.caps.mem[h])
		}
		return b
	}
	type cand struct {
		e    int // index into etas
		root float64
	}
	var cs []cand
	if dpPrices == 1 {
		// Pick the price by the root of a cheaper relaxation that keeps
		// only the number of slots, then compute the exact tails of it and
		// of 0 alone.
		for e := 1; e < len(etas); e++ {
			cs = append(cs, cand{e, d.countRoot(etas[e])})
		}
		slices.SortStableFunc(cs, func(a, b cand) int { return compareFloat(a.root, b.root) })
		ps := [][]float64{etas[cs[0].e], zero}
		rows := d.tailRows(ps)
		d.tails = []dpTail{d.extractTail(rows, ps, 0), d.extractTail(rows, ps, 1)}
		return
	}
	rows := d.tailRows(etas)
	for e := 1; e < len(etas); e++ {
		cs = append(cs, cand{e, rootOf(rows, etas, e)})
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return compareFloat(a.root, b.root) })
	// The best first: fastBound stops at the first tail that prunes.
	d.tails = nil
	for _, c := range cs[:min(len(cs), dpPrices)] {
		d.tails = append(d.tails, d.extractTail(rows, etas, c.e))
	}
	d.tails = append(d.tails, d.extractTail(rows, etas, 0))
}

// countRoot is the root bound of the tails for memory prices eta with the
// count vector relaxed to its number of slots.
func (d *modelDP) countRoot(eta []float64) float64 {
	nr := d.in.nr
	ninf := math.Inf(-1)
	t := make([]float64, nr+1)
	nt := make([]float64, nr+1)
	bk := make([]float64, nr+1)
	for k := 1; k <= nr; k++ {
		t[k] = ninf
	}
	for i := len(d.models) - 1; i >= 0; i-- {
		for k := range bk {
			bk[k] = ninf
		}
		for _, o := range d.models[i].opts {
			price := 0.0
			for j, m := range o.mem {
				price += eta[j] * float64(m)
			}
			for a, v := range o.val {
				if k := d.total[a]; v-price > bk[k] {
					bk[k] = v - price
				}
			}
		}
		copy(nt, t)
		for y := 1; y <= nr; y++ {
			for k := 1; k <= y; k++ {
				if v := bk[k] + t[y-k]; v > nt[y] {
					nt[y] = v
				}
			}
		}
		t, nt = nt, t
	}
	b := t[nr]
	for j, h := range d.hosts {
		b += eta[j] * float64(d.caps.mem[h])
	}
	return b
}

// dpSlack is the margin by which run's prefilter is looser than
// fastBound, far above rounding error in the sums it compares.
const dpSlack = 1e-7

// dpPrices is how many memory prices (besides 0) the bound tries at each
// label: one prunes nearly as much as two and costs less per label.
const dpPrices = 1

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
	return d.extractTail(d.tailRows([][]float64{eta}), [][]float64{eta}, 0)
}

// extractTail is price e's tail out of the interleaved rows of tailRows.
func (d *modelDP) extractTail(rows [][]float64, etas [][]float64, e int) dpTail {
	st := tailStride(len(etas))
	t := dpTail{eta: etas[e], t: make([][]float64, len(rows))}
	slab := make([]float64, len(rows)*d.nx)
	for i := range rows {
		ti := slab[i*d.nx : (i+1)*d.nx : (i+1)*d.nx]
		for y := range ti {
			ti[y] = rows[i][y*st+e]
		}
		t.t[i] = ti
	}
	return t
}

// tailStride is the stride of tailRows' interleaved rows: 2 lanes for two
// prices and 8 for three to eight (the unused ones −Inf), so that the
// inner loop runs unrolled (maxPlus2, maxPlus8).
func tailStride(ne int) int {
	if ne > 2 && ne <= 8 {
		return 8
	}
	return ne
}

// tailRows computes the tails of several memory prices interleaved:
// rows[i][y*tailStride(len(etas))+e] is t[i][y] of price e.
func (d *modelDP) tailRows(etas [][]float64) [][]float64 {
	n, ne := len(d.models), len(etas)
	st := tailStride(ne)
	ninf := math.Inf(-1)
	w := d.nx * st
	slab := make([]float64, (n+2)*w)
	rows := make([][]float64, n+1)
	rows[n] = slab[n*w : (n+1)*w : (n+1)*w]
	for i := range rows[n] {
		if i >= st || i >= ne {
			rows[n][i] = ninf
		}
	}
	best := slab[(n+1)*w:]
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
					if v -= price; v > best[a*st+e] {
						best[a*st+e] = v
					}
				}
			}
		}
		next := rows[i+1]
		cur := slab[i*w : (i+1)*w : (i+1)*w]
		copy(cur, next)
		switch st {
		case 8:
			maxPlus8(cur, best, next, d.subs)
		case 2:
			maxPlus2(cur, best, next, d.subs)
		default:
			for y := range d.nx {
				out := cur[y*st : y*st+st]
				for _, a := range d.subs[y] {
					g, nx := best[a*st:a*st+st], next[(y-a)*st:(y-a)*st+st]
					for e := range out {
						if v := g[e] + nx[e]; v > out[e] {
							out[e] = v
						}
					}
				}
			}
		}
		rows[i] = cur
	}
	return rows
}

// maxPlus2 is maxPlus8 for 2 lanes.
func maxPlus2(cur, best, next []float64, subs [][]int) {
	for y, sy := range subs {
		o := (*[2]float64)(cur[y*2 : y*2+2])
		o0, o1 := o[0], o[1]
		for _, a := range sy {
			g := (*[2]float64)(best[a*2 : a*2+2])
			n := (*[2]float64)(next[(y-a)*2 : (y-a)*2+2])
			if v := g[0] + n[0]; v > o0 {
				o0 = v
			}
			if v := g[1] + n[1]; v > o1 {
				o1 = v
			}
		}
		o[0], o[1] = o0, o1
	}
}

// maxPlus8 is tailRows' step for 8 lanes: cur[y] = max(cur[y], best[a] +
// next[y−a]) over the sub-vectors a of y, lane by lane. Values are finite
// or −Inf, never NaN.
func maxPlus8(cur, best, next []float64, subs [][]int) {
	for y, sy := range subs {
		o := (*[8]float64)(cur[y*8 : y*8+8])
		o0, o1, o2, o3, o4, o5, o6, o7 := o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]
		for _, a := range sy {
			g := (*[8]float64)(best[a*8 : a*8+8])
			n := (*[8]float64)(next[(y-a)*8 : (y-a)*8+8])
			if v := g[0] + n[0]; v > o0 {
				o0 = v
			}
			if v := g[1] + n[1]; v > o1 {
				o1 = v
			}
			if v := g[2] + n[2]; v > o2 {
				o2 = v
			}
			if v := g[3] + n[3]; v > o3 {
				o3 = v
			}
			if v := g[4] + n[4]; v > o4 {
				o4 = v
			}
			if v := g[5] + n[5]; v > o5 {
				o5 = v
			}
			if v := g[6] + n[6]; v > o6 {
				o6 = v
			}
			if v := g[7] + n[7]; v > o7 {
				o7 = v
			}
		}
		o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7] = o0, o1, o2, o3, o4, o5, o6, o7
	}
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
	// Storage is reused across the runs of a solve.
	labels := append(d.labels[:0], dpLabel{x: 0, mem: 0, val: 0, parent: -1})
	arena := append(d.arena[:0], make([]int64, nh)...)
	if d.buckets == nil {
		d.buckets = make([][]int32, d.nx)
	}
	buckets := d.buckets
	for x := range buckets {
		buckets[x] = buckets[x][:0]
	}
	buckets[0] = append(buckets[0], 0)
	cur := d.cur[:0]
	defer func() { d.labels, d.arena, d.cur = labels[:0], arena[:0], cur[:0] }()
	newMem := make([]int64, nh)
	// Per (label, option): the memory terms of the bounds at the next layer.
	tm := &terms{eta: make([]float64, len(d.tails))}
	for i, dm := range d.models {
		// Snapshot the live labels; labels made now join the next layer.
		cur = cur[:0]
		for x := range buckets {
			cur = append(cur, buckets[x]...)
		}
		for _, id := range cur {
			lb := labels[id]
			rem := d.full - int(lb.x)
			for oi := range dm.opts {
				o := &dm.opts[oi]
				fits := true
				for j, h := range d.hosts {
					newMem[j] = arena[int(lb.mem)+j] + o.mem[j]
					if newMem[j] > d.caps.mem[h] {
						fits = false
						break
					}
				}
				if !fits {
					continue
				}
				d.setTerms(tm, i+1, newMem)
				// Prefilter by the bounds (the first and last tail, then
				// the per-host tables) with a little slack, so that
				// fastBound below still makes every decision: skips
				// (a, g) whose g + bound ≤ lower + eps − lb.val − dpSlack.
				nt := len(d.tails) - 1
				tail0, pre := d.tails[0].t[i+1], lower+eps-lb.val-tm.eta[0]-dpSlack
				tailZ, preZ := d.tails[nt].t[i+1], lower+eps-lb.val-tm.eta[nt]-dpSlack
				prePool := lower + eps - lb.val - dpSlack
				for _, a := range d.subs[rem] {
					g := o.val[a]
					if g+tail0[rem-a] <= pre || g+tailZ[rem-a] <= preZ {
						continue
					}
					if d.pool != nil {
						if tm.hostK == nil {
							tm.hostK = d.hostTable(i+1, newMem)
						}
						if g+tm.hostK[d.total[rem-a]]+d.muSum[rem-a] <= prePool {
							continue
						}
					}
					if math.IsInf(g, -1) {
						continue
					}
					val := lb.val + g
					if floor := lower + eps - val; d.fastBound(tm, rem-a, floor) <= floor {
						continue
					}
					x := int(lb.x) + a
					if d.dominated(labels, arena, buckets[x], newMem, val) {
						continue
					}
					if len(labels) >= maxLabels {
						return nil, 0, len(labels), false
					}
					nid := int32(len(labels))
					off := len(arena)
					arena = append(arena, newMem...)
					labels = append(labels, dpLabel{x: int32(x), mem: int32(off), val: val, parent: id, model: int16(i), opt: int16(oi), a: int32(a)})
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
				d.setTerms(tm, i+1, arena[lb.mem:int(lb.mem)+nh])
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
// count k, the per-host tables' bound (looked up on first use).
type terms struct {
	eta   []float64
	hostK []float64 // nil: not yet looked up
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
	t.i, t.mem, t.hostK = i, mem, nil
}

// hostMemoMax is the most limited hosts whose free memory units (0..64
// each) still fit a uint64 key with the layer.
const hostMemoMax = 8

// hostTable returns hostVector(i, mem) for all k ≤ nr, memoised by the
// free memory units per host (read-only: it may be shared).
func (d *modelDP) hostTable(i int, mem []int64) []float64 {
	nr := d.in.nr
	if len(d.hosts) > hostMemoMax {
		out := d.acc[:nr+1]
		d.hostVector(i, mem, out, nr)
		return out
	}
	key := uint64(i)
	for j, h := range d.hosts {
		u := min(dpHostUnits, int(float64(d.caps.mem[h]-mem[j])/d.hunit[j]))
		key = key*(dpHostUnits+1) + uint64(u)
	}
	// Open addressing, linear probing; keys are stored plus one (0: empty).
	if len(d.hostKeys) == 0 {
		d.hostKeys, d.hostOffs = make([]uint64, 64), make([]int32, 64)
	}
	mask := uint64(len(d.hostKeys) - 1)
	slot := (key * 0x9E3779B97F4A7C15) >> 32 & mask
	for ; d.hostKeys[slot] != 0; slot = (slot + 1) & mask {
		if d.hostKeys[slot] == key+1 {
			off := int(d.hostOffs[slot])
			return d.hostVals[off : off+nr+1 : off+nr+1]
		}
	}
	off := len(d.hostVals)
	d.hostVals = slices.Grow(d.hostVals, nr+1)[:off+nr+1]
	d.hostVector(i, mem, d.hostVals[off:off+nr+1], nr)
	d.hostKeys[slot], d.hostOffs[slot] = key+1, int32(off)
	d.hostUsed++
	if 2*d.hostUsed > len(d.hostKeys) {
		d.growHostMemo()
	}
	return d.hostVals[off : off+nr+1 : off+nr+1]
}

// growHostMemo doubles hostTable's hash table.
func (d *modelDP) growHostMemo() {
	keys, offs := d.hostKeys, d.hostOffs
	d.hostKeys, d.hostOffs = make([]uint64, 2*len(keys)), make([]int32, 2*len(keys))
	mask := uint64(len(d.hostKeys) - 1)
	for s, k := range keys {
		if k == 0 {
			continue
		}
		slot := ((k - 1) * 0x9E3779B97F4A7C15) >> 32 & mask
		for d.hostKeys[slot] != 0 {
			slot = (slot + 1) & mask
		}
		d.hostKeys[slot], d.hostOffs[slot] = k, offs[s]
	}
}

// fastBound is bound(t.i, rem, t.mem) from the terms, cheapest part first:
// it stops as soon as the bound is at most floor.
func (d *modelDP) fastBound(t *terms, rem int, floor float64) float64 {
	b := math.Inf(1)
	for k, tl := range d.tails {
		if v := tl.t[t.i][rem] + t.eta[k]; v < b {
			if b = v; b <= floor {
				return b
			}
		}
	}
	if d.pool != nil {
		if t.hostK == nil {
			t.hostK = d.hostTable(t.i, t.mem)
		}
		if v := t.hostK[d.total[rem]] + d.muSum[rem]; v < b {
			b = v
		}
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
			if arena[int(lb.mem)+j] > m {
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
				if arena[int(nl.mem)+j] > arena[int(lb.mem)+j] {
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
