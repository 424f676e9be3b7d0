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
