package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// Question is the demo's question.
const Question = "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much does the ball cost?"

// Agents are the demo's three agents.
func Agents() []engine.AgentInfo {
	return []engine.AgentInfo{
		{ID: "a1", Role: "solver", Model: "qwen2.5:1.5b", Host: "localhost:11434"},
		{ID: "a2", Role: "skeptic", Model: "llama3.2:1b", Host: "localhost:11434"},
		{ID: "a3", Role: "synthesiser", Model: "gemma3:1b", Host: "localhost:11434"},
	}
}

// Settings are the demo's protocol settings.
func Settings() engine.Settings {
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 2, 5
	// A low effort lets the stopping rule, not the round limit, end the demo.
	s.Stop.Effort = 0.18
	s.Seed = 7
	s.Gate.BudgetTokens = 160
	s.Roles = map[string]engine.Role{
		"solver":      {Persona: "You solve problems step by step and check your arithmetic."},
		"skeptic":     {Persona: "You distrust the obvious answer and look for traps."},
		"synthesiser": {Persona: "You weigh the others' arguments and merge what holds."},
	}
	return s
}

var roundRE = regexp.MustCompile(`Round (\d+)\.`)

// Reply is the scripted models' behaviour.
func Reply(req models.Request) (string, error) {
	user := ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			user = m.Content
		}
	}
	round := 1
	if m := roundRE.FindStringSubmatch(user); m != nil {
		round, _ = strconv.Atoi(m[1])
	}
	switch {
	case strings.Contains(string(req.Format), `"summary"`):
		b, err := json.Marshal(map[string]string{"summary": "Verified: ball + (ball + 1.00) = 1.10 gives ball = 0.05; the bat is 1.05. The answer 0.10 was shown wrong (total would be 1.20)."})
		return string(b), err
	case len(req.Format) > 0:
		return review(req.Model, round, user, req.Format)
	}
	return proposal(req.Model, round, user), nil
}

func proposal(model string, round int, user string) string {
	switch model {
	case "llama3.2:1b":
		if round == 1 {
			return "The total is $1.10 and the bat costs $1.00 more.\nSo the bat is $1.00 and the ball is what is left over:\n\n  1.10 − 1.00 = 0.10\n\nThe ball costs ten cents — the numbers line up neatly.\n\nFINAL ANSWER: $0.10"
		}
		return "I was wrong in round 1: if the ball were $0.10, the bat would be $1.10 and the total $1.20.\nLet the ball be b. Then the bat is b + 1.00, and\n\n  b + (b + 1.00) = 1.10  →  2b = 0.10  →  b = 0.05\n\nCheck: 0.05 + 1.05 = 1.10 ✓, and 1.05 − 0.05 = 1.00 ✓.\n\nFINAL ANSWER: $0.05"
	case "gemma3:1b":
		if round == 1 {
			return "Two conditions must both hold: sum = 1.10 and difference = 1.00.\nAdding the two equations: 2·bat = 2.10, so bat = 1.05; subtracting: 2·ball = 0.10.\n\nThe tempting answer, 10¢, satisfies the sum only if the bat is $1.00 — but then the difference is 0.90, not 1.00.\n\nFINAL ANSWER: $0.05"
		}
		return "Every reviewer has now verified the algebra: ball = 0.05, bat = 1.05.\nMerging the arguments: the sum/difference method and the substitution method agree, and the 10¢ answer fails the difference check (1.00 − 0.10 = 0.90).\n\nFINAL ANSWER: $0.05"
	}
	if round == 1 {
		return "Let the ball cost b dollars. The bat costs b + 1.00.\n\nTogether: b + (b + 1.00) = 1.10\n  2b + 1.00 = 1.10\n  2b = 0.10\n  b = 0.05\n\nCheck: bat = 1.05, and 1.05 + 0.05 = 1.10 ✓.\n\nFINAL ANSWER: $0.05"
	}
	return "Keeping my round-1 solution, which the reviews verified: b + (b + 1.00) = 1.10 gives b = 0.05.\nThe critique that I should state the bat's price too is fair: the bat costs $1.05.\n\nFINAL ANSWER: $0.05 (the bat costs $1.05)"
}

var candRE = regexp.MustCompile(`(?s)<<BEGIN Candidate ([A-Z])>>\n(.*?)\n<<END Candidate [A-Z]>>`)

type claim struct {
	Claim   string `json:"claim"`
	Verdict string `json:"verdict"`
}

type eval struct {
	Weight   int     `json:"weight"`
	Stance   string  `json:"stance"`
	Claims   []claim `json:"claims"`
	Critique string  `json:"critique"`
}

func review(model string, round int, user string, format json.RawMessage) (string, error) {
	var schema struct {
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(format, &schema); err != nil {
		return "", err
	}
	texts := map[string]string{}
	for _, m := range candRE.FindAllStringSubmatch(user, -1) {
		texts[m[1]] = m[2]
	}
	// Reviewers differ a little, as real ones do.
	bias := map[string]int{"qwen2.5:1.5b": 0, "llama3.2:1b": -8, "gemma3:1b": 6}[model]
	out := map[string]eval{}
	for i, label := range schema.Required {
		t := texts[label]
		right := strings.Contains(t, "FINAL ANSWER: $0.05")
		var e eval
		switch {
		case right && model == "llama3.2:1b" && round == 1:
			// The skeptic's own wrong anchor makes it doubt the right answer.
			e = eval{Weight: -18 + 5*i, Stance: "oppose",
				Claims:   []claim{{"2b = 0.10, so b = 0.05", "contested"}},
				Critique: "The algebra looks fine but the obvious split is 1.00 and 0.10; I am not convinced the bat is 1.05."}
		case right:
			e = eval{Weight: min(72+bias+4*round+3*i, 100), Stance: "support",
				Claims:   []claim{{"b + (b + 1.00) = 1.10 gives b = 0.05", "verified"}, {"bat = 1.05, total 1.10", "verified"}},
				Critique: "Correct and checked. Could state the bat's price explicitly."}
		default:
			e = eval{Weight: -64 + bias/2 - 3*i, Stance: "oppose",
				Claims:   []claim{{"ball = 1.10 − 1.00 = 0.10", "wrong"}},
				Critique: "Ignores the difference condition: with a 0.10 ball the bat is 1.10 and the total 1.20, not 1.10."}
		}
		out[label] = e
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// paced makes the scripted backend report plausible speeds for small models
// on a laptop instead of its in-process microseconds.
type paced struct {
	*models.Scripted
	perToken time.Duration
}

func (p paced) Chat(ctx context.Context, req models.Request, onToken models.TokenFunc) (models.Response, error) {
	r, err := p.Scripted.Chat(ctx, req, onToken)
	r.Eval = time.Duration(r.OutputTokens) * p.perToken
	r.PromptEval = time.Duration(r.PromptTokens) * p.perToken / 20
	r.Wall = r.Eval + r.PromptEval + 250*time.Millisecond
	return r, err
}

// Clock is a fake clock that moves Step forward at every reading, so a
// recording has plausible, deterministic-looking timings whatever the
// machine's speed.
type Clock struct {
	mu   sync.Mutex
	t    time.Time
	Step time.Duration
}

// NewClock starts a clock at t.
func NewClock(t time.Time, step time.Duration) *Clock { return &Clock{t: t, Step: step} }

// Now reads the clock and moves it on.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.Step)
	return c.t
}

// Record runs the demo deliberation on the scripted backend, writing its
// transcript (tokens included) to w.
func Record(ctx context.Context, w io.Writer) error {
	tw := engine.NewTranscriptWriter(w, true)
	_, err := run(ctx, tw)
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	return err
}

func run(ctx context.Context, sink engine.Sink) (engine.Result, error) {
	r, err := engine.New(engine.Config{
		Question: Question,
		Agents:   Agents(),
		Settings: Settings(),
		Backend:  paced{&models.Scripted{Reply: Reply, Chunk: 6, Delay: 2 * time.Millisecond}, 45 * time.Millisecond},
		Sink:     sink,
		RunID:    "demo",
		Now:      NewClock(time.Date(2026, 1, 25, 9, 30, 0, 0, time.UTC), 15*time.Millisecond).Now,
	})
	if err != nil {
		return engine.Result{}, fmt.Errorf("demo: %w", err)
	}
	return r.Run(ctx)
}
