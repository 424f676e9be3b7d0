package config

import (
	"errors"
	"strings"
	"testing"
)

func TestHostsTables(t *testing.T) {
	f, err := Parse([]byte(`
[[hosts]]
url = "http://gpu1:8000/v1"
api = "openai"
api_key_env = "VLLM_API_KEY"

[[hosts]]
url = "box:11434"
`), "my.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.HostList(), " "); got != "http://gpu1:8000/v1 box:11434" {
		t.Errorf("hosts %q: [[hosts]] alone list every server, without the default local Ollama", got)
	}
	if env := f.KeyEnvs()["http://gpu1:8000/v1"]; env != "VLLM_API_KEY" {
		t.Errorf("key env %q", env)
	}
	f, err = Parse([]byte("[ollama]\nhosts = [\"a:1\"]\n[[hosts]]\nurl = \"http://b:8000/v1\"\napi = \"openai\"\n"), "my.toml")
	if err != nil || strings.Join(f.HostList(), " ") != "a:1 http://b:8000/v1" {
		t.Errorf("ollama.hosts come first: %v, %v", f.HostList(), err)
	}

	for _, tc := range []struct{ name, toml, want string }{
		{"openai without /v1", "[[hosts]]\nurl = \"http://gpu1:8000\"\napi = \"openai\"\n", "ends in /v1"},
		{"/v1 without api", "[[hosts]]\nurl = \"http://gpu1:8000/v1\"\n", `set api = "openai"`},
		{"unknown api", "[[hosts]]\nurl = \"http://gpu1:8000/v1\"\napi = \"vllm\"\n", `want "openai" or "ollama"`},
		{"key in api_key_env", "[[hosts]]\nurl = \"http://gpu1:8000/v1\"\napi = \"openai\"\napi_key_env = \"sk-abc123\"\n", "not the key itself"},
		{"key env on ollama", "[[hosts]]\nurl = \"box:11434\"\napi_key_env = \"K\"\n", "api_key_env is for"},
		{"no url", "[[hosts]]\napi = \"openai\"\n", "no url"},
		{"unknown key", "[[hosts]]\nurl = \"box:1\"\nkey = \"x\"\n", "allowed here: url, api, api_key_env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), "my.toml")
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "my.toml" || ce.Line == 0 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want my.toml with a line, saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sk-abc123") {
				t.Errorf("the key was echoed: %v", err)
			}
		})
	}
}

// [[hosts]] may say what the broker cannot read from an OpenAI-compatible
// server: each model's memory and the speed to assume until measured, and
// any host may have its own memory budget. Bad sizes name file and line.
func TestHostCapacities(t *testing.T) {
	f, err := Parse([]byte(`
[[hosts]]
url = "http://gpu1:8000/v1/"
api = "openai"
vram_budget = "80GiB"
model_memory = { "qwen3-8b" = "16GiB", "gpt-oss:20b" = "14GB" }
tokens_per_sec = 45

[[hosts]]
url = "box:11434"
vram_budget = "8GiB"

[[hosts]]
url = "http://gpu2:8000/v1"
api = "openai"
`), "my.toml")
	if err != nil {
		t.Fatal(err)
	}
	caps := f.Capacities()
	gpu1 := caps["http://gpu1:8000/v1"]
	if gpu1.VRAMBudget != 80<<30 || gpu1.ModelMemory["qwen3-8b"] != 16<<30 || gpu1.ModelMemory["gpt-oss:20b"] != 14e9 || gpu1.TokensPerSec != 45 {
		t.Errorf("gpu1 %+v (hosts %v)", gpu1, caps)
	}
	if box := caps["box:11434"]; box.VRAMBudget != 8<<30 || box.ModelMemory != nil {
		t.Errorf("box %+v", box)
	}
	if _, ok := caps["http://gpu2:8000/v1"]; ok || len(caps) != 2 {
		t.Errorf("a host that configures nothing has no entry: %v", caps)
	}

	for _, tc := range []struct {
		name, toml, key string
		line            int
		want            string
	}{
		{"bad model size", "[[hosts]]\nurl = \"box:1\"\n\n[[hosts]]\nurl = \"http://g:8000/v1\"\napi = \"openai\"\nmodel_memory = { m = \"lots\" }\n", "hosts[2].model_memory", 7, `model "m": bad size "lots"`},
		{"bad host budget", "[[hosts]]\nurl = \"box:1\"\nvram_budget = \"-8GiB\"\n", "hosts[1].vram_budget", 3, "bad size"},
		{"model memory on ollama", "[[hosts]]\nurl = \"box:1\"\nmodel_memory = { m = \"1GiB\" }\n", "hosts[1].model_memory", 3, "Ollama reports"},
		{"speed on ollama", "[[hosts]]\nurl = \"box:1\"\ntokens_per_sec = 9\n", "hosts[1].tokens_per_sec", 3, "is for api"},
		{"negative speed", "[[hosts]]\nurl = \"http://g:8000/v1\"\napi = \"openai\"\ntokens_per_sec = -3\n", "hosts[1].tokens_per_sec", 4, "positive speed"},
		{"model memory subtable", "[[hosts]]\nurl = \"http://g:8000/v1\"\napi = \"openai\"\n[hosts.model_memory]\nm = \"x\"\n", "hosts[1].model_memory", 1, "bad size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), "my.toml")
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "my.toml" || ce.Line != tc.line || ce.Key != tc.key || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %#v (%v), want my.toml:%d at %s saying %q", ce, err, tc.line, tc.key, tc.want)
			}
		})
	}
}
