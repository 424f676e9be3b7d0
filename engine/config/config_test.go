package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedDefaultIsValid(t *testing.T) {
	f, err := Parse(nil, "empty.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Agents) != 3 || f.Deliberation.Credits != 100 || f.Gate.BudgetTokens != 600 {
		t.Fatalf("defaults not applied: %+v", f)
	}
	if err := f.Settings().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsNameFileLineKey(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want string
		line             int
	}{
		{"unknown key", "[gate]\nbudget_tokens = 300\nbudgett = 2\n", "gate.budgett: unknown key; allowed here: budget_tokens", 3},
		{"unknown table", "\n[gatee]\nx = 1\n", "gatee", 2},
		{"bad range", "[stopping]\neffort = 0.6\np_g = 0.9\np_v = 0.8\n", "stopping.p_v: need 0 ≤ p_g < p_v ≤ 1", 4},
		{"bad round", "[deliberation]\nmin_rounds = 0\n", "deliberation.min_rounds: must be at least 1", 2},
		{"wrong type", "[deliberation]\n\ncredits = \"lots\"\n", "credits", 3},
		{"syntax", "[gate\n", "", 2},
		{"undefined role", "[[agents]]\nrole = \"x\"\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\n", "no [roles.x] table", 1},
		{"agent without model", "[[agents]]\nmodel = \"a\"\n[[agents]]\nrole = \"critic\"\n", "agent 2 has no model", 1},
		{"bad theme", "[tui]\ntheme = \"neon\"\n", "use dark, light or high-contrast", 2},
		{"bad keep_alive", "[ollama]\nkeep_alive = \"forever\"\n", "duration", 2},
		{"bad think", "[sampling.review]\n\nthink = \"hard\"\n", "sampling.review.think: unknown value \"hard\"", 3},
		{"max_ctx below num_ctx", "[deliberation]\nmax_ctx = 4096\n", "deliberation.max_ctx: is 4096, below sampling.propose.num_ctx (8192)", 2},
		{"negative max_ctx", "[deliberation]\n\nmax_ctx = -1\n", "deliberation.max_ctx: must be zero", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), "my.toml")
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *config.Error", err, err)
			}
			if ce.File != "my.toml" || ce.Line != tc.line || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %q (line %d), want my.toml line %d containing %q", err, ce.Line, tc.line, tc.want)
			}
		})
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	os.Chdir(dir)
	os.WriteFile("nsed.toml", []byte("[deliberation]\nmax_rounds = 4\n"), 0o644)
	f, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if f.Deliberation.MaxRounds != 4 || f.Deliberation.MinRounds != 2 || len(f.Agents) != 3 {
		t.Fatalf("./nsed.toml not layered on defaults: %+v", f.Deliberation)
	}
	other := filepath.Join(dir, "other.toml")
	os.WriteFile(other, []byte("[[agents]]\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\n"), 0o644)
	f, err = Load(other)
	if err != nil {
		t.Fatal(err)
	}
	if f.Deliberation.MaxRounds != 6 || len(f.Agents) != 2 || f.Agents[1].Model != "b" {
		t.Fatalf("--config did not take precedence over ./nsed.toml: %+v %+v", f.Deliberation, f.Agents)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"8GiB": 8 << 30, "512MB": 512e6, "1.5G": 3 << 29, "1024": 1024, "4 gib": 4 << 30} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1G", "0"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}
