package eval

import (
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/internal/buildinfo"
	"github.com/nsed/nsed/models"
)

var updateReport = flag.Bool("update-report", false, "rewrite the report golden files in testdata/")

// hitsBench is a bench over three agents with nothing to run: Summarize's
// input only.
func hitsBench(reference string) *Bench {
	return &Bench{Env: Env{Agents: []engine.AgentInfo{{ID: "agent-1", Model: "m-a"}, {ID: "agent-2", Model: "m-b"}, {ID: "agent-3", Model: "m-c"}}},
		Format: FormatAIME, Dataset: "golden.jsonl", Reference: reference,
		// A fixed build, so the golden report does not change with the test binary.
		Provenance: models.Provenance{Nsed: buildinfo.Info{Version: "v0.0.0-golden", Revision: "0123456789abcdef", Go: "go1.26", Platform: "linux/amd64"}}}
}

// scoredResults makes one result per (item, sample): right[p] lists, per
// sample, the items protocol p got right, out of n items.
func scoredResults(n int, right map[string][][]int) []ItemResult {
	var out []ItemResult
	samples := 0
	for _, per := range right {
		samples = max(samples, len(per))
	}
	for s := range samples {
		for i := range n {
			r := ItemResult{Index: i, ID: fmt.Sprintf("item-%03d", i), Sample: s, Protocols: map[string]*ProtocolResult{}}
			for p, per := range right {
				hit := false
				for _, j := range per[s] {
					hit = hit || j == i
				}
				r.Protocols[p] = &ProtocolResult{Hit: hit, Scored: true, Status: engine.StatusCompleted, Calls: 1, OutputTokens: 10}
			}
			out = append(out, r)
		}
	}
	return out
}

func upto(k int) []int {
	var out []int
	for i := range k {
		out = append(out, i)
	}
	return out
}

// oneSample: ten items; nsed right on 7, agent-1 on 2, agent-2 on 8 (the
// best single, post hoc), agent-3 on 5, majority on 6, and two curve points.
func oneSample() []ItemResult {
	return scoredResults(10, map[string][][]int{
		ProtoNSED: {upto(7)}, "single:agent-1": {upto(2)}, "single:agent-2": {upto(8)}, "single:agent-3": {upto(5)},
		ProtoMajority: {upto(6)}, "majority@1": {upto(3)}, "majority@2": {upto(5)},
	})
}

func TestSummarizeReferenceHolmAndPower(t *testing.T) {
	s := hitsBench("agent-3").Summarize(oneSample())
	if s.Reference != "single:agent-3" || s.ReferenceBy != "fixed before the run" || s.BestSingle != "single:agent-2" {
		t.Fatalf("reference %q (%s), best single %q", s.Reference, s.ReferenceBy, s.BestSingle)
	}
	// Hand counts: nsed vs agent-3 differ on items 5 and 6 (nsed right);
	// vs agent-1 on 2..6 (nsed); vs agent-2 on 7 (agent-2); vs majority
	// on 6 (nsed). Exact McNemar: 2·½² = 0.5, 2·½⁵ = 0.0625, 1, 1. Holm
	// over the four: 0.0625·4 = 0.25 first, the rest capped at 1.
	want := []struct {
		b             string
		onlyA, onlyB  int
		p, holm, diff float64
	}{
		{"single:agent-3", 2, 0, 0.5, 1, 0.2},
		{"single:agent-1", 5, 0, 0.0625, 0.25, 0.5},
		{"single:agent-2", 0, 1, 1, 1, -0.1},
		{ProtoMajority, 1, 0, 1, 1, 0.1},
	}
	if len(s.Tests) != len(want) {
		t.Fatalf("%d tests, want %d (none against curve points): %+v", len(s.Tests), len(want), s.Tests)
	}
	for i, w := range want {
		got := s.Tests[i]
		if got.A != ProtoNSED || got.B != w.b || got.OnlyA != w.onlyA || got.OnlyB != w.onlyB || got.Pairs != 10 || got.Test != "mcnemar-exact" ||
			math.Abs(got.P-w.p) > 1e-12 || math.Abs(got.PHolm-w.holm) > 1e-12 || math.Abs(got.Diff-w.diff) > 1e-12 || got.Primary != (i == 0) {
			t.Errorf("test %d: %+v, want B %s only A %d only B %d p %g holm %g diff %g", i, got, w.b, w.onlyA, w.onlyB, w.p, w.holm, w.diff)
		}
		if got.DiffLo > got.Diff || got.DiffHi < got.Diff {
			t.Errorf("test %d: bootstrap interval [%g, %g] misses the difference %g", i, got.DiffLo, got.DiffHi, got.Diff)
		}
	}
	// nsed is never worse than agent-3 on an item: no resample goes below 0.
	if s.Tests[0].DiffLo < 0 {
		t.Errorf("primary interval starts below 0: %g", s.Tests[0].DiffLo)
	}
	// Power: 10 items, 2 discordant (s = 0.2): Connor's δ ≈ 0.39 exceeds
	// the 0.2 that two discordant items allow, so nothing is detectable.
	if s.Power == nil || s.Power.MinDiff != nil || s.Power.Items != 10 || s.Power.Discordance != 0.2 {
		t.Errorf("power %+v, want none detectable", s.Power)
	}
	// 200 items, 20 discordant (s = 0.1): δ = MinDetectable(200, 0.1) ≈ 0.06.
	big := scoredResults(200, map[string][][]int{ProtoNSED: {upto(120)}, "single:agent-1": {upto(100)}})
	if pw := hitsBench("").Summarize(big).Power; pw == nil || pw.MinDiff == nil || pw.Items != 200 || pw.Discordance != 0.1 ||
		*pw.MinDiff != MinDetectable(200, 0.1, Z95, Z80) || *pw.MinDiff > 0.07 || *pw.MinDiff < 0.05 {
		t.Errorf("200 items: power %+v", pw)
	}
	// Without --reference the first agent is the reference.
	s = hitsBench("").Summarize(oneSample())
	if s.Reference != "single:agent-1" || s.ReferenceBy != "the first agent, by default" || !s.Tests[0].Primary || s.Tests[0].B != "single:agent-1" {
		t.Errorf("default reference %q (%s), first test %+v", s.Reference, s.ReferenceBy, s.Tests[0])
	}
}

// twoSamples: three items run twice; nsed right on a twice, b once, c
// never; agent-1 on a once.
func twoSamples() []ItemResult {
	return scoredResults(3, map[string][][]int{
		ProtoNSED:        {{0, 1}, {0}},
		"single:agent-1": {{0}, {}},
		"single:agent-2": {{}, {2}},
	})
}

func TestSummarizeSamplesClusteredAndSignTest(t *testing.T) {
	s := hitsBench("").Summarize(twoSamples())
	if s.Samples != 2 || s.Items != 3 {
		t.Fatalf("samples %d, items %d; want 2 and 3", s.Samples, s.Items)
	}
	var nsed ProtocolSummary
	for _, p := range s.Protocols {
		if p.Protocol == ProtoNSED {
			nsed = p
		}
	}
	// Item means 1, ½, 0: rate ½, SE² = var(means)/G = ¼/3 = 1/12; the
	// interval ½ ± 1.96·0.289 is clipped to [0, 1].
	se := math.Sqrt(1.0 / 12)
	if nsed.Rate != 0.5 || nsed.Hits != 3 || nsed.Scored != 6 || math.Abs(nsed.SE-se) > 1e-12 || nsed.Lo != 0 || nsed.Hi != 1 {
		t.Errorf("nsed %+v, want 0.5 ± %g·%g in [0, 1]", nsed, Z95, se)
	}
	// agent-1: item means ½, 0, 0: rate 1/6, SE² = var(½,0,0)/3 = (1/12)/3.
	for _, p := range s.Protocols {
		if p.Protocol == "single:agent-1" {
			se := math.Sqrt(1.0 / 36)
			if math.Abs(p.Rate-1.0/6) > 1e-12 || math.Abs(p.SE-se) > 1e-12 || p.Lo != 0 || math.Abs(p.Hi-(1.0/6+Z95*se)) > 1e-12 {
				t.Errorf("agent-1 %+v, want 1/6 ± %g·%g", p, Z95, se)
			}
		}
	}
	// Per-item mean differences vs agent-1: ½, ½, 0 → the sign test on 2
	// items up, 0 down: p = 0.5.
	p := s.Tests[0]
	if p.B != "single:agent-1" || p.Test != "sign-exact" || p.OnlyA != 2 || p.OnlyB != 0 || p.Ties != 1 || p.P != 0.5 ||
		math.Abs(p.Diff-1.0/3) > 1e-12 || math.Abs(p.meanSq-1.0/6) > 1e-12 {
		t.Errorf("primary test %+v", p)
	}
	// Three items with s = 1/6 cannot detect anything at 80% power:
	// even δ = √s gives n·δ² = 0.5 < (1.96·√s)² ≈ 0.64.
	if s.Power == nil || s.Power.MinDiff != nil {
		t.Errorf("power %+v, want no detectable difference", s.Power)
	}
}

// conformityResults: three items under nsed, per-agent answers by round.
func conformityResults() []ItemResult {
	ag := func(id, ans string, hit bool) AgentRound { return AgentRound{Agent: id, Answer: ans, Hit: hit} }
	round := func(n int, as ...AgentRound) RoundStat { return RoundStat{Round: n, Agents: as} }
	return []ItemResult{
		{ID: "i1", Protocols: map[string]*ProtocolResult{ProtoNSED: {Answer: "5", Scored: true, Rounds: []RoundStat{
			round(1, ag("a1", "5", false), ag("a2", "7", true), ag("a3", "5", false)),
			round(2, ag("a1", "7", true), ag("a2", "5", false), ag("a3", "5", false)),
		}}}},
		// A tie in round 1 goes to the earliest agent with an answer (a2's
		// "3"); the final "4" overturns it, wrongly.
		{ID: "i2", Protocols: map[string]*ProtocolResult{ProtoNSED: {Answer: "4", Scored: true, Rounds: []RoundStat{
			round(1, ag("a1", "", false), ag("a2", "3", true), ag("a3", "4", false)),
		}}}},
		{ID: "i3", Protocols: map[string]*ProtocolResult{ProtoNSED: {Answer: "2", Hit: true, Scored: true, Rounds: []RoundStat{
			round(1, ag("a1", "1", false), ag("a2", "1", false), ag("a3", "2", true)),
			round(2, ag("a1", "2", true), ag("a2", "2", true), ag("a3", "2", true)),
			round(3, ag("a1", "2", true), ag("a2", "1", false)), // a3 failed
		}}}},
	}
}

func TestConformityFlipsAndOverturns(t *testing.T) {
	s := hitsBench("").Summarize(conformityResults())
	want := []Flips{
		{Protocol: ProtoNSED, Round: 2, Pairs: 6, Changed: 4, WrongToRight: 3, RightToWrong: 1},
		{Protocol: ProtoNSED, Round: 3, Pairs: 2, Changed: 1, WrongToRight: 0, RightToWrong: 1},
	}
	if len(s.Flips) != len(want) || s.Flips[0] != want[0] || s.Flips[1] != want[1] {
		t.Errorf("flips %+v, want %+v", s.Flips, want)
	}
	if wo := (Overturn{Protocol: ProtoNSED, Runs: 3, Overturned: 2, ToRight: 1, ToWrong: 1}); len(s.Overturns) != 1 || s.Overturns[0] != wo {
		t.Errorf("overturns %+v, want %+v", s.Overturns, wo)
	}
}

// TestReportGolden pins report.md's tables for one and two samples and the
// conformity section; run with -update-report to rewrite, then read the diff.
func TestReportGolden(t *testing.T) {
	cases := map[string][]ItemResult{
		"one-sample":  oneSample(),
		"two-samples": twoSamples(),
		"conformity":  conformityResults(),
	}
	for name, results := range cases {
		t.Run(name, func(t *testing.T) {
			var md strings.Builder
			WriteMarkdown(&md, hitsBench("").Summarize(results))
			path := filepath.Join("testdata", "TestReportGolden", name+".md")
			if *updateReport {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(md.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestReportGolden -update-report)", err)
			}
			if md.String() != string(want) {
				t.Errorf("report.md differs from %s:\n%s", path, md.String())
			}
		})
	}
}

func TestReportCSVAndJSONCarryTheTests(t *testing.T) {
	s := hitsBench("agent-3").Summarize(oneSample())
	var b strings.Builder
	if err := WriteCSV(&b, s); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, r := range rows[1:] {
		switch r[0] {
		case "single:agent-1":
			if r[col["p_vs_nsed"]] != "0.0625" || r[col["p_holm_vs_nsed"]] != "0.2500" || r[col["nsed_minus_this"]] != "0.5000" || r[col["reference"]] != "false" {
				t.Errorf("agent-1 row %v", r)
			}
		case "single:agent-3":
			if r[col["reference"]] != "true" || r[col["p_holm_vs_nsed"]] != "1.0000" {
				t.Errorf("reference row %v", r)
			}
		case "single:agent-2":
			if r[col["best_single_post_hoc"]] != "true" {
				t.Errorf("best single row %v", r)
			}
		case "majority@2":
			if r[col["p_vs_nsed"]] != "" {
				t.Errorf("a curve point was tested: %v", r)
			}
		}
	}
	js, _ := json.Marshal(s)
	for _, key := range []string{`"p_holm":0.25`, `"reference":"single:agent-3"`, `"best_single_post_hoc":"single:agent-2"`, `"min_detectable_diff":null`, `"diff_ci95_lo"`} {
		if !strings.Contains(string(js), key) {
			t.Errorf("summary.json lacks %s", key)
		}
	}
}
