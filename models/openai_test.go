package models

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nsed/nsed/internal/fakeopenai"
	"github.com/nsed/nsed/internal/testenv"
)

func fakeBackend(t *testing.T, reply func(fakeopenai.Request) fakeopenai.Reply, models ...string) (*fakeopenai.Server, *OpenAI) {
	t.Helper()
	srv := fakeopenai.New(t, models, reply)
	o, err := NewOpenAI(OpenAIHost{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return srv, o
}

func TestOpenAIStreamsReasoningApartAndSendsOptions(t *testing.T) {
	for _, field := range []string{"reasoning_content", "reasoning"} {
		t.Run(field, func(t *testing.T) {
			srv, o := fakeBackend(t, func(fakeopenai.Request) fakeopenai.Reply {
				return fakeopenai.Reply{Reasoning: []string{"Let me ", "think."}, ReasoningField: field, Content: []string{`{"a":`, `1}`}}
			}, "m")
			temp, topP, seed := 0.25, 0.9, 7
			var streamed []string
			resp, err := o.Chat(context.Background(), Request{Model: "m",
				Messages: []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "one two three"}},
				Format:   json.RawMessage(`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`),
				Options:  Options{Temperature: &temp, TopP: &topP, Seed: &seed, NumPredict: 64},
			}, func(s string) { streamed = append(streamed, s) })
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != `{"a":1}` || resp.Thinking != "Let me think." || strings.Join(streamed, "|") != `{"a":|1}` {
				t.Errorf("content %q thinking %q streamed %q: thinking must stay out of the reply and the token stream", resp.Content, resp.Thinking, streamed)
			}
			if resp.OutputTokens != 4 || resp.PromptTokens != 5 || resp.DoneReason != "stop" {
				t.Errorf("tokens %d/%d done %q: want the usage chunk's 5 prompt, 4 output, stop", resp.PromptTokens, resp.OutputTokens, resp.DoneReason)
			}
			r := srv.Requests()[0]
			if !r.Stream || r.StreamOptions == nil || !r.StreamOptions.IncludeUsage {
				t.Errorf("stream %v options %+v: want a stream asking for usage", r.Stream, r.StreamOptions)
			}
			if r.MaxTokens == nil || *r.MaxTokens != 64 || r.Temperature == nil || *r.Temperature != temp || r.TopP == nil || *r.TopP != topP || r.Seed == nil || *r.Seed != seed {
				t.Errorf("sampling not sent: max_tokens %v temperature %v top_p %v seed %v", r.MaxTokens, r.Temperature, r.TopP, r.Seed)
			}
			if rf := r.ResponseFormat; rf == nil || rf.Type != "json_schema" || !rf.JSONSchema.Strict || rf.JSONSchema.Name == "" || !strings.Contains(string(rf.JSONSchema.Schema), `"required":["a"]`) {
				t.Errorf("response_format %+v: want the request's schema as a strict json_schema", rf)
			}
			if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[1].Content != "one two three" {
				t.Errorf("messages %+v", r.Messages)
			}
		})
	}
}

func TestOpenAIThinkSettingsReachTheServer(t *testing.T) {
	srv, o := fakeBackend(t, func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{Content: []string{"ok"}} }, "m")
	for _, think := range []string{"", "medium", "false", "true"} {
		if _, err := o.Chat(context.Background(), Request{Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}, Options: Options{Think: think}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := srv.Requests()
	if r[0].ReasoningEffort != "" || r[0].ChatTemplateKwargs != nil {
		t.Errorf("no think setting sent %q %v: want the server's default", r[0].ReasoningEffort, r[0].ChatTemplateKwargs)
	}
	if r[1].ReasoningEffort != "medium" {
		t.Errorf("level sent as reasoning_effort %q", r[1].ReasoningEffort)
	}
	if r[2].ChatTemplateKwargs["enable_thinking"] != false || r[3].ChatTemplateKwargs["enable_thinking"] != true {
		t.Errorf("think false/true sent as %v / %v: want chat_template_kwargs.enable_thinking", r[2].ChatTemplateKwargs, r[3].ChatTemplateKwargs)
	}
}

func TestOpenAIStreamWithoutUsageCountsDeltas(t *testing.T) {
	_, o := fakeBackend(t, func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Reasoning: []string{"hm"}, Content: []string{"a", "b", "c"}, NoUsage: true}
	}, "m")
	resp, err := o.Chat(context.Background(), Request{Model: "m", Messages: []Message{{Role: "user", Content: strings.Repeat("x", 40)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputTokens != 4 || resp.PromptTokens != 10 {
		t.Errorf("tokens %d prompt / %d output: want 10 (40 chars / 4) and 4 (one per delta)", resp.PromptTokens, resp.OutputTokens)
	}
	if resp.Wall <= 0 || resp.Eval < 0 || resp.TokensPerSecond() <= 0 {
		t.Errorf("no timing: wall %v eval %v", resp.Wall, resp.Eval)
	}
}

func TestOpenAIKeyRefusedNamesHostAndVariable(t *testing.T) {
	const env = "NSED_TEST_FAKE_KEY"
	t.Setenv(env, "sk-wrong")
	srv := fakeopenai.New(t, []string{"m"}, func(r fakeopenai.Request) fakeopenai.Reply {
		if r.Authorization != "Bearer sk-right" {
			return fakeopenai.Reply{Status: 401}
		}
		return fakeopenai.Reply{Content: []string{"ok"}}
	})
	t.Setenv("OPENAI_API_KEY", "sk-openai") // must never be sent to another server
	o, err := NewOpenAI(OpenAIHost{URL: srv.URL, KeyEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Chat(context.Background(), Request{Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}}, nil)
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "$"+env) {
		t.Fatalf("err = %v: want an AuthError naming %s and $%s", err, srv.URL, env)
	}
	if strings.Contains(err.Error(), "sk-wrong") {
		t.Errorf("the key leaked into the error: %v", err)
	}
	if got := srv.Requests()[0].Authorization; got != "Bearer sk-wrong" {
		t.Errorf("Authorization %q: want the key from $%s only", got, env)
	}
	if err := o.CheckModel(context.Background(), "", "m"); !errors.As(err, &ae) {
		t.Errorf("CheckModel: %v, want an AuthError", err)
	}
}

func TestOpenAIMissingModelAndDeadServer(t *testing.T) {
	_, o := fakeBackend(t, func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{Content: []string{"ok"}} }, "m", "tiny:latest")
	_, err := o.Chat(context.Background(), Request{Model: "nope", Messages: []Message{{Role: "user", Content: "hi"}}}, nil)
	var nf *ModelNotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrModelNotFound) || nf.Model != "nope" {
		t.Fatalf("chat with a missing model: %v", err)
	}
	err = o.CheckModel(context.Background(), "", "nope")
	if !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), "tiny:latest") {
		t.Errorf("CheckModel: %v, want not found naming what the server serves", err)
	}
	if err := o.CheckModel(context.Background(), "", "tiny"); err != nil {
		t.Errorf("tiny is tiny:latest: %v", err)
	}
	dead, _ := NewOpenAI(OpenAIHost{URL: "http://127.0.0.1:9/v1"}) // discard port: nothing listens
	_, err = dead.Chat(context.Background(), Request{Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}}, nil)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:9/v1") {
		t.Errorf("dead server: %v, want unreachable naming the URL", err)
	}
	if err := dead.CheckModel(context.Background(), "", "m"); !errors.Is(err, ErrUnreachable) {
		t.Errorf("dead server CheckModel: %v", err)
	}
}

func TestOpenAICancelMidStream(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	_, o := fakeBackend(t, func(fakeopenai.Request) fakeopenai.Reply {
		return fakeopenai.Reply{Content: []string{"first", "never"}, Hold: hold}
	}, "m")
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := o.Chat(ctx, Request{Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}}, func(string) { cancel() })
	if !errors.Is(err, context.Canceled) || strings.Contains(resp.Content, "never") {
		t.Fatalf("err %v content %q: want context.Canceled after the first token", err, resp.Content)
	}
}

func TestRouterSendsEachHostToItsAPI(t *testing.T) {
	srv, _ := fakeBackend(t, func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{Content: []string{"from v1"}} }, "m")
	r, err := NewRouter([]string{srv.URL + "/", "127.0.0.1:9"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Hosts(); len(h) != 2 || h[0] != srv.URL || h[1] != "127.0.0.1:9" {
		t.Fatalf("hosts %v", h)
	}
	resp, err := r.Chat(context.Background(), Request{Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}}, nil)
	if err != nil || resp.Content != "from v1" {
		t.Fatalf("default host is the /v1 server: %q, %v", resp.Content, err)
	}
	_, err = r.Chat(context.Background(), Request{Host: "127.0.0.1:9", Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}}, nil)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "Ollama") {
		t.Errorf("the Ollama host went elsewhere: %v", err)
	}
	if r.API("") != "openai" || r.API("127.0.0.1:9") != "ollama" {
		t.Errorf("API: %q %q", r.API(""), r.API("127.0.0.1:9"))
	}
	if _, err := r.Capabilities(context.Background(), "", "m"); err == nil {
		t.Error("an OpenAI-compatible host claimed to know capabilities")
	}
	for in, want := range map[string]string{"http://gpu1:8000/v1/": "http://gpu1:8000/v1", "https://x.example/v1": "https://x.example/v1", "http://0.0.0.0:8000/v1": "http://127.0.0.1:8000/v1"} {
		if got, err := NormalizeHost(in); err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestOpenAIRealServer talks to the test server's own /v1 (Ollama serves
// the OpenAI API): a streamed chat with usage counted, then a structured
// reply that follows a small schema.
func TestOpenAIRealServer(t *testing.T) {
	host, model := testenv.RealModel(t)
	o, err := NewOpenAI(OpenAIHost{URL: "http://" + host + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.CheckModel(context.Background(), "", model); err != nil {
		t.Fatal(err)
	}
	seed, temp := 1, 0.0
	tokens := 0
	resp, err := o.Chat(context.Background(), Request{Model: model, Messages: []Message{{Role: "user", Content: "Name three colours."}},
		Options: Options{NumPredict: 24, Seed: &seed, Temperature: &temp}}, func(string) { tokens++ })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reply %q: %d prompt, %d output tokens, %d deltas, %s, %.1f tok/s", resp.Content, resp.PromptTokens, resp.OutputTokens, tokens, resp.DoneReason, resp.TokensPerSecond())
	if resp.Content == "" || tokens == 0 || resp.PromptTokens == 0 || resp.OutputTokens == 0 || resp.OutputTokens > 24 {
		t.Errorf("content %q, %d deltas, tokens %d/%d: want streamed text and usage within max_tokens", resp.Content, tokens, resp.PromptTokens, resp.OutputTokens)
	}
	// The chat template adds tokens the four-characters estimate cannot
	// see: a count above it came from the server's usage.
	if est := promptEstimate([]Message{{Content: "Name three colours."}}); resp.PromptTokens <= est {
		t.Errorf("prompt tokens %d, no more than the estimate %d: usage was not read", resp.PromptTokens, est)
	}
	schema := `{"type":"object","properties":{"colour":{"type":"string"},"count":{"type":"integer"}},"required":["colour","count"]}`
	resp, err = o.Chat(context.Background(), Request{Model: model, Format: json.RawMessage(schema),
		Messages: []Message{{Role: "user", Content: "Give one colour and the number 3 as JSON."}},
		Options:  Options{NumPredict: 60, Seed: &seed, Temperature: &temp}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Colour *string `json:"colour"`
		Count  *int    `json:"count"`
	}
	if err := json.Unmarshal([]byte(resp.Content), &got); err != nil || got.Colour == nil || got.Count == nil {
		t.Errorf("structured reply %q does not follow the schema: %v", resp.Content, err)
	}
}
