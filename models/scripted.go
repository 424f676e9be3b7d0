package models

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Scripted is a deterministic in-process backend for tests, demos and
// benchmarks of everything above the model server. It streams a scripted
// reply in small chunks and honours cancellation like a real server.
type Scripted struct {
	// Reply writes the reply to a request; nil uses DefaultReply.
	Reply func(req Request) (string, error)
	// Chunk is the bytes per streamed token (default 4).
	Chunk int
	// Delay is the pause between streamed tokens (default none).
	Delay time.Duration
	// Models, if set, are the only models CheckModel accepts.
	Models []string

	mu    sync.Mutex
	calls []Request
}

// Calls returns every request received so far.
func (s *Scripted) Calls() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CheckModel implements Checker.
func (s *Scripted) CheckModel(ctx context.Context, host, model string) error {
	if len(s.Models) == 0 || slices.Contains(s.Models, model) {
		return nil
	}
	return &ModelNotFoundError{Host: host, Model: model}
}

// Chat implements Backend.
func (s *Scripted) Chat(ctx context.Context, req Request, onToken TokenFunc) (Response, error) {
	start := time.Now()
	s.mu.Lock()
	s.calls = append(s.calls, req)
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	reply := s.Reply
	if reply == nil {
		reply = DefaultReply
	}
	text, err := reply(req)
	if err != nil {
		return Response{}, err
	}
	chunk := s.Chunk
	if chunk <= 0 {
		chunk = 4
	}
	var timer *time.Timer
	if s.Delay > 0 {
		timer = time.NewTimer(s.Delay)
		defer timer.Stop()
	}
	out := 0
	for i := 0; i < len(text); i += chunk {
		if s.Delay > 0 {
			timer.Reset(s.Delay)
			select {
			case <-ctx.Done():
				return Response{Content: text[:i], OutputTokens: out}, ctx.Err()
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return Response{Content: text[:i], OutputTokens: out}, err
		}
		if onToken != nil {
			onToken(text[i:min(i+chunk, len(text))])
		}
		out++
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += (len(m.Content) + 3) / 4
	}
	wall := time.Since(start)
	return Response{Content: text, PromptTokens: prompt, OutputTokens: out, DoneReason: "stop", Eval: wall, Wall: wall}, nil
}

// DefaultReply answers like a plausible agent: structured requests get a
// schema-valid sample, free-text ones a short proposal ending in a
// "FINAL ANSWER:" line. The content depends only on the request, so runs
// repeat exactly.
func DefaultReply(req Request) (string, error) {
	h := fnv.New64a()
	h.Write([]byte(req.Model))
	for _, m := range req.Messages {
		h.Write([]byte(m.Content))
	}
	rng := rand.New(rand.NewPCG(h.Sum64(), 7))
	if len(req.Format) > 0 {
		v, err := SchemaSample(req.Format, rng)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	ans := 40 + rng.IntN(4)
	return fmt.Sprintf("Let me work through this carefully.\nStep 1: restate the problem.\nStep 2: compute the value, checking each step.\nStep 3: verify against the constraints.\n\nFINAL ANSWER: %d", ans), nil
}

// SchemaSample makes a random value that satisfies a JSON schema of the
// bounded kind nsed sends (objects, arrays with maxItems, enums, bounded
// strings and integers). Arrays of objects whose minItems equals the number
// of values of an enum property get each value once, as a review must
// score each candidate once.
func SchemaSample(schema json.RawMessage, rng *rand.Rand) (any, error) {
	var s map[string]any
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return sample(s, rng, ""), nil
}

var words = strings.Fields("the answer holds because each step checks out but the second case needs more care and the bound is tight")

func sample(s map[string]any, rng *rand.Rand, forced string) any {
	num := func(k string, def float64) float64 {
		if v, ok := s[k].(float64); ok {
			return v
		}
		return def
	}
	if forced != "" {
		return forced
	}
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		return enum[rng.IntN(len(enum))]
	}
	switch s["type"] {
	case "object":
		props, _ := s["properties"].(map[string]any)
		out := map[string]any{}
		// In a fixed order: the same request must get the same reply.
		for _, k := range slices.Sorted(maps.Keys(props)) {
			if ps, ok := props[k].(map[string]any); ok {
				out[k] = sample(ps, rng, "")
			}
		}
		return out
	case "array":
		items, _ := s["items"].(map[string]any)
		lo, hi := int(num("minItems", 0)), int(num("maxItems", 3))
		n := lo
		if hi > lo {
			n += rng.IntN(hi - lo + 1)
		}
		// Distinct enum values when the array must cover them all.
		key, values := distinctEnum(items, lo)
		out := make([]any, 0, n)
		for i := 0; i < n; i++ {
			if key != "" && i < len(values) {
				obj := sample(items, rng, "").(map[string]any)
				obj[key] = values[i]
				out = append(out, obj)
				continue
			}
			out = append(out, sample(items, rng, ""))
		}
		return out
	case "integer":
		lo, hi := int(num("minimum", -100)), int(num("maximum", 100))
		return lo + rng.IntN(hi-lo+1)
	case "number":
		lo, hi := num("minimum", 0), num("maximum", 1)
		return lo + rng.Float64()*(hi-lo)
	case "boolean":
		return rng.IntN(2) == 0
	case "string":
		max := int(num("maxLength", 40))
		var b strings.Builder
		for b.Len() < max {
			w := words[rng.IntN(len(words))]
			if b.Len()+len(w)+1 > max {
				break
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
		return b.String()
	}
	return nil
}

func distinctEnum(items map[string]any, minItems int) (string, []any) {
	props, _ := items["properties"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(props)) {
		ps, _ := props[k].(map[string]any)
		if enum, ok := ps["enum"].([]any); ok && len(enum) == minItems && minItems > 1 {
			return k, enum
		}
	}
	return "", nil
}
