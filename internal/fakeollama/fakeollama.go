// Package fakeollama is an Ollama server for tests of what a real one can't
// be made to do on this machine: models that write like 7–20B models (long
// worked solutions, honest verifiers), reasoning models that think first and
// run out of tokens, capabilities the tiny models lack. It speaks the same
// HTTP API as Ollama (/api/chat streaming NDJSON, /api/show, /api/tags,
// /api/ps, /api/version), so the code under test goes through the real
// client path (models.Ollama). Tests that matter also run on the real server.
package fakeollama

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ollama/ollama/api"
)

// Reply is what a model answers to one chat request.
type Reply struct {
	// Thinking is streamed first (when the request lets the model think),
	// then Content. Both count against num_predict, as on recent servers.
	Thinking, Content string
}

// Model is one fake model.
type Model struct {
	// Capabilities as /api/show reports them; default ["completion"].
	// A model whose capabilities lack "thinking" rejects any think value
	// but false, as Ollama does.
	Capabilities []string
	// Family as /api/show's details report it.
	Family string
	// ThinksByDefault makes the model think when the request leaves think
	// unset (recent Ollama servers do this for models that can think).
	ThinksByDefault bool
	// Levels makes the model gpt-oss-like: it takes think levels "low",
	// "medium", "high" (/api/show reports the "harmony" parser) and cannot
	// stop thinking (true/false are ignored). Without it, a level is refused
	// with Ollama's error, as for every model but gpt-oss.
	Levels bool
	// Respond answers a request; it may be called concurrently.
	Respond func(req *api.ChatRequest) Reply
	// Digest is the model's content hash as /api/tags lists it.
	Digest string
}

// Server is a running fake Ollama server.
type Server struct {
	// Host is host:port, as nsed's --host takes it.
	Host   string
	srv    *httptest.Server
	models map[string]Model

	mu       sync.Mutex
	requests []api.ChatRequest
	shows    int
}

// Shows is how many /api/show requests the server has answered.
func (s *Server) Shows() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shows
}

// New starts a server with the given models (name → model), stopped when
// the test ends.
func New(t testing.TB, models map[string]Model) *Server {
	s := &Server{models: models}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"version": "0.11.4"})
	})
	mux.HandleFunc("/api/show", s.show)
	mux.HandleFunc("/api/tags", s.tags)
	mux.HandleFunc("/api/ps", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, api.ProcessResponse{})
	})
	mux.HandleFunc("/api/chat", s.chat)
	s.srv = httptest.NewServer(mux)
	s.Host = strings.TrimPrefix(s.srv.URL, "http://")
	t.Cleanup(s.srv.Close)
	return s
}

// Requests returns every chat request received so far, in arrival order.
func (s *Server) Requests() []api.ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.ChatRequest(nil), s.requests...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (s *Server) model(name string) (Model, bool) {
	m, ok := s.models[name]
	if !ok && !strings.Contains(name, ":") {
		m, ok = s.models[name+":latest"]
	}
	if len(m.Capabilities) == 0 {
		m.Capabilities = []string{"completion"}
	}
	return m, ok
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	var req api.ShowRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	s.mu.Lock()
	s.shows++
	s.mu.Unlock()
	m, ok := s.model(name)
	if !ok {
		fail(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found", name))
		return
	}
	parser := ""
	if m.Levels {
		parser = "harmony"
	}
	writeJSON(w, map[string]any{
		"parser":       parser,
		"capabilities": m.Capabilities,
		"details":      map[string]any{"family": m.Family, "parameter_size": "8B", "quantization_level": "Q4_K_M"},
		"model_info":   map[string]any{"general.context_length": 32768},
	})
}

func (s *Server) tags(w http.ResponseWriter, _ *http.Request) {
	var list api.ListResponse
	for name, m := range s.models {
		list.Models = append(list.Models, api.ListModelResponse{Name: name, Model: name, Size: 1 << 30, Digest: m.Digest,
			Details: api.ModelDetails{Family: m.Family, ParameterSize: "8B", QuantizationLevel: "Q4_K_M"}})
	}
	writeJSON(w, list)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req api.ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	m, ok := s.model(req.Model)
	if !ok {
		fail(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found, try pulling it first", req.Model))
		return
	}
	canThink := false
	for _, c := range m.Capabilities {
		canThink = canThink || c == "thinking"
	}
	think := m.ThinksByDefault
	if req.Think != nil && req.Think.IsString() && !m.Levels {
		fail(w, http.StatusBadRequest, fmt.Sprintf("think value %q is not supported for this model", req.Think.String()))
		return
	}
	if m.Levels && canThink {
		think = true // gpt-oss cannot stop thinking: true/false are ignored
	} else if req.Think != nil {
		if !canThink && req.Think.Bool() {
			fail(w, http.StatusBadRequest, fmt.Sprintf("%q does not support thinking", req.Model))
			return
		}
		think = req.Think.Bool()
	}
	think = think && canThink
	reply := Reply{Content: "FINAL ANSWER: 42"} // a model given no Respond still answers
	if m.Respond != nil {
		reply = m.Respond(&req)
	}
	if !think {
		reply.Thinking = ""
	}
	budget := -1
	if v, ok := req.Options["num_predict"]; ok {
		if f, ok := v.(float64); ok && f > 0 {
			budget = int(f)
		}
	}
	prompt := 0
	for _, msg := range req.Messages {
		prompt += Tokens(msg.Content)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	used, reason := 0, "stop"
	send := func(text string, thinking bool) bool {
		for _, chunk := range chunks(text) {
			if budget >= 0 && used >= budget {
				reason = "length"
				return false
			}
			used += Tokens(chunk)
			msg := api.Message{Role: "assistant"}
			if thinking {
				msg.Thinking = chunk
			} else {
				msg.Content = chunk
			}
			if enc.Encode(api.ChatResponse{Model: req.Model, Message: msg}) != nil {
				return false
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		return true
	}
	if send(reply.Thinking, true) {
		send(reply.Content, false)
	}
	_ = enc.Encode(api.ChatResponse{Model: req.Model, Message: api.Message{Role: "assistant"}, Done: true, DoneReason: reason,
		Metrics: api.Metrics{PromptEvalCount: prompt, EvalCount: used}})
}

// Tokens is the fake tokenizer: about four bytes a token.
func Tokens(s string) int { return (len(s) + 3) / 4 }

// chunks splits text into word-sized pieces, spaces and newlines kept, so
// the concatenation is the text byte for byte.
func chunks(text string) []string {
	var out []string
	start := 0
	for i := 1; i <= len(text); i++ {
		if i == len(text) || text[i] == ' ' || text[i] == '\n' {
			out = append(out, text[start:i])
			start = i
		}
	}
	return out
}

// Prompt is the text of a request's user turns, joined: what the model was
// asked.
func Prompt(req *api.ChatRequest) string {
	var b strings.Builder
	for _, m := range req.Messages {
		if m.Role == "user" {
			b.WriteString(m.Content)
			b.WriteString("\n")
		}
	}
	return b.String()
}
