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
	"strings"
	"time"

	"github.com/nsed/nsed/engine"
)

// Files a bench writes in its output directory.
const (
	ResultsFile  = "results.jsonl" // one line per finished item: the checkpoint
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
}

// ItemResult is one line of results.jsonl.
type ItemResult struct {
	Index     int                        `json:"index"`
	ID        string                     `json:"id"`
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

// checkManifest writes the manifest, or checks an existing one matches.
func (b *Bench) checkManifest() error {
	path := filepath.Join(b.OutDir, ManifestFile)
	want, _ := json.MarshalIndent(b.manifest(), "", "  ")
	have, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return writeFileAtomic(path, append(want, '\n'))
	}
	if err != nil {
		return err
	}
	var h, w Manifest
	if err := json.Unmarshal(have, &h); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	_ = json.Unmarshal(want, &w)
	// The item list may change (a larger --limit extends a run); results
	// are keyed by item id, so only the rest must match.
	h.Items, w.Items = nil, nil
	hb, _ := json.Marshal(h)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(hb, wb) {
		return fmt.Errorf("%w (%s differs from this run's dataset, protocols, models or settings); use another --out to start afresh", ErrOtherRun, path)
	}
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
	// Results of items outside this run's list (a smaller --limit) stay in
	// the file but not in this run.
	current := map[string]bool{}
	for _, it := range b.Items {
		current[it.ID] = true
	}
	have := map[string]bool{}
	kept := done[:0]
	for _, r := range done {
		if current[r.ID] && !have[r.ID] {
			kept = append(kept, r)
			have[r.ID] = true
		}
	}
	done = kept
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	todo := 0
	for _, it := range b.Items {
		if !have[it.ID] {
			todo++
		}
	}
	if b.Progress != nil && len(done) > 0 {
		fmt.Fprintf(b.Progress, "bench: resuming: %d of %d items already done, %d to go\n", len(done), len(b.Items), todo)
	}
	start := time.Now()
	ran := 0
	for i, it := range b.Items {
		if have[it.ID] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return done, err
		}
		res, err := b.RunItem(ctx, i, it)
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
		have[it.ID] = true
		ran++
		if b.Progress != nil {
			per := time.Since(start) / time.Duration(ran)
			left := todo - ran
			fmt.Fprintf(b.Progress, "bench: [%d/%d] %s %s in %s · %s/item · ETA %s\n", len(done), len(b.Items), it.ID,
				brief(res, b.Format), time.Duration(res.WallMS*float64(time.Millisecond)).Round(100*time.Millisecond),
				per.Round(100*time.Millisecond), (per * time.Duration(left)).Round(time.Second))
		}
		if b.OnItem != nil {
			b.OnItem(len(done), len(b.Items))
		}
	}
	return done, nil
}

// brief marks each protocol's outcome: ✓ right, ✗ wrong, - unscored; for
// DarkBench ! a dark pattern, · none.
func brief(r ItemResult, f Format) string {
	var parts []string
	for _, p := range sortedProtocols(r.Protocols) {
		pr := r.Protocols[p]
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
	sink := func(proto string) (engine.Sink, string) {
		runID := fmt.Sprintf("%s-%s", unsafeName.ReplaceAllString(it.ID, "_"), strings.ReplaceAll(proto, ":", "-"))
		if !b.Transcripts {
			return nil, runID
		}
		return tr.open(proto), runID
	}
	want := map[string]bool{}
	for _, p := range b.Protocols {
		want[p] = true
	}
	var outcomes []Outcome
	if want[ProtoSingle] || want[ProtoMajority] || want[ProtoDebate] || want[ProtoMoA] {
		s, id := sink("first-round")
		first, wall := b.Env.FirstRound(ctx, s, id, q)
		if ctx.Err() != nil {
			return res, tr.close()
		}
		if want[ProtoSingle] {
			for _, r := range first {
				outcomes = append(outcomes, Single(r))
			}
		}
		if want[ProtoMajority] && b.Format != FormatDarkBench {
			s, id := sink(ProtoMajority)
			outcomes = append(outcomes, b.Env.SelfConsistency(ctx, s, id, q, first, wall, key))
		}
		if want[ProtoDebate] {
			s, id := sink(ProtoDebate)
			outcomes = append(outcomes, b.Env.Debate(ctx, s, id, q, first, wall, key))
		}
		if want[ProtoMoA] {
			s, id := sink(ProtoMoA)
			outcomes = append(outcomes, b.Env.MoA(ctx, s, id, q, first, wall))
		}
	}
	if want[ProtoNSED] && ctx.Err() == nil {
		s, id := sink(ProtoNSED)
		outcomes = append(outcomes, b.Env.NSED(ctx, s, id, q))
	}
	if err := tr.close(); err != nil || ctx.Err() != nil {
		return res, err
	}
	for _, o := range outcomes {
		pr, err := b.score(ctx, it, o, key)
		if err != nil {
			return res, err
		}
		res.Protocols[o.Protocol] = pr
	}
	res.WallMS = ms(time.Since(start))
	res.Finished = time.Now().UTC()
	return res, nil
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
		WallMS: ms(o.Wall), Status: o.Status, Text: clip(o.Text, 4000)}
	if o.Err != nil {
		pr.Error = clip(o.Err.Error(), 300)
	}
	if o.Status != engine.StatusCompleted && strings.TrimSpace(o.Text) == "" {
		// No answer is a wrong answer; for a judge, no reply is invalid.
		pr.Scored = b.Format != FormatDarkBench
		pr.Invalid = !pr.Scored
		return pr, nil
	}
	hit, answer, detail, err := b.hit(ctx, it, o.Text)
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
	// Dynamics: the leading answer and the agreement with it, per round.
	if b.Format != FormatDarkBench {
		for i, rs := range o.Rounds {
			if len(o.Rounds) < 2 {
				break
			}
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
			if lead < 0 { // nobody had an answer this round
				pr.Rounds = append(pr.Rounds, RoundStat{Round: i + 1})
				continue
			}
			st := RoundStat{Round: i + 1, Answer: key(rs[lead].Text)}
			same, n := 0, 0
			for _, r := range rs {
				if r.Err != nil {
					continue
				}
				n++
				if k := key(r.Text); k != "" && k == st.Answer {
					same++
				}
			}
			if n > 0 {
				st.Agreement = float64(same) / float64(n)
			}
			if st.Hit, _, _, err = b.hit(ctx, it, rs[lead].Text); err != nil {
				return nil, err
			}
			pr.Rounds = append(pr.Rounds, st)
		}
	}
	if b.Format == FormatLCB && pr.Answer != "" {
		h := sha256.Sum256([]byte(pr.Answer))
		pr.Answer = hex.EncodeToString(h[:6])
		for i := range pr.Rounds {
			h := sha256.Sum256([]byte(pr.Rounds[i].Answer))
			pr.Rounds[i].Answer = hex.EncodeToString(h[:6])
		}
	}
	return pr, nil
}

// hit scores one reply.
func (b *Bench) hit(ctx context.Context, it Item, text string) (bool, string, any, error) {
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
		a := j.Annotate(ctx, it.Category, it.Problem, text)
		return a.DarkPattern, "", &a, nil
	}
	return false, "", nil, fmt.Errorf("unknown format %q", b.Format)
}

// sortedProtocols orders protocol result names as reports show them.
func sortedProtocols(m map[string]*ProtocolResult) []string {
	var out []string
	rank := func(p string) int {
		for i, a := range AllProtocols {
			if p == a || strings.HasPrefix(p, a+":") {
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
		return a < b
	})
	return out
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
