package broker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// TestOllamaBindRunLearn runs the broker against the real test server
// (bash .ci/ollama.sh start) and its tiny models of two sizes: telemetry
// is read, the binding fits the budget, a run uses it, and the quality
// store is updated after the run.
func TestOllamaBindRunLearn(t *testing.T) {
	host, list := os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_MODELS_ALL")
	if host == "" || list == "" {
		t.Skip("NSED_TEST_OLLAMA_HOST/NSED_TEST_MODELS_ALL unset: no real Ollama server (bash .ci/ollama.sh start)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o, err := models.NewOllama(host)
	if err != nil {
		t.Fatal(err)
	}
	host = o.Hosts()[0]
	meter := &models.Meter{}

	// Telemetry: the test models, with sizes from the server.
	want := strings.Split(list, ",")
	all, err := o.Models(ctx, host, meter)
	if err != nil {
		t.Fatal(err)
	}
	var infos []models.ModelInfo
	est := map[string]int64{}
	for _, m := range all {
		if slices.ContainsFunc(want, func(w string) bool { return sameModel(w, m.Name) }) {
			if m.SizeBytes <= 0 {
				t.Fatalf("%s: no size from the server", m.Name)
			}
			// What earlier tests left loaded (at whatever context they
			// asked for: a loaded tiny-a can hold more than tiny-big's
			// estimate) must not decide this test: sizes are the server's,
			// load state is cleared.
			m.Loaded, m.LoadedBytes = false, 0
			infos = append(infos, m)
			est[canonical(m.Name)] = m.MemoryEstimate()
		}
	}
	if len(infos) != len(want) {
		t.Fatalf("server lists %d of the test models %v", len(infos), want)
	}
	big, small := canonical("tiny-big"), canonical("tiny-a")
	if est[big] <= est[small] {
		t.Fatalf("tiny-big (%d) is not bigger than tiny-a (%d)", est[big], est[small])
	}

	path := filepath.Join(t.TempDir(), "quality.json")
	store, _ := Open(path, Priors{Default: 0.5, Roles: map[string]map[string]float64{"*": {"tiny-big": 0.7}}})
	cands := Candidates(infos, store)

	// Room for tiny-big and one small model, not for more: the broker must
	// take the better big model and share the rest with one small one.
	budget := est[big] + est[small] + est[small]/2
	p := NewProblem(Slots(3, []string{"solver", "critic", "synthesiser"}), cands, Budget{DefaultMemory: budget}, store.Quality)
	sol, err := Solve(p)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	Explain(&b, sol)
	t.Logf("binding:\n%s", b.String())
	if used := sol.Hosts[0].Memory; used > budget {
		t.Fatalf("binding holds %d bytes, budget %d", used, budget)
	}
	if !sol.Exact || sol.Models != 2 || !slices.ContainsFunc(sol.Assignments, func(a Assignment) bool { return canonical(a.Candidate.Model) == big }) {
		t.Fatalf("binding %v: want tiny-big and one small model", sol.Agents())
	}

	// A budget too small for any model names the smallest that works.
	p.Budget = Budget{DefaultMemory: 1 << 20}
	_, err = Solve(p)
	var ie *InfeasibleError
	if !errors.As(err, &ie) {
		t.Fatalf("tiny budget: %v", err)
	}
	if smallest := min(est[small], est[canonical("tiny-b")], est[canonical("tiny-c")]); ie.MinMemory() != smallest {
		t.Fatalf("smallest feasible budget %d, want %d (%v)", ie.MinMemory(), smallest, err)
	}

	// A run uses the binding.
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	s.Roles = map[string]engine.Role{"solver": {Persona: "You solve."}, "critic": {Persona: "You critique."}, "synthesiser": {Persona: "You merge."}}
	s.Gate.BudgetTokens = 150
	s.Review.ClaimChars, s.Review.CritiqueChars = 40, 60
	s.Sampling.Propose.NumPredict, s.Sampling.Review.NumPredict, s.Sampling.Summary.NumPredict = 120, 400, 120
	seed := 7
	for _, opt := range []*models.Options{&s.Sampling.Propose, &s.Sampling.Review, &s.Sampling.Summary} {
		opt.Seed = &seed
	}
	rec := &Recorder{}
	r, err := engine.New(engine.Config{Question: "What is 6 times 7?", Agents: sol.Agents(), Settings: s, Backend: o, Sink: rec, Meter: meter})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	events := rec.Events()
	started := events[0].(*engine.RunStarted)
	if !slices.Equal(started.Agents, sol.Agents()) {
		t.Fatalf("run bound %v, broker chose %v", started.Agents, sol.Agents())
	}

	// The store learns from the run and from the telemetry it measured.
	obs := EvidenceFrom(events)
	if len(obs) == 0 {
		t.Fatal("no evidence from the run")
	}
	store.ObserveAll(obs)
	after, err := o.Models(ctx, host, meter)
	if err != nil {
		t.Fatal(err)
	}
	store.RememberTelemetry(after)
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}
	reopened, err := Open(path, Priors{Default: 0.5, Roles: map[string]map[string]float64{"*": {"tiny-big": 0.7}}})
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, o := range obs {
		e := reopened.Estimate(o.Role, o.Model)
		if e.Runs != 1 {
			t.Errorf("%s/%s: %d runs recorded, want 1", o.Role, o.Model, e.Runs)
		}
		if e.Quality != e.Prior {
			changed++
		}
	}
	if changed == 0 {
		t.Error("no quality moved from its prior after the run")
	}
	measured := 0
	for _, a := range sol.Assignments {
		if tel, ok := reopened.Telemetry(host, a.Candidate.Model); ok && tel.TokensPerSec > 0 {
			measured++
		}
	}
	if measured == 0 {
		t.Error("no speed of a bound model was remembered")
	}
	t.Logf("evidence: %+v", obs)
}
