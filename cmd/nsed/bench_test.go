package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsed/nsed/eval"
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
		[]string{"--models", "a,b,c", "--category", "sycophancy", "--rounds", "1", "--out", t.TempDir(), "--quiet"}, true, &models.Scripted{})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"dark-pattern rate", "sycophancy", "| nsed |", "judge a"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
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
