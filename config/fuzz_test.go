package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds nsed.toml texts to the loader: it must never panic, and a
// file it refuses gets a *config.Error naming that file and the line at
// fault whenever the mistake is on one (a syntax error, a bad value, an
// unknown key).
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../nsed.toml", "../paper.toml", "../examples/smollm2.toml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	for _, s := range []string{
		"[gate]\nbudget_tokens = 300\nbudgett = 2\n",
		"[stopping]\neffort = 0.6\np_g = 0.9\np_v = 0.8\n",
		"[deliberation]\n\ncredits = \"lots\"\n",
		"[gate\n",
		"[[agents]]\nrole = \"x\"\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\n",
		"[[agents]]\nmodel = \"gpt-oss:20b\"\nthink = \"medium\"\nthink_budget = 8192\n[[agents]]\nmodel = \"qwen3:8b\"\nnum_predict = 2048\ntemperature = 0.3\n",
		"[sampling.review]\n\nthink = \"hard\"\n",
		"[ollama]\nkeep_alive = \"forever\"\nhosts = [\"http://gpu:11434\"]\n",
		"[broker]\nvram_budget = \"8GiB\"\ndiversity = 0.3\n[broker.priors]\n\"llama3.2:3b\" = 0.4\n",
		"gate = { budget_tokens = 300, budgett = 2 }\n",
		"agents = [{ model = \"a\" }, { model = \"b\", temperature = 9 }]\n",
		"[deliberation]\nmax_rounds = 99999999999999999999\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		_, err := Parse([]byte(text), "fuzz.toml")
		if err == nil {
			return
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %v (%T) is not a *config.Error", err, err)
		}
		if ce.File != "fuzz.toml" && ce.File != EmbeddedName {
			t.Fatalf("error names file %q: %v", ce.File, err)
		}
		if ce.Msg == "" {
			t.Fatalf("error without a message: %#v", ce)
		}
		if ce.Line == 0 {
			t.Fatalf("error names no line: %v\n%s", err, text)
		}
	})
}
