package tinygguf

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOllamaStructuredOutput checks the generated models against the real
// server that .ci/ollama.sh starts: three models answer concurrently, and a
// schema with every string, number and array bounded yields valid JSON that
// keeps to the schema. Skipped unless NSED_TEST_OLLAMA_HOST is set.
func TestOllamaStructuredOutput(t *testing.T) {
	host := os.Getenv("NSED_TEST_OLLAMA_HOST")
	names := strings.Split(os.Getenv("NSED_TEST_MODELS"), ",")
	if host == "" || names[0] == "" {
		t.Skip("NSED_TEST_OLLAMA_HOST/NSED_TEST_MODELS not set; run: bash .ci/ollama.sh start")
	}
	schema := json.RawMessage(`{"type":"object","required":["evaluations"],"properties":{
		"evaluations":{"type":"array","minItems":1,"maxItems":2,"items":{"type":"object",
			"required":["candidate","weight","critique"],"properties":{
			"candidate":{"type":"string","enum":["A","B"]},
			"weight":{"type":"integer","minimum":-100,"maximum":100},
			"critique":{"type":"string","maxLength":80}}}}}}`)
	type reply struct {
		Evaluations []struct {
			Candidate string `json:"candidate"`
			Weight    int    `json:"weight"`
			Critique  string `json:"critique"`
		} `json:"evaluations"`
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	var wg sync.WaitGroup
	for i := 0; i < 2*len(names); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := names[i%len(names)]
			body, _ := json.Marshal(map[string]any{
				"model":    model,
				"stream":   false,
				"format":   schema,
				"messages": []map[string]string{{"role": "user", "content": "Compare answer A with answer B."}},
				"options":  map[string]any{"num_predict": 400, "seed": i},
			})
			resp, err := client.Post("http://"+host+"/api/chat", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var out struct {
				Message    struct{ Content string }
				DoneReason string `json:"done_reason"`
				Error      string
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Error != "" {
				t.Errorf("%s: status %s, decode error %v, server error %q", model, resp.Status, err, out.Error)
				return
			}
			var r reply
			if err := json.Unmarshal([]byte(out.Message.Content), &r); err != nil {
				t.Errorf("%s: invalid JSON (%v, done_reason %s): %q", model, err, out.DoneReason, out.Message.Content)
				return
			}
			if n := len(r.Evaluations); n < 1 || n > 2 {
				t.Errorf("%s: %d evaluations, want 1..2", model, n)
			}
			for _, e := range r.Evaluations {
				if (e.Candidate != "A" && e.Candidate != "B") || e.Weight < -100 || e.Weight > 100 || len([]rune(e.Critique)) > 80 {
					t.Errorf("%s: evaluation breaks the schema: %+v", model, e)
				}
			}
		}()
	}
	wg.Wait()
}
