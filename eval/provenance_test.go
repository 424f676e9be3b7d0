package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/nsed/nsed/models"
	"github.com/ollama/ollama/api"
)

// fakeBench is a one-item bench of single agents on a fake Ollama server
// whose models have the given digest.
func fakeBench(t *testing.T, dir, digest string) *Bench {
	t.Helper()
	answer := func(*api.ChatRequest) fakeollama.Reply { return fakeollama.Reply{Content: "FINAL ANSWER: 42"} }
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"m-a:latest": {Digest: digest, Respond: answer}, "m-b:latest": {Digest: strings.Repeat("9", 64), Respond: answer}})
	o, err := models.NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	b := scriptedBench(t, dir, o)
	b.Items, b.Protocols = b.Items[:1], []string{ProtoSingle}
	b.Env.Agents = b.Env.Agents[:2]
	b.Provenance = models.Describe(context.Background(), o, []models.Ref{{Model: "m-a"}, {Model: "m-b"}})
	b.Env.Provenance = &b.Provenance
	return b
}

// Results of another model's weights are not one sample with these: a
// changed digest in the same --out is refused, naming the model, the two
// digests and the ways out; --allow-mixed adds to them and the report
// lists both setups.
func TestBenchRefusesAChangedModelDigest(t *testing.T) {
	dir := t.TempDir()
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	if _, err := fakeBench(t, dir, a).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Each protocol's transcript records the setup too.
	trs, _ := filepath.Glob(filepath.Join(dir, "transcripts", "*", "first-round.jsonl"))
	if len(trs) != 1 {
		t.Fatalf("transcripts %v, want one first-round", trs)
	}
	evs, err := engine.ReadTranscriptFile(trs[0])
	if err != nil {
		t.Fatal(err)
	}
	if p := evs[0].(*engine.RunStarted).Provenance; p == nil || p.Models[0].Digest != a || p.DatasetSHA256 == "" {
		t.Errorf("run_started provenance = %+v, want m-a's digest and the dataset's hash", p)
	}
	// The same setup resumes.
	if _, err := fakeBench(t, dir, a).Run(context.Background()); err != nil {
		t.Fatalf("same provenance: %v", err)
	}
	bench := fakeBench(t, dir, b)
	_, err = bench.Run(context.Background())
	if !errors.Is(err, ErrMixedProvenance) {
		t.Fatalf("changed digest: err %v, want ErrMixedProvenance", err)
	}
	for _, want := range []string{"model m-a digest aaaaaaaaaaaa → bbbbbbbbbbbb", "another --out", "--allow-mixed", ManifestFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	bench.AllowMixed = true
	res, err := bench.Run(context.Background())
	if err != nil {
		t.Fatalf("--allow-mixed: %v", err)
	}
	s := bench.Summarize(res)
	if len(s.Provenance) != 2 || s.Provenance[0].Models[0].Digest != a || s.Provenance[1].Models[0].Digest != b {
		t.Fatalf("summary provenance = %+v, want the a setup then the b one", s.Provenance)
	}
	var md strings.Builder
	WriteMarkdown(&md, s)
	srvAddr := s.Provenance[1].Servers[0].Address
	for _, want := range []string{"**Mixed:**", "### Setup 2", "| m-a | " + srvAddr + " | " + b + " |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	// The manifest keeps both, so the next plain run compares with b's.
	if _, err := fakeBench(t, dir, b).Run(context.Background()); err != nil {
		t.Fatalf("resuming the latest setup: %v", err)
	}
}

// A manifest written before provenance was recorded cannot vouch for its
// results: refused unless --allow-mixed.
func TestBenchRefusesAManifestWithoutProvenance(t *testing.T) {
	dir := t.TempDir()
	b := fakeBench(t, dir, strings.Repeat("a", 64))
	if _, err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ManifestFile)
	data, _ := os.ReadFile(path)
	i := strings.Index(string(data), `,
  "provenance"`)
	if i < 0 {
		t.Fatalf("manifest has no provenance:\n%s", data)
	}
	os.WriteFile(path, append(data[:i:i], "\n}\n"...), 0o600)
	_, err := fakeBench(t, dir, strings.Repeat("a", 64)).Run(context.Background())
	if !errors.Is(err, ErrMixedProvenance) || !strings.Contains(err.Error(), "kept no provenance") {
		t.Fatalf("err = %v, want a refusal naming the missing provenance", err)
	}
}
