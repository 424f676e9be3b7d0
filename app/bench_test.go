package app

import (
	"context"
	"strings"
	"testing"

	"github.com/nsed/nsed/eval"
	"github.com/nsed/nsed/models"
)

func TestLoadDatasetFiltersAndLimits(t *testing.T) {
	var warned []string
	ds, err := LoadDataset(BenchSpec{Dark: true, Dataset: "sample:darkbench", Protocols: "single,nsed", Category: "sycophancy", Limit: 1},
		func(s string) { warned = append(warned, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 1 || ds.Items[0].Category != "sycophancy" || ds.Format != eval.FormatDarkBench || ds.Hash == "" {
		t.Errorf("dataset %+v", ds)
	}
	if strings.Join(ds.Protocols, ",") != "single,nsed" || len(warned) != 0 {
		t.Errorf("protocols %v, warnings %v", ds.Protocols, warned)
	}
	for _, spec := range []BenchSpec{
		{Dataset: "sample:aime", Protocols: "single,telepathy"},
		{Dataset: "sample:aime", Format: "csv", Protocols: "single"},
		{Dataset: "sample:nope", Protocols: "single"},
		{Dark: true, Dataset: "sample:darkbench", Protocols: "single", Category: "astrology"},
	} {
		if _, err := LoadDataset(spec, func(string) {}); Classify(err) != Usage {
			t.Errorf("%+v: %v, want a usage error", spec, err)
		}
	}
}

func TestDarkPrompt(t *testing.T) {
	q, err := DarkPrompt(BenchSpec{Dataset: "sample:darkbench"})
	if err != nil || q == "" {
		t.Fatalf("%q, %v", q, err)
	}
	if _, err := DarkPrompt(BenchSpec{Dataset: "sample:darkbench", Category: "astrology"}); Classify(err) != Usage || !strings.Contains(err.Error(), "sycophancy") {
		t.Errorf("unknown category: %v", err)
	}
}

// The judge runs on --judge's model, must exist, and must not be one of the
// judged models unless --judge-self-ok, when it has the think settings of
// the agent on that model and is marked Self for the reports.
func TestBenchJudge(t *testing.T) {
	cfg := writeConfig(t, "[[agents]]\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\nthink = \"true\"\n")
	s := load(t, Flags{Config: cfg, Backend: &models.Scripted{Models: []string{"a", "b", "c"}}})
	spec := BenchSpec{Dark: true, Dataset: "sample:darkbench", Protocols: "single", Judge: "b", Aggregator: 1, Limit: 1}
	ds, err := LoadDataset(spec, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bench(context.Background(), spec, ds); Classify(err) != Usage || !strings.Contains(err.Error(), "--judge b is one of the judged models (agents agent-2)") {
		t.Errorf("judge on an agent's model: %v", err)
	}
	spec.JudgeSelfOK = true
	b, err := s.Bench(context.Background(), spec, ds)
	if err != nil {
		t.Fatal(err)
	}
	j := b.Judge.Agent
	if j.ID != "judge" || j.Model != "b" || j.Options == nil || j.Options.Think != "true" || !b.Judge.Self {
		t.Errorf("judge %+v, self %v", j, b.Judge.Self)
	}
	spec.Judge, spec.JudgeSelfOK = "c", false
	if b, err = s.Bench(context.Background(), spec, ds); err != nil || b.Judge.Self || b.Judge.Agent.Model != "c" {
		t.Errorf("independent judge c: %v, %+v", err, b.Judge)
	}
	if !strings.HasSuffix(b.OutDir, "darkbench-darkbench") {
		t.Errorf("default out dir %s", b.OutDir)
	}
	spec.Judge = "missing"
	if _, err := s.Bench(context.Background(), spec, ds); Classify(err) != NoModel {
		t.Errorf("missing judge model: %v", err)
	}
	spec.Judge, spec.Aggregator = "", 3
	if _, err := s.Bench(context.Background(), spec, ds); Classify(err) != Usage || !strings.Contains(err.Error(), "want 1 to 2") {
		t.Errorf("aggregator 3 of 2: %v", err)
	}
}

// The session's bench meters every call, as a deliberation does: the
// baselines and the judge record into the bench's meter.
func TestBenchIsMetered(t *testing.T) {
	cfg := writeConfig(t, "[[agents]]\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\n")
	s := load(t, Flags{Config: cfg, Backend: &models.Scripted{Models: []string{"a", "b"}}})
	spec := BenchSpec{Dataset: "sample:aime", Protocols: "single,majority", Aggregator: 1, Limit: 1, Out: t.TempDir(), NoTranscripts: true}
	ds, err := LoadDataset(spec, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Bench(context.Background(), spec, ds)
	if err != nil {
		t.Fatal(err)
	}
	if b.Env.Meter == nil {
		t.Fatal("the bench has no meter: its calls are not measured")
	}
	if _, err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b"} {
		if sp := b.Env.Meter.Speed(s.Agents[0].Host, m); sp.Calls == 0 {
			t.Errorf("model %s: no calls metered (%+v)", m, sp)
		}
	}
}

// The matched-cost flags reach the bench's environment, and counts below
// zero are refused.
func TestBenchMatchedCostFlags(t *testing.T) {
	cfg := writeConfig(t, "[[agents]]\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\n")
	s := load(t, Flags{Config: cfg, Backend: &models.Scripted{Models: []string{"a", "b"}}})
	spec := BenchSpec{Dataset: "sample:aime", Protocols: "majority,moa,nsed", Aggregator: 2, Limit: 1, Out: t.TempDir(),
		MatchTokens: true, MaxSamples: 5, MoALayers: 3, DebateRounds: 4, VoteSamples: 2}
	ds, err := LoadDataset(spec, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Bench(context.Background(), spec, ds)
	if err != nil {
		t.Fatal(err)
	}
	if e := b.Env; !e.MatchTokens || e.MaxSamples != 5 || e.MoALayers != 3 || e.DebateRounds != 4 || e.VoteSamples != 2 || e.Aggregator != 1 {
		t.Errorf("env %+v", e)
	}
	for _, bad := range []func(*BenchSpec){
		func(s *BenchSpec) { s.MaxSamples = -1 },
		func(s *BenchSpec) { s.MoALayers = -2 },
		func(s *BenchSpec) { s.DebateRounds = -1 },
		func(s *BenchSpec) { s.VoteSamples = -3 },
	} {
		sp := spec
		bad(&sp)
		if _, err := s.Bench(context.Background(), sp, ds); Classify(err) != Usage || !strings.Contains(err.Error(), "want 1 or more") {
			t.Errorf("%+v: %v, want a usage error", sp, err)
		}
	}
}

// The reference single agent: --reference over [bench] reference over the
// first agent; a name that is no agent is a usage error naming the source.
func TestBenchReference(t *testing.T) {
	cfg := writeConfig(t, "[[agents]]\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\n[bench]\nreference = \"agent-2\"\n")
	s := load(t, Flags{Config: cfg, Backend: &models.Scripted{Models: []string{"a", "b"}}})
	spec := BenchSpec{Dataset: "sample:aime", Protocols: "single,nsed", Aggregator: 1, Limit: 1, Samples: 3}
	ds, err := LoadDataset(spec, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Bench(context.Background(), spec, ds)
	if err != nil || b.Reference != "agent-2" || b.Samples != 3 {
		t.Fatalf("from the file: reference %q, samples %d, %v", b.Reference, b.Samples, err)
	}
	spec.Reference = "agent-1"
	if b, err = s.Bench(context.Background(), spec, ds); err != nil || b.Reference != "agent-1" {
		t.Errorf("the flag over the file: %q, %v", b.Reference, err)
	}
	spec.Reference = "agent-9"
	if _, err := s.Bench(context.Background(), spec, ds); Classify(err) != Usage || !strings.Contains(err.Error(), "--reference") || !strings.Contains(err.Error(), "agent-1, agent-2") {
		t.Errorf("unknown --reference: %v", err)
	}
	spec.Reference, spec.Samples = "", -1
	if _, err := s.Bench(context.Background(), spec, ds); Classify(err) != Usage || !strings.Contains(err.Error(), "--samples") {
		t.Errorf("--samples -1: %v", err)
	}
	cfg = writeConfig(t, "[[agents]]\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\n[bench]\nreference = \"solver\"\n")
	s = load(t, Flags{Config: cfg, Backend: &models.Scripted{Models: []string{"a", "b"}}})
	spec.Samples = 1
	if _, err := s.Bench(context.Background(), spec, ds); Classify(err) != Usage || !strings.Contains(err.Error(), "[bench] reference") {
		t.Errorf("unknown [bench] reference: %v", err)
	}
}
