package eval

import (
	"context"
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
	if s.BestSingle == "" || len(s.Tests) == 0 || s.Tests[0].B != s.BestSingle {
		t.Errorf("best single %q, tests %+v", s.BestSingle, s.Tests)
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
	o := env.SelfConsistency(context.Background(), sink, "sc", "What is 6*7?", first, wall, ExtractAIME)
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
