// Package models talks to model servers. It knows nothing of deliberation:
// the engine hands it chat requests and reads back text, token counts and
// timings; telemetry (what is installed, loaded, how big, how fast) lives here
// too so the broker and the TUI can read it without reaching into Ollama.
package models

import (
	"context"
	"encoding/json"
	"strings"
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
	// ThinkBudget is the tokens a call that may think gets for its
	// thinking on top of NumPredict, which is then the answer's alone. It is
	// not sent to the server: the engine adds it to NumPredict (and NumCtx)
	// when the call may think (see engine.Caller).
	ThinkBudget int `json:"think_budget,omitempty"`
}

// ThinkLevels are the Think values only gpt-oss takes.
var ThinkLevels = []string{"low", "medium", "high"}

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
	// ThinkRetried says the reply came from a second try with thinking off,
	// the first having spent its whole budget thinking with no answer.
	ThinkRetried bool `json:"think_retried,omitempty"`
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

// Capabilities is what a server says a model can do (Ollama's /api/show).
type Capabilities struct {
	// Capabilities as the server lists them: "completion", "thinking",
	// "vision", "tools", … Empty when the server does not say (old servers).
	Capabilities []string `json:"capabilities,omitempty"`
	// Family is the model family from the details ("qwen3", "gptoss", …).
	Family string `json:"family,omitempty"`
	// Parser is the server's output parser for the model ("harmony" for
	// gpt-oss on recent servers), empty when it does not say.
	Parser string `json:"parser,omitempty"`
	// ContextLength is the model's trained context, 0 when unknown.
	ContextLength int `json:"context_length,omitempty"`
	// Host is the server that answered, host:port.
	Host string `json:"host,omitempty"`
}

// Known says whether the server listed capabilities at all.
func (c Capabilities) Known() bool { return len(c.Capabilities) > 0 }

// Has says whether the model lists capability name.
func (c Capabilities) Has(name string) bool {
	for _, x := range c.Capabilities {
		if x == name {
			return true
		}
	}
	return false
}

// CanThink says whether the model can think (the "thinking" capability).
func (c Capabilities) CanThink() bool { return c.Has("thinking") }

// TakesLevels says whether the model takes think levels (low, medium,
// high): Ollama accepts them only for gpt-oss (the harmony parser).
// unknown is true when the server told neither family nor parser.
func (c Capabilities) TakesLevels() (ok, unknown bool) {
	if c.Parser == "harmony" {
		return true, false
	}
	f := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(c.Family))
	if f == "" && c.Parser == "" {
		return false, true
	}
	return f == "gptoss", false
}

// CapabilityReader is implemented by backends that can say what a model
// supports; the engine uses it to refuse settings a model cannot take
// before a run starts, and to budget thinking.
type CapabilityReader interface {
	Capabilities(ctx context.Context, host, model string) (Capabilities, error)
}
