package models

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/ollama/ollama/api"
)

func TestCapabilitiesFromShowCached(t *testing.T) {
	reply := func(*api.ChatRequest) fakeollama.Reply { return fakeollama.Reply{Content: "ok"} }
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"gpt-oss:20b": {Capabilities: []string{"completion", "tools", "thinking"}, Family: "gptoss", Levels: true, Respond: reply},
		"qwen3:8b":    {Capabilities: []string{"completion", "thinking"}, Family: "qwen3", Respond: reply},
		"gemma3:12b":  {Capabilities: []string{"completion", "vision"}, Family: "gemma3", Respond: reply},
	})
	o, err := NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		model           string
		think, levels   bool
		family, parser  string
		unknownFamilies bool
	}{
		{"gpt-oss:20b", true, true, "gptoss", "harmony", false},
		{"qwen3:8b", true, false, "qwen3", "", false},
		{"gemma3:12b", false, false, "gemma3", "", false},
	} {
		for range 2 {
			c, err := o.Capabilities(ctx, "", tc.model)
			if err != nil {
				t.Fatal(err)
			}
			lv, unknown := c.TakesLevels()
			if !c.Known() || c.CanThink() != tc.think || lv != tc.levels || unknown || c.Family != tc.family || c.Parser != tc.parser || c.Host != srv.Host || c.ContextLength != 32768 {
				t.Fatalf("%s: %+v levels %v unknown %v", tc.model, c, lv, unknown)
			}
		}
	}
	if n := srv.Shows(); n != 3 {
		t.Fatalf("%d /api/show calls for 3 models asked twice each, want 3 (cached)", n)
	}
	if _, err := o.Capabilities(ctx, "", "nope:1b"); !errors.Is(err, ErrModelNotFound) {
		t.Fatalf("missing model: %v", err)
	}
	// Neither family nor parser: the server cannot say whether levels work.
	if _, unknown := (Capabilities{Capabilities: []string{"completion", "thinking"}}).TakesLevels(); !unknown {
		t.Fatal("no family and no parser should be unknown")
	}
	// A level on a model that is not gpt-oss: the server's error, explained.
	_, err = o.Chat(ctx, Request{Model: "qwen3:8b", Messages: []Message{{Role: "user", Content: "q"}}, Options: Options{Think: "low"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "takes no think level") || !strings.Contains(err.Error(), `think = "true"`) {
		t.Fatalf("level on qwen3: %v", err)
	}
	if !slices.Contains(ThinkValues, "medium") {
		t.Fatal("ThinkValues lost a level")
	}
}
