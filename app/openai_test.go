package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/internal/fakeopenai"
	"github.com/nsed/nsed/models"
)

// A --host that is a URL ending in /v1 is an OpenAI-compatible server: the
// session checks its models on /v1/models and the run talks /v1 only.
func TestHostFlagOpenAIURL(t *testing.T) {
	srv := fakeopenai.New(t, []string{"m1", "m2"}, func(q fakeopenai.Request) fakeopenai.Reply {
		req := models.Request{Model: q.Model, Messages: []models.Message{{Role: "user", Content: q.Last()}}}
		if q.ResponseFormat != nil {
			req.Format = q.ResponseFormat.JSONSchema.Schema
		}
		text, _ := models.DefaultReply(req)
		return fakeopenai.Reply{Content: []string{text}}
	})
	t.Setenv("OLLAMA_HOST", "")
	tr := filepath.Join(t.TempDir(), "run.jsonl")
	flags := Flags{Host: srv.URL, Models: "m1,m2", Rounds: 1, Transcript: tr, Store: filepath.Join(t.TempDir(), "q.json"),
		Set: set("host", "models", "rounds", "transcript", "store")}
	s, err := Open(context.Background(), flags, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Deliberate("What is 6*7?", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.NewRun(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := r.Run(context.Background())
	if err := d.Finish(context.Background(), runErr); err != nil || runErr != nil {
		t.Fatalf("run: %v, finish: %v", runErr, err)
	}
	evs, err := engine.ReadTranscriptFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	if end, ok := evs[len(evs)-1].(*engine.RunEnded); !ok || end.Status != engine.StatusCompleted {
		t.Fatalf("transcript ends with %+v", evs[len(evs)-1])
	}
	if n := len(srv.Requests()); n < 4 {
		t.Errorf("%d chat calls reached the /v1 server, want 2 proposals and 2 reviews at least", n)
	}

	for _, tc := range []struct {
		host, models string
		want         Failure
		says         string
	}{
		{srv.URL, "m1,nope", NoModel, "m1, m2"},
		{"http://127.0.0.1:9/v1", "m1,m2", Unreachable, "http://127.0.0.1:9/v1"},
	} {
		f := flags
		f.Host, f.Models = tc.host, tc.models
		_, err := Open(context.Background(), f, func(string) {})
		if Classify(err) != tc.want || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("--host %s --models %s: %v (class %d), want class %d saying %q", tc.host, tc.models, err, Classify(err), tc.want, tc.says)
		}
	}
}

// [[hosts]] tables name OpenAI-compatible servers and the variable holding
// each one's key; $OLLAMA_HOST, an Ollama address, does not displace them.
func TestHostsTableWithKeyEnv(t *testing.T) {
	srv := fakeopenai.New(t, []string{"m1", "m2"}, func(q fakeopenai.Request) fakeopenai.Reply {
		if q.Authorization != "Bearer sk-test" {
			return fakeopenai.Reply{Status: 401}
		}
		return fakeopenai.Reply{Content: []string{"ok"}}
	})
	cfg := writeConfig(t, "[[hosts]]\nurl = \""+srv.URL+"\"\napi = \"openai\"\napi_key_env = \"NSED_TEST_VLLM_KEY\"\n")
	t.Setenv("OLLAMA_HOST", "127.0.0.1:9")
	flags := Flags{Config: cfg, Models: "m1,m2", Set: set("models")}

	t.Setenv("NSED_TEST_VLLM_KEY", "")
	_, err := Open(context.Background(), flags, func(string) {})
	var ae *models.AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "$NSED_TEST_VLLM_KEY is unset") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("no key: %v, want an AuthError naming the host and the variable", err)
	}
	t.Setenv("NSED_TEST_VLLM_KEY", "sk-test")
	s, err := Open(context.Background(), flags, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if h := s.hosts(); len(h) != 1 || h[0] != srv.URL {
		t.Errorf("hosts %v: want the [[hosts]] server alone", h)
	}
}

// The README's "Serving at scale" config loads as written: three
// OpenAI-compatible hosts, each agent bound to its own, the key's variable
// known, and think levels accepted for a server that cannot list
// capabilities.
func TestReadmeServingConfigLoads(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "## Serving at scale")
	_, block, ok2 := strings.Cut(sec, "```toml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no toml block under \"Serving at scale\"")
	}
	t.Setenv("OLLAMA_HOST", "")
	s := load(t, Flags{Config: writeConfig(t, block)})
	if h := s.hosts(); len(h) != 3 || !models.IsOpenAIURL(h[0]) {
		t.Errorf("hosts %v", h)
	}
	for _, a := range s.Agents {
		if !models.IsOpenAIURL(a.Host) {
			t.Errorf("agent %s on %q, not an OpenAI-compatible host", a.ID, a.Host)
		}
	}
	if s.Config.KeyEnvs()["http://gpu1:8001/v1"] != "VLLM_API_KEY" {
		t.Errorf("key envs %v", s.Config.KeyEnvs())
	}
}
