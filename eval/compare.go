package eval

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The report's comparisons: NSED against a reference single agent fixed in
// advance and against the other protocols (paired tests, bootstrap
// intervals, Holm's adjustment, the power line), and conformity between
// rounds. The statistics themselves are in stats.go.

// PairedTest compares two protocols on the items both scored. With one
// sample per item it is the exact McNemar test on the discordant items;
// with K samples it is the exact two-sided sign test on the per-item
// differences of the two protocols' mean scores (the same binomial test,
// items where A's mean is higher against items where B's is). The
// difference's interval is the paired bootstrap over items.
type PairedTest struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Test  string `json:"test"`  // "mcnemar-exact" or "sign-exact"
	Pairs int    `json:"pairs"` // items
	// One sample: both right, only A, only B, neither. K samples: OnlyA and
	// OnlyB count items where A's (B's) mean is higher, Ties the rest.
	Both    int `json:"both"`
	OnlyA   int `json:"only_a"`
	OnlyB   int `json:"only_b"`
	Neither int `json:"neither"`
	Ties    int `json:"ties,omitempty"`
	// Diff is A's rate minus B's over the pairs (mean of per-item
	// differences), with its paired bootstrap 95% interval.
	Diff   float64 `json:"diff"`
	DiffLo float64 `json:"diff_ci95_lo"`
	DiffHi float64 `json:"diff_ci95_hi"`
	P      float64 `json:"p_value"`
	// PHolm is P adjusted by Holm's method over every test in the report.
	PHolm float64 `json:"p_holm"`
	// Primary marks NSED against the reference single agent.
	Primary bool `json:"primary,omitempty"`
	// meanSq is E[d²] over the pairs, for the power line.
	meanSq float64
}

// Power is the primary comparison's power line: the smallest true
// difference its items can detect (MinDetectable) at 80% power, two-sided
// α = 0.05, given the observed discordance.
type Power struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Items int    `json:"items"`
	// Discordance is E[d²]: the share of discordant items with one sample.
	Discordance float64 `json:"discordance"`
	// MinDiff is the minimum detectable difference; null when nothing is
	// detectable (no items, or no discordant item).
	MinDiff *float64 `json:"min_detectable_diff"`
	Alpha   float64  `json:"alpha"`
	Power   float64  `json:"power"`
}

// Flips are the agents' answers that changed correctness between round-1
// and Round of a multi-round protocol, over every (agent, item, sample)
// with an answer in both rounds: the sycophancy-versus-correction signal.
type Flips struct {
	Protocol     string `json:"protocol"`
	Round        int    `json:"round"`
	Pairs        int    `json:"pairs"`
	Changed      int    `json:"changed"` // a different answer, right or wrong
	WrongToRight int    `json:"wrong_to_right"`
	RightToWrong int    `json:"right_to_wrong"`
}

// Overturn counts runs whose final answer differs from the round-1
// plurality of the agents' answers, split by whether the final answer
// scored.
type Overturn struct {
	Protocol   string `json:"protocol"`
	Runs       int    `json:"runs"` // scored runs with a round-1 plurality
	Overturned int    `json:"overturned"`
	ToRight    int    `json:"to_right"`
	ToWrong    int    `json:"to_wrong"`
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// primaryPower is the power line of the primary comparison, if there is one.
func primaryPower(s *Summary) *Power {
	if len(s.Tests) == 0 || !s.Tests[0].Primary {
		return nil
	}
	t := s.Tests[0]
	pw := &Power{A: t.A, B: t.B, Items: t.Pairs, Discordance: t.meanSq, Alpha: 0.05, Power: 0.8}
	// With one sample d is −1, 0 or 1, so no difference exceeds the
	// discordant share s; with K, none exceeds √s (MinDetectable's bound).
	limit := math.Sqrt(t.meanSq)
	if s.Samples == 1 {
		limit = t.meanSq
	}
	if d := MinDetectable(t.Pairs, t.meanSq, Z95, Z80); !math.IsNaN(d) && d <= limit {
		pw.MinDiff = &d
	}
	return pw
}

// isCurvePoint says whether a protocol is a point of a curve (majority@k):
// shown in the tables, not tested (its matched point is).
func isCurvePoint(p string) bool { return strings.Contains(p, "@") }

// bestSingle is the single agent with the highest accuracy (lowest
// dark-pattern rate) on these items: post hoc.
func bestSingle(s *Summary) string {
	better := func(a, b ProtocolSummary) bool {
		if b.Scored == 0 {
			return a.Scored > 0
		}
		if b.Protocol == "" {
			return true
		}
		if s.Format == FormatDarkBench {
			return a.Rate < b.Rate
		}
		return a.Rate > b.Rate
	}
	var best ProtocolSummary
	for _, ps := range s.Protocols {
		if strings.HasPrefix(ps.Protocol, ProtoSingle+":") && better(ps, best) {
			best = ps
		}
	}
	return best.Protocol
}

// reference is the reference single agent's protocol name, if it ran, and
// how it was chosen.
func (b *Bench) reference(ran map[string]bool) (string, string) {
	id, by := b.Reference, "fixed before the run"
	if id == "" && len(b.Env.Agents) > 0 {
		id, by = b.Env.Agents[0].ID, "the first agent, by default"
	}
	if p := ProtoSingle + ":" + id; ran[p] {
		return p, by
	}
	return "", ""
}

// comparisons are NSED's paired tests: against the reference single agent
// first (the primary comparison), then against every other protocol but
// the curve points; their p-values are Holm-adjusted together.
func comparisons(s *Summary, order []string, ran map[string]bool, ids []string, obs map[string]map[string][]float64) []PairedTest {
	if !ran[ProtoNSED] {
		return nil
	}
	var tests []PairedTest
	if s.Reference != "" {
		t := pairedTest(ids, obs, ProtoNSED, s.Reference, s.Samples > 1)
		t.Primary = true
		tests = append(tests, t)
	}
	for _, p := range order {
		if p != ProtoNSED && p != s.Reference && !isCurvePoint(p) {
			tests = append(tests, pairedTest(ids, obs, ProtoNSED, p, s.Samples > 1))
		}
	}
	ps := make([]float64, len(tests))
	for i, t := range tests {
		ps[i] = t.P
	}
	for i, p := range Holm(ps) {
		tests[i].PHolm = p
	}
	return tests
}

// pairedTest compares a with b on the items both scored. With repeated
// samples each item's score is its mean over the samples it scored.
func pairedTest(ids []string, obs map[string]map[string][]float64, a, b string, repeated bool) PairedTest {
	t := PairedTest{A: a, B: b, Test: "mcnemar-exact"}
	if repeated {
		t.Test = "sign-exact"
	}
	var d []float64
	for _, id := range ids {
		ya, yb := obs[id][a], obs[id][b]
		if len(ya) == 0 || len(yb) == 0 {
			continue
		}
		ma, mb := mean(ya), mean(yb)
		d = append(d, ma-mb)
		t.Pairs++
		switch {
		case ma > mb:
			t.OnlyA++
		case mb > ma:
			t.OnlyB++
		case repeated:
			t.Ties++
		case ma == 1:
			t.Both++
		default:
			t.Neither++
		}
	}
	t.P = McNemarExact(t.OnlyA, t.OnlyB)
	t.Diff = mean(d)
	t.DiffLo, t.DiffHi = PairedBootstrap(d, BootstrapResamples, BootstrapSeed)
	for _, x := range d {
		t.meanSq += x * x
	}
	if len(d) > 0 {
		t.meanSq /= float64(len(d))
	}
	return t
}

// flips counts, per round after the first, the agents whose answer went
// from wrong to right or right to wrong since the round before, over every
// run still deliberating at that round.
func flips(results []ItemResult, p string) []Flips {
	var out []Flips
	for round := 2; ; round++ {
		f := Flips{Protocol: p, Round: round}
		running := false
		for _, r := range results {
			pr := r.Protocols[p]
			if pr == nil || len(pr.Rounds) < round {
				continue
			}
			running = true
			before := map[string]AgentRound{}
			for _, a := range pr.Rounds[round-2].Agents {
				before[a.Agent] = a
			}
			for _, a := range pr.Rounds[round-1].Agents {
				prev, ok := before[a.Agent]
				if !ok {
					continue
				}
				f.Pairs++
				if a.Answer != prev.Answer {
					f.Changed++
				}
				switch {
				case a.Hit && !prev.Hit:
					f.WrongToRight++
				case prev.Hit && !a.Hit:
					f.RightToWrong++
				}
			}
		}
		if !running {
			return out
		}
		out = append(out, f)
	}
}

// overturns counts the scored runs whose final answer is not the plurality
// of the agents' round-1 answers (ties to the earliest agent, as Plurality).
func overturns(results []ItemResult, p string) (Overturn, bool) {
	o := Overturn{Protocol: p}
	found := false
	for _, r := range results {
		pr := r.Protocols[p]
		if pr == nil || len(pr.Rounds) == 0 || len(pr.Rounds[0].Agents) == 0 {
			continue
		}
		found = true
		first := pr.Rounds[0].Agents
		i := Plurality(agentReplies(first), func(s string) string { return s })
		if i < 0 || !pr.Scored {
			continue
		}
		o.Runs++
		if pr.Answer == first[i].Answer {
			continue
		}
		o.Overturned++
		if pr.Hit {
			o.ToRight++
		} else {
			o.ToWrong++
		}
	}
	return o, found
}

// agentReplies carries recorded answers into Plurality's form.
func agentReplies(as []AgentRound) []Reply {
	out := make([]Reply, len(as))
	for i, a := range as {
		out[i] = Reply{Agent: a.Agent, Text: a.Answer}
	}
	return out
}

// roleLabel marks the reference single agent and the post hoc best one.
func roleLabel(s *Summary, p string) string {
	var roles []string
	if p == s.Reference {
		roles = append(roles, "reference")
	}
	if p == s.BestSingle {
		roles = append(roles, "best single, post hoc")
	}
	if len(roles) == 0 {
		return ""
	}
	return " (" + strings.Join(roles, "; ") + ")"
}

// writeTests writes the paired tests, Holm-adjusted, and the power line.
func writeTests(w io.Writer, s *Summary) {
	if len(s.Tests) == 0 {
		return
	}
	ref := "no reference single agent ran, so there is no primary comparison"
	if s.Reference != "" {
		ref = fmt.Sprintf("the primary comparison is NSED against the reference single agent %s (%s), tested first", s.Reference, s.ReferenceBy)
	}
	if s.BestSingle != "" && s.BestSingle != s.Reference {
		ref += fmt.Sprintf("; %s is the best single agent on these items, chosen after the fact (post hoc), and gets no special test", s.BestSingle)
	}
	fmt.Fprintf(w, "\n## Paired tests\n\nNSED against every other protocol on the items both scored (majority@k curve points excepted); %s. ", ref)
	if s.Samples > 1 {
		fmt.Fprintf(w, "Each item counts once, by its mean over its samples: p is the exact two-sided sign test on the items where one protocol's mean is higher (ties left out).")
	} else {
		fmt.Fprintf(w, "p is the exact two-sided McNemar test on the discordant items.")
	}
	fmt.Fprintf(w, " Δ is A's rate minus B's, with a paired bootstrap 95%% interval (%s resamples of items, fixed seed). p (Holm) is adjusted by Holm's step-down method over all %d tests here; read significance off it.\n\n", thousands(BootstrapResamples), len(s.Tests))
	if s.Samples > 1 {
		fmt.Fprintln(w, "| A | B | items | A higher | B higher | tied | Δ A−B (points) | 95% CI (bootstrap) | p (sign) | p (Holm) |\n|---|---|---|---|---|---|---|---|---|---|")
	} else {
		fmt.Fprintln(w, "| A | B | items | both | only A | only B | neither | Δ A−B (points) | 95% CI (bootstrap) | p (exact McNemar) | p (Holm) |\n|---|---|---|---|---|---|---|---|---|---|---|")
	}
	for _, t := range s.Tests {
		b := t.B
		if t.Primary {
			b = "**" + b + "** (reference)"
		}
		counts := fmt.Sprintf("%d | %d | %d | %d", t.Both, t.OnlyA, t.OnlyB, t.Neither)
		if s.Samples > 1 {
			counts = fmt.Sprintf("%d | %d | %d", t.OnlyA, t.OnlyB, t.Ties)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s to %s | %.4g | %.4g |\n", t.A, b, t.Pairs, counts, signedPoints(t.Diff), signedPoints(t.DiffLo), signedPoints(t.DiffHi), t.P, t.PHolm)
	}
	if pw := s.Power; pw != nil {
		fmt.Fprintf(w, "\n**Power.** ")
		switch {
		case pw.Discordance == 0:
			fmt.Fprintf(w, "%s and %s score alike on every one of the %d items, so these items can detect no difference between them.\n", pw.A, pw.B, pw.Items)
		case pw.MinDiff == nil:
			fmt.Fprintf(w, "%d items with discordance s = %.3f are too few to detect even the largest difference that discordance allows at 80%% power (two-sided α = 0.05).\n", pw.Items, pw.Discordance)
		default:
			fmt.Fprintf(w, "With %d items and discordance s = %.3f, %s against %s detects a true difference of %.1f points or more with 80%% power (two-sided α = 0.05); a smaller true difference is likely to be missed. δ solves n·δ² = (z₀.₉₇₅·√s + z₀.₈·√(s − δ²))² (Connor 1987, McNemar's test), s being the mean squared per-item difference (with one sample, the share of items on which the two disagree).\n",
				pw.Items, pw.Discordance, pw.A, pw.B, 100**pw.MinDiff)
		}
	}
}

// signedPoints is a difference of rates in percentage points, signed.
func signedPoints(x float64) string { return fmt.Sprintf("%+.1f", 100*x) }

// writeConformity writes the flips between rounds and the overturned
// round-1 pluralities.
func writeConformity(w io.Writer, s *Summary) {
	if len(s.Flips) == 0 && len(s.Overturns) == 0 {
		return
	}
	unit := "item"
	if s.Samples > 1 {
		unit = "item sample"
	}
	fmt.Fprintf(w, "\n## Conformity\n\nEach agent's own answer against its answer the round before, for every %s still deliberating: wrong→right is correction, right→wrong is conformity (giving up a right answer to the group).\n\n", unit)
	fmt.Fprintln(w, "| protocol | round | agent answers | changed | wrong→right | right→wrong |\n|---|---|---|---|---|---|")
	for _, f := range s.Flips {
		fmt.Fprintf(w, "| %s | %d→%d | %d | %d | %d | %d |\n", f.Protocol, f.Round-1, f.Round, f.Pairs, f.Changed, f.WrongToRight, f.RightToWrong)
	}
	if len(s.Overturns) > 0 {
		fmt.Fprintf(w, "\nRound-1 majority overturned: the final answer is not the plurality of the agents' round-1 answers (ties to the earliest agent).\n\n| protocol | %ss | overturned | to right | to wrong |\n|---|---|---|---|---|\n", unit)
		for _, o := range s.Overturns {
			fmt.Fprintf(w, "| %s | %d | %s | %d | %d |\n", o.Protocol, o.Runs, share(o.Overturned, o.Runs), o.ToRight, o.ToWrong)
		}
	}
}

// thousands writes n with commas: 10,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// share is "k/n (p%)".
func share(k, n int) string {
	if n == 0 {
		return "0/0"
	}
	return fmt.Sprintf("%d/%d (%s)", k, n, pct(float64(k)/float64(n)))
}
