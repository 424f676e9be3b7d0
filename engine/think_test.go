package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/nsed/nsed/internal/testenv"
	"github.com/nsed/nsed/models"
	"github.com/ollama/ollama/api"
)

// Thinking models through the real client against a fake Ollama server
// that thinks as recent servers do: by default when a model can, with the
// thinking counted against num_predict and the answer only after it.

var (
	capsThinking = []string{"completion", "thinking"}
	capsPlain    = []string{"completion", "vision"}
)

// thinkWords is n tokens of thinking for the fake (4 bytes a token).
func thinkWords(n int) string { return strings.Repeat("hmm ", n) }

// answerer writes a proposal, or a valid review of every label its
// request's schema asks for, after thinking `think` tokens.
func answerer(think int) func(*api.ChatRequest) fakeollama.Reply {
	return func(req *api.ChatRequest) fakeollama.Reply {
		if len(req.Format) == 0 {
			return fakeollama.Reply{Thinking: thinkWords(think), Content: "Worked it out step by step.\nFINAL ANSWER: 42"}
		}
		return fakeollama.Reply{Thinking: thinkWords(think), Content: reviewJSON(req.Format)}
	}
}

// reviewJSON is a valid review of every label in a review schema.
func reviewJSON(format json.RawMessage) string {
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(format, &schema)
	out := map[string]any{}
	for l := range schema.Properties {
		out[l] = map[string]any{"weight": 40, "stance": "support", "claims": []any{}, "critique": "checks out"}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// fakeRun runs a deliberation of agents against srv through models.Ollama.
func fakeRun(t *testing.T, srv *fakeollama.Server, agents []AgentInfo, s Settings) (*recorder, Result, error) {
	t.Helper()
	o, err := models.NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	return runScripted(t, Config{Question: "What is 6 times 7?", Agents: agents, Settings: s, Backend: o})
}

func twoRounds() Settings {
	s := testSettings()
	s.MinRounds, s.MaxRounds = 2, 2
	s.Gate.Summarise = false
	return s
}

func team(ms ...string) []AgentInfo {
	a := testAgents()[:len(ms)]
	for i := range a {
		a[i].Model = ms[i]
	}
	return a
}

func proposalsOf(rec *recorder) []*ProposalDone {
	var out []*ProposalDone
	for _, e := range rec.events() {
		if p, ok := e.(*ProposalDone); ok {
			out = append(out, p)
		}
	}
	return out
}

func reviewsOf(rec *recorder) []*ReviewDone {
	var out []*ReviewDone
	for _, e := range rec.events() {
		if r, ok := e.(*ReviewDone); ok {
			out = append(out, r)
		}
	}
	return out
}

// num reads a numeric option of a recorded request.
func num(req api.ChatRequest, key string) int {
	f, _ := req.Options[key].(float64)
	return int(f)
}

// A model that thinks by default and thinks past num_predict (1024): on the
// old code every proposal came back empty and every review abstained.
func TestThinkingModelGetsItsOwnBudget(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"qwen3:8b": {Capabilities: capsThinking, Family: "qwen3", ThinksByDefault: true, Respond: answerer(3000)},
	})
	rec, res, err := fakeRun(t, srv, team("qwen3:8b", "qwen3:8b", "qwen3:8b"), twoRounds())
	if err != nil {
		t.Fatal(err)
	}
	if res.Ended.Rounds != 2 {
		t.Fatalf("ran %d rounds, want 2", res.Ended.Rounds)
	}
	ps := proposalsOf(rec)
	if len(ps) != 6 {
		t.Fatalf("%d proposals, want 6", len(ps))
	}
	for _, p := range ps {
		if p.Text == "" || p.Answer != "42" || p.Thinking == "" || p.NoAnswer != "" || p.Stats.ThinkRetried {
			t.Fatalf("%s round %d: text %q answer %q thinking %d bytes no_answer %q retried %v", p.Agent, p.Round, p.Text, p.Answer, len(p.Thinking), p.NoAnswer, p.Stats.ThinkRetried)
		}
		if strings.Contains(p.Text, "hmm") {
			t.Fatalf("thinking leaked into the proposal: %q", p.Text)
		}
	}
	for _, r := range reviewsOf(rec) {
		if r.Abstained {
			t.Fatalf("%s round %d abstained: %s", r.Agent, r.Round, r.Reason)
		}
	}
	for _, req := range srv.Requests() {
		if req.Think == nil || req.Think.Value != true {
			t.Fatalf("think left out on a thinking model was sent as %v, want true", req.Think)
		}
		np, nc := num(req, "num_predict"), num(req, "num_ctx")
		if np != 1024+4096 {
			t.Fatalf("num_predict %d, want answer 1024 + think_budget 4096", np)
		}
		if nc < np+fakeollama.Tokens(fakeollama.Prompt(&req)) {
			t.Fatalf("num_ctx %d cannot hold num_predict %d and the prompt", nc, np)
		}
	}
}

// A model whose thinking outruns even the think budget is asked again with
// thinking off; the answer is kept, the first try's thinking recorded.
func TestThinkingRanOutRetriedWithThinkOff(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"qwen3:8b": {Capabilities: capsThinking, Family: "qwen3", ThinksByDefault: true, Respond: answerer(9000)},
	})
	rec, res, err := fakeRun(t, srv, team("qwen3:8b", "qwen3:8b", "qwen3:8b"), twoRounds())
	if err != nil || res.Ended.Rounds != 2 {
		t.Fatalf("err %v, rounds %d", err, res.Ended.Rounds)
	}
	for _, p := range proposalsOf(rec) {
		if p.Answer != "42" || !p.Stats.ThinkRetried || p.Thinking == "" {
			t.Fatalf("%s: answer %q retried %v thinking %d bytes", p.Agent, p.Answer, p.Stats.ThinkRetried, len(p.Thinking))
		}
	}
	for _, r := range reviewsOf(rec) {
		if r.Abstained || !r.Stats.ThinkRetried {
			t.Fatalf("%s abstained %v (%s), retried %v", r.Agent, r.Abstained, r.Reason, r.Stats.ThinkRetried)
		}
	}
	off := 0
	for _, req := range srv.Requests() {
		if req.Think != nil && !req.Think.Bool() {
			off++
		}
	}
	if want := len(srv.Requests()) / 2; off != want {
		t.Fatalf("%d of %d requests had think off, want %d (one retry per call)", off, len(srv.Requests()), want)
	}
}

// A model that cannot stop thinking (gpt-oss ignores think=false; its
// retry is at "low") and never reaches its answer is recorded as "no
// answer (thinking ran out)": the proposal sits out, a review abstains.
func TestThinkingRanOutRecorded(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"gpt-oss:20b": {Capabilities: capsThinking, Family: "gptoss", Levels: true, Respond: answerer(6000)},
		// proposes fine, thinks forever over reviews
		"qwen3:8b": {Capabilities: capsThinking, Family: "qwen3", Levels: false, ThinksByDefault: true, Respond: func(req *api.ChatRequest) fakeollama.Reply {
			if len(req.Format) > 0 && (req.Think == nil || req.Think.Bool()) {
				return fakeollama.Reply{Thinking: thinkWords(6000), Content: reviewJSON(req.Format)}
			}
			if len(req.Format) > 0 {
				return fakeollama.Reply{} // nothing without thinking either
			}
			return answerer(10)(req)
		}},
		"gemma3:12b": {Capabilities: capsPlain, Family: "gemma3", Respond: answerer(0)},
	})
	s := twoRounds()
	s.MaxRounds, s.MinRounds = 1, 1
	rec, _, err := fakeRun(t, srv, team("gpt-oss:20b", "qwen3:8b", "gemma3:12b"), s)
	// One proposal sat out and one review abstained: one agent of three
	// took part, below the quorum of two, so the round ends the run.
	if _, ok := errors.AsType[*QuorumError](err); !ok {
		t.Fatalf("err = %v, want the round's quorum lost", err)
	}
	for _, p := range proposalsOf(rec) {
		want := ""
		if p.Model == "gpt-oss:20b" {
			want = NoAnswerThinking
		}
		if p.NoAnswer != want {
			t.Fatalf("%s: no_answer %q, want %q", p.Model, p.NoAnswer, want)
		}
	}
	var lowRetry bool
	for _, req := range srv.Requests() {
		lowRetry = lowRetry || req.Model == "gpt-oss:20b" && req.Think != nil && req.Think.String() == "low"
		if req.Model == "gemma3:12b" && req.Think != nil {
			t.Fatalf("gemma3 was sent think %v", req.Think.Value)
		}
	}
	if !lowRetry {
		t.Fatal("gpt-oss was not asked again at think \"low\"")
	}
	rs := reviewsOf(rec)
	if len(rs) != 2 {
		t.Fatalf("%d reviews, want 2 (gpt-oss sat out)", len(rs))
	}
	for _, r := range rs {
		if r.Model == "qwen3:8b" && (!r.Abstained || !strings.HasPrefix(r.Reason, NoAnswerThinking)) {
			t.Fatalf("qwen3 review: abstained %v reason %q", r.Abstained, r.Reason)
		}
		if r.Model == "gemma3:12b" && r.Abstained {
			t.Fatalf("gemma3 abstained: %s", r.Reason)
		}
	}
}

// A mixed team configured per agent: gpt-oss at a level, qwen3 with think
// true, gemma3 (which refuses think) with none. The phase sets nothing.
func TestMixedTeamThinkPerAgent(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"gpt-oss:20b": {Capabilities: []string{"completion", "tools", "thinking"}, Family: "gptoss", Levels: true, Respond: answerer(2000)},
		"qwen3:8b":    {Capabilities: capsThinking, Family: "qwen3", ThinksByDefault: true, Respond: answerer(3000)},
		"gemma3:12b":  {Capabilities: capsPlain, Family: "gemma3", Respond: answerer(0)},
	})
	agents := team("gpt-oss:20b", "qwen3:8b", "gemma3:12b")
	budget := 8192
	agents[0].Options = &AgentOptions{Think: "medium", ThinkBudget: &budget}
	agents[1].Options = &AgentOptions{Think: "true", NumPredict: 2048}
	rec, res, err := fakeRun(t, srv, agents, twoRounds())
	if err != nil || res.Ended.Rounds != 2 {
		t.Fatalf("err %v rounds %d", err, res.Ended.Rounds)
	}
	ps := proposalsOf(rec)
	if len(ps) != 6 {
		t.Fatalf("%d proposals, want 6", len(ps))
	}
	for _, p := range ps {
		if p.Answer != "42" {
			t.Fatalf("%s round %d: %q", p.Model, p.Round, p.Text)
		}
	}
	for _, r := range reviewsOf(rec) {
		if r.Abstained {
			t.Fatalf("%s abstained: %s", r.Model, r.Reason)
		}
	}
	for _, req := range srv.Requests() {
		got := ""
		if req.Think != nil {
			got = fmt.Sprint(req.Think.Value)
		}
		want, np := map[string]string{"gpt-oss:20b": "medium", "qwen3:8b": "true", "gemma3:12b": ""}[req.Model],
			map[string]int{"gpt-oss:20b": 1024 + 8192, "qwen3:8b": 2048 + 4096, "gemma3:12b": 1024}[req.Model]
		if got != want || num(req, "num_predict") != np {
			t.Fatalf("%s was sent think %q num_predict %d, want %q and %d", req.Model, got, num(req, "num_predict"), want, np)
		}
	}
	// The transcript records each agent's own options.
	rs := rec.events()[0].(*RunStarted)
	if rs.Agents[0].Options == nil || rs.Agents[0].Options.Think != "medium" || rs.Agents[2].Options != nil {
		t.Fatalf("run_started agents: %+v", rs.Agents)
	}
	b, _ := json.Marshal(rs)
	if !strings.Contains(string(b), `"options":{"think":"medium","think_budget":8192}`) {
		t.Fatalf("run_started JSON lacks the agent's options: %s", b)
	}
}

// think settings a model cannot take are refused before any chat call,
// naming the agent, model, host, value, capabilities and the fix.
func TestThinkRefusedUpFront(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"qwen3:8b":   {Capabilities: capsThinking, Family: "qwen3", ThinksByDefault: true, Respond: answerer(10)},
		"gemma3:12b": {Capabilities: capsPlain, Family: "gemma3", Respond: answerer(0)},
	})
	cases := []struct {
		name   string
		models []string
		agent  AgentOptions // agent-2's
		phase  string       // [sampling.review] think
		want   []string
	}{
		{"agent true on gemma3", []string{"qwen3:8b", "gemma3:12b"}, AgentOptions{Think: "true"}, "",
			[]string{"agent-2", "gemma3:12b", srv.Host, `"true"`, "[completion, vision]", `without "thinking"`, "agent-2's [[agents]] table", `"false"`}},
		{"phase level on gemma3", []string{"gemma3:12b", "gemma3:12b"}, AgentOptions{}, "low",
			[]string{"agent-1", "gemma3:12b", "[sampling.review] sets think", `"low"`, "remove that think key"}},
		{"level on qwen3", []string{"gemma3:12b", "qwen3:8b"}, AgentOptions{Think: "high"}, "",
			[]string{"agent-2", "qwen3:8b", "family qwen3", `"high"`, "gpt-oss only", `set it to "true"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			agents := team(c.models...)
			agents[1].Options = &c.agent
			s := twoRounds()
			s.Sampling.Review.Think = c.phase
			before := len(srv.Requests())
			rec, res, err := fakeRun(t, srv, agents, s)
			if err == nil || res.Ended.Status != StatusFailed {
				t.Fatalf("err %v status %s", err, res.Ended.Status)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q: %s", w, err)
				}
			}
			if n := len(srv.Requests()) - before; n != 0 {
				t.Fatalf("%d chat calls before refusing", n)
			}
			var fatal bool
			for _, e := range rec.events() {
				if f, ok := e.(*AgentFailed); ok && f.Fatal && f.Round == 0 {
					fatal = true
				}
			}
			if !fatal {
				t.Fatal("no fatal agent_failed event")
			}
		})
	}
}

// think = "false" on a model that cannot think is harmless: not refused,
// not sent.
func TestThinkFalseOnPlainModelNotSent(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"gemma3:12b": {Capabilities: capsPlain, Family: "gemma3", Respond: answerer(0)},
	})
	s := twoRounds()
	s.MinRounds, s.MaxRounds = 1, 1
	s.Sampling.Propose.Think, s.Sampling.Review.Think = "false", "false"
	if _, _, err := fakeRun(t, srv, team("gemma3:12b", "gemma3:12b"), s); err != nil {
		t.Fatal(err)
	}
	for _, req := range srv.Requests() {
		if req.Think != nil || num(req, "num_predict") != 1024 || num(req, "num_ctx") != 8192 {
			t.Fatalf("think %v num_predict %d num_ctx %d", req.Think, num(req, "num_predict"), num(req, "num_ctx"))
		}
	}
}

// The agent's options win over the phase's, key by key.
func TestAgentOptionsOverPhase(t *testing.T) {
	temp, zero := 0.9, 0
	phase := models.Options{Temperature: new(float64), NumPredict: 1024, NumCtx: 8192, Think: "false", ThinkBudget: 4096}
	a := AgentInfo{Options: &AgentOptions{Temperature: &temp, Think: "true", ThinkBudget: &zero}}
	got := a.OptionsFor(phase)
	if *got.Temperature != 0.9 || got.Think != "true" || got.ThinkBudget != 0 || got.NumPredict != 1024 || got.NumCtx != 8192 {
		t.Fatalf("%+v", got)
	}
	if *phase.Temperature != 0 || phase.Think != "false" {
		t.Fatal("the phase's options changed")
	}
	if (AgentInfo{}).OptionsFor(phase) != phase {
		t.Fatal("no agent options must leave the phase's")
	}
}

// countingOllama counts chat calls, keeping models.Ollama's checks.
type countingOllama struct {
	*models.Ollama
	mu    sync.Mutex
	chats int
}

func (c *countingOllama) Chat(ctx context.Context, req models.Request, fn models.TokenFunc) (models.Response, error) {
	c.mu.Lock()
	c.chats++
	c.mu.Unlock()
	return c.Ollama.Chat(ctx, req, fn)
}

// On the real server: a think setting on a model whose capabilities lack
// thinking (smollm2) is refused before any proposal, saying so.
func TestRealThinkRefusedUpFront(t *testing.T) {
	host, model := testenv.RealModel(t)
	o, err := models.NewOllama(host)
	if err != nil {
		t.Fatal(err)
	}
	caps, err := o.Capabilities(context.Background(), host, model)
	if err != nil || !caps.Known() || caps.CanThink() {
		t.Fatalf("%s's capabilities %+v (err %v): want known, without thinking", model, caps, err)
	}
	be := &countingOllama{Ollama: o}
	agents := team(model, model)
	agents[1].Options = &AgentOptions{Think: "true"}
	rec := &recorder{}
	r, err := New(Config{Question: "What is 2+2?", Agents: agents, Settings: twoRounds(), Backend: be, Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background())
	if err == nil || res.Ended.Status != StatusFailed || res.Ended.Rounds != 0 {
		t.Fatalf("err %v, status %s after %d rounds", err, res.Ended.Status, res.Ended.Rounds)
	}
	for _, w := range []string{model, "agent-2's [[agents]] table sets think", `"true"`, "[completion]", `without "thinking"`, `set it to "false"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message lacks %q: %s", w, err)
		}
	}
	if be.chats != 0 {
		t.Fatalf("%d chat calls before refusing", be.chats)
	}
	for _, e := range rec.events() {
		if _, ok := e.(*PhaseStarted); ok {
			t.Fatal("a phase started")
		}
	}
}

// A rebind to a model that cannot take the agent's think is refused with
// the same message; the old binding stays.
func TestRebindRefusesThinkTheModelCannotTake(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"qwen3:8b":   {Capabilities: capsThinking, Family: "qwen3", Respond: answerer(0)},
		"gemma3:12b": {Capabilities: capsPlain, Family: "gemma3", Respond: answerer(0)},
	})
	o, err := models.NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	agents := team("qwen3:8b", "qwen3:8b")
	agents[0].Options = &AgentOptions{Think: "true"}
	r, err := New(Config{Question: "q?", Agents: agents, Settings: twoRounds(), Backend: o})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Rebind(context.Background(), "agent-1", "gemma3:12b", "")
	if err == nil || !strings.Contains(err.Error(), `without "thinking"`) || !strings.Contains(err.Error(), "the old binding stays") {
		t.Fatalf("rebind: %v", err)
	}
	if err := r.Rebind(context.Background(), "agent-2", "gemma3:12b", ""); err != nil {
		t.Fatalf("agent-2 sets no think: %v", err)
	}
}

// A broker move keeps the agent's own options but drops the think keys its
// new model cannot take, and says so: the calls on the new model ask no
// think (a gemma3 server rejects any), where before they failed.
func TestBrokerMoveDropsThinkTheModelCannotTake(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"qwen3:8b":   {Capabilities: capsThinking, Family: "qwen3", Respond: answerer(0)},
		"gemma3:12b": {Capabilities: capsPlain, Family: "gemma3", Respond: answerer(0)},
	})
	o, err := models.NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	temp := 0.2
	agents := team("qwen3:8b", "qwen3:8b", "qwen3:8b")
	agents[0].Options = &AgentOptions{Think: "true", Temperature: &temp}
	var moved bool
	rebalance := func(_ context.Context, team []AgentInfo, _ map[string]bool, _ map[string]AgentInfo) ([]Rebound, error) {
		if moved {
			return nil, nil
		}
		moved = true
		to := team[0]
		to.Model = "gemma3:12b"
		return []Rebound{{From: team[0], To: to, By: "broker", Reason: "faster"}}, nil
	}
	rec, res, err := runScripted(t, Config{Question: "What is 6 times 7?", Agents: agents, Settings: twoRounds(), Backend: o, Rebalance: rebalance})
	if err != nil {
		t.Fatal(err)
	}
	var rb *Rebound
	for _, e := range rec.events() {
		if ev, ok := e.(*Rebound); ok {
			rb = ev
		}
		if ev, ok := e.(*AgentFailed); ok {
			t.Errorf("a call failed: %+v", ev)
		}
	}
	if rb == nil || rb.To.Model != "gemma3:12b" {
		t.Fatalf("no move to gemma3: %+v", rb)
	}
	if o := rb.To.Options; o == nil || o.Think != "" || o.Temperature == nil || *o.Temperature != temp {
		t.Errorf("moved agent's options %+v: want think dropped, temperature kept", o)
	}
	if !strings.Contains(rb.Reason, `think = "true" dropped`) || !strings.Contains(rb.To.Reason, "gemma3:12b cannot take it") {
		t.Errorf("the move does not say think was dropped: %q / %q", rb.Reason, rb.To.Reason)
	}
	for _, req := range srv.Requests() {
		if req.Model == "gemma3:12b" && req.Think != nil {
			t.Errorf("gemma3 asked to think: %+v", req.Think)
		}
	}
	if res.Ended.Status != "completed" {
		t.Errorf("run ended %s: %s", res.Ended.Status, res.Ended.Reason)
	}
}
