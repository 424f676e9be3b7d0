package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// DefaultKeyEnv is the environment variable an OpenAI-compatible host's API
// key is read from when its configuration names none. Not OPENAI_API_KEY:
// a key for api.openai.com must not travel to a lab's vLLM server unasked.
const DefaultKeyEnv = "NSED_OPENAI_API_KEY"

// OpenAIHost is one OpenAI-compatible server (vLLM, SGLang, llama.cpp's
// server, LM Studio, Ollama's /v1): its base URL, ending in /v1, and the
// environment variable holding its API key (empty: DefaultKeyEnv). The key
// itself is read from the environment when the backend is made and never
// stored in configuration, transcripts or logs.
type OpenAIHost struct {
	URL    string
	KeyEnv string
}

// OpenAI is a Backend for OpenAI-compatible chat-completions servers. A
// request's Host picks the server by its base URL; empty means the first.
type OpenAI struct {
	mu    sync.Mutex
	hosts map[string]*openaiClient
	first string
	http  *http.Client
}

type openaiClient struct {
	chat   openai.ChatCompletionService
	models openai.ModelService
	keyEnv string
}

// IsOpenAIURL says whether a host names an OpenAI-compatible server: a URL
// whose path ends in /v1.
func IsOpenAIURL(h string) bool {
	h = strings.TrimRight(strings.TrimSpace(h), "/")
	return strings.Contains(h, "://") && strings.HasSuffix(h, "/v1")
}

// NormalizeOpenAIURL returns a base URL's canonical form (scheme, host,
// port, path without a trailing slash), the key the backend files it under.
func NormalizeOpenAIURL(h string) (string, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(h), "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("bad OpenAI-compatible host %q: want a URL ending in /v1, e.g. http://127.0.0.1:8000/v1", h)
	}
	if u.Hostname() == "0.0.0.0" {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String(), nil
}

// NewOpenAI returns a backend for the given servers.
func NewOpenAI(hosts ...OpenAIHost) (*OpenAI, error) {
	o := &OpenAI{hosts: map[string]*openaiClient{}, http: serverHTTPClient()}
	for _, h := range hosts {
		key, err := o.add(h)
		if err != nil {
			return nil, err
		}
		if o.first == "" {
			o.first = key
		}
	}
	return o, nil
}

func (o *OpenAI) add(h OpenAIHost) (string, error) {
	key, err := NormalizeOpenAIURL(h.URL)
	if err != nil {
		return "", err
	}
	env := h.KeyEnv
	if env == "" {
		env = DefaultKeyEnv
	}
	// Services built straight from options, not openai.NewClient, which
	// would read OPENAI_API_KEY and OPENAI_BASE_URL from the environment.
	opts := []option.RequestOption{
		option.WithBaseURL(key + "/"),
		option.WithHTTPClient(o.http),
		option.WithMaxRetries(0), // the engine's caller owns retries
	}
	if k := os.Getenv(env); k != "" {
		opts = append(opts, option.WithAPIKey(k))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.hosts[key]; !ok {
		o.hosts[key] = &openaiClient{chat: openai.NewChatCompletionService(opts...), models: openai.NewModelService(opts...), keyEnv: env}
	}
	return key, nil
}

// Hosts lists the configured servers, the default first.
func (o *OpenAI) Hosts() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	if o.first != "" {
		out = append(out, o.first)
	}
	for h := range o.hosts {
		if h != o.first {
			out = append(out, h)
		}
	}
	if len(out) > 1 {
		sort.Strings(out[1:])
	}
	return out
}

// client returns the client for host, adding servers not seen before (a
// rebind may name a new one).
func (o *OpenAI) client(host string) (*openaiClient, string, error) {
	if host == "" {
		host = o.first
	}
	key, err := NormalizeOpenAIURL(host)
	if err != nil {
		return nil, "", err
	}
	o.mu.Lock()
	c, ok := o.hosts[key]
	o.mu.Unlock()
	if ok {
		return c, key, nil
	}
	if _, err := o.add(OpenAIHost{URL: key}); err != nil {
		return nil, "", err
	}
	return o.client(key)
}

// Chat implements Backend over a streamed /v1/chat/completions.
func (o *OpenAI) Chat(ctx context.Context, req Request, onToken TokenFunc) (Response, error) {
	c, host, err := o.client(req.Host)
	if err != nil {
		return Response{}, err
	}
	params, err := chatParams(req)
	if err != nil {
		return Response{}, err
	}
	start := time.Now()
	stream := c.chat.NewStreaming(ctx, params)
	defer stream.Close()
	var (
		acc    streamAcc
		resp   Response
		first  time.Time
		usage  bool
		finish string
	)
	for stream.Next() {
		if ctx.Err() != nil {
			break
		}
		chunk := stream.Current()
		if chunk.JSON.Usage.Valid() && chunk.Usage.CompletionTokens+chunk.Usage.PromptTokens > 0 {
			usage = true
			resp.PromptTokens, resp.OutputTokens = int(chunk.Usage.PromptTokens), int(chunk.Usage.CompletionTokens)
		}
		for _, ch := range chunk.Choices {
			if t := ch.Delta.Content; t != "" {
				acc.content.WriteString(t)
				acc.deltas++
				first = firstAt(first)
				if onToken != nil {
					onToken(t)
				}
			}
			if t := reasoningDelta(ch.Delta); t != "" {
				acc.thinking.WriteString(t)
				acc.deltas++
				first = firstAt(first)
			}
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
	}
	end := time.Now()
	resp.Content, resp.Thinking, resp.DoneReason = acc.content.String(), acc.thinking.String(), finish
	resp.Wall = end.Sub(start)
	if !first.IsZero() {
		// Client-side: these servers report no durations. Time to the first
		// delta stands for prompt evaluation, the rest for generation.
		resp.PromptEval, resp.Eval = first.Sub(start), end.Sub(first)
	}
	if cerr := ctx.Err(); cerr != nil {
		return resp, cerr
	}
	if err := stream.Err(); err != nil {
		return resp, classifyOpenAI(err, host, c.keyEnv, req.Model)
	}
	if !usage {
		// The server ignored stream_options.include_usage: one delta is one
		// token on vLLM, SGLang and llama.cpp; the prompt is estimated at
		// four characters a token.
		resp.OutputTokens = acc.deltas
		resp.PromptTokens = promptEstimate(req.Messages)
	}
	if finish == "" {
		return resp, fmt.Errorf("OpenAI-compatible server at %s: the reply from %s ended before it was done (no finish_reason)", host, req.Model)
	}
	return resp, nil
}

// firstAt keeps the time of the first delta.
func firstAt(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

type streamAcc struct {
	content, thinking strings.Builder
	deltas            int
}

// chatParams turns a Request into chat-completions parameters.
func chatParams(req Request) (openai.ChatCompletionNewParams, error) {
	p := openai.ChatCompletionNewParams{
		Model:         req.Model,
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			p.Messages = append(p.Messages, openai.SystemMessage(m.Content))
		case "assistant":
			p.Messages = append(p.Messages, openai.AssistantMessage(m.Content))
		default:
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		}
	}
	o := req.Options
	if o.NumPredict > 0 {
		p.MaxTokens = openai.Int(int64(o.NumPredict))
	}
	if o.Temperature != nil {
		p.Temperature = openai.Float(*o.Temperature)
	}
	if o.TopP != nil {
		p.TopP = openai.Float(*o.TopP)
	}
	if o.Seed != nil {
		p.Seed = openai.Int(int64(*o.Seed))
	}
	switch o.Think {
	case "low", "medium", "high":
		p.ReasoningEffort = shared.ReasoningEffort(o.Think)
	case "true", "false":
		// Qwen3-style templates switch thinking with enable_thinking; vLLM,
		// SGLang and llama.cpp pass chat_template_kwargs to the template,
		// whose other models ignore it. This is how the engine's retry
		// with thinking off reaches such a server.
		p.SetExtraFields(map[string]any{"chat_template_kwargs": map[string]any{"enable_thinking": o.Think == "true"}})
	}
	if len(req.Format) > 0 {
		var schema any
		if err := json.Unmarshal(req.Format, &schema); err != nil {
			return p, fmt.Errorf("structured-output schema for %s is not JSON: %w", req.Model, err)
		}
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "reply", Schema: schema, Strict: openai.Bool(true)},
		}}
	}
	return p, nil
}

// reasoningDelta is a delta's thinking: reasoning_content (vLLM, SGLang,
// DeepSeek) or reasoning (Ollama, others), fields the client does not
// model, so read from the raw delta.
func reasoningDelta(d openai.ChatCompletionChunkChoiceDelta) string {
	raw := d.RawJSON()
	if !strings.Contains(raw, `"reasoning`) {
		return ""
	}
	var r struct {
		ReasoningContent *string `json:"reasoning_content"`
		Reasoning        *string `json:"reasoning"`
	}
	if json.Unmarshal([]byte(raw), &r) != nil {
		return ""
	}
	if r.ReasoningContent != nil {
		return *r.ReasoningContent
	}
	if r.Reasoning != nil {
		return *r.Reasoning
	}
	return ""
}

func promptEstimate(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Content)
	}
	return (n + 3) / 4
}

// AuthError says an OpenAI-compatible server refused the API key.
type AuthError struct {
	Host, KeyEnv string
	Status       int
}

func (e *AuthError) Error() string {
	have := "is unset"
	if os.Getenv(e.KeyEnv) != "" {
		have = "holds a key the server refused"
	}
	return fmt.Sprintf("the OpenAI-compatible server at %s answered %d: $%s %s; export the server's API key in $%s (or name another variable with api_key_env in the host's [[hosts]] table)", e.Host, e.Status, e.KeyEnv, have, e.KeyEnv)
}

// classifyOpenAI turns the client's errors into the errors nsed explains
// to users, in the same classes as the Ollama backend's.
func classifyOpenAI(err error, host, keyEnv, model string) error {
	var ae *openai.Error
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return &AuthError{Host: host, KeyEnv: keyEnv, Status: ae.StatusCode}
		case http.StatusNotFound:
			if model != "" {
				return &ModelNotFoundError{Host: host, Model: model, API: "openai"}
			}
		}
		return fmt.Errorf("OpenAI-compatible server at %s, model %s: %w", host, model, err)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "connection refused") {
		return &UnreachableError{Host: host, Err: err, API: "openai"}
	}
	return fmt.Errorf("OpenAI-compatible server at %s, model %s: %w", host, model, err)
}

// list returns the model ids /v1/models lists.
func (o *OpenAI) list(ctx context.Context, host string) ([]string, string, error) {
	c, key, err := o.client(host)
	if err != nil {
		return nil, "", err
	}
	page, err := c.models.List(ctx)
	if err != nil {
		return nil, key, classifyOpenAI(err, key, c.keyEnv, "")
	}
	ids := make([]string, 0, len(page.Data))
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	return ids, key, nil
}

// Ping checks that a server answers /v1/models; it reports no version
// (the API has none), only the base URL.
func (o *OpenAI) Ping(ctx context.Context, host string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, key, err := o.list(ctx, host)
	return key, err
}

// CheckModel implements Checker: the server answers and lists the model
// ("name" also matches Ollama's "name:latest").
func (o *OpenAI) CheckModel(ctx context.Context, host, model string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ids, key, err := o.list(ctx, host)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id == model || id == model+":latest" {
			return nil
		}
	}
	return &ModelNotFoundError{Host: key, Model: model, API: "openai", Listed: ids}
}

// Models lists a server's models from /v1/models, with what the meter
// measured of them. The API tells nothing of size or memory: the server
// holds its models loaded, so they are marked loaded.
func (o *OpenAI) Models(ctx context.Context, host string, meter *Meter) ([]ModelInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ids, key, err := o.list(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]ModelInfo, 0, len(ids))
	for _, id := range ids {
		mi := ModelInfo{Host: key, Name: id, API: "openai", Loaded: true}
		if meter != nil {
			mi.Measured = meter.Speed(key, id)
			if base, ok := strings.CutSuffix(id, ":latest"); ok && mi.Measured.Calls == 0 {
				mi.Measured = meter.Speed(key, base)
			}
		}
		out = append(out, mi)
	}
	return out, nil
}
