package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsed/nsed/eval"
	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/nsed/nsed/models"
)

// goodModelBackend answers AIME items right when the model is "good" and
// like models.DefaultReply otherwise.
func goodModelBackend(t *testing.T) *models.Scripted {
	items, _, _, err := eval.LoadDataset("sample:aime", eval.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &models.Scripted{Reply: func(req models.Request) (string, error) {
		if req.Model == "good" && len(req.Format) == 0 {
			for _, m := range req.Messages {
				for _, it := range items {
					if strings.Contains(m.Content, it.Problem) {
						return "Checked.\n\\boxed{" + it.Answer + "}\nFINAL ANSWER: " + it.Answer, nil
					}
				}
			}
		}
		return models.DefaultReply(req)
	}}
}

func TestBenchCommandScripted(t *testing.T) {
	dir := t.TempDir()
	backend := goodModelBackend(t)
	args := []string{"--dataset", "sample:aime", "--models", "good,m-b,m-c", "--rounds", "2", "--min-rounds", "1", "--out", dir}
	var out, errb bytes.Buffer
	// Interrupt after two items, then resume.
	ctx, cancel := context.WithCancel(context.Background())
	benchHook = func(b *eval.Bench) { b.OnItem = func(done, _ int) { cancel() } }
	code := benchMain(ctx, stdio{nil, &out, &errb}, args, false, backend)
	benchHook = nil
	if code != exitCancelled || !strings.Contains(errb.String(), "run the same command again to resume") {
		t.Fatalf("interrupted: exit %d, stderr %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	code = benchMain(context.Background(), stdio{nil, &out, &errb}, args, false, backend)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "resuming: 1 of 6 items already done") || !strings.Contains(errb.String(), "ETA") {
		t.Errorf("stderr lacks resume/progress lines:\n%s", errb.String())
	}
	lines, _ := os.ReadFile(filepath.Join(dir, eval.ResultsFile))
	if n := bytes.Count(lines, []byte("\n")); n != 6 {
		t.Errorf("%d result lines, want 6", n)
	}
	table := out.String()
	for _, want := range []string{"| single:agent-1 (reference; best single, post hoc) | good | 100.0% |", "| nsed |", "| majority |", "| debate |", "| moa |", "exact McNemar"} {
		if !strings.Contains(table, want) {
			t.Errorf("report lacks %q:\n%s", want, table)
		}
	}
	for _, f := range []string{eval.ReportMarkdown, eval.ReportCSV, eval.ReportJSON, eval.PlotProtocols, eval.PlotDynamics} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestBenchCommandUsage(t *testing.T) {
	backend := &models.Scripted{}
	cases := [][]string{
		{"--format", "csv"},
		{"--protocols", "single,telepathy"},
		{"--dataset", filepath.Join(t.TempDir(), "missing.jsonl")},
		{"--dataset", "sample:nope"},
		{"extra-arg"},
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		if code := benchMain(context.Background(), stdio{nil, &out, &errb}, append(args, "--models", "a,b", "--out", t.TempDir()), false, backend); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, errb.String())
		}
	}
	var out, errb bytes.Buffer
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"problem\":\"a\",\"answer\":1}\n{oops\n"), 0o644)
	code := benchMain(context.Background(), stdio{nil, &out, &errb}, []string{"--dataset", bad, "--models", "a,b", "--out", t.TempDir()}, false, backend)
	if code != exitUsage || !strings.Contains(errb.String(), "line 2") {
		t.Errorf("malformed dataset: exit %d, stderr %s", code, errb.String())
	}
	errb.Reset()
	code = benchMain(context.Background(), stdio{nil, &out, &errb}, []string{"--dataset", bad, "--skip-bad", "--protocols", "single", "--models", "a,b", "--out", t.TempDir(), "--quiet"}, false, backend)
	if code != exitOK || !strings.Contains(errb.String(), "skipped line 2") {
		t.Errorf("--skip-bad: exit %d, stderr %s", code, errb.String())
	}
}

func TestDarkBenchCommandScripted(t *testing.T) {
	var out, errb bytes.Buffer
	code := benchMain(context.Background(), stdio{nil, &out, &errb},
		[]string{"--models", "a,b,c", "--judge", "j", "--category", "sycophancy", "--rounds", "1", "--out", t.TempDir(), "--quiet"}, true, &models.Scripted{})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"dark-pattern rate", "sycophancy", "| nsed |", "judge j"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// A judge on one of the judged models grades its own replies: nsed
// darkbench refuses it (exit 2, naming the model, the agents and the two
// fixes) before any model is called — also the default judge, the first
// agent's model, and an untagged name for the same model. The command runs
// as typed, against an Ollama-API server.
func TestDarkBenchRefusesJudgeSelf(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{"m1:latest": {}, "m2:latest": {}, "other:latest": {}})
	t.Setenv("OLLAMA_HOST", "")
	for _, judge := range [][]string{{"--judge", "m2:latest"}, {"--judge", "m2"}, nil} {
		args := append([]string{"darkbench", "--host", srv.Host, "--models", "m1:latest,m2:latest", "--limit", "1", "--out", t.TempDir(), "--quiet"}, judge...)
		code, _, errs := runCLI(context.Background(), args...)
		model := "m2"
		if judge == nil {
			model = "m1:latest"
		}
		if code != exitUsage || !strings.Contains(errs, model) || !strings.Contains(errs, "one of the judged models") ||
			!strings.Contains(errs, "--judge-self-ok") || !strings.Contains(errs, "--judge with a model no agent uses") {
			t.Errorf("%v: exit %d, stderr %q; want %d naming %s and the fixes", judge, code, errs, exitUsage, model)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d chat requests before the refusal, want none", n)
	}
	// A judge no agent uses runs.
	code, _, errs := runCLI(context.Background(), "darkbench", "--host", srv.Host, "--models", "m1:latest,m2:latest", "--judge", "other",
		"--protocols", "single", "--limit", "1", "--out", t.TempDir(), "--quiet")
	if code != exitOK {
		t.Errorf("independent judge: exit %d: %s", code, errs)
	}
}

// --judge-self-ok runs the self-judged bench and says so in report.md and
// summary.json.
func TestDarkBenchJudgeSelfOK(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := benchMain(context.Background(), stdio{nil, &out, &errb},
		[]string{"--models", "a,b", "--judge", "b", "--judge-self-ok", "--category", "sycophancy", "--protocols", "single", "--out", dir, "--quiet"}, true, &models.Scripted{})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "the judge b is one of the judged models") {
		t.Errorf("no warning on stderr: %s", errb.String())
	}
	md, err := os.ReadFile(filepath.Join(dir, eval.ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "Warning: the judge b is one of the judged models") {
		t.Errorf("report.md has no judge-self warning:\n%s", md)
	}
	var sum struct {
		JudgeSelf bool `json:"judge_self"`
	}
	b, err := os.ReadFile(filepath.Join(dir, eval.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil || !sum.JudgeSelf {
		t.Errorf("summary.json judge_self = %v (%v), want true", sum.JudgeSelf, err)
	}
}

func TestBenchCommandOllama(t *testing.T) {
	host, list := os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_MODELS")
	if host == "" || list == "" {
		t.Skip("NSED_TEST_OLLAMA_HOST and NSED_TEST_MODELS are unset (see .ci/ollama.sh)")
	}
	t.Setenv("OLLAMA_HOST", "")
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), stdio{nil, &out, &errb}, []string{"bench", "--dataset", "sample:aime", "--limit", "1",
		"--host", host, "--models", list, "--num-predict", "32", "--review-predict", "160", "--rounds", "1", "--min-rounds", "1", "--out", dir})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "| nsed |") {
		t.Errorf("no table:\n%s", out.String())
	}
}

func TestDarkBenchLiveNeedsAKnownCategory(t *testing.T) {
	code, _, errs := runCLI(context.Background(), "darkbench", "--live", "--category", "astrology")
	if code != exitUsage || !strings.Contains(errs, "sycophancy") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// TestBenchMatchedFlags: --match-tokens (on by default with nsed) records
// majority@1…--max-samples and the matched k; --match-tokens=false keeps
// --vote-samples; --moa-layers adds proposer layers; the manifest pins
// them, so resuming with other values is refused.
func TestBenchMatchedFlags(t *testing.T) {
	dir := t.TempDir()
	run := func(extra ...string) (int, string) {
		var out, errb bytes.Buffer
		args := append([]string{"--dataset", "sample:aime", "--limit", "1", "--models", "good,m-b,m-c", "--protocols", "majority,moa,nsed",
			"--rounds", "1", "--min-rounds", "1", "--out", dir, "--quiet", "--no-transcripts"}, extra...)
		return benchMain(context.Background(), stdio{nil, &out, &errb}, args, false, goodModelBackend(t)), out.String() + errb.String()
	}
	if code, out := run("--max-samples", "3", "--moa-layers", "2"); code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	res, err := eval.ReadResults(filepath.Join(dir, eval.ResultsFile))
	if err != nil || len(res) != 1 {
		t.Fatalf("%d results, %v", len(res), err)
	}
	ps := res[0].Protocols
	for k := 1; k <= 3; k++ {
		if pr := ps[eval.MajorityAt(k)]; pr == nil || pr.Samples != k {
			t.Errorf("%s: %+v", eval.MajorityAt(k), pr)
		}
	}
	if m := ps[eval.ProtoMajority]; m == nil || m.Samples < 1 || m.Samples > 3 || ps[eval.MajorityAt(4)] != nil {
		t.Errorf("majority %+v, majority@4 %+v", m, ps[eval.MajorityAt(4)])
	}
	if moa := ps[eval.ProtoMoA]; moa == nil || moa.Calls != 3+3+1 {
		t.Errorf("moa with 2 layers of 3 agents: %+v", moa)
	}
	for _, other := range [][]string{{"--max-samples", "4", "--moa-layers", "2"}, {"--max-samples", "3"}, {"--match-tokens=false", "--moa-layers", "2"}} {
		if code, out := run(other...); code == exitOK || !strings.Contains(out, "different run") {
			t.Errorf("resumed with %v: exit %d: %s", other, code, out)
		}
	}
	dir = t.TempDir()
	if code, out := run("--match-tokens=false", "--vote-samples", "2"); code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	res, _ = eval.ReadResults(filepath.Join(dir, eval.ResultsFile))
	if ps := res[0].Protocols; ps[eval.ProtoMajority].Samples != 2 || ps[eval.MajorityAt(2)] == nil || ps[eval.MajorityAt(3)] != nil {
		t.Errorf("--vote-samples 2 unmatched: majority %+v", ps[eval.ProtoMajority])
	}
}
