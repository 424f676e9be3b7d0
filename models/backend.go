// Package models talks to model servers. It knows nothing of deliberation:
// the engine hands it chat requests and reads back text, token counts and
// timings; telemetry (what is installed, loaded, how big, how fast) lives here
// too so the broker and the TUI can read it without reaching into Ollama.
package models

import (
	"context"
	"encoding/json"
	"time"
)

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// Options are the sampling and runtime options the engine sets per call.
// Zero values mean "server default" except where noted.
type Options struct {
	Temperature *float64 `json:"temperature,omitempty"`
	Seed        *int     `json:"seed,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	NumCtx      int      `json:"num_ctx,omitempty"`
	NumPredict  int      `json:"num_predict,omitempty"`
	// KeepAlive is how long the server keeps the model loaded afterwards;
	// zero leaves the server's default.
	KeepAlive time.Duration `json:"keep_alive,omitempty"`
	// Think asks a reasoning model to think first: "true", "false", or a
	// level "low", "medium", "high" (gpt-oss); empty leaves the model's
	// default. The thinking is returned apart from the reply.
	Think string `json:"think,omitempty"`
}

// ThinkValues are the accepted values of Options.Think.
var ThinkValues = []string{"", "true", "false", "low", "medium", "high"}

// Request is one chat call.
type Request struct {
	// Host selects the server when a backend fronts several (see Pool);
	// empty means the backend's default host.
	Host     string    `json:"host,omitempty"`
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	// Format, when set, is a JSON schema the reply must follow (Ollama's
	// structured outputs).
	Format  json.RawMessage `json:"format,omitempty"`
	Options Options         `json:"options"`
}

// Response is what a finished call returns.
type Response struct {
	Content string `json:"content"`
	// Thinking is a reasoning model's thinking, kept apart from Content.
	Thinking     string `json:"thinking,omitempty"`
	PromptTokens int    `json:"prompt_tokens"`
	OutputTokens int    `json:"output_tokens"`
	// DoneReason is the server's reason for stopping ("stop", "length", ...).
	DoneReason string `json:"done_reason,omitempty"`
	// Durations as the server measured them; Wall is measured by the client
	// and includes queueing and transfer.
	Load       time.Duration `json:"load_ns,omitempty"`
	PromptEval time.Duration `json:"prompt_eval_ns,omitempty"`
	Eval       time.Duration `json:"eval_ns,omitempty"`
	Wall       time.Duration `json:"wall_ns"`
}

// TokensPerSecond is the generation speed the server reported, or the
// client-side estimate when the server gave no eval duration.
func (r Response) TokensPerSecond() float64 {
	d := r.Eval
	if d <= 0 {
		d = r.Wall
	}
	if d <= 0 {
		return 0
	}
	return float64(r.OutputTokens) / d.Seconds()
}

// TokenFunc receives streamed output as it arrives. It must not block for
// long: it runs on the backend's read loop.
type TokenFunc func(text string)

// Backend is the one thing the engine needs from a model server.
// Chat streams tokens to onToken (which may be nil) and returns the whole
// reply. A cancelled ctx must make Chat return ctx.Err() promptly.
type Backend interface {
	Chat(ctx context.Context, req Request, onToken TokenFunc) (Response, error)
}

// Checker is implemented by backends that can tell, before a run, whether a
// model is available on a host; the engine uses it to fail fast and to
// validate rebinds.
type Checker interface {
	CheckModel(ctx context.Context, host, model string) error
}
