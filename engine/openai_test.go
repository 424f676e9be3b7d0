package engine

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsed/nsed/internal/fakeopenai"
	"github.com/nsed/nsed/internal/testenv"
	"github.com/nsed/nsed/models"
)

// Deliberations over the OpenAI-compatible backend: the test server is
// Ollama, which serves /v1/chat/completions with response_format too.

func v1(host string) string { return "http://" + host + "/v1" }

// roundTokens are the prompt and output tokens each round counted.
func roundTokens(evs []Event) (prompt, output []int) {
	for _, e := range evs {
		if ev, ok := e.(*RoundEnded); ok {
			prompt, output = append(prompt, ev.PromptTokens), append(output, ev.OutputTokens)
		}
	}
	return prompt, output
}

func TestOpenAIDeliberationTiny(t *testing.T) {
	host, names := testenv.Tiny(t)
	r, err := models.NewRouter([]string{v1(host)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	agents := tinyAgents(names)
	for i := range agents {
		agents[i].Host = v1(host)
	}
	s := tinySettings()
	s.MinRounds, s.MaxRounds = 2, 2
	be := &countingBackend{Backend: r, calls: map[string]int{}}
	rec, res, err := runScripted(t, Config{Question: "What is 6 times 7? Answer with a number.", Agents: agents, Settings: s, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ended.Status != StatusCompleted || res.Ended.Rounds != 2 {
		t.Fatalf("ended %+v", res.Ended)
	}
	checkInvariants(t, rec.events(), 3, s)
	if be.calls["propose"] != 6 || be.calls["review"] < 6 || be.calls["review"] > 6*(1+s.Review.Retries) {
		t.Fatalf("calls %v: want 3 proposals and 3 evaluation calls (plus retries) a round", be.calls)
	}
	prompt, output := roundTokens(rec.events())
	t.Logf("tokens per round from usage: prompt %v, output %v", prompt, output)
	for i := range prompt {
		// The proposals alone are bounded by num_predict; a round's output
		// above zero and prompt above the question's size come from usage.
		if prompt[i] < 3*20 || output[i] <= 0 {
			t.Errorf("round %d counted %d prompt / %d output tokens: usage not read", i+1, prompt[i], output[i])
		}
	}
}

// TestOpenAIMixedWithOllama: two agents on the Ollama API and one on the
// OpenAI API of the same server, in one run.
func TestOpenAIMixedWithOllama(t *testing.T) {
	host, names := testenv.Tiny(t)
	r, err := models.NewRouter([]string{host, v1(host)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	agents := tinyAgents(names)
	agents[2].Host = v1(host)
	s := tinySettings()
	s.MinRounds, s.MaxRounds = 1, 1
	be := &recording{Backend: r}
	rec, res, err := runScripted(t, Config{Question: "What is 6 times 7?", Agents: agents, Settings: s, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ended.Status != StatusCompleted {
		t.Fatalf("ended %+v", res.Ended)
	}
	checkInvariants(t, rec.events(), 3, s)
	byAPI := map[string]int{}
	for _, q := range be.requests() {
		byAPI[r.API(q.Host)]++
	}
	if byAPI["openai"] < 2 || byAPI["ollama"] < 4 {
		t.Errorf("calls by API %v: want agent-3's proposal and review on /v1, the others' on Ollama's API", byAPI)
	}
}

// TestOpenAIServerIgnoringResponseFormat: a server that answers prose to a
// review that asked for JSON is retried, then the reviewer abstains, as
// with Ollama.
func TestOpenAIServerIgnoringResponseFormat(t *testing.T) {
	srv := fakeopenai.New(t, []string{"a", "b", "c"}, func(q fakeopenai.Request) fakeopenai.Reply {
		req := models.Request{Model: q.Model, Messages: []models.Message{{Role: "user", Content: q.Last()}}}
		if q.ResponseFormat != nil {
			if q.Model == "b" {
				return fakeopenai.Reply{Content: []string{"I think candidate A ", "is the strongest."}}
			}
			req.Format = q.ResponseFormat.JSONSchema.Schema
		}
		text, err := models.DefaultReply(req)
		if err != nil {
			return fakeopenai.Reply{Status: 500}
		}
		return fakeopenai.Reply{Content: strings.SplitAfter(text, " ")}
	})
	r, err := models.NewRouter([]string{srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	agents := testAgents()
	for i, m := range []string{"a", "b", "c"} {
		agents[i].Model = m
	}
	s := testSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	rec, _, err := runScripted(t, Config{Question: "q?", Agents: agents, Settings: s, Backend: r})
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for _, q := range srv.Requests() {
		if q.Model == "b" && q.ResponseFormat != nil {
			attempts++
			var schema map[string]any
			if json.Unmarshal(q.ResponseFormat.JSONSchema.Schema, &schema) != nil || q.ResponseFormat.Type != "json_schema" {
				t.Errorf("review asked with response_format %+v", q.ResponseFormat)
			}
		}
	}
	if attempts != 1+s.Review.Retries {
		t.Errorf("b's review attempts = %d, want %d", attempts, 1+s.Review.Retries)
	}
	for _, e := range rec.events() {
		if ev, ok := e.(*ReviewDone); ok && ev.Agent == "agent-2" && (!ev.Abstained || !strings.Contains(ev.Raw, "candidate A")) {
			t.Errorf("agent-2 review: abstained=%v raw=%q", ev.Abstained, ev.Raw)
		}
	}
	checkInvariants(t, rec.events(), 3, s)
}

// TestRealModelOverOpenAI: SmolLM2 deliberates over the OpenAI-compatible
// API (Ollama's /v1): real English through SSE deltas, reviews through
// response_format json_schema, tokens from usage. One round keeps it short.
func TestRealModelOverOpenAI(t *testing.T) {
	host, name := testenv.RealModel(t)
	r, err := models.NewRouter([]string{v1(host)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	agents, roles, be := realTeam([]string{"agent-1", "agent-2", "agent-3"}, []string{name, name, name}, r)
	for i := range agents {
		agents[i].Host = v1(host)
	}
	s := realSettings(160, 400)
	s.MinRounds, s.MaxRounds = 1, 1
	s.Roles = roles
	evs, res, path := realRun(t, "openai", "A train leaves at 3 pm and travels 120 km at 60 km/h. When does it arrive?", agents, s, be)
	checkRealRun(t, evs, res, path, agents, s)
	prompt, output := roundTokens(evs)
	if len(prompt) != 1 || prompt[0] < 3*50 || output[0] <= 0 {
		t.Errorf("round tokens prompt %v output %v: usage not read", prompt, output)
	}
	for _, q := range be.requests() {
		if q.Host != v1(host) {
			t.Errorf("a call went to %q, not the /v1 host", q.Host)
		}
	}
}
