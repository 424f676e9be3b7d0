package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/eval"
	"github.com/nsed/nsed/models"
)

// BenchSpec is what `nsed bench` and `nsed darkbench` measure, beyond the
// session's flags.
type BenchSpec struct {
	Dark                                              bool   // darkbench: the format is DarkBench
	Dataset, Format, Protocols, Category, Judge, Out  string // --dataset, --format, --protocols, --category, --judge, --out
	ProblemField, AnswerField, IDField, CategoryField string // --*-field
	Limit, DebateRounds, Aggregator, VoteSamples      int    // --limit, --debate-rounds, --aggregator (1-based), --vote-samples
	MaxSamples, MoALayers                             int    // --max-samples, --moa-layers (0: eval's defaults)
	MatchTokens                                       bool   // --match-tokens: majority vote at NSED's tokens (when both run)
	SkipBad, NoTranscripts                            bool   // --skip-bad, --no-transcripts
	JudgeSelfOK                                       bool   // --judge-self-ok: allow a judge that is one of the judged models
	// Samples is --samples K, runs per item (avg@K); 0 is one.
	Samples int
	// Reference is --reference, the agent id of the reference single
	// agent; "" leaves it to [bench] reference, else the first agent.
	Reference  string
	AllowMixed bool // --allow-mixed: add to results of another provenance
}

// Dataset is a loaded, filtered dataset and the protocols to run on it.
type Dataset struct {
	Items     []eval.Item
	Format    eval.Format
	Hash      string
	Protocols []string
}

// LoadDataset reads spec's dataset, keeps --category's items and the first
// --limit, and parses --protocols. Skipped records go to warn.
func LoadDataset(spec BenchSpec, warn func(string)) (Dataset, error) {
	var ds Dataset
	format, err := eval.ParseFormat(spec.Format)
	if err != nil {
		return ds, &UsageError{err}
	}
	if spec.Dark {
		format = eval.FormatDarkBench
	}
	if ds.Protocols, err = eval.ParseProtocols(spec.Protocols); err != nil {
		return ds, &UsageError{err}
	}
	items, bad, hash, err := eval.LoadDataset(spec.Dataset, eval.LoadOptions{Format: format, SkipBad: spec.SkipBad,
		ProblemField: spec.ProblemField, AnswerField: spec.AnswerField, IDField: spec.IDField, CategoryField: spec.CategoryField})
	for _, b := range bad {
		if spec.SkipBad {
			warn(fmt.Sprintf("%s: skipped %v", spec.Dataset, b))
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ds, Usagef("%v", err)
		}
		return ds, &UsageError{err}
	}
	ds.Format, ds.Hash = items[0].Format, hash
	if spec.Category != "" {
		c := eval.NormalizeCategory(spec.Category)
		if c == "" {
			return ds, Usagef("--category %q: want one of %s", spec.Category, strings.Join(eval.Categories, ", "))
		}
		var keep []eval.Item
		for _, it := range items {
			if it.Category == c {
				keep = append(keep, it)
			}
		}
		if len(keep) == 0 {
			return ds, Usagef("no %s items in %s", c, spec.Dataset)
		}
		items = keep
	}
	if spec.Limit > 0 && spec.Limit < len(items) {
		items = items[:spec.Limit]
	}
	ds.Items = items
	return ds, nil
}

// DarkPrompt is the first DarkBench prompt of spec's category (default
// sycophancy): the live demo's question.
func DarkPrompt(spec BenchSpec) (string, error) {
	cat := spec.Category
	if cat == "" {
		cat = "sycophancy"
	}
	items, _, _, err := eval.LoadDataset(spec.Dataset, eval.LoadOptions{Format: eval.FormatDarkBench, SkipBad: true,
		ProblemField: spec.ProblemField, CategoryField: spec.CategoryField})
	if err != nil {
		return "", &UsageError{err}
	}
	for _, it := range items {
		if it.Category == eval.NormalizeCategory(cat) {
			return it.Problem, nil
		}
	}
	return "", Usagef("%s has no %q prompt (categories: %s)", spec.Dataset, cat, strings.Join(eval.Categories, ", "))
}

// Bench assembles the benchmark of ds on the session's agents and
// settings: the default output directory, the sandbox for code, the judge
// for DarkBench (checked to exist).
func (s *Session) Bench(ctx context.Context, spec BenchSpec, ds Dataset) (*eval.Bench, error) {
	if spec.Aggregator < 1 || spec.Aggregator > len(s.Agents) {
		return nil, Usagef("--aggregator %d: want 1 to %d", spec.Aggregator, len(s.Agents))
	}
	if err := checkCounts(spec); err != nil {
		return nil, err
	}
	ref, err := s.reference(spec.Reference)
	if err != nil {
		return nil, err
	}
	b := &eval.Bench{
		Env: eval.Env{Backend: s.Backend, Agents: s.Agents, Settings: s.Settings, Meter: &models.Meter{},
			DebateRounds: spec.DebateRounds, Aggregator: spec.Aggregator - 1, VoteSamples: spec.VoteSamples,
			MatchTokens: spec.MatchTokens, MaxSamples: spec.MaxSamples, MoALayers: spec.MoALayers},
		Items: ds.Items, Format: ds.Format, Protocols: ds.Protocols, Dataset: spec.Dataset, DatasetHash: ds.Hash,
		OutDir: spec.Out, Transcripts: !spec.NoTranscripts, Samples: spec.Samples, Reference: ref, AllowMixed: spec.AllowMixed,
	}
	if b.OutDir == "" {
		base := strings.TrimSuffix(filepath.Base(strings.TrimPrefix(spec.Dataset, eval.SamplePrefix)), filepath.Ext(spec.Dataset))
		b.OutDir = filepath.Join("bench-out", base+"-"+string(ds.Format))
	}
	switch ds.Format {
	case eval.FormatLCB:
		b.Sandbox = &eval.Sandbox{}
	case eval.FormatDarkBench:
		judge, err := s.judge(ctx, spec.Judge, spec.JudgeSelfOK)
		if err != nil {
			return nil, err
		}
		b.Judge = judge
	}
	b.Provenance = s.benchProvenance(ctx, b, ds.Hash)
	b.Env.Provenance = &b.Provenance
	return b, nil
}

// checkCounts refuses rounds, layers and samples below 1 (0 leaves the
// default), which would otherwise run a protocol other than asked for.
func checkCounts(spec BenchSpec) error {
	for _, c := range []struct {
		flag string
		n    int
	}{{"--debate-rounds", spec.DebateRounds}, {"--vote-samples", spec.VoteSamples}, {"--max-samples", spec.MaxSamples}, {"--moa-layers", spec.MoALayers}, {"--samples", spec.Samples}} {
		if c.n < 0 {
			return Usagef("%s %d: want 1 or more", c.flag, c.n)
		}
	}
	return nil
}

// reference is the reference single agent's id: --reference over
// [bench] reference; "" for the first agent. It must name an agent.
func (s *Session) reference(flag string) (string, error) {
	ref, where := flag, "--reference"
	if ref == "" && s.Config != nil {
		ref, where = s.Config.Bench.Reference, "[bench] reference"
	}
	if ref == "" {
		return "", nil
	}
	var ids []string
	for _, a := range s.Agents {
		if a.ID == ref {
			return ref, nil
		}
		ids = append(ids, a.ID)
	}
	return "", Usagef("%s %q: no such agent; want one of %s", where, ref, strings.Join(ids, ", "))
}

// benchProvenance is the session's provenance with the dataset's hash and
// the judge's model (which the team may not use).
func (s *Session) benchProvenance(ctx context.Context, b *eval.Bench, hash string) models.Provenance {
	var p models.Provenance
	if s.Provenance != nil {
		p = *s.Provenance
	} else {
		p = models.Describe(ctx, s.Backend, agentRefs(s.Agents))
	}
	p.Servers = append([]models.ServerInfo(nil), p.Servers...)
	p.Models = append([]models.ModelIdentity(nil), p.Models...)
	p.DatasetSHA256 = hash
	if b.Judge != nil {
		p.Merge(models.Describe(ctx, s.Backend, []models.Ref{{Host: b.Judge.Agent.Host, Model: b.Judge.Agent.Model}}))
	}
	return p
}

// judge is the DarkBench judge: the first agent, on --judge's model if
// given, checked to exist. A judge on one of the judged models grades its
// own replies, so it is refused unless selfOK, and then marked Self for
// the reports' warning.
func (s *Session) judge(ctx context.Context, model string, selfOK bool) (*eval.Judge, error) {
	judge := s.Agents[0]
	judge.ID = "judge"
	if model != "" && model != judge.Model {
		// The judge takes the think settings of an agent on its model,
		// else the model's defaults: another model's would not fit.
		judge.Model, judge.Options = model, nil
		for _, a := range s.Agents {
			if a.Model == model {
				judge.Options = a.Options
			}
		}
	}
	judged := judgedBy(s.Agents, judge.Model)
	if len(judged) > 0 && !selfOK {
		how := "--judge " + judge.Model
		if model == "" {
			how = "the judge (by default the first agent's model, " + judge.Model + ")"
		}
		return nil, Usagef("%s is one of the judged models (agents %s): a judge grading its own replies is not independent; "+
			"pass --judge with a model no agent uses, or --judge-self-ok to accept it with a warning in the report", how, strings.Join(judged, ", "))
	}
	if c, ok := s.Backend.(models.Checker); ok {
		if err := c.CheckModel(ctx, judge.Host, judge.Model); err != nil {
			return nil, err
		}
	}
	return &eval.Judge{Backend: s.Backend, Agent: judge, Self: len(judged) > 0}, nil
}

// judgedBy are the agents running model, compared by name as served
// ("smollm2" is "smollm2:latest").
func judgedBy(agents []engine.AgentInfo, model string) []string {
	var ids []string
	for _, a := range agents {
		if servedName(a.Model) == servedName(model) {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// servedName is a model name as the server serves it: an untagged name
// means its "latest" tag.
func servedName(model string) string {
	model = strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(model, ':'); i < 0 || strings.Contains(model[i:], "/") {
		return model + ":latest"
	}
	return model
}
