package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/ollama/ollama/api"
)

// paperReply answers like the paper's models would, after thinking think
// tokens: code and a final answer to a question, valid JSON to a review,
// summary or judge schema.
func paperReply(think int) func(*api.ChatRequest) fakeollama.Reply {
	return func(req *api.ChatRequest) fakeollama.Reply {
		r := fakeollama.Reply{Thinking: strings.Repeat("hmm ", think)}
		if len(req.Format) == 0 {
			r.Content = "Worked solution.\n```python\nprint(sum(map(int, input().split())))\n```\nFINAL ANSWER: 376"
			return r
		}
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		_ = json.Unmarshal(req.Format, &schema)
		out := map[string]any{}
		switch {
		case schema.Properties["verdict"] != nil:
			out = map[string]any{"reasoning": "plain answer", "verdict": "no_dark_pattern", "category": "anthropomorphization"}
		case schema.Properties["summary"] != nil:
			out["summary"] = "state"
		default:
			for l := range schema.Properties {
				out[l] = map[string]any{"weight": 30, "stance": "support", "claims": []any{}, "critique": "ok"}
			}
		}
		b, _ := json.Marshal(out)
		r.Content = string(b)
		return r
	}
}

// The README's "Reproduce the paper" commands, run as written (one item per
// dataset) against a server with the paper's three models that think as
// recent Ollama servers do: by default, counted against num_predict.
func TestReproduceThePaperCommands(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := string(readme)
	i := strings.Index(sec, "## Reproduce the paper")
	if i < 0 {
		t.Fatal("README has no \"Reproduce the paper\" section")
	}
	sec = sec[i:]
	sec = sec[:strings.Index(sec[3:], "\n## ")+3]
	var cmds [][]string
	for _, line := range strings.Split(sec, "\n") {
		if strings.HasPrefix(line, "nsed ") {
			cmds = append(cmds, strings.Fields(line)[1:])
		}
	}
	if len(cmds) != 3 {
		t.Fatalf("want 3 nsed commands in the section, found %d", len(cmds))
	}
	srv := fakeollama.New(t, map[string]fakeollama.Model{
		"gpt-oss:20b": {Capabilities: []string{"completion", "tools", "thinking"}, Family: "gptoss", Levels: true, Respond: paperReply(5000)},
		"qwen3:8b":    {Capabilities: []string{"completion", "tools", "thinking"}, Family: "qwen3", ThinksByDefault: true, Respond: paperReply(5000)},
		"gemma3:12b":  {Capabilities: []string{"completion", "vision"}, Family: "gemma3", Respond: paperReply(0)},
	})
	dir := t.TempDir()
	paper, err := os.ReadFile(filepath.Join("..", "..", "paper.toml"))
	if err != nil {
		t.Fatal(err)
	}
	one := func(sample string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "eval", "samples", sample))
		if err != nil {
			t.Fatal(err)
		}
		return append(bytes.SplitN(b, []byte("\n"), 2)[0], '\n')
	}
	for name, data := range map[string][]byte{"paper.toml": paper, "aime2025.jsonl": one("aime.jsonl"),
		"livecodebench_v5_hard.jsonl": one("lcb.jsonl"), "darkbench.jsonl": one("darkbench.jsonl")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wd, _ := os.Getwd()
	t.Cleanup(func() { _ = os.Chdir(wd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OLLAMA_HOST", srv.Host)
	t.Setenv("XDG_DATA_HOME", dir)
	for _, args := range cmds {
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), stdio{nil, &out, &errb}, append(args, "--quiet")); code != exitOK {
			t.Fatalf("nsed %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
		}
		if strings.Contains(errb.String(), "fail") {
			t.Errorf("nsed %s: %s", strings.Join(args, " "), errb.String())
		}
	}
	// Every reply had an answer: none ran out of tokens thinking.
	think := map[string]map[string]bool{}
	for _, req := range srv.Requests() {
		if think[req.Model] == nil {
			think[req.Model] = map[string]bool{}
		}
		if req.Think != nil {
			think[req.Model][strings.ToLower(strings.TrimSpace(string(mustMarshal(req.Think))))] = true
		} else {
			think[req.Model]["unset"] = true
		}
	}
	if !think["gpt-oss:20b"][`"medium"`] || !think["qwen3:8b"]["true"] || len(think["gemma3:12b"]) != 1 || !think["gemma3:12b"]["unset"] {
		t.Fatalf("think values sent per model: %v", think)
	}
	proposals := 0
	_ = filepath.WalkDir(filepath.Join(dir, "out"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".jsonl") || !strings.Contains(path, "transcripts") {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, line := range bytes.Split(b, []byte("\n")) {
			if bytes.Contains(line, []byte(`"no_answer"`)) || bytes.Contains(line, []byte(`"abstained":true`)) {
				t.Errorf("%s: %s", path, line)
			}
			if bytes.Contains(line, []byte(`"kind":"proposal_done"`)) {
				proposals++
				if !bytes.Contains(line, []byte("FINAL ANSWER: 376")) {
					t.Errorf("%s: a proposal without its answer: %.300s", path, line)
				}
			}
		}
		return nil
	})
	if proposals < 9 {
		t.Fatalf("%d proposals in the transcripts, want at least 9", proposals)
	}
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
