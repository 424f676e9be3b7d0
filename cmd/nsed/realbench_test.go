package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/eval"
	"github.com/nsed/nsed/internal/testenv"
)

// TestBenchRealModel runs `nsed bench` over two shipped arithmetic items on
// SmolLM2 (three agents on one model) under every protocol, with small
// budgets. It checks plumbing, never scores: every item has a completed
// result with output for every protocol, the reports are written, and every
// per-protocol transcript is complete (run_started to run_ended).
func TestBenchRealModel(t *testing.T) {
	host, model := testenv.RealModel(t)
	t.Setenv("OLLAMA_HOST", "")
	dir := t.TempDir()
	models := strings.Join([]string{model, model, model}, ",")
	start := time.Now()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), stdio{nil, &out, &errb}, []string{"bench", "--dataset", "sample:arithmetic", "--limit", "2",
		"--host", host, "--models", models, "--protocols", strings.Join(eval.AllProtocols, ","),
		"--num-predict", "96", "--review-predict", "300", "--rounds", "1", "--min-rounds", "1", "--max-samples", "2", "--out", dir, "--quiet"})
	t.Logf("bench: 2 items, %d protocols, in %s", len(eval.AllProtocols), time.Since(start).Round(time.Second))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, p := range eval.AllProtocols {
		if !strings.Contains(out.String(), "| "+p) {
			t.Errorf("the report table has no %s row:\n%s", p, out.String())
		}
	}

	// One checkpoint line per item, with a completed result for every protocol.
	f, err := os.Open(filepath.Join(dir, eval.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []eval.ItemResult
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r eval.ItemResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("results line: %v", err)
		}
		items = append(items, r)
	}
	if len(items) != 2 {
		t.Fatalf("%d result lines, want 2", len(items))
	}
	for _, r := range items {
		for _, p := range eval.AllProtocols {
			found := false
			for name, pr := range r.Protocols {
				if name != p && !strings.HasPrefix(name, p+":") {
					continue
				}
				found = true
				if pr.Status != engine.StatusCompleted || pr.OutputTokens == 0 || pr.Calls == 0 {
					t.Errorf("item %s %s: status %s, %d calls, %d output tokens, error %q", r.ID, name, pr.Status, pr.Calls, pr.OutputTokens, pr.Error)
				}
				t.Logf("item %s %s: answer %q (reference %s), %d calls, %d output tokens, %.1f s", r.ID, name, pr.Answer, r.Reference, pr.Calls, pr.OutputTokens, pr.WallMS/1000)
			}
			if !found {
				t.Errorf("item %s: no %s result", r.ID, p)
			}
		}
		// Matched to NSED's tokens, majority votes over one or both of
		// the --max-samples 2 answers per agent, beside the curve.
		if m := r.Protocols[eval.ProtoMajority]; m == nil || m.Samples < 1 || m.Samples > 2 || r.Protocols[eval.MajorityAt(2)] == nil {
			t.Errorf("item %s: majority %+v, majority@2 %+v", r.ID, m, r.Protocols[eval.MajorityAt(2)])
		}
		// Every protocol's transcript replays from run_started to run_ended.
		tdir := filepath.Join(dir, "transcripts", r.ID)
		files, _ := filepath.Glob(filepath.Join(tdir, "*.jsonl"))
		if len(files) < len(eval.AllProtocols) {
			t.Errorf("item %s: %d transcripts in %s, want one per protocol at least", r.ID, len(files), tdir)
		}
		for _, path := range files {
			evs, err := engine.ReadTranscriptFile(path)
			if err != nil || len(evs) < 2 {
				t.Errorf("%s: %d events, %v", path, len(evs), err)
				continue
			}
			if evs[0].Header().Kind != engine.KindRunStarted || evs[len(evs)-1].Header().Kind != engine.KindRunEnded {
				t.Errorf("%s runs from %s to %s", path, evs[0].Header().Kind, evs[len(evs)-1].Header().Kind)
			}
		}
	}
	// The report a referee reads: matched tokens, Holm-adjusted paired
	// tests, the power line and the efficiency frontier, drawn.
	md, err := os.ReadFile(filepath.Join(dir, eval.ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"× NSED tokens", "p (Holm)", "**Power.**", "## Efficiency frontier", "majority@2", "## Provenance", servedDigest(t, host, model)} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	for _, name := range []string{eval.ReportMarkdown, eval.ReportCSV, eval.ReportJSON, eval.PlotFrontier} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", name, err)
		}
	}
}

// servedDigest is the model's digest as the server lists it (/api/tags):
// the report's provenance must name the weights that answered.
func servedDigest(t *testing.T, host, model string) string {
	t.Helper()
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	resp, err := http.Get(host + "/api/tags")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tags struct {
		Models []struct{ Name, Digest string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&tags); err != nil {
		t.Fatal(err)
	}
	for _, m := range tags.Models {
		if m.Name == model || m.Name == model+":latest" {
			return m.Digest
		}
	}
	t.Fatalf("%s does not list %s", host, model)
	return ""
}
