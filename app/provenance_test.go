package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/nsed/nsed/models"
	"github.com/ollama/ollama/api"
)

func fakeServer(t *testing.T) models.Backend {
	t.Helper()
	say := func(*api.ChatRequest) fakeollama.Reply { return fakeollama.Reply{Content: "FINAL ANSWER: 42"} }
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"m1:latest": {Digest: strings.Repeat("1", 64), Family: "llama", Respond: say},
		"m2:latest": {Digest: strings.Repeat("2", 64), Family: "qwen3", Respond: say},
		"j:latest":  {Digest: strings.Repeat("3", 64), Respond: say},
	})
	o, err := models.NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// A run's transcript opens with the provenance: nsed's build, the
// server's version, each model's digest.
func TestTranscriptRecordsProvenance(t *testing.T) {
	tr := filepath.Join(t.TempDir(), "run.jsonl")
	s, err := Open(context.Background(), Flags{Backend: fakeServer(t), Models: "m1,m2", Rounds: 1, Transcript: tr,
		Store: filepath.Join(t.TempDir(), "q.json"), Set: set("models", "rounds", "transcript", "store")}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Deliberate("What is 6*7?", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.NewRun(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := r.Run(context.Background())
	// The fake server's reviews are not JSON, so the round loses its
	// quorum; the transcript's first line is what this test reads.
	if err := d.Finish(context.Background(), runErr); err != nil && !errors.As(err, new(*engine.QuorumError)) {
		t.Fatal(err)
	}
	evs, err := engine.ReadTranscriptFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	rs := evs[0].(*engine.RunStarted)
	p := rs.Provenance
	if p == nil || p.Nsed.Go == "" || len(p.Servers) != 1 || p.Servers[0].Version != "0.11.4" || len(p.Models) != 2 {
		t.Fatalf("run_started provenance = %+v", p)
	}
	if m, ok := p.Model("", "m2"); !ok || m.Digest != strings.Repeat("2", 64) || m.Family != "qwen3" {
		t.Errorf("m2 = %+v, want its digest and family", m)
	}
}

// A bench's provenance adds the dataset's hash and the judge's model, and
// reaches every protocol's transcript through the environment.
func TestBenchProvenance(t *testing.T) {
	s, err := Open(context.Background(), Flags{Backend: fakeServer(t), Models: "m1,m2", Set: set("models")}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	spec := BenchSpec{Dark: true, Dataset: "sample:darkbench", Protocols: "single", Judge: "j", Aggregator: 1, Limit: 1, AllowMixed: true}
	ds, err := LoadDataset(spec, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Bench(context.Background(), spec, ds)
	if err != nil {
		t.Fatal(err)
	}
	if b.Provenance.DatasetSHA256 != ds.Hash || b.Env.Provenance != &b.Provenance || !b.AllowMixed {
		t.Errorf("bench provenance: dataset %q (want %q), env %p (want %p), allow mixed %v", b.Provenance.DatasetSHA256, ds.Hash, b.Env.Provenance, &b.Provenance, b.AllowMixed)
	}
	if m, ok := b.Provenance.Model("", "j"); !ok || m.Digest != strings.Repeat("3", 64) {
		t.Errorf("judge model = %+v, want its digest", m)
	}
	if len(s.Provenance.Models) != 2 {
		t.Errorf("the session's provenance gained the judge: %+v", s.Provenance.Models)
	}
}
