package broker

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nsed/nsed/models"
)

const gib = 1 << 30

// randomProblem draws a small instance: up to 4 slots, up to 3 hosts with
// up to 4 models each, random budgets, pins, current bindings and caps.
func randomProblem(rng *rand.Rand) *Problem {
	hosts := []string{"h0", "h1", "h2"}[:1+rng.IntN(3)]
	names := []string{"m0", "m1", "m2", "m3", "m4"}
	var cands []Candidate
	for _, h := range hosts {
		for _, m := range names {
			if rng.IntN(3) == 0 {
				continue
			}
			cands = append(cands, Candidate{
				Host: h, Model: m,
				Memory:       int64(1+rng.IntN(6)) * gib,
				TokensPerSec: float64(5 + rng.IntN(60)),
				LatencySec:   rng.Float64(),
				Loaded:       rng.IntN(2) == 0,
				LoadSec:      float64(rng.IntN(30)),
				FailureRate:  []float64{0, 0, 0.1, 0.5}[rng.IntN(4)],
				RoundTokens:  []int{0, 500, 3000}[rng.IntN(3)],
			})
		}
	}
	if rng.IntN(12) == 0 {
		cands = cands[:min(len(cands), rng.IntN(2))] // zero or one candidate
	}
	roleNames := []string{"solver", "critic", "skeptic"}
	nr := rng.IntN(5)
	roles := make([]RoleSlot, nr)
	for i := range roles {
		roles[i] = RoleSlot{Agent: fmt.Sprintf("a%d", i+1), Role: roleNames[rng.IntN(len(roleNames))]}
		if rng.IntN(6) == 0 {
			pin := Binding{Model: names[rng.IntN(len(names))]}
			if rng.IntN(2) == 0 {
				pin.Host = hosts[rng.IntN(len(hosts))]
			}
			roles[i].Pin = &pin
		}
		if rng.IntN(4) == 0 {
			roles[i].Current = &Binding{Host: hosts[rng.IntN(len(hosts))], Model: names[rng.IntN(len(names))]}
		}
	}
	q := map[[2]string]float64{}
	for _, r := range roleNames {
		for _, m := range names {
			q[[2]string{r, m}] = float64(rng.IntN(11)) / 10 // ties on purpose
		}
	}
	b := Budget{Memory: map[string]int64{}}
	for _, h := range hosts {
		if rng.IntN(4) > 0 {
			b.Memory[h] = int64(1+rng.IntN(10)) * gib
		}
	}
	if rng.IntN(3) == 0 {
		b.RoundSeconds = float64(20 + rng.IntN(300))
	}
	if rng.IntN(4) == 0 {
		b.RoundTokens = 1000 + rng.IntN(8000)
	}
	p := NewProblem(roles, cands, b, func(r, m string) float64 { return q[[2]string{r, m}] })
	p.Weights = Weights{
		Correlation: []float64{0, 0.5, 1, rng.Float64()}[rng.IntN(4)],
		SwapPerSec:  []float64{0, 0.002, 0.02}[rng.IntN(3)],
		Stickiness:  []float64{0, 0.03, 0.3}[rng.IntN(3)],
	}
	if rng.IntN(5) == 0 {
		p.MaxPerModel = 1 + rng.IntN(2)
	}
	return p
}

// check scores a binding straight from the Problem, independently of the
// solver's compiled form: the objective, or why it does not fit.
func check(p *Problem, assign []int) (float64, error) {
	type hm struct{ host, model string }
	mem := map[string]int64{}
	usec := map[string]int64{}
	loaded := map[hm]bool{}
	count := map[string]int{}
	sum := map[string]float64{}
	var toks int64
	obj := 0.0
	for r, ci := range assign {
		c, slot := p.Candidates[ci], p.Roles[r]
		if pin := slot.Pin; pin != nil && (!sameModel(pin.Model, c.Model) || pin.Host != "" && pin.Host != c.Host) {
			return 0, fmt.Errorf("slot %d breaks its pin", r)
		}
		k := hm{c.Host, canonical(c.Model)}
		if !loaded[k] {
			loaded[k] = true
			mem[c.Host] += c.Memory
			if !c.Loaded {
				obj -= p.Weights.SwapPerSec * c.LoadSec
			}
		}
		tok := c.RoundTokens
		if tok == 0 {
			tok = p.RoundTokens
		}
		toks += int64(tok)
		usec[c.Host] += int64(math.Ceil((2*c.LatencySec + float64(tok)/c.TokensPerSec) * 1e6))
		q := 0.0
		if p.Quality != nil {
			q = clamp01(p.Quality(slot.Role, c.Model))
		}
		count[canonical(c.Model)]++
		sum[canonical(c.Model)] += q * (1 - c.FailureRate)
		if cur := slot.Current; cur != nil && sameModel(cur.Model, c.Model) && (cur.Host == "" || cur.Host == c.Host) {
			obj += p.Weights.Stickiness
		}
	}
	for m, k := range count {
		obj += sum[m] / (1 + float64(k-1)*p.Weights.Correlation)
		if p.MaxPerModel > 0 && k > p.MaxPerModel {
			return 0, fmt.Errorf("%s has %d agents", m, k)
		}
	}
	for h, used := range mem {
		if b := p.Budget.MemoryFor(h); b > 0 && used > b {
			return 0, fmt.Errorf("%s holds %d > %d", h, used, b)
		}
	}
	if s := p.Budget.RoundSeconds; s > 0 {
		for h, u := range usec {
			if u > int64(math.Floor(s*1e6)) {
				return 0, fmt.Errorf("%s takes %dµs", h, u)
			}
		}
	}
	if t := p.Budget.RoundTokens; t > 0 && toks > int64(t) {
		return 0, fmt.Errorf("%d tokens", toks)
	}
	return obj, nil
}

// bruteForce tries every binding.
func bruteForce(p *Problem) (best float64, found bool) {
	nr, nc := len(p.Roles), len(p.Candidates)
	if nc == 0 {
		return 0, nr == 0
	}
	assign := make([]int, nr)
	for {
		if obj, err := check(p, assign); err == nil && (!found || obj > best) {
			best, found = obj, true
		}
		i := 0
		for ; i < nr; i++ {
			if assign[i]++; assign[i] < nc {
				break
			}
			assign[i] = 0
		}
		if i == nr {
			return best, found
		}
	}
}

func indices(t *testing.T, p *Problem, sol *Solution) []int {
	t.Helper()
	idx := map[Binding]int{}
	for i, c := range p.Candidates {
		idx[c.Binding()] = i
	}
	out := make([]int, len(sol.Assignments))
	for i, a := range sol.Assignments {
		if a.Slot != i {
			t.Fatalf("assignment %d is for slot %d", i, a.Slot)
		}
		out[i] = idx[a.Candidate.Binding()]
	}
	return out
}

func pinMissing(p *Problem) bool {
	for _, r := range p.Roles {
		if r.Pin == nil {
			continue
		}
		ok := false
		for _, c := range p.Candidates {
			ok = ok || sameModel(r.Pin.Model, c.Model) && (r.Pin.Host == "" || r.Pin.Host == c.Host)
		}
		if !ok {
			return true
		}
	}
	return false
}

// TestSolveMatchesBruteForce is the property test: on many random small
// instances the solver finds the brute-force optimum, its binding fits
// every capacity and pin, and infeasibility is reported exactly when brute
// force finds nothing, with a memory budget that is the smallest feasible.
func TestSolveMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	stats := map[string]int{}
	for i := range n {
		p := randomProblem(rng)
		best, feasible := bruteForce(p)
		sol, err := Solve(p)
		switch {
		case len(p.Roles) > 0 && len(p.Candidates) == 0:
			if !errors.Is(err, ErrNoCandidates) {
				t.Fatalf("#%d: no candidates: got %v", i, err)
			}
			stats["no candidates"]++
		case len(p.Roles) > 0 && pinMissing(p):
			var pe *PinError
			if !errors.As(err, &pe) || !errors.Is(err, models.ErrModelNotFound) {
				t.Fatalf("#%d: missing pin: got %v", i, err)
			}
			stats["missing pin"]++
		case !feasible:
			var ie *InfeasibleError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInfeasible) {
				t.Fatalf("#%d: infeasible, got %v (solution %+v)", i, err, sol)
			}
			checkMinMemory(t, i, p, ie, bruteForce)
			stats["infeasible"]++
		default:
			if err != nil {
				t.Fatalf("#%d: brute force found %.6f, Solve: %v", i, best, err)
			}
			obj, cerr := check(p, indices(t, p, sol))
			if cerr != nil {
				t.Fatalf("#%d: solution does not fit: %v", i, cerr)
			}
			if math.Abs(obj-sol.Objective) > 1e-6 {
				t.Fatalf("#%d: solution reports objective %.9f, independent check %.9f", i, sol.Objective, obj)
			}
			if math.Abs(best-sol.Objective) > 1e-6 {
				t.Fatalf("#%d: Solve %.9f (%s), brute force %.9f", i, sol.Objective, sol.Method, best)
			}
			if !sol.Exact {
				t.Fatalf("#%d: small instance not solved exactly: %s", i, sol.Method)
			}
			stats["solved"]++
		}
	}
	t.Logf("%d instances: %v", n, stats)
	if stats["solved"] < n/3 || stats["infeasible"] < n/20 {
		t.Errorf("generator is lopsided: %v", stats)
	}
}

// checkMinMemory verifies a memory need by brute force: raising every
// host to it (time and tokens unlimited, as the need is computed) admits a
// binding, and one byte less does not.
func checkMinMemory(t *testing.T, i int, p *Problem, ie *InfeasibleError, bruteForce func(*Problem) (float64, bool)) {
	t.Helper()
	need := ie.MinMemory()
	if need == 0 {
		return
	}
	raised := func(m int64) *Problem {
		q := *p
		q.Budget = Budget{Memory: map[string]int64{}}
		for _, c := range p.Candidates {
			if b := p.Budget.MemoryFor(c.Host); b > 0 {
				q.Budget.Memory[c.Host] = max(b, m)
			} else {
				q.Budget.Memory[c.Host] = math.MaxInt64
			}
		}
		return &q
	}
	if _, ok := bruteForce(raised(need)); !ok {
		t.Fatalf("#%d: %v: a budget of %d admits no binding", i, ie, need)
	}
	if _, ok := bruteForce(raised(need - 1)); ok {
		t.Fatalf("#%d: %v: %d is not the smallest memory budget", i, ie, need)
	}
	if !strings.Contains(ie.Error(), formatNeed(need)) {
		t.Fatalf("#%d: error does not name the budget: %v", i, ie)
	}
}

// TestHeuristicIsFeasible checks the greedy start and local search (the
// search's incremental bookkeeping) against brute force and the
// independent check: what they return fits and is no better than optimal.
func TestHeuristicIsFeasible(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 1000 {
		p := randomProblem(rng)
		in, err := compile(p)
		if err != nil || len(p.Roles) == 0 {
			continue
		}
		order, _ := in.roleOrder()
		assign, ok := in.heuristic(order, in.budgetCaps())
		best, feasible := bruteForce(p)
		if ok && !feasible {
			t.Fatalf("#%d: heuristic found a binding brute force did not", i)
		}
		if !ok {
			continue
		}
		obj, err := check(p, assign)
		if err != nil {
			t.Fatalf("#%d: heuristic binding does not fit: %v", i, err)
		}
		if obj > best+1e-9 {
			t.Fatalf("#%d: heuristic %.6f beats the optimum %.6f", i, obj, best)
		}
	}
}

func cand(host, model string, memGiB float64, loaded bool) Candidate {
	return Candidate{Host: host, Model: model, Memory: int64(memGiB * gib), TokensPerSec: 20, Loaded: loaded}
}

func qualities(m map[string]float64) func(string, string) float64 {
	return func(_, model string) float64 { return m[model] }
}

func models3(sol *Solution) []string {
	var out []string
	for _, a := range sol.Assignments {
		out = append(out, a.Candidate.Binding().String())
	}
	return out
}

func TestSolveCases(t *testing.T) {
	tests := []struct {
		name    string
		p       *Problem
		want    []string // bindings by slot
		wantErr error
		errHas  string
	}{
		{
			name: "no slots",
			p:    NewProblem(nil, nil, Budget{}, nil),
		},
		{
			name:    "no candidates",
			p:       NewProblem(Slots(2, []string{"solver"}), nil, Budget{}, nil),
			wantErr: ErrNoCandidates,
		},
		{
			name: "one candidate serves every slot, charged once",
			p: NewProblem(Slots(3, []string{"solver"}), []Candidate{cand("h", "m", 4, true)},
				Budget{DefaultMemory: 5 * gib}, nil),
			want: []string{"m@h", "m@h", "m@h"},
		},
		{
			name: "diversity: equal models are spread",
			p: NewProblem(Slots(3, []string{"solver"}),
				[]Candidate{cand("h", "a", 1, true), cand("h", "b", 1, true), cand("h", "c", 1, true)},
				Budget{}, nil),
			want: []string{"a@h", "b@h", "c@h"},
		},
		{
			name: "diversity beats a modestly better model",
			p: NewProblem(Slots(3, []string{"solver"}),
				[]Candidate{cand("h", "strong", 1, true), cand("h", "weak", 1, true), cand("h", "weaker", 1, true)},
				Budget{}, qualities(map[string]float64{"strong": 0.9, "weak": 0.6, "weaker": 0.5})),
			want: []string{"strong@h", "weak@h", "weaker@h"},
		},
		{
			name: "correlation 0 allows the same model everywhere",
			p: func() *Problem {
				p := NewProblem(Slots(3, []string{"solver"}),
					[]Candidate{cand("h", "strong", 1, true), cand("h", "weak", 1, true)},
					Budget{}, qualities(map[string]float64{"strong": 0.9, "weak": 0.6}))
				p.Weights.Correlation = 0
				return p
			}(),
			want: []string{"strong@h", "strong@h", "strong@h"},
		},
		{
			name: "memory forces sharing one model",
			p: NewProblem(Slots(2, []string{"solver"}),
				[]Candidate{cand("h", "a", 3, true), cand("h", "b", 3, true)},
				Budget{DefaultMemory: 4 * gib}, nil),
			want: []string{"a@h", "a@h"},
		},
		{
			name: "second host runs the second model",
			p: NewProblem(Slots(2, []string{"solver"}),
				[]Candidate{cand("h1", "a", 3, true), cand("h1", "b", 3, true), cand("h2", "b", 3, true)},
				Budget{DefaultMemory: 4 * gib}, nil),
			want: []string{"a@h1", "b@h2"},
		},
		{
			name: "pin honoured against quality",
			p: func() *Problem {
				s := Slots(2, []string{"solver"})
				s[1].Pin = &Binding{Model: "weak"}
				return NewProblem(s, []Candidate{cand("h", "strong", 1, true), cand("h", "weak", 1, true)},
					Budget{}, qualities(map[string]float64{"strong": 0.9, "weak": 0.2}))
			}(),
			want: []string{"strong@h", "weak@h"},
		},
		{
			name: "pin without tag matches :latest",
			p: func() *Problem {
				s := Slots(1, []string{"solver"})
				s[0].Pin = &Binding{Model: "llama3.2", Host: "h"}
				return NewProblem(s, []Candidate{cand("h", "llama3.2:latest", 1, true), cand("h", "x", 1, true)}, Budget{}, nil)
			}(),
			want: []string{"llama3.2:latest@h"},
		},
		{
			name: "missing pinned model is named",
			p: func() *Problem {
				s := Slots(1, []string{"solver"})
				s[0].Pin = &Binding{Model: "nosuch:7b"}
				return NewProblem(s, []Candidate{cand("h", "a", 1, true)}, Budget{}, nil)
			}(),
			wantErr: models.ErrModelNotFound,
			errHas:  `"nosuch:7b"`,
		},
		{
			name: "budget too small names the smallest feasible",
			p: NewProblem(Slots(2, []string{"solver"}),
				[]Candidate{cand("h", "a", 3, true), cand("h", "b", 5, true)},
				Budget{DefaultMemory: 2 * gib}, nil),
			wantErr: ErrInfeasible,
			errHas:  "smallest feasible memory budget is 3.00 GiB per host (--vram-budget 3.0GiB)",
		},
		{
			name: "round time too short",
			p: NewProblem(Slots(2, []string{"solver"}),
				[]Candidate{{Host: "h", Model: "a", Memory: gib, TokensPerSec: 10, Loaded: true, RoundTokens: 100}},
				Budget{RoundSeconds: 5}, nil),
			wantErr: ErrInfeasible,
			errHas:  "feasible is 20.0s",
		},
		{
			name: "per-model cap",
			p: func() *Problem {
				p := NewProblem(Slots(3, []string{"solver"}), []Candidate{cand("h", "a", 1, true), cand("h", "b", 1, true)}, Budget{}, nil)
				p.MaxPerModel = 1
				return p
			}(),
			wantErr: ErrInfeasible,
			errHas:  "2 models × at most 1 agents each cannot fill 3 slots",
		},
		{
			name: "stickiness keeps the current binding on a tie",
			p: func() *Problem {
				s := Slots(1, []string{"solver"})
				s[0].Current = &Binding{Host: "h", Model: "b"}
				return NewProblem(s, []Candidate{cand("h", "a", 1, true), cand("h", "b", 1, true)}, Budget{}, nil)
			}(),
			want: []string{"b@h"},
		},
		{
			name: "swap cost prefers the loaded model on a tie",
			p: NewProblem(Slots(1, []string{"solver"}),
				[]Candidate{{Host: "h", Model: "cold", Memory: gib, TokensPerSec: 9, LoadSec: 20}, cand("h", "warm", 1, true)},
				Budget{}, nil),
			want: []string{"warm@h"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sol, err := Solve(tt.p)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %q, want it to contain %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := models3(sol); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("binding %v, want %v", got, tt.want)
			}
			for _, h := range sol.Hosts {
				if h.MemoryBudget > 0 && h.Memory > h.MemoryBudget {
					t.Fatalf("%s over budget: %d > %d", h.Host, h.Memory, h.MemoryBudget)
				}
			}
		})
	}
}

func TestSharedModelChargedOnce(t *testing.T) {
	p := NewProblem(Slots(3, []string{"solver"}), []Candidate{cand("h", "m", 4, true)}, Budget{DefaultMemory: 5 * gib}, nil)
	sol, err := Solve(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := sol.Hosts[0].Memory; got != 4*gib {
		t.Fatalf("host memory %d, want %d", got, 4*gib)
	}
	if sol.Assignments[0].Memory != 4*gib || sol.Assignments[1].Memory != 0 {
		t.Fatalf("memory charged %d, %d; want it on the first slot only", sol.Assignments[0].Memory, sol.Assignments[1].Memory)
	}
}

func TestRefusesBeyondLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		p    *Problem
		want string
	}{
		{labProblem(rng, MaxRoles+1, 10, 2, 0), "9 agents, at most 8: run fewer agents (--roles"},
		{labProblem(rng, 4, MaxModels+1, 1, 0), "51 distinct models, at most 50: bind agents yourself with --models"},
		{benchProblem(rng, 4, 3, MaxHosts+1), "5 hosts list models, at most 4: name fewer with --host"},
	} {
		_, err := Solve(tc.p)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want ErrTooLarge saying %q", err, tc.want)
		}
	}
}

func TestNodeLimit(t *testing.T) {
	p := labProblem(rand.New(rand.NewPCG(5, 6)), 8, 20, 2, 0)
	p.MaxNodes = 5
	sol, err := Solve(p)
	if err != nil {
		t.Fatal(err)
	}
	if sol.Exact || !strings.Contains(sol.Method, "stopped at 5 nodes") || sol.Bound < sol.Objective {
		t.Fatalf("exact = %v, method %q, bound %v < objective %v", sol.Exact, sol.Method, sol.Bound, sol.Objective)
	}
	if _, err := check(p, indices(t, p, sol)); err != nil {
		t.Fatal(err)
	}
}

// TestDiversityRule pins the documented value of copies: with ρ = 0.5 a
// second copy adds a third of its value.
func TestDiversityRule(t *testing.T) {
	p := NewProblem(Slots(2, []string{"solver"}), []Candidate{cand("h", "a", 1, true)}, Budget{}, qualities(map[string]float64{"a": 0.6}))
	sol, err := Solve(p)
	if err != nil {
		t.Fatal(err)
	}
	// k = 2: (0.6 + 0.6) / (1 + 0.5) = 0.8 = 0.6 + 0.6/3.
	if math.Abs(sol.Value-0.8) > 1e-9 {
		t.Fatalf("value %v, want 0.8", sol.Value)
	}
	if !strings.Contains(sol.Assignments[1].Reason, "2 copies") {
		t.Fatalf("reason %q does not mention the copies", sol.Assignments[1].Reason)
	}
}

func benchProblem(rng *rand.Rand, roles, modelsPerHost, hosts int) *Problem {
	var cands []Candidate
	for h := range hosts {
		for m := range modelsPerHost {
			cands = append(cands, Candidate{
				Host: fmt.Sprintf("host%d", h), Model: fmt.Sprintf("model%02d:%db", m, 1+m%14),
				Memory:       int64(1+m%14) * gib * 3 / 4,
				TokensPerSec: 200 / float64(1+m%14),
				LatencySec:   0.2,
				Loaded:       rng.IntN(4) == 0,
				LoadSec:      float64(2 + m%14),
			})
		}
	}
	names := []string{"solver", "critic", "skeptic", "verifier", "synthesiser", "planner"}
	q := map[[2]string]float64{}
	for _, r := range names {
		for m := range modelsPerHost {
			// bigger models tend to be better, with noise per role
			q[[2]string{r, fmt.Sprintf("model%02d:%db", m, 1+m%14)}] = clamp01(0.3 + 0.03*float64(1+m%14) + 0.2*rng.Float64())
		}
	}
	slots := Slots(roles, names)
	b := Budget{DefaultMemory: 16 * gib, RoundSeconds: 600}
	return NewProblem(slots, cands, b, func(r, m string) float64 { return q[[2]string{r, m}] })
}

// mixedProblem draws hosts unlike each other, as a home lab has them: 24,
// 16 and 8 GiB, fast to slow, each with perHost of a pool of 30 models
// (some on several hosts). Quality grows with size, plus role-specific
// noise up to noise.
func mixedProblem(rng *rand.Rand, roles, perHost int, noise float64) *Problem {
	var cands []Candidate
	mems := []int64{24 * gib, 16 * gib, 8 * gib}
	name := func(m int) string { return fmt.Sprintf("model%02d:%db", m, 1+m%14) }
	for h := range 3 {
		for _, m := range rng.Perm(30)[:perHost] {
			size := float64(1 + m%14)
			cands = append(cands, Candidate{
				Host: fmt.Sprintf("host%d", h), Model: name(m),
				Memory: int64(size * gib * 3 / 4), TokensPerSec: 200 / size * float64(3-h) / 2,
				LatencySec: 0.2, Loaded: rng.IntN(4) == 0, LoadSec: 2 + size,
			})
		}
	}
	roleNames := []string{"solver", "critic", "skeptic", "verifier", "synthesiser", "planner"}
	q := map[[2]string]float64{}
	for _, r := range roleNames {
		for m := range 30 {
			q[[2]string{r, name(m)}] = clamp01(0.3 + 0.03*float64(1+m%14) + noise*rng.Float64())
		}
	}
	b := Budget{Memory: map[string]int64{"host0": mems[0], "host1": mems[1], "host2": mems[2]}, RoundSeconds: 600}
	return NewProblem(Slots(roles, roleNames), cands, b, func(r, m string) float64 { return q[[2]string{r, m}] })
}

// realisticProblem is shaped like a quality store after some runs:
// qualities near the 0.5 prior, a model effect (standard deviation
// modelSD) and a smaller role effect (roleSD); 4 roles; 3 hosts of 24, 16
// and 8 GiB, fast to slow, each with perHost of a pool of 30 models of
// 0.5–12.5 GiB, some on several hosts; a quarter of them loaded.
func realisticProblem(rng *rand.Rand, roles, perHost int, modelSD, roleSD float64) *Problem {
	var cands []Candidate
	sizes, effect := make([]float64, 30), make([]float64, 30)
	for m := range sizes {
		sizes[m] = 0.5 + rng.Float64()*12
		effect[m] = rng.NormFloat64() * modelSD
	}
	name := func(m int) string { return fmt.Sprintf("model%02d", m) }
	for h := range 3 {
		for _, m := range rng.Perm(30)[:perHost] {
			cands = append(cands, Candidate{
				Host: fmt.Sprintf("host%d", h), Model: name(m),
				Memory: int64(sizes[m] * gib), TokensPerSec: 150 / sizes[m] * float64(3-h) / 2,
				LatencySec: 0.2, Loaded: rng.IntN(4) == 0, LoadSec: 1 + sizes[m],
			})
		}
	}
	roleNames := []string{"solver", "critic", "skeptic", "synthesiser"}
	q := map[[2]string]float64{}
	for _, r := range roleNames {
		for m := range 30 {
			q[[2]string{r, name(m)}] = clamp01(0.5 + effect[m] + roleSD*rng.NormFloat64())
		}
	}
	b := Budget{Memory: map[string]int64{"host0": 24 * gib, "host1": 16 * gib, "host2": 8 * gib}}
	return NewProblem(Slots(roles, roleNames), cands, b, func(r, m string) float64 { return q[[2]string{r, m}] })
}

// benchSolve solves a fixed set of instances in turn and reports, besides
// time per solve, the search nodes and the share proven optimal (the rest
// hit the node limit and return the best binding found).
func benchSolve(b *testing.B, gen func(*rand.Rand) *Problem) {
	rng := rand.New(rand.NewPCG(7, 8))
	ps := make([]*Problem, 8)
	for i := range ps {
		ps[i] = gen(rng)
	}
	nodes, exact, n := 0, 0, 0
	for b.Loop() {
		sol, err := Solve(ps[n%len(ps)])
		if err != nil {
			b.Fatal(err)
		}
		nodes += sol.Nodes
		if sol.Exact {
			exact++
		}
		n++
	}
	b.ReportMetric(float64(nodes)/float64(n), "nodes/op")
	b.ReportMetric(100*float64(exact)/float64(n), "%exact")
}

// Typical sizes: 3, 5 and 8 agents over 30 candidates.
func BenchmarkSolve3x30x3(b *testing.B) {
	benchSolve(b, func(rng *rand.Rand) *Problem { return realisticProblem(rng, 3, 10, 0.05, 0.03) })
}

func BenchmarkSolve5x30x3(b *testing.B) {
	benchSolve(b, func(rng *rand.Rand) *Problem { return realisticProblem(rng, 5, 10, 0.05, 0.03) })
}

func BenchmarkSolve8x30x3(b *testing.B) {
	benchSolve(b, func(rng *rand.Rand) *Problem { return realisticProblem(rng, 8, 10, 0.05, 0.03) })
}

// TestBoundsAreUpperBounds checks the bounds the search prunes with
// against brute force: for random instances, random prices (the bounds
// must hold for any non-negative memory and time prices and any slot
// prices) and random partial bindings, no completion may gain more than
// the per-slot or the group bound says, nor, with the next slot on one
// candidate, more than the per-slot bound for that child.
func TestBoundsAreUpperBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	checked := 0
	for i := 0; i < 3000; i++ {
		p := randomProblem(rng)
		in, err := compile(p)
		if err != nil || in.nr == 0 {
			continue
		}
		full := in.budgetCaps()
		s := newSearch(in, full, in.zeroPrices())
		for h := range in.hosts {
			if full.mem[h] != math.MaxInt64 && rng.IntN(4) > 0 {
				s.p.mem[h] = rng.Float64() * 0.5 / float64(full.mem[h])
			}
			if full.usec != math.MaxInt64 && rng.IntN(4) > 0 {
				s.p.time[h] = rng.Float64() * 0.5 / float64(full.usec)
			}
		}
		for r := range s.p.slot {
			s.p.slot[r] = rng.Float64()*1.2 - 0.2
		}
		// A random feasible prefix of the slot order.
		st, order := s.st, s.order
		depth := rng.IntN(in.nr + 1)
		ok := true
		for _, r := range order[:depth] {
			var fit []int
			for _, c := range in.allowed[r] {
				if st.fits(c) {
					fit = append(fit, c)
				}
			}
			if len(fit) == 0 {
				ok = false
				break
			}
			st.add(r, fit[rng.IntN(len(fit))])
		}
		if !ok || depth == in.nr {
			continue
		}
		// Brute force over the open slots: the best gain overall and with
		// the next slot on each candidate.
		open := order[depth:]
		best, found := math.Inf(-1), false
		bestWith := map[int]float64{}
		var rec func(k, first int, gain float64)
		rec = func(k, first int, gain float64) {
			if k == len(open) {
				best, found = max(best, gain), true
				if w, ok := bestWith[first]; !ok || gain > w {
					bestWith[first] = gain
				}
				return
			}
			r := open[k]
			for _, c := range in.allowed[r] {
				if st.fits(c) {
					if k == 0 {
						first = c
					}
					d := st.delta(r, c)
					st.add(r, c)
					rec(k+1, first, gain+d)
					st.remove(r, c)
				}
			}
		}
		rec(0, -1, 0)
		if !found {
			continue
		}
		checked++
		total, rest := st.slack(s.p), 0.0
		for e, r := range open {
			term, _ := st.slotTerm(r, s.p, len(open))
			total += term
			if e > 0 {
				rest += term
			}
		}
		rest += st.slack(s.p)
		if total < best-1e-9 {
			t.Fatalf("#%d depth %d: per-slot bound %.6f below the best completion %.6f", i, depth, total, best)
		}
		if group := st.groupBound(open, s.p, s.scratch); group < best-1e-9 {
			t.Fatalf("#%d depth %d: group bound %.6f below the best completion %.6f", i, depth, group, best)
		}
		for c, gain := range bestWith {
			if b := rest + st.term(open[0], c, s.p, len(open)); b < gain-1e-9 {
				t.Fatalf("#%d depth %d: bound with candidate %d %.6f below its best completion %.6f", i, depth, c, b, gain)
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d cases checked", checked)
	}
	t.Logf("%d partial bindings checked", checked)
}

// TestMediumInstancesAgree checks, beyond brute force's reach, that the
// priced bound loses nothing: Solve must match a search pruned only by the
// plain per-slot bound (zero prices, no incumbent).
func TestMediumInstancesAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	n := 40
	if testing.Short() {
		n = 8
	}
	for i := range n {
		var p *Problem
		if i%2 == 0 {
			p = mixedProblem(rng, 7, 5, []float64{0, 0.05, 0.2}[i%3])
		} else {
			p = realisticProblem(rng, 7, 5, 0.05, 0.03)
		}
		sol, err := Solve(p)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := compile(p)
		in.maxNodes = 50_000_000
		s := newSearch(in, in.budgetCaps(), in.zeroPrices())
		s.dfs(0, 0)
		if s.aborted || !s.found {
			t.Fatalf("#%d: plain search aborted or found nothing", i)
		}
		if !sol.Exact || math.Abs(sol.Objective-s.best) > 1e-9 {
			t.Fatalf("#%d: Solve %.9f (exact %v), plain search %.9f", i, sol.Objective, sol.Exact, s.best)
		}
	}
}
