package models

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:11434":        "127.0.0.1:11434",
		"localhost":              "localhost:11434",
		"http://10.0.0.2:8080/":  "10.0.0.2:8080",
		"0.0.0.0:11434":          "127.0.0.1:11434",
		"https://ollama.example": "https://ollama.example:443",
		" gpu-box:11434 ":        "gpu-box:11434",
		"http://[::1]:11434":     "[::1]:11434",
	} {
		got, err := NormalizeHost(in)
		if err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "http://", "::::"} {
		if _, err := NormalizeHost(bad); err == nil {
			t.Errorf("NormalizeHost(%q) accepted", bad)
		}
	}
}

func TestParseParameterSize(t *testing.T) {
	for in, want := range map[string]int64{"8.0B": 8e9, "135M": 135e6, "201.47K": 201470, "": 0, "huge": 0, "7b": 7e9} {
		if got := ParseParameterSize(in); got != want {
			t.Errorf("ParseParameterSize(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestMeterMovingAverage(t *testing.T) {
	var m Meter
	m.Record("h", "x", Response{OutputTokens: 100, Eval: time.Second}, 200*time.Millisecond, nil)
	m.Record("h", "x", Response{OutputTokens: 200, Eval: time.Second}, 100*time.Millisecond, nil)
	m.Record("h", "x", Response{}, 0, errors.New("boom"))
	s := m.Speed("h", "x")
	if s.Calls != 3 || s.Failures != 1 || s.TokensPerSec != 130 || s.LatencyMS != 170 {
		t.Fatalf("speed %+v", s)
	}
	if r := s.SuccessRatio(); r < 0.66 || r > 0.67 {
		t.Fatalf("success ratio %v", r)
	}
}

func TestSchemaSampleCoversEveryLabelOnce(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{"A":{"type":"object","properties":{"weight":{"type":"integer","minimum":-100,"maximum":100},"critique":{"type":"string","maxLength":20}}},"B":{"type":"object","properties":{"weight":{"type":"integer","minimum":-100,"maximum":100}}}},"required":["A","B"]}`)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 100; i++ {
		v, err := SchemaSample(schema, rng)
		if err != nil {
			t.Fatal(err)
		}
		obj := v.(map[string]any)
		a := obj["A"].(map[string]any)
		if w := a["weight"].(int); w < -100 || w > 100 || len(a["critique"].(string)) > 20 {
			t.Fatalf("out of bounds: %v", a)
		}
		if _, ok := obj["B"]; !ok {
			t.Fatal("B missing")
		}
	}
}

func TestScriptedStreamsAndCancels(t *testing.T) {
	s := &Scripted{Chunk: 3}
	var got strings.Builder
	resp, err := s.Chat(context.Background(), Request{Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}}, func(t string) { got.WriteString(t) })
	if err != nil || got.String() != resp.Content || resp.OutputTokens == 0 {
		t.Fatalf("streamed %q, reply %q, %v", got.String(), resp.Content, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s = &Scripted{Delay: time.Millisecond}
	n := 0
	_, err = s.Chat(ctx, Request{Model: "m"}, func(string) {
		if n++; n == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if err := (&Scripted{Models: []string{"a"}}).CheckModel(ctx, "h", "b"); !errors.Is(err, ErrModelNotFound) {
		t.Fatalf("CheckModel: %v", err)
	}
}

// Against the real test server: telemetry and the error types users see.
func TestOllamaTelemetryAndErrors(t *testing.T) {
	host, list := os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_MODELS")
	if host == "" || list == "" {
		t.Skip("NSED_TEST_OLLAMA_HOST/NSED_TEST_MODELS unset: no real Ollama server (bash .ci/ollama.sh start)")
	}
	model := strings.Split(list, ",")[0]
	o, err := NewOllama(host)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := o.Ping(ctx, ""); err != nil || v == "" {
		t.Fatalf("ping: %q %v", v, err)
	}
	var meter Meter
	var streamed strings.Builder
	n := 1
	resp, err := o.Chat(ctx, Request{Model: model, Messages: []Message{{Role: "user", Content: "hello"}},
		Options: Options{NumPredict: 30, Seed: &n}}, func(s string) { streamed.WriteString(s) })
	if err != nil || resp.Content == "" || resp.Content != streamed.String() || resp.OutputTokens == 0 || resp.PromptTokens == 0 {
		t.Fatalf("chat: %+v, %v", resp, err)
	}
	// Recorded as agents name it: default host left empty, tag left off.
	meter.Record("", strings.TrimSuffix(model, ":latest"), resp, time.Millisecond, nil)
	infos, err := o.Models(ctx, host, &meter)
	if err != nil {
		t.Fatal(err)
	}
	var found *ModelInfo
	for i := range infos {
		if strings.HasPrefix(infos[i].Name, model) {
			found = &infos[i]
		}
	}
	if found == nil || found.SizeBytes == 0 || found.Parameters == 0 || found.ContextLength == 0 || !found.Loaded || found.LoadedBytes == 0 || found.Measured.Calls != 1 {
		t.Fatalf("telemetry for %s: %+v", model, found)
	}
	if err := o.CheckModel(ctx, "", "no-such-model:1b"); !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), "ollama pull no-such-model:1b") {
		t.Fatalf("missing model: %v", err)
	}
	if _, err := o.Chat(ctx, Request{Model: "no-such-model:1b", Messages: []Message{{Role: "user", Content: "x"}}}, nil); !errors.Is(err, ErrModelNotFound) {
		t.Fatalf("chat with missing model: %v", err)
	}
	// think: "false" is accepted by any model; asking a model that cannot
	// think to think names the setting to change.
	if _, err := o.Chat(ctx, Request{Model: model, Messages: []Message{{Role: "user", Content: "x"}}, Options: Options{NumPredict: 4, Think: "false"}}, nil); err != nil {
		t.Fatalf("think=false: %v", err)
	}
	if _, err := o.Chat(ctx, Request{Model: model, Messages: []Message{{Role: "user", Content: "x"}}, Options: Options{NumPredict: 4, Think: "high"}}, nil); err == nil || !strings.Contains(err.Error(), "remove `think` from its [[agents]] table") {
		t.Fatalf("think=high on a model that cannot think: %v", err)
	}
	if err := o.CheckModel(ctx, "127.0.0.1:9", model); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "ollama serve") {
		t.Fatalf("dead host: %v", err)
	}
}
