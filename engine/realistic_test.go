package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/eval"
	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/nsed/nsed/models"
	"github.com/ollama/ollama/api"
)

// A deliberation through the real path (models.Ollama against an Ollama-API
// server) with models that write like real ones — several kB of worked
// reasoning, a code block near the end, the answer last — and review as
// honest verifiers of what they are shown. Two agents give the same wrong
// answer, one the right one: majority vote crowns the wrong answer, NSED
// must crown the right one, and every reviewer must have seen every
// candidate's answer and code.

const (
	rightAnswer  = "144"
	wrongAnswer  = "89"
	realQuestion = "How many binary strings of length 11 have no two consecutive ones? Give the count."
)

// realisticProposal is ~5 kB of step-by-step reasoning, a Python block with
// the constructs the old neutraliser broke, then the answer line.
func realisticProposal(model string, seed int, answer string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Let me set up the recurrence carefully (%s's working).\n\n", model)
	for i := 1; b.Len() < 5000; i++ {
		fmt.Fprintf(&b, "Step %d: strings of length %d either end in 0 (any valid string of length %d, then 0) or in 01; the count so far is checked against a brute-force table, and the shift 1 << %d enumerates all %d-bit masks for the check.\n", i, i+seed, i+seed-1, i, i)
		if i%5 == 0 {
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "\nHere is the check I ran, mask by mask:\n\n```python\ndef count(n, k=%d):\n    total = 0\n    dp = [[0]*n for _ in range(n)]\n    candidates = []\n    for mask in range(1 << n):\n        if mask & (mask >> 1) == 0:\n            candidates.append(mask)\n    return len(candidates)\n```\n", seed)
	fmt.Fprintf(&b, "\nRunning it for n = 11 gives the count directly, and it agrees with the recurrence.\n\nFINAL ANSWER: %s", answer)
	return b.String()
}

// solutionOf is the part every reviewer must see verbatim: the code block
// through the answer line.
func solutionOf(proposal string) string { return proposal[strings.Index(proposal, "```python"):] }

var (
	candBegin = regexp.MustCompile(`(?m)^<<BEGIN Candidate ([A-Z])((?: [0-9a-f]+)?)>>$`)
	finalLine = regexp.MustCompile(`FINAL ANSWER: (\S+)`)
)

// honestReview scores every label the schema asks for: +85 when the
// candidate's shown text ends on the right answer, -80 on a wrong one, 0
// when no answer is visible.
func honestReview(req *api.ChatRequest) string {
	var schema struct {
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(req.Format, &schema)
	prompt := fakeollama.Prompt(req)
	shown := map[string]string{}
	for _, m := range candBegin.FindAllStringSubmatchIndex(prompt, -1) {
		label, suffix := prompt[m[2]:m[3]], prompt[m[4]:m[5]]
		rest := prompt[m[1]:]
		if end := strings.Index(rest, "\n<<END Candidate "+label+suffix+">>"); end >= 0 {
			shown[label] = rest[:end]
		}
	}
	out := map[string]any{}
	for _, label := range schema.Required {
		w, stance := 0, "neutral"
		if ms := finalLine.FindAllStringSubmatch(shown[label], -1); len(ms) > 0 {
			if ms[len(ms)-1][1] == rightAnswer {
				w, stance = 85, "support"
			} else {
				w, stance = -80, "oppose"
			}
		}
		out[label] = map[string]any{"weight": w, "stance": stance, "claims": []any{}, "critique": "checked the final answer"}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func TestRealisticMinorityRecovered(t *testing.T) {
	proposals := map[string]string{
		"alpha:8b": realisticProposal("alpha", 1, wrongAnswer),
		"beta:8b":  realisticProposal("beta", 2, wrongAnswer),
		"gamma:8b": realisticProposal("gamma", 3, rightAnswer),
	}
	fake := map[string]fakeollama.Model{}
	for name, text := range proposals {
		fake[name] = fakeollama.Model{Respond: func(req *api.ChatRequest) fakeollama.Reply {
			switch p := fakeollama.Prompt(req); {
			case len(req.Format) > 0 && strings.Contains(p, "Phase: SUMMARISE"):
				return fakeollama.Reply{Content: `{"summary":"the candidates disagree on the count"}`}
			case len(req.Format) > 0:
				return fakeollama.Reply{Content: honestReview(req)}
			default:
				return fakeollama.Reply{Content: text}
			}
		}}
	}
	srv := fakeollama.New(t, fake)
	o, err := models.NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	agents := []engine.AgentInfo{
		{ID: "agent-1", Role: "solver", Model: "alpha:8b"},
		{ID: "agent-2", Role: "critic", Model: "beta:8b"},
		{ID: "agent-3", Role: "synthesiser", Model: "gamma:8b"},
	}
	s := engine.DefaultSettings()
	s.Roles = map[string]engine.Role{"solver": {}, "critic": {}, "synthesiser": {}}
	s.MinRounds, s.MaxRounds = 1, 2
	s.Sampling.Propose.NumPredict = 2048 // a 5 kB proposal is ~1,300 tokens

	var mu sync.Mutex
	var evs []engine.Event
	sink := engine.SinkFunc(func(e engine.Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })
	r, err := engine.New(engine.Config{Question: realQuestion, Agents: agents, Settings: s, Backend: o, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// Every reviewer saw every other candidate's code and answer verbatim.
	reviews := 0
	for _, req := range srv.Requests() {
		p := fakeollama.Prompt(&req)
		if !strings.Contains(p, "Phase: REVIEW") {
			continue
		}
		reviews++
		for name, text := range proposals {
			if name == req.Model {
				continue
			}
			if !strings.Contains(p, solutionOf(text)) {
				t.Errorf("the review prompt to %s lacks %s's code and final answer (prompt %d bytes)", req.Model, name, len(p))
			}
		}
	}
	if reviews < 3 {
		t.Fatalf("%d review calls", reviews)
	}

	// Weights and the winner.
	var firstRound []string
	for _, e := range evs {
		switch ev := e.(type) {
		case *engine.ProposalDone:
			if ev.Round == 1 {
				firstRound = append(firstRound, ev.Answer)
			}
			if len(ev.Flags) > 0 || ev.Stats.ContextWarning != "" {
				t.Errorf("an honest proposal was flagged %v, or its context %q", ev.Flags, ev.Stats.ContextWarning)
			}
		case *engine.ReviewDone:
			if ev.Stats.ContextWarning != "" || ev.Stats.ContextFull {
				t.Errorf("review context: %q", ev.Stats.ContextWarning)
			}
			for _, ev2 := range ev.Evaluations {
				t.Logf("round %d: %s scores %s %+d", ev.Round, ev.Agent, ev2.Author, ev2.Weight)
			}
		case *engine.RoundEnded:
			t.Logf("round %d: winner %s, support %v, stop %q", ev.Round, ev.Winner, ev.Support, ev.StopReason)
		}
	}
	if got := res.Ended.Answer; got != rightAnswer {
		t.Errorf("NSED crowned %q (winner %s), want the verified minority answer %s", got, res.Ended.Winner, rightAnswer)
	}
	// Majority vote over the same first-round proposals: a plain count.
	count := map[string]int{}
	for _, a := range firstRound {
		count[a]++
	}
	if len(firstRound) != 3 || count[wrongAnswer] != 2 {
		t.Fatalf("first-round answers %v", firstRound)
	}

	// And the benchmark's majority protocol on the same server agrees.
	env := eval.Env{Backend: o, Agents: agents, Settings: s}
	replies, wall := env.FirstRound(context.Background(), nil, "majority", realQuestion)
	maj := eval.Majority(replies, wall, engine.ExtractAnswer)
	if got := engine.ExtractAnswer(maj.Text); got != wrongAnswer {
		t.Errorf("majority vote gave %q, want the majority's wrong answer %s", got, wrongAnswer)
	}
}
