package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// ollamaEnv returns the test server and models, or skips.
func ollamaEnv(t *testing.T) (*models.Ollama, string, []string) {
	t.Helper()
	host, list := os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_MODELS")
	if host == "" || list == "" {
		t.Skip("NSED_TEST_OLLAMA_HOST and NSED_TEST_MODELS are unset (see .ci/ollama.sh)")
	}
	names := strings.Split(list, ",")
	if len(names) < 2 {
		t.Skip("NSED_TEST_MODELS needs at least 2 models")
	}
	o, err := models.NewOllama(host)
	if err != nil {
		t.Fatal(err)
	}
	return o, host, names
}

// TestOllamaBenchEndToEnd runs every protocol on each shipped sample
// against the real server, interrupts it after the first item, resumes,
// and checks the checkpoint, reports, plots and transcripts.
func TestOllamaBenchEndToEnd(t *testing.T) {
	o, host, names := ollamaEnv(t)
	for _, sample := range SampleNames {
		if sample == "arithmetic" { // the AIME layout again
			continue
		}
		t.Run(sample, func(t *testing.T) {
			items, _, hash, err := LoadDataset(SamplePrefix+sample, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			items = items[:2]
			s := engine.DefaultSettings()
			s.MinRounds, s.MaxRounds = 1, 2
			s.Gate.Summarise = false
			s.Sampling.Propose.NumPredict = 40
			s.Sampling.Review.NumPredict = 600 // whole JSON reviews from the tiny models: with fewer, two of three abstain and the round loses its quorum
			s.Sampling.Summary.NumPredict = 40
			var agents []engine.AgentInfo
			for i, m := range names[:min(3, len(names))] {
				agents = append(agents, engine.AgentInfo{ID: "agent-" + string(rune('1'+i)), Model: m, Host: host})
			}
			dir := t.TempDir()
			mk := func() *Bench {
				b := &Bench{Env: Env{Backend: o, Agents: agents, Settings: s}, Items: items, Format: items[0].Format,
					Protocols: AllProtocols, Dataset: SamplePrefix + sample, DatasetHash: hash, OutDir: dir, Transcripts: true}
				switch b.Format {
				case FormatLCB:
					b.Sandbox = &Sandbox{Limits: Limits{Wall: 5 * time.Second, CPU: 3 * time.Second}}
				case FormatDarkBench:
					b.Judge = &Judge{Backend: o, Agent: engine.AgentInfo{ID: "judge", Model: names[0], Host: host}, NumPredict: 160}
				}
				return b
			}
			start := time.Now()
			ctx, cancel := context.WithCancel(context.Background())
			b := mk()
			b.OnItem = func(done, total int) { cancel() } // interrupt after the first item
			res, err := b.Run(ctx)
			cancel()
			if !errors.Is(err, context.Canceled) || len(res) != 1 {
				t.Fatalf("interrupted run: %d results, err %v", len(res), err)
			}
			res, err = mk().Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: 2 items, every protocol, in %s", sample, time.Since(start).Round(100*time.Millisecond))
			lines, _ := readLines(filepath.Join(dir, ResultsFile))
			seen := map[string]bool{}
			for _, r := range res {
				if seen[r.ID] {
					t.Errorf("item %s recorded twice", r.ID)
				}
				seen[r.ID] = true
			}
			if len(lines) != 2 || len(seen) != 2 {
				t.Fatalf("%d result lines, %d distinct items; want 2", len(lines), len(seen))
			}
			want := []string{"single:agent-1", "single:agent-2", ProtoDebate, ProtoMoA, ProtoNSED}
			if items[0].Format != FormatDarkBench {
				want = append(want, ProtoMajority)
			}
			for _, r := range res {
				for _, p := range want {
					pr := r.Protocols[p]
					if pr == nil {
						t.Errorf("item %s: no %s result", r.ID, p)
						continue
					}
					if pr.Status != engine.StatusCompleted || pr.OutputTokens == 0 {
						t.Errorf("item %s %s: status %s, %d output tokens, error %q", r.ID, p, pr.Status, pr.OutputTokens, pr.Error)
					}
				}
			}
			sum := mk().Summarize(res)
			if err := WriteReports(dir, sum); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{ReportMarkdown, ReportCSV, ReportJSON, PlotProtocols} {
				if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s missing or empty: %v", f, err)
				}
			}
			evs, err := engine.ReadTranscriptFile(filepath.Join(dir, "transcripts", items[0].ID, "nsed.jsonl"))
			if err != nil || len(evs) == 0 {
				t.Fatalf("nsed transcript: %v", err)
			}
			if end, ok := evs[len(evs)-1].(*engine.RunEnded); !ok || end.Status != engine.StatusCompleted {
				t.Errorf("nsed transcript ends with %#v", evs[len(evs)-1])
			}
		})
	}
}
