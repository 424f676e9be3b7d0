package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// said is a reply with a given answer (none for "") and cost.
func said(agent, answer string, tokens int) Reply {
	text := "I could not decide."
	if answer != "" {
		text = "Work.\nFINAL ANSWER: " + answer
	}
	return Reply{Agent: agent, Text: text, Resp: models.Response{PromptTokens: tokens / 2, OutputTokens: tokens - tokens/2}}
}

func failed(agent string, tokens int) Reply {
	r := said(agent, "", tokens)
	r.Err = errors.New("lost")
	return r
}

// TestSamplesCurve: majority@k over scripted rounds, its cost, and the
// documented tie rule (the answer given first: earliest round, then agent).
func TestSamplesCurve(t *testing.T) {
	s := Samples{
		Rounds: [][]Reply{
			{said("a", "5", 10), said("b", "7", 20), said("c", "7", 30)},
			{said("a", "5", 10), said("b", "5", 10), said("c", "9", 10)},
			{failed("a", 4), said("b", "9", 10), said("c", "9", 10)},
			{said("a", "", 10), said("b", "7", 10), said("c", "", 10)},
		},
		Walls: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second},
	}
	cases := []struct {
		k              int
		answer, winner string
		tokens, calls  int
		wall           time.Duration
	}{
		{1, "7", "b", 60, 3, time.Second},        // 7 twice, 5 once
		{2, "5", "a", 90, 6, 3 * time.Second},    // 5 three times, 7 twice: round 1's agent a
		{3, "5", "a", 114, 9, 6 * time.Second},   // 5 ×3, 9 ×3, 7 ×2: the tie goes to 5, said first; a's failure doesn't vote but costs
		{4, "5", "a", 144, 12, 10 * time.Second}, // 5, 7 and 9 three times each: 5, said first (round 1, agent a)
	}
	for _, c := range cases {
		o := s.Vote(c.k, ExtractAIME)
		if got := ExtractAIME(o.Text); got != c.answer || o.Winner != c.winner {
			t.Errorf("k=%d: answer %q by %s, want %q by %s", c.k, got, o.Winner, c.answer, c.winner)
		}
		if o.Protocol != MajorityAt(c.k) || o.Samples != c.k || o.PromptTokens+o.OutputTokens != c.tokens || o.Calls != c.calls || o.Wall != c.wall {
			t.Errorf("k=%d: %s, %d samples, %d tokens, %d calls, wall %s; want %s, %d, %d, %d, %s",
				c.k, o.Protocol, o.Samples, o.PromptTokens+o.OutputTokens, o.Calls, o.Wall, MajorityAt(c.k), c.k, c.tokens, c.calls, c.wall)
		}
		if s.Tokens(c.k) != c.tokens {
			t.Errorf("Tokens(%d) = %d, want %d", c.k, s.Tokens(c.k), c.tokens)
		}
	}
	matched := []struct{ target, k int }{
		{-5, 1}, {0, 1}, {60, 1}, {61, 2}, {90, 2}, {91, 3}, {144, 4}, {145, 4}, {1 << 20, 4},
	}
	for _, c := range matched {
		if k := s.Matched(c.target); k != c.k {
			t.Errorf("Matched(%d) = %d, want %d", c.target, k, c.k)
		}
	}
	// Nobody answered: the first reply stands, unscored as any other.
	none := Samples{Rounds: [][]Reply{{said("a", "", 1), failed("b", 1)}}, Walls: []time.Duration{0}}
	if o := none.Vote(1, ExtractAIME); o.Winner != "a" || o.Calls != 2 {
		t.Errorf("no answers: %+v", o)
	}
}

// counted answers each free-text call with the next of a sequence of
// answers (per model), so every sample is a new draw, and sends a review
// schema's sample to structured calls.
type counted struct {
	mu   sync.Mutex
	next map[string]int
	fail func(n int) bool // the n-th call (1-based, all models) fails
	n    int
}

func (c *counted) reply(req models.Request) (string, error) {
	if len(req.Format) > 0 {
		return models.DefaultReply(req)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == nil {
		c.next = map[string]int{}
	}
	c.n++
	if c.fail != nil && c.fail(c.n) {
		return "", fmt.Errorf("call %d fails", c.n)
	}
	c.next[req.Model]++
	return fmt.Sprintf("Reply %s-%d.\nFINAL ANSWER: %d", req.Model, c.next[req.Model], 40+c.next[req.Model]%3), nil
}

func threeAgents() []engine.AgentInfo {
	return []engine.AgentInfo{{ID: "agent-1", Model: "m-a"}, {ID: "agent-2", Model: "m-b"}, {ID: "agent-3", Model: "m-c"}}
}

// TestSelfConsistencyReachesTarget: matched to a target, majority's
// tokens reach it within one sample round (the round before falls short),
// every item draws all MaxSamples rounds for the curve, and the transcript
// holds every round and ends with the matched majority's answer.
func TestSelfConsistencyReachesTarget(t *testing.T) {
	q := "What is 6*7?"
	for _, target := range []int{0, 1, 150, 400, 700, 1 << 20} {
		t.Run(fmt.Sprint(target), func(t *testing.T) {
			c := &counted{}
			be := &models.Scripted{Reply: c.reply}
			env := Env{Backend: be, Settings: engine.DefaultSettings(), Agents: threeAgents(), MaxSamples: 5, VoteSamples: 2}
			rec := &events{}
			first, wall := env.FirstRound(context.Background(), nil, "r1", q)
			v := env.SelfConsistency(context.Background(), rec, "sc", q, first, wall, ExtractAIME, target)
			m := v.Majority
			if len(v.Curve) != 5 || len(be.Calls()) != 15 {
				t.Fatalf("%d curve points, %d calls; want 5 and 15 (MaxSamples rounds, not VoteSamples)", len(v.Curve), len(be.Calls()))
			}
			k := m.Samples
			tokens := func(o Outcome) int { return o.PromptTokens + o.OutputTokens }
			if k < 1 || k > 5 || tokens(m) != tokens(v.Curve[k-1]) || m.Winner != v.Curve[k-1].Winner || m.Protocol != ProtoMajority {
				t.Fatalf("majority %+v is not the curve's point k=%d", m, k)
			}
			if k < 5 && tokens(m) < target {
				t.Errorf("k=%d: %d tokens, short of %d", k, tokens(m), target)
			}
			if k > 1 && tokens(v.Curve[k-2]) >= target {
				t.Errorf("k=%d: k-1 samples (%d tokens) already reach %d", k, tokens(v.Curve[k-2]), target)
			}
			if target >= 1<<20 && k != 5 {
				t.Errorf("an unreachable target takes the cap: k=%d", k)
			}
			short := tokens(m) < target
			phases := 0
			var end *engine.RunEnded
			for _, e := range rec.evs {
				switch e := e.(type) {
				case *engine.PhaseStarted:
					phases++
				case *engine.RunEnded:
					end = e
				}
			}
			if phases != 5 || end == nil || end.Rounds != 5 || end.Winner != m.Winner || end.Answer != engine.ExtractAnswer(m.Text) ||
				end.PromptTokens+end.OutputTokens != tokens(v.Curve[4]) {
				t.Errorf("transcript: %d phases, run_ended %+v; want 5 rounds, the matched answer, every round's tokens", phases, end)
			}
			if end != nil && strings.Contains(end.Reason, "fall short") != short {
				t.Errorf("run_ended's reason %q, %d tokens against %d", end.Reason, tokens(m), target)
			}
		})
	}
}

// TestSamplesAreNewDraws: with a fixed seed, each sample round asks with
// another seed, or every sample would repeat the first answer.
func TestSamplesAreNewDraws(t *testing.T) {
	be := &models.Scripted{}
	seed := 7
	agents := threeAgents()
	agents[0].Options = &engine.AgentOptions{Seed: &seed}
	s := engine.DefaultSettings()
	phaseSeed := 100
	s.Sampling.Propose.Seed = &phaseSeed
	env := Env{Backend: be, Settings: s, Agents: agents, VoteSamples: 3}
	first, wall := env.FirstRound(context.Background(), nil, "r1", "q")
	env.SelfConsistency(context.Background(), nil, "sc", "q", first, wall, ExtractAIME, NoTarget)
	seeds := map[string][]int{}
	for _, c := range be.Calls() {
		seeds[c.Model] = append(seeds[c.Model], *c.Options.Seed)
	}
	for model, want := range map[string][]int{"m-a": {7, 8, 9}, "m-b": {100, 101, 102}} {
		got := seeds[model]
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: seeds %v, want %v", model, got, want)
		}
	}
	if seed != 7 || phaseSeed != 100 {
		t.Errorf("the settings' seeds changed: %d, %d", seed, phaseSeed)
	}
}

// TestMoALayers: each proposer layer sees the previous layer's answers as
// references, the aggregator the last layer's; a layer where every call
// failed leaves the references as they were.
func TestMoALayers(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(n int) bool
		// refs[l] is which calls' replies layer l+2's prompts (the last:
		// the aggregator's) quote, by call number.
		status string
	}{
		{"all answer", nil, engine.StatusCompleted},
		{"layer 2 fails", func(n int) bool { return n >= 4 && n <= 6 }, engine.StatusCompleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &counted{fail: tc.fail}
			be := &models.Scripted{Reply: c.reply}
			env := Env{Backend: be, Settings: engine.DefaultSettings(), Agents: threeAgents(), MoALayers: 3, Aggregator: 1}
			rec := &events{}
			first, wall := env.FirstRound(context.Background(), nil, "r1", "q")
			o := env.MoA(context.Background(), rec, "moa", "q", first, wall)
			calls := be.Calls()
			if len(calls) != 3+3+3+1 || o.Calls != 10 || o.Status != tc.status || o.Winner != "agent-2" || len(o.Rounds) != 3 {
				t.Fatalf("%d calls, outcome %d calls, status %s, winner %s, %d layers", len(calls), o.Calls, o.Status, o.Winner, len(o.Rounds))
			}
			// The layers run one after the other, so calls 1–3, 4–6, 7–9
			// are layers 1, 2, 3 and call 10 the aggregator.
			layer := func(n int) []Reply { return o.Rounds[n-1] }
			quotes := func(call int, rs []Reply) bool {
				sys := calls[call-1].Messages[0].Content
				for _, r := range rs {
					if r.Err == nil && !strings.Contains(sys, r.Text) {
						return false
					}
				}
				return strings.Contains(sys, "aggregator")
			}
			refs2 := layer(2)
			if tc.fail != nil {
				refs2 = layer(1) // layer 2 gave nothing: layer 3 sees layer 1
			}
			for call := 4; call <= 6; call++ {
				if !quotes(call, layer(1)) {
					t.Errorf("call %d (layer 2) does not quote layer 1", call)
				}
			}
			for call := 7; call <= 9; call++ {
				if !quotes(call, refs2) {
					t.Errorf("call %d (layer 3) does not quote its references", call)
				}
			}
			if !quotes(10, layer(3)) || strings.Contains(calls[9].Messages[0].Content, layer(1)[0].Text) {
				t.Errorf("the aggregator does not quote layer 3 alone:\n%s", calls[9].Messages[0].Content)
			}
			if calls[9].Model != "m-b" {
				t.Errorf("aggregator model %s, want agent-2's", calls[9].Model)
			}
			rounds := map[int]int{}
			var end *engine.RunEnded
			for _, e := range rec.evs {
				switch e := e.(type) {
				case *engine.PhaseStarted:
					rounds[e.Round]++
				case *engine.RunEnded:
					end = e
				}
			}
			if len(rounds) != 4 || end == nil || end.Rounds != 4 || end.Winner != "agent-2" {
				t.Errorf("phases by round %v, run_ended %+v; want rounds 1–4 (3 layers, then the aggregator)", rounds, end)
			}
		})
	}
}

// TestBenchMatchesNSED: a bench with NSED and matched majority records
// majority@1…K and the matched majority with its k on every item, whose
// tokens reach NSED's within one round; reports order the curve by k;
// resuming with other matching or MoA settings is refused.
func TestBenchMatchesNSED(t *testing.T) {
	dir := t.TempDir()
	// NSED's reviews quote every proposal: two rounds cost some 30 of
	// the scripted answers per agent.
	const K = 48
	mk := func() *Bench {
		c := &counted{}
		b := scriptedBench(t, dir, &models.Scripted{Reply: c.reply})
		b.Items = b.Items[:2]
		b.Protocols = []string{ProtoSingle, ProtoMajority, ProtoNSED}
		b.Env.MatchTokens, b.Env.MaxSamples = true, K
		return b
	}
	res, err := mk().Run(context.Background())
	if err != nil || len(res) != 2 {
		t.Fatalf("%d results, %v", len(res), err)
	}
	for _, r := range res {
		n, m := r.Protocols[ProtoNSED], r.Protocols[ProtoMajority]
		if n == nil || m == nil {
			t.Fatalf("item %s: nsed %v, majority %v", r.ID, n, m)
		}
		for k := 1; k <= K; k++ {
			if r.Protocols[MajorityAt(k)] == nil || r.Protocols[MajorityAt(k)].Samples != k {
				t.Errorf("item %s: %s missing or without its k", r.ID, MajorityAt(k))
			}
		}
		tok := func(p *ProtocolResult) int { return p.PromptTokens + p.OutputTokens }
		k := m.Samples
		if k < 1 || k > K || tok(m) != tok(r.Protocols[MajorityAt(k)]) {
			t.Fatalf("item %s: majority %d samples, %d tokens", r.ID, k, tok(m))
		}
		if k == K || tok(m) < tok(n) || k > 1 && tok(r.Protocols[MajorityAt(k-1)]) >= tok(n) {
			t.Errorf("item %s: majority k=%d costs %d tokens, NSED %d; want the first k to reach it, short of the cap", r.ID, k, tok(m), tok(n))
		}
		t.Logf("item %s: NSED %d tokens; majority k=%d, %d tokens", r.ID, tok(n), k, tok(m))
		order := sortedProtocols(r.Protocols)
		want := []string{"single:agent-1", "single:agent-2", "single:agent-3", ProtoMajority}
		for k := 1; k <= K; k++ {
			want = append(want, MajorityAt(k))
		}
		if want = append(want, ProtoNSED); !slices.Equal(order, want) {
			t.Errorf("report order %v, want %v", order, want)
		}
	}
	var man map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err := json.Unmarshal(data, &man); err != nil || man["match_tokens"] != true || man["max_samples"] != float64(K) {
		t.Errorf("manifest %s", data)
	}
	for name, change := range map[string]func(*Bench){
		"match-tokens=false": func(b *Bench) { b.Env.MatchTokens = false },
		"max-samples 4":      func(b *Bench) { b.Env.MaxSamples = 4 },
		"moa-layers 2":       func(b *Bench) { b.Env.MoALayers = 2 },
		"debate-rounds 3":    func(b *Bench) { b.Env.DebateRounds = 3 },
	} {
		b := mk()
		change(b)
		if _, err := b.Run(context.Background()); !errors.Is(err, ErrOtherRun) {
			t.Errorf("resumed with %s: %v, want ErrOtherRun", name, err)
		}
	}
	if res, err := mk().Run(context.Background()); err != nil || len(res) != 2 {
		t.Errorf("resumed with the same settings: %d results, %v", len(res), err)
	}
}

// TestCurveOrder: majority@k sorts after majority by k as a number.
func TestCurveOrder(t *testing.T) {
	m := map[string]*ProtocolResult{}
	for _, p := range []string{ProtoNSED, "majority@10", "majority@2", ProtoMajority, "majority@1", ProtoDebate, "single:agent-1"} {
		m[p] = nil
	}
	want := []string{"single:agent-1", ProtoMajority, "majority@1", "majority@2", "majority@10", ProtoDebate, ProtoNSED}
	if got := sortedProtocols(m); !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

// TestOllamaMatchedMajority runs majority vote matched to NSED on one item
// against the real server's tiny models: results.jsonl holds majority@1…3
// and the matched majority with its k, and the majority transcript holds
// every sample round.
func TestOllamaMatchedMajority(t *testing.T) {
	o, host, names := ollamaEnv(t)
	items, _, hash, err := LoadDataset(SamplePrefix+"aime", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	s.Gate.Summarise = false
	s.Sampling.Propose.NumPredict = 24
	s.Sampling.Review.NumPredict = 160
	var agents []engine.AgentInfo
	for i, m := range names[:min(3, len(names))] {
		agents = append(agents, engine.AgentInfo{ID: fmt.Sprintf("agent-%d", i+1), Model: m, Host: host})
	}
	// NSED's one round (proposals, then reviews quoting them) costs some
	// 15 rounds of answers here: K leaves room to match it.
	const K = 30
	dir := t.TempDir()
	b := &Bench{Env: Env{Backend: o, Agents: agents, Settings: s, MatchTokens: true, MaxSamples: K}, Items: items[:1], Format: FormatAIME,
		Protocols: []string{ProtoMajority, ProtoNSED}, Dataset: SamplePrefix + "aime", DatasetHash: hash, OutDir: dir, Transcripts: true}
	start := time.Now()
	if _, err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("1 item, majority matched to nsed, in %s", time.Since(start).Round(100*time.Millisecond))
	lines, err := readLines(filepath.Join(dir, ResultsFile))
	if err != nil || len(lines) != 1 {
		t.Fatalf("%d result lines, %v", len(lines), err)
	}
	var r struct {
		Protocols map[string]struct {
			Samples      int    `json:"samples"`
			PromptTokens int    `json:"prompt_tokens"`
			OutputTokens int    `json:"output_tokens"`
			Calls        int    `json:"calls"`
			Status       string `json:"status"`
		} `json:"protocols"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= K; k++ {
		p, ok := r.Protocols[MajorityAt(k)]
		if !ok || p.Samples != k || p.Calls != k*len(agents) || p.Status != engine.StatusCompleted {
			t.Errorf("%s: %+v (present %v)", MajorityAt(k), p, ok)
		}
	}
	m, n := r.Protocols[ProtoMajority], r.Protocols[ProtoNSED]
	tok := m.PromptTokens + m.OutputTokens
	if m.Samples < 1 || m.Samples >= K || tok != r.Protocols[MajorityAt(m.Samples)].PromptTokens+r.Protocols[MajorityAt(m.Samples)].OutputTokens {
		t.Errorf("majority %+v", m)
	}
	if prev := r.Protocols[MajorityAt(m.Samples-1)]; tok < n.PromptTokens+n.OutputTokens || m.Samples > 1 && prev.PromptTokens+prev.OutputTokens >= n.PromptTokens+n.OutputTokens {
		t.Errorf("majority k=%d: %d tokens; NSED's %d are not reached first at k", m.Samples, tok, n.PromptTokens+n.OutputTokens)
	}
	t.Logf("NSED %d tokens; majority k=%d, %d tokens", n.PromptTokens+n.OutputTokens, m.Samples, tok)
	evs, err := engine.ReadTranscriptFile(filepath.Join(dir, "transcripts", items[0].ID, ProtoMajority+".jsonl"))
	if err != nil || len(evs) == 0 {
		t.Fatalf("majority transcript: %d events, %v", len(evs), err)
	}
	if end, ok := evs[len(evs)-1].(*engine.RunEnded); !ok || end.Rounds != K {
		t.Errorf("majority transcript ends with %+v, want run_ended after K rounds", evs[len(evs)-1])
	}
}
