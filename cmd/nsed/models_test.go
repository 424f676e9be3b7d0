package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/nsed/nsed/internal/fakeopenai"
)

// nsed models lists an Ollama host and an OpenAI-compatible one in one
// table, each model with the API its host speaks.
func TestModelsListsEachHostsAPI(t *testing.T) {
	ol := fakeollama.New(t, map[string]fakeollama.Model{"tiny:1b": {}})
	oa := fakeopenai.New(t, []string{"served-model"}, func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{} })
	t.Setenv("OLLAMA_HOST", "")
	var out, errb strings.Builder
	code := dispatch(context.Background(), stdio{strings.NewReader(""), &out, &errb}, []string{"models", "--host", ol.Host, "--host", oa.URL})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	if !regexp.MustCompile(`^HOST\s+API\s+MODEL\s`).MatchString(lines[0]) {
		t.Fatalf("header %q", lines[0])
	}
	want := map[string]string{"tiny:1b": "ollama", "served-model": "openai"}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		if api, ok := want[f[2]]; ok {
			if f[1] != api {
				t.Errorf("%s listed with API %s, want %s", f[2], f[1], api)
			}
			delete(want, f[2])
		}
	}
	if len(want) != 0 {
		t.Errorf("not listed: %v\n%s", want, out.String())
	}
}

// What [[hosts]] configures of an OpenAI-compatible server shows where the
// broker's numbers are read: `nsed models` lists the configured memory as
// held, and `nsed broker --explain` prices the model with it and with the
// configured speed (marked ~, assumed until measured).
func TestServedMemoryConfiguredShows(t *testing.T) {
	oa := fakeopenai.New(t, []string{"big", "small"}, func(fakeopenai.Request) fakeopenai.Reply { return fakeopenai.Reply{} })
	t.Setenv("OLLAMA_HOST", "")
	cfg := filepath.Join(t.TempDir(), "nsed.toml")
	toml := fmt.Sprintf(`
[[hosts]]
url = %q
api = "openai"
vram_budget = "20GiB"
model_memory = { big = "16GiB", small = "6GiB" }
tokens_per_sec = 45

[[agents]]
model = "big"

[[agents]]
model = "small"
`, oa.URL)
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := dispatch(context.Background(), stdio{strings.NewReader(""), &out, &errb}, []string{"models", "--config", cfg}); code != exitOK {
		t.Fatalf("models: exit %d: %s", code, errb.String())
	}
	if !regexp.MustCompile(`(?m)\sbig\s.*\s16\.0 GiB\s`).MatchString(out.String()) {
		t.Errorf("nsed models does not show big's 16 GiB:\n%s", out.String())
	}
	out.Reset()
	store := filepath.Join(t.TempDir(), "q.json")
	if code := dispatch(context.Background(), stdio{strings.NewReader(""), &out, &errb}, []string{"broker", "--explain", "--config", cfg, "--store", store}); code != exitOK {
		t.Fatalf("broker: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{`big@\S+\s+16\.0 GiB\s+~45\.0\s`, `small@\S+\s+6\.0 GiB\s+~45\.0\s`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("nsed broker --explain lacks %s:\n%s", want, out.String())
		}
	}
	// 16 + 6 GiB do not fit in 20: both agents share one model.
	if n := len(regexp.MustCompile(`(?m)^\*\s`).FindAllString(out.String(), -1)); n != 1 {
		t.Errorf("want one model bound within 20 GiB:\n%s", out.String())
	}
}
