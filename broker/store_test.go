package broker

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

func TestDefaultStorePath(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	if p, err := DefaultStorePath(); err != nil || p != "/data/nsed/quality.json" {
		t.Fatalf("got %q, %v", p, err)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	if p, err := DefaultStorePath(); err != nil || p != "/home/u/.local/share/nsed/quality.json" {
		t.Fatalf("got %q, %v", p, err)
	}
}

func TestPriors(t *testing.T) {
	p := Priors{Default: 0.4, Roles: map[string]map[string]float64{
		"critic": {"qwen3": 0.8, "llama3.2:3b": 0.6},
		"*":      {"gemma3:latest": 0.7},
	}}
	tests := []struct {
		role, model string
		want        float64
	}{
		{"critic", "qwen3:8b", 0.8},        // tag-less prior covers every tag
		{"critic", "llama3.2:3b", 0.6},     // exact
		{"critic", "llama3.2:1b", 0.4},     // another tag: default
		{"solver", "gemma3", 0.7},          // "*" role, "gemma3" is "gemma3:latest"
		{"solver", "qwen3:8b", 0.4},        // other role: default
		{"critic", "gemma3:latest", 0.7},   // falls through to "*"
		{"anything", "unknown:1b", 0.4},    // default
		{"critic", "mistral", 0.4},         // default
		{"critic", "qwen3:latest", 0.8},    // tag-less covers :latest
		{"critic", "llama3.2:latest", 0.4}, // no such prior
	}
	for _, tt := range tests {
		if got := p.Prior(tt.role, tt.model); got != tt.want {
			t.Errorf("Prior(%q, %q) = %v, want %v", tt.role, tt.model, got, tt.want)
		}
	}
	if got := (Priors{}).Prior("r", "m"); got != DefaultQuality {
		t.Errorf("zero priors give %v, want %v", got, DefaultQuality)
	}
}

func TestStoreMissingFileWarnsAndUsesPriors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nsed", "quality.json")
	s, err := Open(path, Priors{Default: 0.3})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("warning = %v, want one wrapping fs.ErrNotExist", err)
	}
	if got := s.Quality("solver", "m"); got != 0.3 {
		t.Fatalf("quality %v, want the prior 0.3", got)
	}
	s.Observe("solver", "m", Evidence{Review: 1, Reviews: 3})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("save did not create the file: %v", err)
	}
}

func TestStoreCorruptFileIsSetAside(t *testing.T) {
	for _, content := range []string{"{not json", `{"version": 99}`, `{"version":1,"quality":{"r":{"m":{"weight":-1,"score":0}}}}`} {
		dir := t.TempDir()
		path := filepath.Join(dir, "quality.json")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, Priors{Default: 0.6})
		if !errors.Is(err, ErrCorruptStore) {
			t.Fatalf("%q: warning = %v, want ErrCorruptStore", content, err)
		}
		if s == nil || s.Quality("r", "m") != 0.6 {
			t.Fatalf("%q: store does not start from the priors", content)
		}
		if b, rerr := os.ReadFile(path + ".corrupt"); rerr != nil || string(b) != content {
			t.Fatalf("%q: corrupt file not kept aside: %v", content, rerr)
		}
	}
}

func TestStoreRoundTripAndAtomicSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "quality.json")
	s, _ := Open(path, Priors{})
	s.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	s.Observe("critic", "qwen3:8b", Evidence{Review: 0.9, Reviews: 4, Vote: 1, Rounds: 2})
	s.RememberTelemetry([]models.ModelInfo{{Host: "h", Name: "qwen3:8b", Loaded: true, LoadedBytes: 6 << 30,
		Measured: models.Speed{Calls: 3, TokensPerSec: 42, LatencyMS: 300, LoadMS: 2500}}})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files after save, want only quality.json", len(entries))
	}
	r, err := Open(path, Priors{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s.Estimate("critic", "qwen3:8b"), r.Estimate("critic", "qwen3:8b"); a != b {
		t.Fatalf("estimate after reload %+v, want %+v", b, a)
	}
	tel, ok := r.Telemetry("h", "qwen3:8b")
	if !ok || tel.MemoryBytes != 6<<30 || tel.TokensPerSec != 42 || tel.LoadMS != 2500 {
		t.Fatalf("telemetry after reload %+v, %v", tel, ok)
	}
}

// TestObserveRule pins the documented update rule.
func TestObserveRule(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "q.json"), Priors{Default: 0.5})
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-12 }

	// One run scoring 1: (4·0.5 + 1) / (4 + 1) = 0.6.
	s.Observe("solver", "m", Evidence{Review: 1, Reviews: 2, Vote: 1, Rounds: 1})
	if q := s.Quality("solver", "m"); !near(q, 0.6) {
		t.Fatalf("after one run %v, want 0.6", q)
	}
	// Another scoring 0: older evidence decays by 0.9:
	// (2 + 0.9·1 + 0) / (4 + 0.9 + 1).
	s.Observe("solver", "m", Evidence{Review: 0, Reviews: 2, Vote: 0, Rounds: 1})
	if q, want := s.Quality("solver", "m"), (2+0.9)/(4+1.9); !near(q, want) {
		t.Fatalf("after two runs %v, want %v", q, want)
	}
	// Evidence in another role counts half: critic has none of its own.
	// (4·0.5 + 0.5·0.9) / (4 + 0.5·1.9).
	if q, want := s.Quality("critic", "m"), (2+0.5*0.9)/(4+0.5*1.9); !near(q, want) {
		t.Fatalf("cross-role %v, want %v", q, want)
	}
	// Accuracy counts twice: (0.5 + 0 + 2·1) / 4.
	if x, _ := (Evidence{Review: 0.5, Reviews: 1, Vote: 0, Rounds: 1, Accuracy: 1, Graded: 3}).Score(); !near(x, 0.625) {
		t.Fatalf("score %v, want 0.625", x)
	}
	// No signal, no change.
	before := s.Estimate("solver", "m")
	s.Observe("solver", "m", Evidence{})
	if s.Estimate("solver", "m") != before {
		t.Fatal("empty evidence changed the estimate")
	}
	// Model names are compared as Ollama does.
	if s.Quality("solver", "m:latest") != s.Quality("solver", "m") {
		t.Fatal(`"m" and "m:latest" differ`)
	}
}

func TestCandidatesUseRememberedTelemetry(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "q.json"), Priors{})
	loaded := models.ModelInfo{Host: "h", Name: "a", SizeBytes: 4 << 30, Loaded: true, LoadedBytes: 5 << 30,
		Measured: models.Speed{Calls: 2, TokensPerSec: 30, LatencyMS: 200, LoadMS: 3000}}
	c := Candidates([]models.ModelInfo{loaded}, s)[0]
	if c.Memory != 5<<30 || !c.MemoryMeasured || c.TokensPerSec != 30 || !c.Loaded || c.LoadSec != 0 {
		t.Fatalf("loaded candidate %+v", c)
	}
	// Later the model is unloaded and this process has not called it: the
	// estimate is replaced by what was measured before.
	cold := models.ModelInfo{Host: "h", Name: "a", SizeBytes: 4 << 30}
	c = Candidates([]models.ModelInfo{cold}, s)[0]
	if c.Memory != 5<<30 || !c.MemoryMeasured || c.TokensPerSec != 30 || c.LatencySec != 0.2 || c.LoadSec != 3 {
		t.Fatalf("cold candidate %+v", c)
	}
	// Without a store it is an estimate.
	c = Candidates([]models.ModelInfo{cold}, nil)[0]
	if c.MemoryMeasured || c.SpeedMeasured || c.Memory != cold.MemoryEstimate() || c.TokensPerSec <= 0 || c.LoadSec <= 0 {
		t.Fatalf("estimated candidate %+v", c)
	}
}

func TestNewCandidateFailureRate(t *testing.T) {
	c := NewCandidate(models.ModelInfo{Host: "h", Name: "m", SizeBytes: 1 << 30, Measured: models.Speed{Calls: 4, Failures: 1, TokensPerSec: 10}})
	if c.FailureRate != 0.25 {
		t.Fatalf("failure rate %v, want 0.25", c.FailureRate)
	}
}

// A model on an OpenAI-compatible server is held loaded by the server: it
// costs no memory and no load time, and with no size to derive a speed
// from, an unmeasured one is assumed (a 64 MiB "size" priced it at ~900
// tok/s before). A tight memory budget on its host still binds it.
func TestServedModelCostsNoMemory(t *testing.T) {
	info := models.ModelInfo{Host: "http://gpu1:8000/v1", Name: "qwen3-8b", API: "openai", Loaded: true}
	c := NewCandidate(info)
	if c.Memory != 0 || !c.Loaded || c.LoadSec != 0 || c.TokensPerSec != assumedServedTokensPerSec || c.SpeedMeasured {
		t.Errorf("served candidate %+v", c)
	}
	info.Measured = models.Speed{Calls: 3, TokensPerSec: 120, LatencyMS: 80}
	if c := NewCandidate(info); c.TokensPerSec != 120 || !c.SpeedMeasured {
		t.Errorf("measured speed lost: %+v", c)
	}
	slots := SlotsFrom([]engine.AgentInfo{{ID: "agent-1", Role: "solver"}, {ID: "agent-2", Role: "critic"}}, nil)
	for i := range slots {
		slots[i].Current = nil
	}
	sol, err := Solve(NewProblem(slots, []Candidate{c}, Budget{DefaultMemory: 1 << 20}, nil))
	if err != nil {
		t.Fatalf("a 1 MiB budget refused a server-held model: %v", err)
	}
	if len(sol.Assignments) != 2 || sol.Assignments[0].Candidate.Model != "qwen3-8b" {
		t.Errorf("assignments %+v", sol.Assignments)
	}
}

// What the user configures of a served host counts: a model's memory goes
// into the knapsack against its host's budget, and the configured speed
// replaces the built-in assumption until a call measures the model.
func TestServedModelConfigured(t *testing.T) {
	const host, gib = "http://gpu1:8000/v1", int64(1) << 30
	infos := []models.ModelInfo{
		{Host: host, Name: "qwen3-8b", API: "openai", Loaded: true},
		{Host: host, Name: "llama3.1-8b", API: "openai", Loaded: true, Measured: models.Speed{Calls: 2, TokensPerSec: 90, LatencyMS: 50}},
		{Host: host, Name: "unlisted", API: "openai", Loaded: true},
		{Host: "box:11434", Name: "qwen3-8b", SizeBytes: 5 * gib},
	}
	cfg := map[string]Served{host: {Memory: map[string]int64{"qwen3-8b": 16 * gib, "llama3.1-8b:latest": 17 * gib}, TokensPerSec: 45}}
	cands := WithServed(Candidates(infos, nil), cfg)
	want := []struct {
		memory   int64
		speed    float64
		measured bool
	}{{16 * gib, 45, false}, {17 * gib, 90, true}, {0, 45, false}, {NewCandidate(infos[3]).Memory, NewCandidate(infos[3]).TokensPerSec, false}}
	for i, w := range want {
		c := cands[i]
		if c.Memory != w.memory || c.TokensPerSec != w.speed || c.SpeedMeasured != w.measured {
			t.Errorf("%s: memory %d, speed %v (measured %v); want %d, %v (%v)", c.Binding(), c.Memory, c.TokensPerSec, c.SpeedMeasured, w.memory, w.speed, w.measured)
		}
	}

	// Two agents, two served models of 16 and 17 GiB, 20 GiB on the host:
	// only one model fits, so both agents share it.
	slots := SlotsFrom([]engine.AgentInfo{{ID: "agent-1", Role: "solver"}, {ID: "agent-2", Role: "critic"}}, nil)
	for i := range slots {
		slots[i].Current = nil
	}
	p := NewProblem(slots, cands[:2], Budget{Memory: map[string]int64{host: 20 * gib}}, nil)
	p.Weights.Correlation = 0 // diversity would want both models
	sol, err := Solve(p)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := sol.Assignments[0].Candidate.Model, sol.Assignments[1].Candidate.Model; a != b {
		t.Errorf("bound %s and %s: 33 GiB on a 20 GiB host", a, b)
	}
	p.Budget.Memory[host] = 40 * gib
	p.Weights.Correlation = 1
	if sol, err := Solve(p); err != nil || sol.Assignments[0].Candidate.Model == sol.Assignments[1].Candidate.Model {
		t.Errorf("with room for both, diversity should bind both models: %+v, %v", sol, err)
	}
}
