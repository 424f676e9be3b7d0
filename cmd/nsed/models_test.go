package main

import (
	"context"
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
