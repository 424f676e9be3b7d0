package engine

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsed/nsed/models"
)

// realOllama returns the test server and its tiny models, or skips.
func realOllama(t *testing.T) (*models.Ollama, []string) {
	t.Helper()
	host, list := os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_MODELS")
	if host == "" || list == "" {
		t.Skip("NSED_TEST_OLLAMA_HOST/NSED_TEST_MODELS unset: no real Ollama server (bash .ci/ollama.sh start)")
	}
	o, err := models.NewOllama(host)
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Split(list, ",")
	if len(names) < 3 {
		t.Fatalf("NSED_TEST_MODELS needs 3 models, has %q", list)
	}
	return o, names[:3]
}

// tinyAgents binds the test agents to the tiny models.
func tinyAgents(names []string) []AgentInfo {
	agents := testAgents()
	for i := range agents {
		agents[i].Model = names[i]
	}
	return agents
}

// tinySettings bound everything so tiny random models answer quickly and
// their structured output stays complete JSON.
func tinySettings() Settings {
	s := testSettings()
	s.Gate.BudgetTokens = 150
	s.Review.ClaimChars, s.Review.CritiqueChars = 40, 60
	s.Sampling.Propose.NumPredict = 160
	s.Sampling.Review.NumPredict = 500
	s.Sampling.Summary.NumPredict = 200
	seed := 7
	for _, o := range []*models.Options{&s.Sampling.Propose, &s.Sampling.Review, &s.Sampling.Summary} {
		o.Seed = &seed
	}
	return s
}

// countingBackend counts calls by phase, as the server sees them.
type countingBackend struct {
	models.Backend
	mu    sync.Mutex
	calls map[string]int // "propose", "review", "summary" per round key
}

func (c *countingBackend) Chat(ctx context.Context, req models.Request, fn models.TokenFunc) (models.Response, error) {
	kind := "propose"
	switch u := req.Messages[len(req.Messages)-1].Content; {
	case strings.Contains(u, "Phase: REVIEW"):
		kind = "review"
	case strings.Contains(u, "Phase: SUMMARISE"):
		kind = "summary"
	}
	c.mu.Lock()
	c.calls[kind]++
	c.mu.Unlock()
	return c.Backend.Chat(ctx, req, fn)
}

func (c *countingBackend) CheckModel(ctx context.Context, host, model string) error {
	return c.Backend.(models.Checker).CheckModel(ctx, host, model)
}

func TestOllamaDeliberationSixRounds(t *testing.T) {
	o, names := realOllama(t)
	agents := tinyAgents(names)
	s := tinySettings()
	s.MinRounds, s.MaxRounds = 6, 6
	be := &countingBackend{Backend: o, calls: map[string]int{}}
	var buf bytes.Buffer
	tw := NewTranscriptWriter(&buf, true)
	rec, res, err := runScripted(t, Config{Question: "What is 6 times 7? Answer with a number.", Agents: agents, Settings: s, Backend: be, Sink: tw})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	if res.Ended.Status != StatusCompleted || res.Ended.Rounds != 6 {
		t.Fatalf("ended %+v", res.Ended)
	}
	checkInvariants(t, rec.events(), 3, s)
	if be.calls["propose"] != 18 || be.calls["review"] < 18 || be.calls["review"] > 18*(1+s.Review.Retries) {
		t.Fatalf("calls %v: want 3 proposals and 3 evaluation calls (plus retries) a round", be.calls)
	}
	// Prompt tokens per round, as the server counted them: the state is
	// bounded, so after round 2 they stay flat instead of growing.
	var perRound []int
	abstained, reviews := 0, 0
	for _, e := range rec.events() {
		switch ev := e.(type) {
		case *RoundEnded:
			perRound = append(perRound, ev.PromptTokens)
		case *ReviewDone:
			reviews++
			if ev.Abstained {
				abstained++
			}
		}
	}
	t.Logf("prompt tokens per round: %v; review calls %d (%d abstained, %d retries)", perRound, reviews, abstained, be.calls["review"]-18)
	maxLater := 0
	for _, n := range perRound[2:] {
		maxLater = max(maxLater, n)
	}
	// Flat means bounded by the round-2 level plus the state budget's worth
	// for every call that carries state (generous: tokenizers differ).
	if limit := perRound[1] + 9*s.Gate.BudgetTokens*4; maxLater > limit {
		t.Errorf("prompt tokens grow with rounds: %v (limit %d)", perRound, limit)
	}
	evs, err := ReadTranscript(&buf)
	if err != nil || len(evs) != len(rec.events()) {
		t.Fatalf("transcript round trip: %d events, %v", len(evs), err)
	}
}

func TestOllamaCancelMidStream(t *testing.T) {
	o, names := realOllama(t)
	agents := tinyAgents(names)
	s := tinySettings()
	s.Sampling.Propose.NumPredict = 4000 // long enough to be mid-stream when cancelled
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	tokens := 0
	sink := SinkFunc(func(e Event) {
		rec.Emit(e)
		if _, ok := e.(*Token); ok {
			if tokens++; tokens == 50 {
				cancel()
			}
		}
	})
	r, err := New(Config{Question: "Count to a thousand.", Agents: agents, Settings: s, Backend: o, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := r.Run(ctx)
	if !errors.Is(err, context.Canceled) || res.Ended.Status != StatusCancelled {
		t.Fatalf("err %v, status %s", err, res.Ended.Status)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("cancel took %v", d)
	}
	evs := rec.events()
	if _, ok := evs[len(evs)-1].(*RunEnded); !ok {
		t.Fatal("last event is not run_ended")
	}
	for _, e := range evs {
		if _, ok := e.(*ProposalDone); ok {
			t.Fatal("a proposal completed although the run was cancelled mid-stream")
		}
	}
}

func TestOllamaMissingModelAndDeadServer(t *testing.T) {
	o, names := realOllama(t)
	agents := testAgents()
	agents[0].Model, agents[1].Model, agents[2].Model = names[0], names[1], "no-such-model:1b"
	_, res, err := runScripted(t, Config{Question: "q?", Agents: agents, Settings: tinySettings(), Backend: o})
	var nf *models.ModelNotFoundError
	if !errors.As(err, &nf) || nf.Model != "no-such-model:1b" || res.Ended.Rounds != 0 {
		t.Fatalf("err = %v, rounds %d; want model not found before any round", err, res.Ended.Rounds)
	}
	if !strings.Contains(err.Error(), "ollama pull no-such-model:1b") {
		t.Errorf("error does not say how to fix it: %v", err)
	}

	dead, _ := models.NewOllama("127.0.0.1:9") // discard port: nothing listens
	for i := range agents {
		agents[i].Model = names[i%len(names)]
	}
	_, res, err = runScripted(t, Config{Question: "q?", Agents: agents, Settings: tinySettings(), Backend: dead})
	if !errors.Is(err, models.ErrUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:9") || res.Ended.Status != StatusFailed {
		t.Fatalf("dead server: err = %v, status %s", err, res.Ended.Status)
	}
}

func TestOllamaRebindMidRun(t *testing.T) {
	o, names := realOllama(t)
	agents := tinyAgents(names)
	s := tinySettings()
	s.MinRounds, s.MaxRounds = 2, 2
	rec := &recorder{}
	var r *Run
	var rebindErr, badErr error
	sink := SinkFunc(func(e Event) {
		rec.Emit(e)
		if rd, ok := e.(*RoundEnded); ok && rd.Round == 1 {
			// From the sink's goroutine: a control call must not deadlock.
			badErr = r.Rebind(context.Background(), "agent-1", "no-such-model:1b", "")
			rebindErr = r.Rebind(context.Background(), "agent-1", names[1], "")
		}
	})
	r, err := New(Config{Question: "q?", Agents: agents, Settings: s, Backend: o, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(badErr, models.ErrModelNotFound) || rebindErr != nil {
		t.Fatalf("rebind errors: bad=%v good=%v", badErr, rebindErr)
	}
	var rb *Rebound
	for _, e := range rec.events() {
		if ev, ok := e.(*Rebound); ok {
			rb = ev
		}
		if pd, ok := e.(*ProposalDone); ok && pd.Round == 2 && pd.Agent == "agent-1" && pd.Model != names[1] {
			t.Errorf("round 2 agent-1 proposal by %s, want %s", pd.Model, names[1])
		}
	}
	if rb == nil || rb.Round != 2 || rb.To.Model != names[1] || rb.From.Model != names[0] {
		t.Fatalf("rebound event %+v", rb)
	}
}

// The server dies mid-run (a proxy in front of the real one goes away): the
// run fails cleanly with the unreachable error and still ends with
// run_ended, so the transcript is complete.
func TestOllamaServerDiesMidRun(t *testing.T) {
	_, names := realOllama(t)
	target, _ := url.Parse("http://" + os.Getenv("NSED_TEST_OLLAMA_HOST"))
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	o, err := models.NewOllama(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	agents := tinyAgents(names)
	s := tinySettings()
	s.MinRounds, s.MaxRounds = 3, 3
	rec := &recorder{}
	var once sync.Once
	sink := SinkFunc(func(e Event) {
		rec.Emit(e)
		if p, ok := e.(*PhaseStarted); ok && p.Round == 2 && p.Phase == PhaseReview {
			once.Do(func() {
				proxy.CloseClientConnections()
				proxy.Listener.Close()
			})
		}
	})
	r, err := New(Config{Question: "q?", Agents: agents, Settings: s, Backend: o, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background())
	if err == nil {
		// Reviews that fail abstain, and the round loses its quorum.
		t.Fatalf("run survived a dead server: %+v", res.Ended)
	}
	if !errors.Is(err, models.ErrUnreachable) || res.Ended.Status != StatusFailed || res.Ended.Error == "" {
		t.Fatalf("err = %v, ended %+v", err, res.Ended)
	}
	if res.Ended.Winner == "" || res.Ended.Answer == "" && res.Ended.Proposal == "" {
		t.Errorf("the last known leader is lost: %+v", res.Ended)
	}
	failed := 0
	for _, e := range rec.events() {
		if _, ok := e.(*AgentFailed); ok {
			failed++
		}
	}
	if failed == 0 {
		t.Error("no agent_failed events for the dead server")
	}
}

func TestOllamaContextFullIsReported(t *testing.T) {
	o, names := realOllama(t)
	s := tinySettings()
	s.MinRounds, s.MaxRounds = 1, 1
	s.Sampling.Propose.NumCtx = 256
	s.Sampling.Propose.NumPredict = 16
	s.MaxCtx = 0 // contexts may not grow past num_ctx: the prompt cannot fit
	rec, _, err := runScripted(t, Config{Question: strings.Repeat("How many primes are below 100? ", 80), Agents: tinyAgents(names), Settings: s, Backend: o})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rec.events() {
		if p, ok := e.(*ProposalDone); ok {
			t.Logf("%s: prompt %d tokens, context full %v", p.Agent, p.Stats.PromptTokens, p.Stats.ContextFull)
			if !p.Stats.ContextFull || p.Stats.NumCtx != 256 || !strings.Contains(p.Stats.ContextWarning, "deliberation.max_ctx") {
				t.Errorf("a 2400-character prompt in a 256-token context was not reported as cut: %+v", p.Stats)
			}
		}
	}
}

// The same prompt fits once the context may grow: num_ctx is sized from the
// prompt, and the server (which cuts at num_ctx) sees all of it.
func TestOllamaContextGrowsToFit(t *testing.T) {
	o, names := realOllama(t)
	s := tinySettings()
	s.MinRounds, s.MaxRounds = 1, 1
	s.Sampling.Propose.NumCtx = 256
	s.Sampling.Propose.NumPredict = 16
	s.MaxCtx = 8192
	rec, _, err := runScripted(t, Config{Question: strings.Repeat("How many primes are below 100? ", 80), Agents: tinyAgents(names), Settings: s, Backend: o})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range rec.events() {
		if p, ok := e.(*ProposalDone); ok {
			n++
			t.Logf("%s: prompt %d tokens in num_ctx %d", p.Agent, p.Stats.PromptTokens, p.Stats.NumCtx)
			if p.Stats.ContextFull || p.Stats.ContextWarning != "" || p.Stats.NumCtx <= 256 || p.Stats.PromptTokens <= 256 {
				t.Errorf("the context did not grow to fit the prompt: %+v", p.Stats)
			}
		}
	}
	if n == 0 {
		t.Fatal("no proposals")
	}
}
