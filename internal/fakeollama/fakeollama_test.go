package fakeollama_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/nsed/nsed/models"
	"github.com/ollama/ollama/api"
)

func TestThroughTheRealClient(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"thinker:8b": {Capabilities: []string{"completion", "thinking"}, ThinksByDefault: true,
			Respond: func(*api.ChatRequest) fakeollama.Reply {
				return fakeollama.Reply{Thinking: "let me think about it carefully", Content: "x = [[0]*n for _ in range(n)]\nFINAL ANSWER: 1 << k"}
			}},
		"plain:4b": {Respond: func(req *api.ChatRequest) fakeollama.Reply {
			return fakeollama.Reply{Content: "echo " + fakeollama.Prompt(req)}
		}},
	})
	o, err := models.NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var streamed string
	resp, err := o.Chat(ctx, models.Request{Model: "thinker:8b", Messages: []models.Message{{Role: "user", Content: "q"}}},
		func(s string) { streamed += s })
	if err != nil {
		t.Fatal(err)
	}
	want := "x = [[0]*n for _ in range(n)]\nFINAL ANSWER: 1 << k"
	if resp.Content != want || streamed != want || resp.Thinking != "let me think about it carefully" {
		t.Fatalf("content %q streamed %q thinking %q", resp.Content, streamed, resp.Thinking)
	}
	// Thinking counts against num_predict: a small budget leaves no answer.
	resp, err = o.Chat(ctx, models.Request{Model: "thinker:8b", Messages: []models.Message{{Role: "user", Content: "q"}},
		Options: models.Options{NumPredict: 4}}, nil)
	if err != nil || resp.Content != "" || resp.DoneReason != "length" {
		t.Fatalf("budget 4: content %q reason %q err %v", resp.Content, resp.DoneReason, err)
	}
	// A model that cannot think refuses think=true.
	_, err = o.Chat(ctx, models.Request{Model: "plain:4b", Messages: []models.Message{{Role: "user", Content: "q"}},
		Options: models.Options{Think: "true"}}, nil)
	if err == nil {
		t.Fatal("think=true on a model without thinking: no error")
	}
	if err := o.CheckModel(ctx, srv.Host, "missing:1b"); !errors.Is(err, models.ErrModelNotFound) {
		t.Fatalf("missing model: %v", err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Fatalf("recorded %d requests, want 3", n)
	}
}
