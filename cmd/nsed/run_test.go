package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/internal/fakeollama"
)

func testServer(t *testing.T) (string, []string) {
	t.Helper()
	host, list := os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_MODELS")
	if host == "" || list == "" {
		t.Skip("NSED_TEST_OLLAMA_HOST/NSED_TEST_MODELS unset: no real Ollama server (bash .ci/ollama.sh start)")
	}
	return host, strings.Split(list, ",")
}

// tinyConfig bounds a run so tiny random models finish in seconds.
const tinyConfig = `
[deliberation]
min_rounds = 1
max_rounds = 2
[gate]
budget_tokens = 150
[review]
claim_chars = 40
critique_chars = 60
[sampling.propose]
num_predict = 120
[sampling.review]
num_predict = 500
[sampling.summary]
num_predict = 200
`

func writeConfig(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nsed.toml")
	if err := os.WriteFile(p, []byte(tinyConfig+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := dispatch(ctx, stdio{strings.NewReader(""), &out, &errb}, args)
	return code, out.String(), errb.String()
}

func TestRunHeadlessAgainstOllama(t *testing.T) {
	host, names := testServer(t)
	tr := filepath.Join(t.TempDir(), "run.jsonl")
	code, out, errs := runCLI(context.Background(), "run", "--headless", "--config", writeConfig(t, ""), "--host", host,
		"--models", strings.Join(names[:3], ","), "--transcript", tr, "What is 6 times 7?")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"[r1 propose] agent-1 proposed", "[r1 review] agent-2", "support:", "state ", "== completed", "answer (agent-"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x1b\x07\x9b") {
		t.Error("model text reached the terminal with control characters")
	}
	evs, err := engine.ReadTranscriptFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	if end, ok := evs[len(evs)-1].(*engine.RunEnded); !ok || end.Status != engine.StatusCompleted {
		t.Fatalf("transcript ends with %T", evs[len(evs)-1])
	}
}

func TestRunJSONPrintsEvents(t *testing.T) {
	host, names := testServer(t)
	code, out, errs := runCLI(context.Background(), "run", "--json", "--config", writeConfig(t, ""), "--host", host,
		"--models", strings.Join(names[:2], ","), "--rounds", "1", "--transcript", filepath.Join(t.TempDir(), "t.jsonl"), "q?")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	evs, err := engine.ReadTranscript(strings.NewReader(out))
	if err != nil || len(evs) < 10 {
		t.Fatalf("stdout is not a transcript: %d events, %v", len(evs), err)
	}
}

func TestRunExitCodes(t *testing.T) {
	cfg := writeConfig(t, "")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no question", []string{"run", "--headless", "--config", cfg}, exitUsage, "no question"},
		{"bad flag", []string{"run", "--headless", "--bogus", "q"}, exitUsage, "bogus"},
		{"bad config", []string{"run", "--headless", "--config", writeConfig(t, "[gate]\ngama = 1\n"), "q"}, exitUsage, "nsed.toml:"},
		{"one model", []string{"run", "--headless", "--config", cfg, "--models", "a", "q"}, exitUsage, "2 to 8"},
		{"unreachable", []string{"run", "--headless", "--config", cfg, "--host", "127.0.0.1:9", "q"}, exitUnreachable, "cannot reach Ollama at 127.0.0.1:9"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCLI(context.Background(), tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, errs, tc.want)
			}
		})
	}
	host, _ := testServer(t)
	code, _, errs := runCLI(context.Background(), "run", "--headless", "--config", cfg, "--host", host, "--models", "tiny-a,not-pulled:7b", "q")
	if code != exitNoModel || !strings.Contains(errs, `model "not-pulled:7b"`) || !strings.Contains(errs, "ollama pull not-pulled:7b") {
		t.Fatalf("missing model: exit %d, %q", code, errs)
	}
}

// Ctrl-C on the real binary: the run stops within a second and the
// transcript on disk ends with a cancelled run_ended event.
func TestInterruptSavesTranscript(t *testing.T) {
	host, names := testServer(t)
	bin := filepath.Join(t.TempDir(), "nsed")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tr := filepath.Join(t.TempDir(), "run.jsonl")
	cfg := filepath.Join(t.TempDir(), "long.toml")
	os.WriteFile(cfg, []byte(strings.Replace(tinyConfig, "num_predict = 120", "num_predict = 100000", 1)), 0o644)
	cmd := exec.Command(bin, "run", "--headless", "--config", cfg, "--host", host, "--models", strings.Join(names[:3], ","), "--transcript", tr, "Write a long essay.")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until proposals are streaming.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(tr); bytes.Contains(b, []byte(`"kind":"token"`)) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	took := time.Since(sent)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitCancelled {
		t.Fatalf("exit: %v\n%s", err, out.String())
	}
	// How fast is a measurement, logged (about 0.2 s here); the bound only
	// catches a run that ignores Ctrl-C.
	t.Logf("stopped %v after SIGINT", took)
	if took > 15*time.Second {
		t.Errorf("took %v to stop after Ctrl-C", took)
	}
	evs, err := engine.ReadTranscriptFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	end, ok := evs[len(evs)-1].(*engine.RunEnded)
	if !ok || end.Status != engine.StatusCancelled {
		t.Fatalf("transcript ends with %T %+v", evs[len(evs)-1], evs[len(evs)-1])
	}
}

// --broker binds the team from live telemetry within the budget, the
// binding is recorded with its reasons, and the run's evidence lands in
// the quality store.
func TestRunWithBrokerLearns(t *testing.T) {
	host, _ := testServer(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "quality.json")
	tr := filepath.Join(dir, "run.jsonl")
	// Two rounds, so the broker is asked again between them.
	cfg := filepath.Join(dir, "two.toml")
	os.WriteFile(cfg, []byte(strings.Replace(tinyConfig, "min_rounds = 1", "min_rounds = 2", 1)), 0o644)
	code, out, errs := runCLI(context.Background(), "run", "--headless", "--broker", "--vram-budget", "1GiB", "--store", store,
		"--config", cfg, "--host", host, "--transcript", tr, "What is 6 times 7?")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "broker bound agent-1") {
		t.Errorf("binding not reported:\n%s", errs)
	}
	evs, err := engine.ReadTranscriptFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if b, ok := e.(*engine.BrokerReport); ok {
			t.Errorf("re-solving between rounds failed: %s", b.Message)
		}
		if r, ok := e.(*engine.RoundEnded); ok && r.Round == 2 && r.Continue {
			t.Error("min_rounds 2, max 2: round 2 should end the run")
		}
	}
	started := evs[0].(*engine.RunStarted)
	models := map[string]bool{}
	for _, a := range started.Agents {
		if a.BoundBy != "broker" || a.Reason == "" {
			t.Errorf("agent %+v not bound by the broker with a reason", a)
		}
		models[a.Model] = true
	}
	if len(models) < 2 {
		t.Errorf("the broker filled every role with one model: %+v", started.Agents)
	}
	b, err := os.ReadFile(store)
	if err != nil {
		t.Fatalf("quality store not written: %v", err)
	}
	for m := range models {
		if !strings.Contains(string(b), strings.TrimSuffix(m, ":latest")) {
			t.Errorf("store has no evidence for %s:\n%s", m, b)
		}
	}
	if !strings.Contains(string(b), `"tokens_per_sec"`) {
		t.Errorf("measured speeds not remembered:\n%s", b)
	}
	// A budget below any model is refused, naming the smallest that works.
	code, _, errs = runCLI(context.Background(), "run", "--headless", "--broker", "--vram-budget", "1KiB", "--store", store,
		"--config", writeConfig(t, ""), "--host", host, "q")
	if code == exitOK || !strings.Contains(errs, "--vram-budget") {
		t.Fatalf("tiny budget: exit %d, %s", code, errs)
	}
}

func TestExportTranscript(t *testing.T) {
	code, out, errs := runCLI(context.Background(), "export", "../../tui/demo/demo.jsonl")
	if code != exitOK || !strings.Contains(out, "## Round 1") || !strings.Contains(out, "**Answer**") {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	code, out, _ = runCLI(context.Background(), "export", "--format", "json", "../../tui/demo/demo.jsonl")
	if code != exitOK || !strings.HasPrefix(out, "{") {
		t.Fatalf("json export: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"v\":1,\"kind\":\"nonsense\"}\n{}\n"), 0o644)
	if code, _, errs := runCLI(context.Background(), "export", bad); code != exitUsage || !strings.Contains(errs, "line 1") {
		t.Fatalf("bad transcript: exit %d, %s", code, errs)
	}
}

func TestRunsListsAndResolves(t *testing.T) {
	dir := t.TempDir()
	demo, err := os.ReadFile("../../tui/demo/demo.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "20260101-000000-aaaaaa.jsonl"), demo, 0o644)
	// A run killed mid-write: only its first lines, the last one cut.
	lines := strings.SplitAfter(string(demo), "\n")
	cut := strings.Join(lines[:5], "") + lines[5][:len(lines[5])/2]
	os.WriteFile(filepath.Join(dir, "20260102-000000-bbbbbb.jsonl"), []byte(cut), 0o644)
	cfg := filepath.Join(dir, "nsed.toml")
	os.WriteFile(cfg, []byte("[transcript]\ndir = \""+dir+"\"\n"), 0o644)

	code, out, errs := runCLI(context.Background(), "runs", "--config", cfg)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 3 || !strings.Contains(rows[1], "unfinished") || !strings.Contains(rows[2], "completed (converged)") || !strings.Contains(rows[2], "bat and a ball") {
		t.Fatalf("runs:\n%s", out)
	}
	// Run ids and "last" resolve in the transcript directory.
	if p, err := resolveTranscript("last", cfg); err != nil || !strings.Contains(p, "bbbbbb") {
		t.Fatalf("last = %q, %v", p, err)
	}
	if p, err := resolveTranscript("20260101-000000-aaaaaa", cfg); err != nil || !strings.HasSuffix(p, "aaaaaa.jsonl") {
		t.Fatalf("by id = %q, %v", p, err)
	}
	if _, err := resolveTranscript("nope", cfg); err == nil || !strings.Contains(err.Error(), "nsed runs") {
		t.Fatalf("unknown id: %v", err)
	}
	// A cut transcript still exports what it has.
	if code, out, errs := runCLI(context.Background(), "export", filepath.Join(dir, "20260102-000000-bbbbbb.jsonl")); code != exitOK || !strings.Contains(out, "ends before the run did") {
		t.Fatalf("export of a cut transcript: exit %d %s\n%s", code, errs, out)
	}
}

// A transcript on a full disk (/dev/full fails every write) stops the run
// before any model answers, and the headless screen says so, naming the
// path: not "cancelled", which would read as the user's Ctrl-C.
func TestFullDiskShowsOnScreen(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	ol := fakeollama.New(t, map[string]fakeollama.Model{"m-a:1b": {}, "m-b:1b": {}})
	t.Setenv("OLLAMA_HOST", "")
	code, out, errs := runCLI(context.Background(), "run", "--headless", "--config", writeConfig(t, ""), "--host", ol.Host,
		"--models", "m-a:1b,m-b:1b", "--transcript", "/dev/full", "--store", filepath.Join(t.TempDir(), "q.json"), "What is 6*7?")
	if code == exitOK || code == exitCancelled {
		t.Errorf("exit %d: a run stopped for its transcript neither succeeded nor was cancelled by the user", code)
	}
	want := "stopped: transcript write failed: /dev/full: no space left on device"
	if !strings.Contains(out, want) || strings.Contains(out, "cancelled") || strings.Contains(out, "agent-1 failed") {
		t.Errorf("screen:\n%s\nwant %q, no \"cancelled\" and no agent blamed (stderr %q)", out, want, errs)
	}
}
