package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/eval"
	"github.com/nsed/nsed/internal/testenv"
)

// TestBenchSamplesTinyModels runs `nsed bench --samples 2 --reference
// agent-2` over two AIME items on the real server's tiny random-weight
// models (noise: plumbing, not scores): four result lines, one per (item,
// sample); the report's avg@2 table, Holm-adjusted tests with the reference
// first, the power line and the conformity tables; a transcript per sample.
func TestBenchSamplesTinyModels(t *testing.T) {
	host, tiny := testenv.Tiny(t)
	t.Setenv("OLLAMA_HOST", "")
	dir := t.TempDir()
	start := time.Now()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), stdio{nil, &out, &errb}, []string{"bench", "--dataset", "sample:aime", "--limit", "2",
		"--samples", "2", "--reference", "agent-2", "--host", host, "--models", strings.Join(tiny[:3], ","),
		"--protocols", "single,debate,nsed", "--num-predict", "8", "--review-predict", "600",
		"--rounds", "2", "--min-rounds", "2", "--out", dir, "--quiet"})
	t.Logf("bench: 2 items × 2 samples, 3 protocols, in %s", time.Since(start).Round(100*time.Millisecond))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, eval.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r eval.ItemResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		key := r.ID + "#" + string(rune('0'+r.Sample))
		if seen[key] {
			t.Errorf("%s recorded twice", key)
		}
		seen[key] = true
		if n := r.Protocols[eval.ProtoNSED]; n == nil || len(n.Rounds) != 2 || len(n.Rounds[1].Agents) == 0 {
			t.Errorf("%s: nsed has no per-agent rounds: %+v", key, n)
		}
	}
	if len(seen) != 4 {
		t.Errorf("%d (item, sample) lines, want 4: %v", len(seen), seen)
	}
	md := out.String()
	for _, want := range []string{"2 items × 2 samples", "accuracy avg@2", "95% CI (clustered SE)", "| single:agent-2 (reference",
		"| nsed | **single:agent-2** (reference) | 2 |", "p (Holm)", "**Power.**", "## Conformity", "| nsed | 1→2 |", "| debate | 1→2 |", "Round-1 majority overturned"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	var sum eval.Summary
	js, _ := os.ReadFile(filepath.Join(dir, eval.ReportJSON))
	if err := json.Unmarshal(js, &sum); err != nil || sum.Samples != 2 || sum.Reference != "single:agent-2" || len(sum.Tests) == 0 || sum.Power == nil {
		t.Errorf("summary.json: samples %d, reference %q, %d tests, power %v, %v", sum.Samples, sum.Reference, len(sum.Tests), sum.Power, err)
	}
	for _, name := range []string{"nsed.jsonl", "nsed-s1.jsonl", "debate-s1.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, "transcripts", "s-1", name)); err != nil {
			t.Errorf("transcript: %v", err)
		}
	}
}
