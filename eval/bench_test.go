package eval

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

func scriptedBench(t *testing.T, dir string, backend models.Backend) *Bench {
	t.Helper()
	items, _, hash, err := LoadDataset("sample:aime", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := engine.DefaultSettings()
	// Two rounds always, so every item has per-round dynamics: with one
	// round allowed, a panel whose random scripted reviews all endorse one
	// shared answer converges after round 1 (cluster conviction 1), and a
	// one-round run has no dynamics to check.
	s.MinRounds, s.MaxRounds = 2, 2
	s.Gate.Summarise = false
	return &Bench{
		Env: Env{Backend: backend, Settings: s, Agents: []engine.AgentInfo{
			{ID: "agent-1", Model: "m-a"}, {ID: "agent-2", Model: "m-b"}, {ID: "agent-3", Model: "m-c"}}},
		Items: items, Format: FormatAIME, Protocols: AllProtocols, Dataset: "sample:aime", DatasetHash: hash,
		OutDir: dir, Transcripts: true,
	}
}

// countingBackend counts calls per item, recognising the item by its problem text.
type countingBackend struct {
	models.Scripted
	mu    sync.Mutex
	items []Item
	calls map[string]int
}

func (c *countingBackend) Chat(ctx context.Context, req models.Request, on models.TokenFunc) (models.Response, error) {
	c.mu.Lock()
	for _, m := range req.Messages {
		for _, it := range c.items {
			if strings.Contains(m.Content, it.Problem) {
				c.calls[it.ID]++
			}
		}
	}
	c.mu.Unlock()
	return c.Scripted.Chat(ctx, req, on)
}

func TestBenchResumesWithoutRepeats(t *testing.T) {
	dir := t.TempDir()
	items, _, _, _ := LoadDataset("sample:aime", LoadOptions{})
	be := &countingBackend{items: items, calls: map[string]int{}}
	b := scriptedBench(t, dir, be)
	ctx, cancel := context.WithCancel(context.Background())
	b.OnItem = func(done, total int) {
		if done == 2 {
			cancel()
		}
	}
	res, err := b.Run(ctx)
	if !errors.Is(err, context.Canceled) || len(res) != 2 {
		t.Fatalf("first run: %d results, err %v; want 2 and cancelled", len(res), err)
	}
	first := map[string]int{}
	for k, v := range be.calls {
		first[k] = v
	}
	// A crash mid-write leaves half a line: it must be dropped, not kept.
	f, _ := os.OpenFile(filepath.Join(dir, ResultsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"index":2,"id":"s-3","protoc`)
	f.Close()

	b = scriptedBench(t, dir, be)
	res, err = b.Run(context.Background())
	if err != nil || len(res) != len(items) {
		t.Fatalf("resumed run: %d results, err %v", len(res), err)
	}
	lines, _ := readLines(filepath.Join(dir, ResultsFile))
	seen := map[string]int{}
	for _, r := range res {
		seen[r.ID]++
	}
	if len(lines) != len(items) || len(seen) != len(items) {
		t.Fatalf("%d lines, %d distinct items; want %d each", len(lines), len(seen), len(items))
	}
	for _, it := range items[:2] {
		if be.calls[it.ID] != first[it.ID] {
			t.Errorf("item %s ran again on resume (%d calls, %d before)", it.ID, be.calls[it.ID], first[it.ID])
		}
	}
	for _, r := range res {
		if len(r.Protocols) != 3+4 {
			t.Errorf("item %s has %d protocol results, want 7", r.ID, len(r.Protocols))
		}
		if n := r.Protocols[ProtoNSED]; n == nil || n.Status != engine.StatusCompleted || len(n.Rounds) == 0 {
			t.Errorf("item %s: nsed %+v", r.ID, n)
		}
	}
	// A different run in the same directory is refused.
	b = scriptedBench(t, dir, be)
	b.Protocols = []string{ProtoSingle}
	if _, err := b.Run(context.Background()); !errors.Is(err, ErrOtherRun) {
		t.Errorf("other run: err %v, want ErrOtherRun", err)
	}
	// Reports and plots.
	b = scriptedBench(t, dir, be)
	s := b.Summarize(res)
	if err := WriteReports(dir, s); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ReportMarkdown, ReportCSV, ReportJSON, PlotProtocols, PlotDynamics} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(data) < 50 {
			t.Errorf("%s: %d bytes, %v", name, len(data), err)
		}
		if strings.HasSuffix(name, ".png") && !strings.HasPrefix(string(data), "\x89PNG") {
			t.Errorf("%s is not a PNG", name)
		}
	}
	// The primary test is against the reference, the first agent by
	// default, whichever single agent did best.
	if s.BestSingle == "" || s.Reference != "single:agent-1" || len(s.Tests) == 0 || s.Tests[0].B != s.Reference || !s.Tests[0].Primary {
		t.Errorf("best single %q, reference %q, tests %+v", s.BestSingle, s.Reference, s.Tests)
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	t.Logf("\n%s", md)
	// Transcripts are the engine's format and read back.
	evs, err := engine.ReadTranscriptFile(filepath.Join(dir, "transcripts", "s-1", "debate.jsonl"))
	if err != nil || len(evs) < 3 {
		t.Fatalf("debate transcript: %d events, %v", len(evs), err)
	}
	if _, ok := evs[len(evs)-1].(*engine.RunEnded); !ok {
		t.Errorf("debate transcript ends with %T", evs[len(evs)-1])
	}
}

func TestPluralityAndMajority(t *testing.T) {
	rs := []Reply{{Agent: "a", Text: `\boxed{5}`}, {Agent: "b", Text: `\boxed{7}`}, {Agent: "c", Text: "FINAL ANSWER: 7"}, {Agent: "d", Err: errors.New("x"), Text: "7"}}
	if i := Plurality(rs, ExtractAIME); i != 1 {
		t.Errorf("plurality %d, want 1", i)
	}
	tie := []Reply{{Agent: "a", Text: "nothing"}, {Agent: "b", Text: "Answer: 3"}, {Agent: "c", Text: "Answer: 4"}}
	if i := Plurality(tie, ExtractAIME); i != 1 {
		t.Errorf("tie goes to the earliest agent with an answer: got %d", i)
	}
	o := Majority(rs, 0, ExtractAIME)
	if o.Winner != "b" || o.Calls != 4 {
		t.Errorf("majority %+v", o)
	}
}

func TestBenchLimitExtends(t *testing.T) {
	dir := t.TempDir()
	items, _, _, _ := LoadDataset("sample:aime", LoadOptions{})
	be := &countingBackend{items: items, calls: map[string]int{}}
	b := scriptedBench(t, dir, be)
	b.Protocols = []string{ProtoSingle, ProtoMajority}
	b.Items = items[:2]
	if res, err := b.Run(context.Background()); err != nil || len(res) != 2 {
		t.Fatalf("%d results, %v", len(res), err)
	}
	before := be.calls[items[0].ID]
	b = scriptedBench(t, dir, be)
	b.Protocols = []string{ProtoSingle, ProtoMajority}
	res, err := b.Run(context.Background())
	if err != nil || len(res) != len(items) || be.calls[items[0].ID] != before {
		t.Fatalf("extended: %d results, %v, item 1 calls %d→%d", len(res), err, before, be.calls[items[0].ID])
	}
	b.Items = items[:1] // a smaller limit reports only its items
	if res, err := b.Run(context.Background()); err != nil || len(res) != 1 {
		t.Fatalf("shrunk: %d results, %v", len(res), err)
	}
}

func TestSelfConsistencySamples(t *testing.T) {
	be := &models.Scripted{}
	env := Env{Backend: be, Settings: engine.DefaultSettings(), VoteSamples: 3,
		Agents: []engine.AgentInfo{{ID: "agent-1", Model: "a"}, {ID: "agent-2", Model: "b"}}}
	var evs []engine.Event
	sink := engine.SinkFunc(func(e engine.Event) { evs = append(evs, e) })
	first, wall := env.FirstRound(context.Background(), nil, "r1", "What is 6*7?")
	v := env.SelfConsistency(context.Background(), sink, "sc", "What is 6*7?", first, wall, ExtractAIME, NoTarget)
	o := v.Majority
	if len(v.Curve) != 3 || v.Curve[2].Calls != o.Calls || o.Samples != 3 {
		t.Errorf("curve %d points, majority %d samples; want 3 points ending at the majority's 3 samples", len(v.Curve), o.Samples)
	}
	if o.Calls != 6 || len(be.Calls()) != 6 || o.Winner == "" || o.Status != engine.StatusCompleted {
		t.Errorf("outcome %+v, %d backend calls; want 6 calls", o, len(be.Calls()))
	}
	var proposals int
	for _, e := range evs {
		if e.Header().Kind == engine.KindProposalDone {
			proposals++
		}
	}
	if proposals != 6 || evs[len(evs)-1].Header().Kind != engine.KindRunEnded {
		t.Errorf("%d proposal_done events (want 6), last %s", proposals, evs[len(evs)-1].Header().Kind)
	}
}

func TestBenchSamplesResumePerItemSample(t *testing.T) {
	dir := t.TempDir()
	items, _, _, _ := LoadDataset("sample:aime", LoadOptions{})
	items = items[:3]
	be := &countingBackend{items: items, calls: map[string]int{}}
	mk := func(k int) *Bench {
		b := scriptedBench(t, dir, be)
		b.Items, b.Samples = items, k
		b.Protocols = []string{ProtoSingle, ProtoNSED}
		seed := 7
		b.Env.Settings.Sampling.Propose.Seed = &seed
		return b
	}
	// One sample first; then K = 2 extends the run with sample 1 alone.
	if res, err := mk(1).Run(context.Background()); err != nil || len(res) != 3 {
		t.Fatalf("K=1: %d results, %v", len(res), err)
	}
	before := len(be.Calls())
	// Interrupt K = 2 after its first new run, then resume.
	b := mk(2)
	ctx, cancel := context.WithCancel(context.Background())
	b.OnItem = func(done, total int) {
		if done == 4 {
			cancel()
		}
	}
	if res, err := b.Run(ctx); !errors.Is(err, context.Canceled) || len(res) != 4 {
		t.Fatalf("interrupted K=2: %d results, %v; want 4 and cancelled", len(res), err)
	}
	res, err := mk(2).Run(context.Background())
	if err != nil || len(res) != 6 {
		t.Fatalf("resumed K=2: %d results, %v", len(res), err)
	}
	lines, _ := readLines(filepath.Join(dir, ResultsFile))
	seen := map[runKey]int{}
	for _, l := range lines {
		var r ItemResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		seen[runKey{r.ID, r.Sample}]++
	}
	for _, it := range items {
		for s := range 2 {
			if seen[runKey{it.ID, s}] != 1 {
				t.Errorf("%s sample %d recorded %d times, want once", it.ID, s, seen[runKey{it.ID, s}])
			}
		}
	}
	// Sample 0's proposals had seed 7; every proposal since had 8 (sample
	// 1's shifted seed): sample 0 never ran again.
	seeds := map[bool]map[int]int{true: {}, false: {}}
	for i, req := range be.Calls() {
		if req.Options.Seed != nil && len(req.Format) == 0 {
			seeds[i < before][*req.Options.Seed]++
		}
	}
	if len(seeds[true]) != 1 || seeds[true][7] == 0 || len(seeds[false]) != 1 || seeds[false][8] == 0 {
		t.Errorf("proposal seeds of sample 0 %v, since %v; want only 7, then only 8", seeds[true], seeds[false])
	}
	if _, err := os.Stat(filepath.Join(dir, "transcripts", items[0].ID, "nsed-s1.jsonl")); err != nil {
		t.Errorf("sample 1 has no transcript of its own: %v", err)
	}
	var m Manifest
	data, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err := json.Unmarshal(data, &m); err != nil || m.Samples != 2 {
		t.Errorf("manifest samples %d, %v; want 2", m.Samples, err)
	}
	if s := mk(2).Summarize(res); s.Samples != 2 || s.Items != 3 || s.Tests[0].Test != "sign-exact" {
		t.Errorf("summary: %d samples, %d items, test %q", s.Samples, s.Items, s.Tests[0].Test)
	}
}

func TestSampleEnvShiftsSeedsWithoutAliasing(t *testing.T) {
	seed, agentSeed := 3, 40
	env := Env{Settings: engine.DefaultSettings(), Agents: []engine.AgentInfo{
		{ID: "a", Options: &engine.AgentOptions{Seed: &agentSeed}}, {ID: "b"}}}
	env.Settings.Seed = 100
	env.Settings.Sampling.Review.Seed = &seed
	got := SampleEnv(env, 2)
	if got.Settings.Seed != 102 || *got.Settings.Sampling.Review.Seed != 5 || got.Settings.Sampling.Propose.Seed != nil ||
		*got.Agents[0].Options.Seed != 42 || got.Agents[1].Options != nil {
		t.Errorf("sample 2: seed %d, review %v, agent %d", got.Settings.Seed, *got.Settings.Sampling.Review.Seed, *got.Agents[0].Options.Seed)
	}
	if env.Settings.Seed != 100 || seed != 3 || agentSeed != 40 || *env.Agents[0].Options.Seed != 40 {
		t.Error("SampleEnv changed the env it was given")
	}
}

// A round in which no agent gave an answer still records every agent (all
// wrong), so conformity counts its pairs; before, such rounds had none.
func TestScoreRecordsAgentsOfAnswerlessRounds(t *testing.T) {
	b := &Bench{Format: FormatAIME, Env: Env{Agents: []engine.AgentInfo{{ID: "a1"}, {ID: "a2"}}}}
	it := Item{ID: "x", Answer: "7"}
	round := func(n int, t1, t2 string) []Reply {
		// Listed out of the team's order, as NSED's proposals finish.
		return []Reply{{Agent: "a2", Round: n, Text: t2}, {Agent: "a1", Round: n, Text: t1}}
	}
	o := Outcome{Protocol: ProtoDebate, Status: engine.StatusCompleted, Text: "no idea",
		Rounds: [][]Reply{round(1, "hmm", "no idea"), round(2, "FINAL ANSWER: 7", "no idea")}}
	pr, err := b.score(context.Background(), it, o, ExtractAIME)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Rounds) != 2 || len(pr.Rounds[0].Agents) != 2 || pr.Rounds[0].Agents[0].Agent != "a1" {
		t.Fatalf("rounds %+v", pr.Rounds)
	}
	if got := pr.Rounds[1].Agents[0]; got.Answer != "7" || !got.Hit || pr.Rounds[1].Answer != "7" || !pr.Rounds[1].Hit {
		t.Errorf("round 2: %+v", pr.Rounds[1])
	}
}

// A bench whose transcripts cannot be written never runs unrecorded: a
// transcript directory that cannot be made refuses the bench before any
// model is called, and a full disk (/dev/full behind an item's transcript)
// stops it at the first failed write, naming the file, with the item not
// recorded as done.
func TestBenchTranscriptWriteErrors(t *testing.T) {
	items, _, _, _ := LoadDataset("sample:aime", LoadOptions{})

	t.Run("unwritable dir", func(t *testing.T) {
		dir := t.TempDir()
		blocker := filepath.Join(dir, "transcripts")
		if err := os.WriteFile(blocker, nil, 0o600); err != nil { // a file where the directory goes
			t.Fatal(err)
		}
		be := &countingBackend{items: items, calls: map[string]int{}}
		res, err := scriptedBench(t, dir, be).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), blocker) || !strings.Contains(err.Error(), "--no-transcripts") {
			t.Fatalf("err = %v, want a refusal naming %s and the way out", err, blocker)
		}
		if len(res) != 0 || len(be.calls) != 0 {
			t.Errorf("ran %d items, called models for %v before refusing", len(res), be.calls)
		}
	})

	for _, proto := range []string{"first-round", ProtoNSED} {
		t.Run("full disk at "+proto, func(t *testing.T) {
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skip("no /dev/full here")
			}
			dir := t.TempDir()
			full := filepath.Join(dir, "transcripts", items[0].ID, proto+".jsonl")
			if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/dev/full", full); err != nil {
				t.Fatal(err)
			}
			be := &countingBackend{items: items, calls: map[string]int{}}
			res, err := scriptedBench(t, dir, be).Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), full) || !strings.Contains(err.Error(), "no space left on device") {
				t.Fatalf("err = %v, want it to name %s and the full disk", err, full)
			}
			if len(res) != 0 {
				t.Errorf("%d items recorded as done", len(res))
			}
			if lines, _ := readLines(filepath.Join(dir, ResultsFile)); len(lines) != 0 {
				t.Errorf("results.jsonl has %d lines", len(lines))
			}
			if n := be.calls[items[1].ID]; n != 0 {
				t.Errorf("the bench went on to the next item (%d calls)", n)
			}
		})
	}
}
