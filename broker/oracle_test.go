package broker

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// exhaustive is a second brute force, for instances at the supported
// limits: every binding, slot by slot, cutting a prefix as soon as it
// breaks a pin, the per-model cap or a budget (each only grows as slots
// are added, so no cut loses a binding that fits), scored from the Problem
// alone (as check does, which it mirrors) with nothing of the solver.
func exhaustive(p *Problem) (best float64, found bool) {
	nr, nc := len(p.Roles), len(p.Candidates)
	hostOf := map[string]int{}
	modelOf := map[string]int{}
	host, model := make([]int, nc), make([]int, nc)
	usec, toks := make([]int64, nc), make([]int64, nc)
	for i, c := range p.Candidates {
		if _, ok := hostOf[c.Host]; !ok {
			hostOf[c.Host] = len(hostOf)
		}
		if _, ok := modelOf[canonical(c.Model)]; !ok {
			modelOf[canonical(c.Model)] = len(modelOf)
		}
		host[i], model[i] = hostOf[c.Host], modelOf[canonical(c.Model)]
		tok := c.RoundTokens
		if tok == 0 {
			tok = p.RoundTokens
		}
		toks[i] = int64(tok)
		usec[i] = int64(math.Ceil((2*c.LatencySec + float64(tok)/c.TokensPerSec) * 1e6))
	}
	memCap := make([]int64, len(hostOf))
	for h, i := range hostOf {
		memCap[i] = p.Budget.MemoryFor(h)
	}
	usecCap := int64(math.Floor(p.Budget.RoundSeconds * 1e6))
	value, bonus := make([][]float64, nr), make([][]float64, nr)
	allowed := make([][]bool, nr)
	for r, slot := range p.Roles {
		value[r], bonus[r], allowed[r] = make([]float64, nc), make([]float64, nc), make([]bool, nc)
		for i, c := range p.Candidates {
			q := DefaultQuality
			if p.Quality != nil {
				q = clamp01(p.Quality(slot.Role, c.Model))
			}
			value[r][i] = q * (1 - c.FailureRate)
			if cur := slot.Current; cur != nil && sameModel(cur.Model, c.Model) && (cur.Host == "" || cur.Host == c.Host) {
				bonus[r][i] = p.Weights.Stickiness
			}
			pin := slot.Pin
			allowed[r][i] = pin == nil || sameModel(pin.Model, c.Model) && (pin.Host == "" || pin.Host == c.Host)
		}
	}
	use := make([]int, nc)
	cnt := make([]int, len(modelOf))
	sum := make([]float64, len(modelOf))
	mem := make([]int64, len(hostOf))
	hostUsec := make([]int64, len(hostOf))
	var tokSum int64
	assign := make([]int, nr)
	var rec func(r int, extra float64)
	rec = func(r int, extra float64) {
		if r == nr {
			obj := extra
			for m, k := range cnt {
				if k > 0 {
					obj += sum[m] / (1 + float64(k-1)*p.Weights.Correlation)
				}
			}
			if !found || obj > best {
				best, found = obj, true
			}
			return
		}
		for i := range nc {
			if !allowed[r][i] {
				continue
			}
			h, m := host[i], model[i]
			fresh := use[i] == 0
			if fresh && memCap[h] > 0 && mem[h]+p.Candidates[i].Memory > memCap[h] ||
				usecCap > 0 && hostUsec[h]+usec[i] > usecCap ||
				p.Budget.RoundTokens > 0 && tokSum+toks[i] > int64(p.Budget.RoundTokens) ||
				p.MaxPerModel > 0 && cnt[m] >= p.MaxPerModel {
				continue
			}
			add := bonus[r][i]
			if fresh {
				mem[h] += p.Candidates[i].Memory
				if !p.Candidates[i].Loaded {
					add -= p.Weights.SwapPerSec * p.Candidates[i].LoadSec
				}
			}
			use[i]++
			cnt[m]++
			sum[m] += value[r][i]
			hostUsec[h] += usec[i]
			tokSum += toks[i]
			assign[r] = i
			rec(r+1, extra+add)
			use[i]--
			cnt[m]--
			sum[m] -= value[r][i]
			hostUsec[h] -= usec[i]
			tokSum -= toks[i]
			if fresh {
				mem[h] -= p.Candidates[i].Memory
			}
		}
	}
	rec(0, 0)
	return best, found
}

// limitProblem draws an instance at the supported limits: up to MaxRoles
// slots, MaxModels models and MaxHosts hosts, with a round-time budget
// when timed. To keep brute force in reach, slots beyond what leaves at
// most maxBindings bindings are pinned, to a model (any host) where that
// still fits, else to a model on one host.
func limitProblem(rng *rand.Rand, timed bool, maxBindings int) *Problem {
	nr, nm, nh := 1+rng.IntN(MaxRoles), 1+rng.IntN(MaxModels), 1+rng.IntN(MaxHosts)
	if rng.IntN(3) == 0 {
		nr, nm, nh = MaxRoles, MaxModels, MaxHosts
	}
	sizes, effect := make([]float64, nm), make([]float64, nm)
	sd := []float64{0, 0.02, 0.05, 0.2}[rng.IntN(4)]
	for m := range sizes {
		sizes[m] = 0.5 + rng.Float64()*12
		effect[m] = rng.NormFloat64() * sd
	}
	b := Budget{Memory: map[string]int64{}}
	if timed {
		b.RoundSeconds = float64(60 + rng.IntN(500))
	}
	if rng.IntN(6) == 0 {
		b.RoundTokens = 2048 * (1 + rng.IntN(MaxRoles))
	}
	var cands []Candidate
	hostsOf := map[string][]string{}
	share := []float64{1, 0.6, 0.3}[rng.IntN(3)]
	for h := range nh {
		host := fmt.Sprintf("h%d", h)
		if rng.IntN(5) > 0 {
			b.Memory[host] = int64(4+rng.IntN(40)) * gib
		}
		for m := range nm {
			if rng.Float64() > share {
				continue
			}
			name := fmt.Sprintf("m%02d", m)
			hostsOf[name] = append(hostsOf[name], host)
			cands = append(cands, Candidate{
				Host: host, Model: name,
				Memory: int64(sizes[m] * gib), TokensPerSec: 150 / sizes[m] * (0.5 + rng.Float64()),
				LatencySec: 0.2, Loaded: rng.IntN(4) == 0, LoadSec: 1 + sizes[m],
				FailureRate: []float64{0, 0, 0, 0.1}[rng.IntN(4)],
			})
		}
	}
	roleNames := []string{"a", "b", "c", "d", "e", "f", "g", "h"}[:1+rng.IntN(MaxRoles)]
	slots := Slots(nr, roleNames)
	bindings := 1
	for _, i := range rng.Perm(nr) {
		if len(cands) == 0 {
			break
		}
		if bindings*len(cands) <= maxBindings {
			bindings *= len(cands)
		} else {
			c := cands[rng.IntN(len(cands))]
			slots[i].Pin = &Binding{Model: c.Model}
			if n := len(hostsOf[c.Model]); bindings*n <= maxBindings {
				bindings *= n
			} else {
				slots[i].Pin.Host = c.Host
			}
		}
		if rng.IntN(6) == 0 {
			c := cands[rng.IntN(len(cands))]
			slots[i].Current = &Binding{Host: c.Host, Model: c.Model}
		}
	}
	q := map[[2]string]float64{}
	rsd := []float64{0, 0.01, 0.03, 0.1}[rng.IntN(4)]
	for _, r := range roleNames {
		for m := range nm {
			q[[2]string{r, fmt.Sprintf("m%02d", m)}] = clamp01(0.5 + effect[m] + rsd*rng.NormFloat64())
		}
	}
	p := NewProblem(slots, cands, b, func(r, m string) float64 { return q[[2]string{r, m}] })
	p.Weights.Correlation = []float64{0, 0.25, 0.5, 0.5, 1}[rng.IntN(5)]
	if rng.IntN(6) == 0 {
		p.MaxPerModel = 1 + rng.IntN(3)
	}
	return p
}

// TestSolveMatchesBruteForceAtLimits is the property test at the
// supported size: random instances of up to 8 slots, 50 models and 4
// hosts, half with a round-time budget, some with pins (as many as brute
// force needs), current bindings, token budgets and per-model caps. Solve
// must find the brute-force optimum, proven, or report infeasibility
// exactly when brute force finds nothing.
func TestSolveMatchesBruteForceAtLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	n := 1000
	if testing.Short() {
		n = 200
	}
	stats := map[string]int{}
	for i := range n {
		timed := i%2 == 1
		p := limitProblem(rng, timed, 100_000)
		best, feasible := exhaustive(p)
		sol, err := Solve(p)
		kind := map[bool]string{false: "untimed", true: "timed"}[timed]
		switch {
		case len(p.Candidates) == 0:
			if !errors.Is(err, ErrNoCandidates) {
				t.Fatalf("#%d: no candidates: got %v", i, err)
			}
		case !feasible:
			var ie *InfeasibleError
			if !errors.As(err, &ie) || ie.Reason == "" && len(ie.Needs) == 0 {
				t.Fatalf("#%d: infeasible, got %v", i, err)
			}
			if len(ie.Needs) > 0 && !ie.Needs[0].Approx {
				checkMinMemory(t, i, p, ie, exhaustive)
			}
			stats[kind+" infeasible"]++
		default:
			if err != nil {
				t.Fatalf("#%d: brute force found %.6f, Solve: %v", i, best, err)
			}
			obj, cerr := check(p, indices(t, p, sol))
			if cerr != nil {
				t.Fatalf("#%d: solution does not fit: %v", i, cerr)
			}
			if !sol.Exact || math.Abs(obj-best) > 1e-6 || math.Abs(sol.Objective-obj) > 1e-6 {
				t.Fatalf("#%d: Solve %.9f (exact %v, %s), check %.9f, brute force %.9f", i, sol.Objective, sol.Exact, sol.Method, obj, best)
			}
			stats[kind+" solved"]++
			free := 0
			for _, r := range p.Roles {
				if r.Pin == nil {
					free++
				}
			}
			models := map[string]bool{}
			hosts := map[string]bool{}
			for _, c := range p.Candidates {
				models[c.Model], hosts[c.Host] = true, true
			}
			if len(p.Roles) == MaxRoles && len(hosts) == MaxHosts && len(models) > MaxModels*4/5 {
				stats[kind+" solved at full size"]++
			}
			if free >= 4 {
				stats[kind+" solved, 4+ slots free"]++
			}
		}
	}
	t.Logf("%d instances: %v", n, stats)
	if stats["untimed infeasible"]+stats["timed infeasible"] < n/20 {
		t.Errorf("too few infeasible instances: %v", stats)
	}
}
