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

func TestAgentThinkAndBudgets(t *testing.T) {
	f, err := Parse([]byte(`
[[agents]]
model = "gpt-oss:20b"
think = "medium"
think_budget = 8192

[[agents]]
model = "qwen3:8b"
think = "true"
num_predict = 2048
temperature = 0.3

[[agents]]
model = "gemma3:12b"

[sampling.review]
think_budget = 0
`), "team.toml")
	if err != nil {
		t.Fatal(err)
	}
	ag := f.AgentInfos()
	if o := ag[0].Options; o == nil || o.Think != "medium" || o.ThinkBudget == nil || *o.ThinkBudget != 8192 {
		t.Fatalf("agent 1 options %+v", o)
	}
	if o := ag[1].Options; o == nil || o.Think != "true" || o.NumPredict != 2048 || *o.Temperature != 0.3 || o.ThinkBudget != nil {
		t.Fatalf("agent 2 options %+v", o)
	}
	if ag[2].Options != nil {
		t.Fatalf("agent 3 sets nothing, has %+v", ag[2].Options)
	}
	s := f.Settings().Sampling
	if s.Propose.ThinkBudget != 4096 || s.Review.ThinkBudget != 0 || s.Summary.ThinkBudget != 1024 {
		t.Fatalf("phase think budgets %d %d %d", s.Propose.ThinkBudget, s.Review.ThinkBudget, s.Summary.ThinkBudget)
	}
	if got := ag[1].OptionsFor(s.Propose); got.Think != "true" || got.NumPredict != 2048 || got.ThinkBudget != 4096 {
		t.Fatalf("agent 2 propose options %+v", got)
	}
}

func TestAgentOptionErrorsNameLineKey(t *testing.T) {
	two := "[[agents]]\nmodel = \"a\"\n\n[[agents]]\nmodel = \"b\"\n"
	for _, tc := range []struct {
		name, toml, want string
		line             int
	}{
		{"think level typo", two + "think = \"hgih\"\n", `agents[2].think: unknown value "hgih": use "true" or "false" (qwen3, deepseek-r1, …), "low", "medium" or "high" (gpt-oss only)`, 6},
		{"think on the first", "[[agents]]\nmodel = \"a\"\nthink = \"yes\"\n[[agents]]\nmodel = \"b\"\n", `agents[1].think: unknown value "yes"`, 3},
		{"negative think budget", two + "\nthink_budget = -5\n", "agents[2].think_budget: must be 0 (no extra room for thinking) or more tokens", 7},
		{"bad num_predict", two + "num_predict = -9\n", "agents[2].num_predict: must be a positive token count", 6},
		{"bad temperature", two + "temperature = 3.0\n", "agents[2].temperature: must be in [0, 2]", 6},
		{"num_predict starves reviews", two + "num_predict = 64\n", "agents[2].num_predict: 64 is below [sampling.review] num_predict (1024)", 6},
		{"unknown agent key", two + "thinking = \"true\"\n", "unknown key; allowed here: role, model, host, temperature, seed, top_p, num_ctx, num_predict, think, think_budget", 6},
		{"phase think budget", "[sampling.propose]\nthink_budget = -1\n", "sampling.propose.think_budget: must be 0", 2},
		{"phase think", "[sampling.propose]\nthink = \"on\"\n", `sampling.propose.think: unknown value "on": use "true" or "false"`, 2},
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

// paper.toml is the README's "Reproduce the paper" team.
func TestPaperConfig(t *testing.T) {
	f, err := Load(filepath.Join("..", "paper.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"gpt-oss:20b": "medium", "qwen3:8b": "true", "gemma3:12b": ""}
	ag := f.AgentInfos()
	if len(ag) != 3 {
		t.Fatalf("%d agents", len(ag))
	}
	for _, a := range ag {
		think, ok := want[a.Model]
		if !ok {
			t.Fatalf("unexpected model %s", a.Model)
		}
		if got := a.OptionsFor(f.Settings().Sampling.Propose).Think; got != think {
			t.Fatalf("%s: think %q, want %q", a.Model, got, think)
		}
	}
}

// ./try runs examples/smollm2.toml: it must load, validate, and give the
// three agents their own temperatures.
func TestTryConfig(t *testing.T) {
	f, err := Load(filepath.Join("..", "examples", "smollm2.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Settings()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	temps := map[float64]bool{}
	for _, a := range f.AgentInfos() {
		if a.Model != "smollm2:135m" {
			t.Errorf("%s runs %s", a.ID, a.Model)
		}
		if o := a.OptionsFor(s.Sampling.Propose); o.Temperature != nil {
			temps[*o.Temperature] = true
		}
	}
	if len(temps) != 3 {
		t.Errorf("want three agents at three temperatures, got %v", temps)
	}
	if s.MaxRounds != 2 {
		t.Errorf("max_rounds %d, want 2", s.MaxRounds)
	}
}

// A quorum larger than the team is a positioned error naming the key and
// the fix; a quorum the team can meet loads into the settings.
func TestQuorumChecksTheTeam(t *testing.T) {
	agents := "[[agents]]\nmodel = \"a\"\n[[agents]]\nmodel = \"b\"\n[[agents]]\nmodel = \"c\"\n"
	_, err := Parse([]byte(agents+"\n[deliberation]\nquorum = 5\n"), "team.toml")
	var ce *Error
	if !errors.As(err, &ce) || ce.File != "team.toml" || ce.Line != 9 || ce.Key != "deliberation.quorum" ||
		!strings.Contains(ce.Msg, "only 3 agents") || !strings.Contains(ce.Msg, "at most 3") {
		t.Fatalf("err = %#v", err)
	}
	_, err = Parse([]byte(agents+"\n[deliberation]\nquorum = 1\n"), "team.toml")
	if !errors.As(err, &ce) || ce.Key != "deliberation.quorum" || ce.Line != 9 {
		t.Fatalf("quorum 1: %#v", err)
	}
	f, err := Parse([]byte(agents+"\n[deliberation]\nquorum = 3\n"), "team.toml")
	if err != nil || f.Settings().Quorum != 3 {
		t.Fatalf("quorum 3 of 3: %v", err)
	}
}

// examples/hostile.toml loads: two honest agents and one hostile agent
// whose persona addresses the reviewers, a quorum the honest pair meets,
// and a synthesiser that is not the hostile agent.
func TestHostileExampleLoads(t *testing.T) {
	f, err := Load(filepath.Join("..", "examples", "hostile.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Settings()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, a := range f.AgentInfos() {
		roles[a.Role]++
	}
	if roles["hostile"] != 1 || len(f.Agents) != 3 {
		t.Fatalf("agents by role %v, want one hostile of three", roles)
	}
	p := s.Roles["hostile"].Persona
	for _, trick := range []string{"ignore your rubric", "SYSTEM:", "I am the judge", "Candidate A", "verified by the moderator"} {
		if !strings.Contains(p, trick) {
			t.Errorf("the hostile persona lacks %q:\n%s", trick, p)
		}
	}
	if s.Quorum != 2 || s.Gate.SynthesisRole == "hostile" {
		t.Errorf("quorum %d, synthesis by %q", s.Quorum, s.Gate.SynthesisRole)
	}
}
