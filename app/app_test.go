package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/broker"
	"github.com/nsed/nsed/config"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nsed.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func load(t *testing.T, f Flags) *Session {
	t.Helper()
	if f.Backend == nil {
		f.Backend = &models.Scripted{}
	}
	s, err := Load(f, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A flag given wins over nsed.toml, which wins over the built-in default;
// a flag not given changes nothing, whatever its value.
func TestPrecedence(t *testing.T) {
	cfg := writeConfig(t, "[deliberation]\nmax_rounds = 4\ncredits = 50\n[gate]\nbudget_tokens = 300\n")
	s := load(t, Flags{Config: cfg, Rounds: 3, Credits: 7, GateBudget: 900, Set: set("rounds", "gate-budget")})
	if s.Settings.MaxRounds != 3 || s.Settings.Credits != 50 || s.Settings.Gate.BudgetTokens != 900 {
		t.Errorf("rounds %d (flag 3), credits %g (file 50), gate %d (flag 900)", s.Settings.MaxRounds, s.Settings.Credits, s.Settings.Gate.BudgetTokens)
	}
	if s.Settings.MinRounds != 2 || s.Settings.Review.MaxClaims != 2 {
		t.Errorf("defaults not kept: min_rounds %d, max_claims %d", s.Settings.MinRounds, s.Settings.Review.MaxClaims)
	}
	s = load(t, Flags{Config: cfg})
	if s.Settings.MaxRounds != 4 || s.Settings.Credits != 50 {
		t.Errorf("no flags: rounds %d, credits %g; want the file's 4 and 50", s.Settings.MaxRounds, s.Settings.Credits)
	}
}

func TestRoundFlagsKeepMinBelowMax(t *testing.T) {
	s := load(t, Flags{Rounds: 1, Set: set("rounds")})
	if s.Settings.MinRounds != 1 || s.Settings.MaxRounds != 1 {
		t.Errorf("--rounds 1: min %d max %d", s.Settings.MinRounds, s.Settings.MaxRounds)
	}
	s = load(t, Flags{MinRounds: 9, Set: set("min-rounds")})
	if s.Settings.MinRounds != 9 || s.Settings.MaxRounds != 9 {
		t.Errorf("--min-rounds 9: min %d max %d", s.Settings.MinRounds, s.Settings.MaxRounds)
	}
	s = load(t, Flags{NumPredict: 32, ReviewPredict: 160, Set: set("num-predict", "review-predict")})
	if p := s.Settings.Sampling; p.Propose.NumPredict != 32 || p.Summary.NumPredict != 32 || p.Review.NumPredict != 160 {
		t.Errorf("budgets %d %d %d", p.Propose.NumPredict, p.Summary.NumPredict, p.Review.NumPredict)
	}
	_, err := Load(Flags{Backend: &models.Scripted{}, Rounds: 0, Set: set("rounds")}, nil)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "settings: min_rounds") {
		t.Errorf("--rounds 0 given: %v, want a usage error (a flag given is a value, zero too)", err)
	}
}

func TestHostPrecedence(t *testing.T) {
	cfg := writeConfig(t, "[ollama]\nhosts = [\"a:1\", \"b:2\"]\n")
	t.Setenv("OLLAMA_HOST", "")
	for _, tc := range []struct {
		env  string
		f    Flags
		want string
	}{
		{"", Flags{}, "a:1 b:2"},
		{"env:3", Flags{}, "env:3 b:2"},
		{"env:3", Flags{Host: "flag:4", Set: set("host")}, "flag:4 b:2"},
		{"env:3", Flags{Hosts: []string{"x:5", "y:6"}, Set: set("host")}, "x:5 y:6"},
	} {
		t.Setenv("OLLAMA_HOST", tc.env)
		tc.f.Config = cfg
		if got := strings.Join(load(t, tc.f).hosts(), " "); got != tc.want {
			t.Errorf("env %q flags %+v: hosts %s, want %s", tc.env, tc.f, got, tc.want)
		}
	}
}

func TestModelsFlag(t *testing.T) {
	cfg := writeConfig(t, "[[agents]]\nrole = \"solver\"\nmodel = \"x\"\nthink = \"true\"\n[[agents]]\nrole = \"critic\"\nmodel = \"y\"\n")
	s := load(t, Flags{Config: cfg, Models: "m1, m2,m3", Set: set("models")})
	if len(s.Agents) != 3 {
		t.Fatalf("%d agents", len(s.Agents))
	}
	a := s.Agents
	if a[0].Model != "m1" || a[0].Role != "solver" || a[0].Options == nil || a[0].Options.Think != "true" || a[0].BoundBy != "flag" {
		t.Errorf("agent 1 %+v: keeps its slot's role and options", a[0])
	}
	if a[2].ID != "agent-3" || a[2].Role != "solver" || a[2].Options != nil {
		t.Errorf("agent 3 %+v: cycles the roles, without another slot's options", a[2])
	}
	for _, tc := range []struct {
		f    Flags
		want string
	}{
		{Flags{Models: "only", Set: set("models")}, "2 to 8"},
		{Flags{Models: "a,b", Broker: true, Set: set("models", "broker")}, "--models and --broker"},
	} {
		tc.f.Backend = &models.Scripted{}
		_, err := Load(tc.f, nil)
		if Classify(err) != Usage || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%+v: %v, want a usage error with %q", tc.f, err, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Failure
	}{
		{nil, OK},
		{Usagef("bad"), Usage},
		{fmt.Errorf("wrapped: %w", context.Canceled), Cancelled},
		{&models.ModelNotFoundError{Host: "h", Model: "m"}, NoModel},
		{fmt.Errorf("x: %w", models.ErrUnreachable), Unreachable},
		{&config.Error{File: "f", Msg: "m"}, Usage},
		{errors.New("other"), Failed},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestConfigErrorsStayPositioned(t *testing.T) {
	_, err := Load(Flags{Config: writeConfig(t, "[gate]\n\ngama = 1\n")}, nil)
	var ce *config.Error
	if Classify(err) != Usage || !errors.As(err, &ce) || ce.Line != 3 || ce.Key != "gate.gama" {
		t.Fatalf("err %v: want a usage error at nsed.toml:3 gate.gama", err)
	}
}

func TestBudgetPrecedence(t *testing.T) {
	cfg := writeConfig(t, "[broker]\nvram_budget = \"2GiB\"\n")
	for _, tc := range []struct {
		f    Flags
		want int64
	}{
		{Flags{}, 2 << 30},
		{Flags{VRAMBudget: "1GiB", Set: set("vram-budget")}, 1 << 30},
		{Flags{VRAMBudget: "1GiB"}, 2 << 30},
	} {
		tc.f.Config = cfg
		b, err := load(t, tc.f).budget()
		if err != nil || b.DefaultMemory != tc.want {
			t.Errorf("%+v: budget %d, %v; want %d", tc.f, b.DefaultMemory, err, tc.want)
		}
	}
	_, err := load(t, Flags{VRAMBudget: "lots", Set: set("vram-budget")}).budget()
	if Classify(err) != Usage || !strings.HasPrefix(err.Error(), "--vram-budget: bad size") {
		t.Errorf("bad budget: %v", err)
	}
}

func TestBindRefusesBadQueries(t *testing.T) {
	s := load(t, Flags{})
	for _, tc := range []struct {
		q    BindQuery
		want string
	}{
		{BindQuery{RoundSeconds: -1}, "--round-seconds must be zero"},
		{BindQuery{Roles: -1}, "--roles must be at least 1"},
		{BindQuery{Pins: map[string]broker.Binding{"agent-9": {Model: "m"}}}, "--pin agent-9: no such agent (agent-1 … agent-3)"},
		{BindQuery{Pins: map[string]broker.Binding{"agent-1": {Model: "m", Host: "a:b:c"}}}, "--pin agent-1:"},
	} {
		_, err := s.Bind(context.Background(), tc.q)
		if Classify(err) != Usage || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.q, err, tc.want)
		}
	}
}

// A deliberation writes its transcript where --transcript says and, once
// finished, its evidence into the quality store.
func TestDeliberationTranscriptAndLearning(t *testing.T) {
	dir := t.TempDir()
	tr, store := filepath.Join(dir, "run.jsonl"), filepath.Join(dir, "quality.json")
	s, err := Open(context.Background(), Flags{Backend: &models.Scripted{}, Models: "m1,m2", Rounds: 1, Transcript: tr, Store: store,
		Set: set("models", "rounds", "transcript", "store")}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Deliberate("What is 6*7?", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != tr || !strings.HasPrefix(d.ID, "20260102-030405") {
		t.Errorf("path %s, id %s", d.Path, d.ID)
	}
	r, err := d.NewRun(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := r.Run(context.Background())
	if err := d.Finish(context.Background(), runErr); err != nil {
		t.Fatal(err)
	}
	evs, err := engine.ReadTranscriptFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	if end, ok := evs[len(evs)-1].(*engine.RunEnded); !ok || end.Status != engine.StatusCompleted || end.Rounds != 1 {
		t.Fatalf("transcript ends with %+v", evs[len(evs)-1])
	}
	b, err := os.ReadFile(store)
	if err != nil || !strings.Contains(string(b), "m1") || !strings.Contains(string(b), "m2") {
		t.Fatalf("quality store: %v\n%s", err, b)
	}
}

func TestTranscriptDefaultsToConfigDir(t *testing.T) {
	dir := t.TempDir()
	s := load(t, Flags{Config: writeConfig(t, "[transcript]\ndir = \""+dir+"\"\n")})
	d, err := s.Deliberate("q", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Finish(context.Background(), nil)
	if d.Path != filepath.Join(dir, d.ID+".jsonl") {
		t.Errorf("path %s, want in %s", d.Path, dir)
	}
}

func TestTheme(t *testing.T) {
	cfg := writeConfig(t, "[tui]\ntheme = \"light\"\n")
	for _, tc := range []struct {
		f    Flags
		want string
	}{
		{Flags{Config: cfg}, "light"},
		{Flags{Config: cfg, Theme: "high-contrast", Set: set("theme")}, "high-contrast"},
	} {
		if got, err := Theme(tc.f); err != nil || got != tc.want {
			t.Errorf("Theme(%+v) = %q, %v", tc.f, got, err)
		}
		if got := load(t, tc.f).Theme(); got != tc.want {
			t.Errorf("Session.Theme(%+v) = %q", tc.f, got)
		}
	}
}
