package eval

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// Files a bench writes in its output directory.
const (
	ResultsFile  = "results.jsonl" // one line per finished item (and sample): the checkpoint
	ManifestFile = "manifest.json" // what the run is, to refuse resuming a different one
)

// RoundStat is one round of a multi-round protocol, scored.
type RoundStat struct {
	Round int `json:"round"`
	// Answer is the leading answer's key (nsed: the round's vote winner;
	// debate: the plurality) and Hit whether it scored.
	Answer string `json:"answer"`
	Hit    bool   `json:"hit"`
	// Agreement is the share of the round's answers equal to Answer.
	Agreement float64 `json:"agreement"`
	// Agents is each agent's own answer this round and whether it scored,
	// in the team's order: who flips between rounds (conformity), and the
	// round's plurality.
	Agents []AgentRound `json:"agents,omitempty"`
}

// AgentRound is one agent's answer in one round.
type AgentRound struct {
	Agent  string `json:"agent"`
	Answer string `json:"answer"` // the answer's key, "" for none
	Hit    bool   `json:"hit"`
}

// ProtocolResult is one protocol's scored outcome on one item.
type ProtocolResult struct {
	Answer string `json:"answer"` // extracted answer (AIME) or code hash, "" for none
	// Hit is the scored outcome: right answer (AIME), every test passed
	// (LiveCodeBench), or a dark pattern present (DarkBench).
	Hit bool `json:"hit"`
	// Scored is false when there was nothing to score (the protocol failed,
	// or the judge gave no valid verdict); such results are left out of rates.
	Scored bool `json:"scored"`
	// Invalid (DarkBench): the reply was empty or no reply, or the judge
	// failed; counted in the report apart from the rate.
	Invalid      bool        `json:"invalid,omitempty"`
	Winner       string      `json:"winner,omitempty"`
	PromptTokens int         `json:"prompt_tokens"`
	OutputTokens int         `json:"output_tokens"`
	Calls        int         `json:"calls"`
	WallMS       float64     `json:"wall_ms"`
	Status       string      `json:"status"`
	Error        string      `json:"error,omitempty"`
	Code         *CodeResult `json:"code,omitempty"`
	Judge        *Annotation `json:"judge,omitempty"`
	Rounds       []RoundStat `json:"rounds,omitempty"`
	Text         string      `json:"text,omitempty"` // the scored reply, cut to 4000 bytes
	// Samples (majority, majority@k) is the answers per agent voted over:
	// the k of majority@k, and for majority the k matched to NSED's tokens.
	Samples int `json:"samples,omitempty"`
}

// ItemResult is one line of results.jsonl.
type ItemResult struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	// Sample numbers an item's repeated runs (--samples K) from 0 to K−1;
	// the first, 0, is left out, so a one-sample file reads as before.
	Sample    int                        `json:"sample,omitempty"`
	Category  string                     `json:"category,omitempty"`
	Reference string                     `json:"reference,omitempty"`
	Protocols map[string]*ProtocolResult `json:"protocols"`
	WallMS    float64                    `json:"wall_ms"`
	Finished  time.Time                  `json:"finished"`
}

// Manifest pins what an output directory holds.
type Manifest struct {
	Dataset     string             `json:"dataset"`
	DatasetHash string             `json:"dataset_sha256"`
	Format      Format             `json:"format"`
	Protocols   []string           `json:"protocols"`
	Agents      []engine.AgentInfo `json:"agents"`
	Judge       string             `json:"judge,omitempty"`
	Items       []string           `json:"items"`
	Settings    engine.Settings    `json:"settings"`
	DebateRound int                `json:"debate_rounds"`
	VoteSamples int                `json:"vote_samples,omitempty"`
	Aggregator  int                `json:"aggregator,omitempty"`
	// MatchTokens and MaxSamples: majority vote matched to NSED's tokens
	// over up to MaxSamples answers per agent (else VoteSamples answers).
	MatchTokens bool `json:"match_tokens,omitempty"`
	MaxSamples  int  `json:"max_samples,omitempty"`
	MoALayers   int  `json:"moa_layers,omitempty"` // omitted for 1, the default
	// Samples is K, the runs per item (omitted for one).
	Samples int `json:"samples,omitempty"`
	// Provenance is every setup (nsed build, servers, model digests) whose
	// results the directory holds: one, unless --allow-mixed added more.
	Provenance []models.Provenance `json:"provenance,omitempty"`
}

// Bench runs a dataset through the protocols and keeps a checkpoint.
type Bench struct {
	Env       Env
	Items     []Item
	Format    Format
	Protocols []string
	// Dataset names the source (for reports); DatasetHash identifies its
	// contents, so a resumed run is the same run.
	Dataset, DatasetHash string
	OutDir               string
	Sandbox              *Sandbox // LiveCodeBench
	Judge                *Judge   // DarkBench
	// Progress receives one line per item with an ETA (stderr); nil is quiet.
	Progress io.Writer
	// Transcripts writes each item's event stream per protocol under
	// OutDir/transcripts.
	Transcripts bool
	// OnItem is called after each item is checkpointed (tests use it to
	// interrupt a run).
	OnItem func(done, total int)
	// Samples is K, how many times each item runs under every protocol
	// (avg@K; 0 or 1 once). Sample s > 0 shifts every configured seed by s
	// (SampleEnv), so seeded runs repeat exactly and still differ by sample.
	Samples int
	// Reference is the agent id of the single agent NSED is compared with,
	// fixed before the run; "" is the first agent.
	Reference string
	// sample is the sample RunItem is running (0 outside Run).
	sample int
	// Provenance is which nsed, servers and models this run uses
	// (models.Describe); AllowMixed lets it add to results of another.
	Provenance models.Provenance
	AllowMixed bool
	history    []models.Provenance // the manifest's, after checkManifest
}

func hashBytes(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func (b *Bench) manifest() Manifest {
	m := Manifest{Dataset: filepath.Base(b.Dataset), DatasetHash: b.DatasetHash, Format: b.Format, Protocols: b.Protocols,
		Agents: b.Env.Agents, Settings: b.Env.Settings, DebateRound: b.Env.DebateRounds,
		VoteSamples: b.Env.VoteSamples, Aggregator: b.Env.Aggregator}
	// Only what changes the results is pinned: a run made before these
	// options existed resumes when they keep its behaviour.
	if b.matching() {
		m.MatchTokens, m.MaxSamples, m.VoteSamples = true, b.Env.maxSamples(), 0
	}
	if b.Env.MoALayers > 1 {
		m.MoALayers = b.Env.MoALayers
	}
	if b.samples() > 1 {
		m.Samples = b.samples()
	}
	if b.Judge != nil {
		m.Judge = b.Judge.Agent.Model
	}
	for _, it := range b.Items {
		m.Items = append(m.Items, it.ID)
	}
	return m
}

// ErrOtherRun means the output directory holds a different run.
var ErrOtherRun = errors.New("the output directory holds a different run")

// checkManifest writes the manifest, or checks an existing one matches:
// the same run (dataset, protocols, models, settings) and the same
// provenance (nsed build, server versions, model digests).
func (b *Bench) checkManifest() error {
	b.Provenance = b.provenance() // the transcripts' too, through Env
	path := filepath.Join(b.OutDir, ManifestFile)
	cur := b.manifest()
	have, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b.history = []models.Provenance{b.provenance()}
		cur.Provenance = b.history
		want, _ := json.MarshalIndent(cur, "", "  ")
		return writeFileAtomic(path, append(want, '\n'))
	}
	if err != nil {
		return err
	}
	var h, w Manifest
	if err := json.Unmarshal(have, &h); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	history := h.Provenance
	want, _ := json.Marshal(cur)
	_ = json.Unmarshal(want, &w)
	// The item list and the samples may change (a larger --limit or
	// --samples extends a run); results are keyed by item id and sample, so
	// only the rest must match.
	h.Items, w.Items = nil, nil
	h.Samples, w.Samples = 0, 0
	h.Provenance, w.Provenance = nil, nil
	hb, _ := json.Marshal(h)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(hb, wb) {
		return fmt.Errorf("%w (%s differs from this run's dataset, protocols, models or settings); use another --out to start afresh", ErrOtherRun, path)
	}
	if err := b.checkProvenance(path, history); err != nil {
		return err
	}
	cur.Provenance = b.history
	want, _ = json.MarshalIndent(cur, "", "  ")
	return writeFileAtomic(path, append(want, '\n'))
}

// writeFileAtomic writes data to path through a temporary file, owner-only
// (bench outputs quote the items and the models' answers): a new temp file
// is 0600, and one left by a killed run is made so before it is filled.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadResults reads a results file. An incomplete last line (the process
// died mid-write) is dropped and the file truncated to the last whole line,
// so the item runs again; a malformed line elsewhere is an error.
func ReadResults(path string) ([]ItemResult, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ItemResult
	good := 0
	n := 0
	for off := 0; off < len(data); {
		n++
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 { // no newline: cut short
			break
		}
		line := bytes.TrimSpace(data[off : off+end])
		next := off + end + 1
		if len(line) > 0 {
			var r ItemResult
			if err := json.Unmarshal(line, &r); err != nil {
				if next >= len(data) { // the last line: treat as cut short
					break
				}
				return nil, fmt.Errorf("%s line %d: %w", path, n, err)
			}
			out = append(out, r)
		}
		off, good = next, next
	}
	if good < len(data) {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Run runs every item not already in the checkpoint, appending each to
// results.jsonl as it finishes. Cancelling ctx loses at most the item in
// flight, which runs again on resume; no item is recorded twice. It returns
// all results, including those of earlier runs.
func (b *Bench) Run(ctx context.Context) ([]ItemResult, error) {
	if len(b.Items) == 0 {
		return nil, errors.New("bench: no items")
	}
	if len(b.Env.Agents) < 2 {
		return nil, errors.New("bench: need at least 2 agents")
	}
	if err := os.MkdirAll(b.OutDir, 0o700); err != nil {
		return nil, err
	}
	if err := b.checkManifest(); err != nil {
		return nil, err
	}
	if b.Transcripts {
		if err := b.checkTranscriptDir(); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(b.OutDir, ResultsFile)
	done, err := ReadResults(path)
	if err != nil {
		return nil, err
	}
	// Results of items (or samples) outside this run's list (a smaller
	// --limit or --samples) stay in the file but not in this run.
	K := b.samples()
	current := map[string]bool{}
	for _, it := range b.Items {
		current[it.ID] = true
	}
	have := map[runKey]bool{}
	kept := done[:0]
	for _, r := range done {
		k := runKey{r.ID, r.Sample}
		if current[r.ID] && r.Sample < K && !have[k] {
			kept = append(kept, r)
			have[k] = true
		}
	}
	done = kept
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	total := len(b.Items) * K
	todo := total - len(done)
	if b.Progress != nil && len(done) > 0 {
		unit := "items"
		if K > 1 {
			unit = "item samples"
		}
		fmt.Fprintf(b.Progress, "bench: resuming: %d of %d %s already done, %d to go\n", len(done), total, unit, todo)
	}
	start := time.Now()
	ran := 0
	// Sample by sample, so an interrupted run has whole passes over the
	// items to report first.
	for sample := range K {
		for i, it := range b.Items {
			if have[runKey{it.ID, sample}] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return done, err
			}
			res, err := b.runSample(ctx, i, it, sample)
			if err != nil {
				return done, err
			}
			if ctx.Err() != nil { // interrupted mid-item: drop it, it runs again
				return done, ctx.Err()
			}
			line, err := json.Marshal(res)
			if err != nil {
				return done, err
			}
			if _, err := f.Write(append(line, '\n')); err != nil {
				return done, err
			}
			if err := f.Sync(); err != nil {
				return done, err
			}
			done = append(done, res)
			have[runKey{it.ID, sample}] = true
			ran++
			if b.Progress != nil {
				per := time.Since(start) / time.Duration(ran)
				left := todo - ran
				name := it.ID
				if K > 1 {
					name = fmt.Sprintf("%s #%d", it.ID, sample)
				}
				fmt.Fprintf(b.Progress, "bench: [%d/%d] %s %s in %s · %s/item · ETA %s\n", len(done), total, name,
					brief(res, b.Format), time.Duration(res.WallMS*float64(time.Millisecond)).Round(100*time.Millisecond),
					per.Round(100*time.Millisecond), (per * time.Duration(left)).Round(time.Second))
			}
			if b.OnItem != nil {
				b.OnItem(len(done), total)
			}
		}
	}
	return done, nil
}

// runKey is what a line of results.jsonl records: an item's sample.
type runKey struct {
	id     string
	sample int
}

// samples is K, at least 1.
func (b *Bench) samples() int { return max(b.Samples, 1) }

// runSample runs sample s of an item: sample 0 as configured, a later one
// with every seed shifted by s (SampleEnv) and transcripts of its own.
func (b *Bench) runSample(ctx context.Context, index int, it Item, s int) (ItemResult, error) {
	if s == 0 {
		return b.RunItem(ctx, index, it)
	}
	bs := *b
	bs.Env, bs.sample = SampleEnv(b.Env, s), s
	res, err := bs.RunItem(ctx, index, it)
	res.Sample = s
	return res, err
}

// SampleEnv is env for sample s of an item: every seed that is set —
// NSED's own (label shuffles and tie draws), each phase's model seed, each
// agent's — plus s, so a seeded bench repeats exactly and its samples still
// differ. Unseeded model calls differ by sampling anyway (temperature > 0).
func SampleEnv(env Env, s int) Env {
	shift := func(p *int) *int {
		if p == nil {
			return nil
		}
		v := *p + s
		return &v
	}
	env.Settings.Seed += int64(s)
	sm := &env.Settings.Sampling
	sm.Propose.Seed, sm.Review.Seed, sm.Summary.Seed = shift(sm.Propose.Seed), shift(sm.Review.Seed), shift(sm.Summary.Seed)
	agents := make([]engine.AgentInfo, len(env.Agents))
	for i, a := range env.Agents {
		if a.Options != nil && a.Options.Seed != nil {
			o := *a.Options
			o.Seed = shift(o.Seed)
			a.Options = &o
		}
		agents[i] = a
	}
	env.Agents = agents
	return env
}

// brief marks each protocol's outcome: ✓ right, ✗ wrong, - unscored; for
// DarkBench ! a dark pattern, · none. The majority@k curve is left to the
// results (majority shows its matched k).
func brief(r ItemResult, f Format) string {
	var parts []string
	for _, p := range sortedProtocols(r.Protocols) {
		pr := r.Protocols[p]
		if curveK(p) > 0 {
			continue
		}
		if p == ProtoMajority && pr.Samples > 1 {
			p = fmt.Sprintf("%s(k=%d)", p, pr.Samples)
		}
		hit, miss := "✓", "✗"
		if f == FormatDarkBench {
			hit, miss = "!", "·"
		}
		mark := miss
		switch {
		case !pr.Scored:
			mark = "-"
		case pr.Hit:
			mark = hit
		}
		parts = append(parts, p+mark)
	}
	return strings.Join(parts, " ")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// RunItem runs one item through every protocol and scores it.
func (b *Bench) RunItem(ctx context.Context, index int, it Item) (ItemResult, error) {
	start := time.Now()
	res := ItemResult{Index: index, ID: it.ID, Category: it.Category, Reference: it.Answer, Protocols: map[string]*ProtocolResult{}}
	q := Prompt(it)
	key := b.keyFunc()
	// A transcript that cannot be written stops the item (and so the
	// bench) rather than let it run unrecorded.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	tr := &itemTranscripts{dir: b.itemTranscriptDir(it), stop: stop}
	defer tr.close()
	// A later sample's runs and transcripts carry its number.
	suffix := ""
	if b.sample > 0 {
		suffix = fmt.Sprintf("-s%d", b.sample)
	}
	sink := func(proto string) (engine.Sink, string) {
		runID := fmt.Sprintf("%s-%s%s", unsafeName.ReplaceAllString(it.ID, "_"), strings.ReplaceAll(proto, ":", "-"), suffix)
		if !b.Transcripts {
			return nil, runID
		}
		return tr.open(proto + suffix), runID
	}
	want := map[string]bool{}
	for _, p := range b.Protocols {
		want[p] = true
	}
	var outcomes []Outcome
	var first []Reply
	var firstWall time.Duration
	if want[ProtoSingle] || want[ProtoMajority] || want[ProtoDebate] || want[ProtoMoA] {
		s, id := sink("first-round")
		first, firstWall = b.Env.FirstRound(ctx, s, id, q)
		if ctx.Err() != nil {
			return res, tr.close()
		}
		if want[ProtoSingle] {
			for _, r := range first {
				outcomes = append(outcomes, Single(r))
			}
		}
		if want[ProtoDebate] {
			s, id := sink(ProtoDebate)
			outcomes = append(outcomes, b.Env.Debate(ctx, s, id, q, first, firstWall, key))
		}
		if want[ProtoMoA] {
			s, id := sink(ProtoMoA)
			outcomes = append(outcomes, b.Env.MoA(ctx, s, id, q, first, firstWall))
		}
	}
	// NSED before majority vote: majority's samples are matched to the
	// tokens NSED spent on this item.
	target := NoTarget
	if want[ProtoNSED] && ctx.Err() == nil {
		s, id := sink(ProtoNSED)
		o := b.Env.NSED(ctx, s, id, q)
		outcomes = append(outcomes, o)
		if b.matching() {
			target = o.PromptTokens + o.OutputTokens
		}
	}
	if want[ProtoMajority] && b.Format != FormatDarkBench && ctx.Err() == nil {
		s, id := sink(ProtoMajority)
		v := b.Env.SelfConsistency(ctx, s, id, q, first, firstWall, key, target)
		outcomes = append(append(outcomes, v.Majority), v.Curve...)
	}
	if err := tr.close(); err != nil || ctx.Err() != nil {
		return res, err
	}
	scored := map[string]*ProtocolResult{} // majority@k's scores by reply text
	for _, o := range outcomes {
		pr, err := b.scoreOnce(ctx, it, o, key, scored)
		if err != nil {
			return res, err
		}
		res.Protocols[o.Protocol] = pr
	}
	res.WallMS = ms(time.Since(start))
	res.Finished = time.Now().UTC()
	return res, nil
}

// matching says whether majority vote is matched to NSED's tokens: asked
// for, and both run (DarkBench has no majority vote).
func (b *Bench) matching() bool {
	if !b.Env.MatchTokens || b.Format == FormatDarkBench {
		return false
	}
	var nsed, majority bool
	for _, p := range b.Protocols {
		nsed = nsed || p == ProtoNSED
		majority = majority || p == ProtoMajority
	}
	return nsed && majority
}

// scoreOnce scores o, reusing the score of an earlier outcome with the
// same reply (the points of the majority@k curve mostly elect the same
// reply, and a code reply's tests are worth running once).
func (b *Bench) scoreOnce(ctx context.Context, it Item, o Outcome, key func(string) string, memo map[string]*ProtocolResult) (*ProtocolResult, error) {
	reuse := o.Samples > 0 && o.Status == engine.StatusCompleted && o.Err == nil && len(o.Rounds) == 0
	if prev, ok := memo[o.Text]; ok && reuse {
		pr := *prev
		pr.Winner, pr.PromptTokens, pr.OutputTokens, pr.Calls, pr.WallMS = o.Winner, o.PromptTokens, o.OutputTokens, o.Calls, ms(o.Wall)
		pr.Samples = o.Samples
		return &pr, nil
	}
	pr, err := b.score(ctx, it, o, key)
	if err == nil && reuse {
		memo[o.Text] = pr
	}
	return pr, err
}

// itemTranscriptDir holds an item's transcripts, one file per protocol.
func (b *Bench) itemTranscriptDir(it Item) string {
	return filepath.Join(b.OutDir, "transcripts", unsafeName.ReplaceAllString(it.ID, "_"))
}

// itemTranscripts are one item's open transcripts. The first that cannot
// be created or written stops the item through stop, and close reports it.
type itemTranscripts struct {
	dir     string
	stop    context.CancelCauseFunc
	writers []*engine.TranscriptWriter
	err     error
}

// open creates proto's transcript; nil (with the item stopped) when it
// cannot be.
func (t *itemTranscripts) open(proto string) engine.Sink {
	tw, err := engine.CreateTranscript(filepath.Join(t.dir, strings.ReplaceAll(proto, ":", "-")+".jsonl"), false)
	if err != nil {
		t.fail(err)
		return nil
	}
	tw.OnError(t.stop)
	t.writers = append(t.writers, tw)
	return tw
}

func (t *itemTranscripts) fail(err error) {
	if t.err == nil {
		t.err = fmt.Errorf("bench: %w: stopped rather than run unrecorded; free space, choose another --out, or pass --no-transcripts", err)
	}
	t.stop(t.err)
}

// close closes every transcript opened so far (again: a no-op) and returns
// the first error creating, writing or closing one.
func (t *itemTranscripts) close() error {
	for _, tw := range t.writers {
		if err := tw.Close(); err != nil {
			t.fail(err)
		}
	}
	t.writers = nil
	return t.err
}

// checkTranscriptDir refuses a bench whose transcripts cannot be written
// before any model is asked anything: it creates the directory and writes,
// syncs and removes a probe file there.
func (b *Bench) checkTranscriptDir() error {
	dir := filepath.Join(b.OutDir, "transcripts")
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		err = probeWrite(dir)
	}
	if err != nil {
		return fmt.Errorf("bench: cannot write transcripts to %s: %w; free space, choose another --out, or pass --no-transcripts", dir, err)
	}
	return nil
}

func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write([]byte("nsed\n"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// keyFunc is what "the same answer" means for the format: the extracted
// integer (AIME), the code with blank space squeezed (LiveCodeBench), the
// reply itself (DarkBench).
func (b *Bench) keyFunc() func(string) string {
	switch b.Format {
	case FormatAIME:
		return ExtractAIME
	case FormatLCB:
		return func(s string) string { return strings.Join(strings.Fields(ExtractCode(s)), " ") }
	}
	return strings.TrimSpace
}

func (b *Bench) score(ctx context.Context, it Item, o Outcome, key func(string) string) (*ProtocolResult, error) {
	pr := &ProtocolResult{Winner: o.Winner, PromptTokens: o.PromptTokens, OutputTokens: o.OutputTokens, Calls: o.Calls,
		WallMS: ms(o.Wall), Status: o.Status, Text: clip(o.Text, 4000), Samples: o.Samples}
	if o.Err != nil {
		pr.Error = clip(o.Err.Error(), 300)
	}
	if o.Status != engine.StatusCompleted && strings.TrimSpace(o.Text) == "" {
		// No answer is a wrong answer; for a judge, no reply is invalid.
		pr.Scored = b.Format != FormatDarkBench
		pr.Invalid = !pr.Scored
		return pr, nil
	}
	hit, answer, detail, err := b.hitBy(ctx, it, o.Text, b.assistantOf(o))
	if err != nil {
		return nil, err
	}
	pr.Hit, pr.Answer, pr.Scored = hit, answer, true
	switch d := detail.(type) {
	case *CodeResult:
		pr.Code = d
	case *Annotation:
		pr.Judge = d
		pr.Scored, pr.Invalid = d.Valid(), !d.Valid()
	}
	// Dynamics: the leading answer and the agreement with it, per round,
	// and every agent's own answer. A code answer's tests run once per
	// distinct reply (a debater who keeps its answer repeats it verbatim).
	hits := map[string]bool{}
	hitOf := func(text string) (bool, error) {
		if key(text) == "" {
			return false, nil
		}
		if h, ok := hits[text]; ok {
			return h, nil
		}
		h, _, _, err := b.hit(ctx, it, text)
		hits[text] = h
		return h, err
	}
	order := map[string]int{}
	for i, a := range b.Env.Agents {
		order[a.ID] = i
	}
	if b.Format != FormatDarkBench {
		// A run that stopped after round 1 records it too: its round-1
		// plurality may still have been overturned by the vote.
		for i, rs := range o.Rounds {
			lead := -1
			if i < len(o.Leaders) {
				for j, r := range rs {
					if r.Agent == o.Leaders[i] {
						lead = j
					}
				}
			}
			if lead < 0 {
				lead = Plurality(rs, key)
			}
			st := RoundStat{Round: i + 1}
			if lead >= 0 { // else nobody had an answer this round
				st.Answer = key(rs[lead].Text)
			}
			same, n := 0, 0
			for _, r := range rs {
				if r.Err != nil {
					continue
				}
				n++
				k := key(r.Text)
				if k != "" && k == st.Answer {
					same++
				}
				h, err := hitOf(r.Text)
				if err != nil {
					return nil, err
				}
				st.Agents = append(st.Agents, AgentRound{Agent: r.Agent, Answer: k, Hit: h})
			}
			slices.SortStableFunc(st.Agents, func(x, y AgentRound) int { return cmp.Compare(order[x.Agent], order[y.Agent]) })
			if n > 0 {
				st.Agreement = float64(same) / float64(n)
			}
			if lead >= 0 {
				if st.Hit, err = hitOf(rs[lead].Text); err != nil {
					return nil, err
				}
			}
			pr.Rounds = append(pr.Rounds, st)
		}
	}
	if b.Format == FormatLCB && pr.Answer != "" {
		h := sha256.Sum256([]byte(pr.Answer))
		pr.Answer = hex.EncodeToString(h[:6])
		hash := func(s string) string {
			if s == "" {
				return ""
			}
			h := sha256.Sum256([]byte(s))
			return hex.EncodeToString(h[:6])
		}
		for i := range pr.Rounds {
			pr.Rounds[i].Answer = hash(pr.Rounds[i].Answer)
			for j := range pr.Rounds[i].Agents {
				pr.Rounds[i].Agents[j].Answer = hash(pr.Rounds[i].Agents[j].Answer)
			}
		}
	}
	return pr, nil
}

// hit scores one reply written by the whole team.
func (b *Bench) hit(ctx context.Context, it Item, text string) (bool, string, any, error) {
	return b.hitBy(ctx, it, text, TeamOf(b.Env.Agents))
}

// hitBy scores one reply written by who (DarkBench's judge is told).
func (b *Bench) hitBy(ctx context.Context, it Item, text string, who Assistant) (bool, string, any, error) {
	switch b.Format {
	case FormatAIME:
		a := ExtractAIME(text)
		return a != "" && a == it.Answer, a, nil, nil
	case FormatLCB:
		code := ExtractCode(text)
		sb := b.Sandbox
		if sb == nil {
			sb = &Sandbox{}
			b.Sandbox = sb
		}
		cr, err := RunTests(ctx, sb, it, code)
		if err != nil {
			return false, "", nil, err
		}
		return cr.OK(), strings.Join(strings.Fields(code), " "), &cr, nil
	case FormatDarkBench:
		if b.Judge == nil {
			return false, "", nil, errors.New("darkbench needs a judge model")
		}
		// The judge's calls have the protocols' deadline and meter unless
		// it has its own.
		j := *b.Judge
		j.CallTimeout = cmp.Or(j.CallTimeout, b.Env.Settings.CallTimeout)
		j.Meter = cmp.Or(j.Meter, b.Env.Meter)
		a := j.Annotate(ctx, it.Category, it.Problem, text, who)
		return a.DarkPattern, "", &a, nil
	}
	return false, "", nil, fmt.Errorf("unknown format %q", b.Format)
}

// sortedProtocols orders protocol result names as reports show them:
// AllProtocols' order, each protocol's variants after it (single:<agent> by
// name, majority@k by k).
func sortedProtocols(m map[string]*ProtocolResult) []string {
	var out []string
	rank := func(p string) int {
		for i, a := range AllProtocols {
			if p == a || strings.HasPrefix(p, a+":") || strings.HasPrefix(p, a+"@") {
				return i
			}
		}
		return len(AllProtocols)
	}
	for p := range m {
		out = append(out, p)
	}
	sortStrings(out, func(a, b string) bool {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if ka, kb := curveK(a), curveK(b); ka != kb {
			return ka < kb
		}
		return a < b
	})
	return out
}

// curveK is the k of a majority@k name, 0 for any other name.
func curveK(p string) int {
	rest, ok := strings.CutPrefix(p, ProtoMajority+"@")
	if !ok {
		return 0
	}
	k, err := strconv.Atoi(rest)
	if err != nil {
		return 0
	}
	return k
}

// readLines is used by tests and resume checks.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}
