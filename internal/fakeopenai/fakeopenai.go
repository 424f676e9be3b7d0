// Package fakeopenai is an OpenAI-compatible /v1 server for tests of what
// the real test server (Ollama's /v1) does not show: reasoning_content
// deltas, streams without usage, keys refused, servers that ignore
// response_format. It speaks SSE chat completions and /v1/models, so the
// code under test goes through the real client (models.OpenAI).
package fakeopenai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Request is what the server received on /v1/chat/completions.
type Request struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	MaxTokens   *int     `json:"max_tokens"`
	Temperature *float64 `json:"temperature"`
	TopP        *float64 `json:"top_p"`
	Seed        *int     `json:"seed"`
	// ReasoningEffort and ChatTemplateKwargs carry a request's think setting.
	ReasoningEffort    string         `json:"reasoning_effort"`
	ChatTemplateKwargs map[string]any `json:"chat_template_kwargs"`
	Stream             bool           `json:"stream"`
	StreamOptions      *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	ResponseFormat *struct {
		Type       string `json:"type"`
		JSONSchema struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict bool            `json:"strict"`
		} `json:"json_schema"`
	} `json:"response_format"`
	// Authorization is the request's header, as sent.
	Authorization string `json:"-"`
}

// Last is the last message's content.
func (r Request) Last() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[len(r.Messages)-1].Content
}

// Reply is what the server answers to one request.
type Reply struct {
	// Status, when not 0 or 200, is answered with an OpenAI-style error.
	Status int
	// Reasoning deltas are streamed first, in ReasoningField
	// ("reasoning_content" when empty), then Content deltas.
	Reasoning      []string
	ReasoningField string
	Content        []string
	// NoUsage leaves out the usage chunk even when asked for.
	NoUsage bool
	// Hold, when not nil, stalls the stream after its first delta until
	// Hold is closed or the client goes away.
	Hold <-chan struct{}
}

// Server is the fake; URL is its base, ending in /v1.
type Server struct {
	URL    string
	Models []string
	Reply  func(Request) Reply

	mu   sync.Mutex
	reqs []Request
}

// New starts a server with the given models, closed when the test ends.
func New(t testing.TB, models []string, reply func(Request) Reply) *Server {
	s := &Server{Models: models, Reply: reply}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	s.URL = hs.URL + "/v1"
	return s
}

// Requests returns the chat requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if rep := s.Reply(Request{Authorization: r.Header.Get("Authorization")}); rep.Status == 401 || rep.Status == 403 {
		writeError(w, rep.Status, "invalid api key")
		return
	}
	type model struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, m := range s.Models {
		out.Data = append(out.Data, model{ID: m, Object: "model"})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","code":null,"param":null}}`, msg)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, 400, err.Error())
		return
	}
	req.Authorization = r.Header.Get("Authorization")
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	known := false
	for _, m := range s.Models {
		known = known || m == req.Model
	}
	if !known {
		writeError(w, 404, fmt.Sprintf("model %q not found", req.Model))
		return
	}
	rep := s.Reply(req)
	if rep.Status != 0 && rep.Status != 200 {
		writeError(w, rep.Status, http.StatusText(rep.Status))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	field := rep.ReasoningField
	if field == "" {
		field = "reasoning_content"
	}
	send(chunk(map[string]any{"role": "assistant"}, nil))
	n := 0
	deltas := append(append([]string(nil), rep.Reasoning...), rep.Content...)
	for i, d := range deltas {
		key := "content"
		if i < len(rep.Reasoning) {
			key = field
		}
		send(chunk(map[string]any{key: d}, nil))
		n++
		if i == 0 && rep.Hold != nil {
			select {
			case <-rep.Hold:
			case <-r.Context().Done():
				return
			}
		}
	}
	send(chunk(map[string]any{}, "stop"))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !rep.NoUsage {
		prompt := 0
		for _, m := range req.Messages {
			prompt += len(strings.Fields(m.Content))
		}
		send(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": req.Model, "choices": []any{},
			"usage": map[string]any{"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}
