package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// Report files written into the output directory.
const (
	ReportMarkdown = "report.md"
	ReportCSV      = "report.csv"
	ReportJSON     = "summary.json"
	PlotProtocols  = "protocols.png"
	PlotDynamics   = "dynamics.png"
)

// ProtocolSummary is one row of the report table.
type ProtocolSummary struct {
	Protocol string  `json:"protocol"`
	Model    string  `json:"model,omitempty"` // single agents
	Items    int     `json:"items"`           // items run
	Scored   int     `json:"scored"`          // items scored (the rate's denominator)
	Hits     int     `json:"hits"`
	Rate     float64 `json:"rate"`
	Lo       float64 `json:"ci95_lo"`
	Hi       float64 `json:"ci95_hi"`
	// Mean tokens per item (prompt + output, over every call the protocol
	// made, including shared first-round calls), and mean wall time.
	PromptTokens float64 `json:"mean_prompt_tokens"`
	OutputTokens float64 `json:"mean_output_tokens"`
	Tokens       float64 `json:"mean_tokens"`
	Calls        float64 `json:"mean_calls"`
	WallS        float64 `json:"mean_wall_s"`
	Failures     int     `json:"failures"`
	// Invalid (DarkBench) counts replies left out of the rate: empty or no
	// reply, or no valid verdict from the judge.
	Invalid int `json:"invalid,omitempty"`
	// ByCategory is the rate per DarkBench category.
	ByCategory map[string]CategoryRate `json:"by_category,omitempty"`
}

// CategoryRate is a DarkBench rate within one category.
type CategoryRate struct {
	Scored int     `json:"scored"`
	Hits   int     `json:"hits"`
	Rate   float64 `json:"rate"`
	Lo     float64 `json:"ci95_lo"`
	Hi     float64 `json:"ci95_hi"`
}

// PairedTest is an exact McNemar test between two protocols on the items
// both scored.
type PairedTest struct {
	A       string  `json:"a"`
	B       string  `json:"b"`
	Pairs   int     `json:"pairs"`
	Both    int     `json:"both"`
	OnlyA   int     `json:"only_a"`
	OnlyB   int     `json:"only_b"`
	Neither int     `json:"neither"`
	P       float64 `json:"p_value"`
}

// RoundSummary is a protocol's state after each round, over all items;
// items that stopped earlier keep their last round's values.
type RoundSummary struct {
	Protocol  string  `json:"protocol"`
	Round     int     `json:"round"`
	Items     int     `json:"items"`   // items with a value at this round (incl. carried)
	Running   int     `json:"running"` // items still deliberating at this round
	Rate      float64 `json:"rate"`
	Agreement float64 `json:"agreement"`
}

// Summary is everything the reports show.
type Summary struct {
	Dataset    string             `json:"dataset"`
	Format     Format             `json:"format"`
	Metric     string             `json:"metric"`
	Items      int                `json:"items"`
	Agents     []engine.AgentInfo `json:"agents"`
	Judge      string             `json:"judge,omitempty"`
	Settings   engine.Settings    `json:"settings"`
	Sandbox    string             `json:"sandbox,omitempty"`
	TokenCap   int                `json:"tokens_per_call_cap"`
	Protocols  []ProtocolSummary  `json:"protocols"`
	BestSingle string             `json:"best_single,omitempty"`
	Tests      []PairedTest       `json:"tests"`
	Dynamics   []RoundSummary     `json:"dynamics,omitempty"`
	Generated  time.Time          `json:"generated"`
	// Frontier is the efficiency frontier (frontier.go); Provenance every
	// setup the results came from (provenance.go).
	Frontier   []FrontierPoint     `json:"frontier,omitempty"`
	Provenance []models.Provenance `json:"provenance,omitempty"`
}

// MetricName is what the rate measures for a format.
func MetricName(f Format) string {
	switch f {
	case FormatLCB:
		return "pass@1"
	case FormatDarkBench:
		return "dark-pattern rate"
	}
	return "accuracy"
}

// Summarize turns results into the report's numbers.
func (b *Bench) Summarize(results []ItemResult) *Summary {
	s := &Summary{Dataset: filepath.Base(b.Dataset), Format: b.Format, Metric: MetricName(b.Format), Items: len(results),
		Agents: b.Env.Agents, Settings: b.Env.Settings, TokenCap: b.Env.Settings.Sampling.Propose.NumPredict, Generated: time.Now().UTC()}
	if b.Judge != nil {
		s.Judge = b.Judge.Agent.Model
	}
	if b.Sandbox != nil && b.Format == FormatLCB {
		s.Sandbox = b.Sandbox.Describe()
	}
	names := map[string]bool{}
	for _, r := range results {
		for p := range r.Protocols {
			names[p] = true
		}
	}
	order := sortedProtocols(func() map[string]*ProtocolResult {
		m := map[string]*ProtocolResult{}
		for p := range names {
			m[p] = nil
		}
		return m
	}())
	model := map[string]string{}
	for _, a := range b.Env.Agents {
		model[ProtoSingle+":"+a.ID] = a.Model
	}
	for _, p := range order {
		ps := ProtocolSummary{Protocol: p, Model: model[p]}
		cats := map[string]*CategoryRate{}
		for _, r := range results {
			pr := r.Protocols[p]
			if pr == nil {
				continue
			}
			ps.Items++
			ps.PromptTokens += float64(pr.PromptTokens)
			ps.OutputTokens += float64(pr.OutputTokens)
			ps.Calls += float64(pr.Calls)
			ps.WallS += pr.WallMS / 1000
			if pr.Status != engine.StatusCompleted {
				ps.Failures++
			}
			if pr.Invalid {
				ps.Invalid++
			}
			if !pr.Scored {
				continue
			}
			ps.Scored++
			if pr.Hit {
				ps.Hits++
			}
			if b.Format == FormatDarkBench {
				c := cats[r.Category]
				if c == nil {
					c = &CategoryRate{}
					cats[r.Category] = c
				}
				c.Scored++
				if pr.Hit {
					c.Hits++
				}
			}
		}
		if ps.Items > 0 {
			n := float64(ps.Items)
			ps.PromptTokens, ps.OutputTokens, ps.Calls, ps.WallS = ps.PromptTokens/n, ps.OutputTokens/n, ps.Calls/n, ps.WallS/n
			ps.Tokens = ps.PromptTokens + ps.OutputTokens
		}
		if ps.Scored > 0 {
			ps.Rate = float64(ps.Hits) / float64(ps.Scored)
		}
		ps.Lo, ps.Hi = Wilson(ps.Hits, ps.Scored, Z95)
		if len(cats) > 0 {
			ps.ByCategory = map[string]CategoryRate{}
			for k, c := range cats {
				c.Rate = float64(c.Hits) / float64(max(c.Scored, 1))
				c.Lo, c.Hi = Wilson(c.Hits, c.Scored, Z95)
				ps.ByCategory[k] = *c
			}
		}
		s.Protocols = append(s.Protocols, ps)
	}
	// The best single agent: highest accuracy (lowest dark-pattern rate).
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
	s.BestSingle = best.Protocol
	// Paired tests: NSED against the best single agent first, then against
	// every other protocol.
	if names[ProtoNSED] {
		if s.BestSingle != "" {
			s.Tests = append(s.Tests, pairedTest(results, ProtoNSED, s.BestSingle))
		}
		for _, p := range order {
			if p != ProtoNSED && p != s.BestSingle {
				s.Tests = append(s.Tests, pairedTest(results, ProtoNSED, p))
			}
		}
	}
	for _, p := range order {
		s.Dynamics = append(s.Dynamics, dynamics(results, p)...)
	}
	s.Provenance = b.provenanceHistory()
	s.Frontier = Frontier(s)
	return s
}

func pairedTest(results []ItemResult, a, b string) PairedTest {
	t := PairedTest{A: a, B: b}
	for _, r := range results {
		pa, pb := r.Protocols[a], r.Protocols[b]
		if pa == nil || pb == nil || !pa.Scored || !pb.Scored {
			continue
		}
		t.Pairs++
		switch {
		case pa.Hit && pb.Hit:
			t.Both++
		case pa.Hit:
			t.OnlyA++
		case pb.Hit:
			t.OnlyB++
		default:
			t.Neither++
		}
	}
	t.P = McNemarExact(t.OnlyA, t.OnlyB)
	return t
}

func dynamics(results []ItemResult, p string) []RoundSummary {
	maxR := 0
	for _, r := range results {
		if pr := r.Protocols[p]; pr != nil && len(pr.Rounds) > maxR {
			maxR = len(pr.Rounds)
		}
	}
	if maxR < 2 {
		return nil
	}
	var out []RoundSummary
	for round := 1; round <= maxR; round++ {
		rs := RoundSummary{Protocol: p, Round: round}
		hits := 0
		agree := 0.0
		for _, r := range results {
			pr := r.Protocols[p]
			if pr == nil || len(pr.Rounds) == 0 {
				continue
			}
			st := pr.Rounds[min(round, len(pr.Rounds))-1]
			rs.Items++
			if round <= len(pr.Rounds) {
				rs.Running++
			}
			if st.Hit {
				hits++
			}
			agree += st.Agreement
		}
		if rs.Items > 0 {
			rs.Rate = float64(hits) / float64(rs.Items)
			rs.Agreement = agree / float64(rs.Items)
		}
		out = append(out, rs)
	}
	return out
}

// WriteReports writes report.md, report.csv, summary.json and the plots
// into dir. A plot that cannot be drawn is reported but does not stop the
// text reports.
func WriteReports(dir string, s *Summary) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var md strings.Builder
	WriteMarkdown(&md, s)
	if err := writeFileAtomic(filepath.Join(dir, ReportMarkdown), []byte(md.String())); err != nil {
		return err
	}
	var cs strings.Builder
	if err := WriteCSV(&cs, s); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, ReportCSV), []byte(cs.String())); err != nil {
		return err
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, ReportJSON), append(js, '\n')); err != nil {
		return err
	}
	if err := PlotProtocolsPNG(filepath.Join(dir, PlotProtocols), s); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if len(s.Dynamics) > 0 {
		if err := PlotDynamicsPNG(filepath.Join(dir, PlotDynamics), s); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	if err := PlotFrontierPNG(filepath.Join(dir, PlotFrontier), s); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

func pct(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }

// WriteMarkdown writes the report table and tests as Markdown.
func WriteMarkdown(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "# nsed bench: %s (%s)\n\n", s.Dataset, s.Format)
	var models []string
	for _, a := range s.Agents {
		models = append(models, a.ID+"="+a.Model)
	}
	fmt.Fprintf(w, "%d items · agents %s", s.Items, strings.Join(models, ", "))
	if s.Judge != "" {
		fmt.Fprintf(w, " · judge %s", s.Judge)
	}
	fmt.Fprintf(w, " · NSED rounds %d–%d, credits %g, gate budget %d tokens · at most %d output tokens per call under every protocol\n\n",
		s.Settings.MinRounds, s.Settings.MaxRounds, s.Settings.Credits, s.Settings.Gate.BudgetTokens, s.TokenCap)
	lower := ""
	if s.Format == FormatDarkBench {
		lower = " (lower is better)"
	}
	nsedTokens := 0.0
	for _, p := range s.Protocols {
		if p.Protocol == ProtoNSED {
			nsedTokens = p.Tokens
		}
	}
	fmt.Fprintf(w, "| protocol | model | %s%s | 95%% CI (Wilson) | scored | tokens/item (prompt+output) | × NSED tokens | calls/item | wall s/item | failures |\n", s.Metric, lower)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range s.Protocols {
		name := p.Protocol
		if name == s.BestSingle {
			name += " (best single)"
		}
		rel := "–"
		if nsedTokens > 0 {
			rel = strconv.FormatFloat(p.Tokens/nsedTokens, 'f', 2, 64)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s–%s | %d/%d | %.0f (%.0f+%.0f) | %s | %.1f | %.2f | %d |\n", name, dashIf(p.Model), pct(p.Rate), pct(p.Lo), pct(p.Hi),
			p.Hits, p.Scored, p.Tokens, p.PromptTokens, p.OutputTokens, rel, p.Calls, p.WallS, p.Failures)
	}
	if s.Format == FormatDarkBench {
		writeInvalid(w, s.Protocols)
	}
	// The same as protocols.png, readable in a terminal.
	fmt.Fprintln(w, "\n```text")
	WriteChart(w, s, 40)
	fmt.Fprintln(w, "```")
	if s.Format == FormatDarkBench {
		fmt.Fprintf(w, "\n## Dark-pattern rate by category\n\n| protocol |")
		for _, c := range Categories {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprint(w, "\n|---|")
		for range Categories {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
		for _, p := range s.Protocols {
			fmt.Fprintf(w, "| %s |", p.Protocol)
			for _, c := range Categories {
				if cr, ok := p.ByCategory[c]; ok {
					fmt.Fprintf(w, " %s (%d/%d) |", pct(cr.Rate), cr.Hits, cr.Scored)
				} else {
					fmt.Fprint(w, " – |")
				}
			}
			fmt.Fprintln(w)
		}
	}
	if len(s.Tests) > 0 {
		fmt.Fprintf(w, "\n## Paired tests (exact McNemar, two-sided)\n\n| A | B | pairs | both | only A | only B | neither | p |\n|---|---|---|---|---|---|---|---|\n")
		for _, t := range s.Tests {
			fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %.4g |\n", t.A, t.B, t.Pairs, t.Both, t.OnlyA, t.OnlyB, t.Neither, t.P)
		}
	}
	if len(s.Dynamics) > 0 {
		fmt.Fprintf(w, "\n## Dynamics by round\n\nThe leading answer's %s and the share of agents agreeing with it after each round; items that stopped earlier keep their last value.\n\n| protocol | round | items running | %s | agreement |\n|---|---|---|---|---|\n", s.Metric, s.Metric)
		for _, d := range s.Dynamics {
			fmt.Fprintf(w, "| %s | %d | %d/%d | %s | %s |\n", d.Protocol, d.Round, d.Running, d.Items, pct(d.Rate), pct(d.Agreement))
		}
	}
	if s.Format == FormatDarkBench {
		fmt.Fprintf(w, "\nMajority vote has no meaning for free-form replies and is left out; debate's reply is the first agent's last one (no two replies are equal). The judge annotates each reply for its item's category only; replies without a valid verdict are not scored.\n")
	}
	if s.Sandbox != "" {
		fmt.Fprintf(w, "\nSandbox: %s\n", s.Sandbox)
	}
	fmt.Fprintf(w, "\nTokens count every call a protocol depends on: majority vote, debate and Mixture-of-Agents include the shared first round; NSED includes its reviews and gate summaries.\n")
	writeFrontier(w, s)
	writeProvenance(w, s)
}

func dashIf(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// WriteCSV writes one row per protocol.
func WriteCSV(w io.Writer, s *Summary) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"protocol", "model", "metric", "items", "scored", "hits", "rate", "ci95_lo", "ci95_hi",
		"mean_prompt_tokens", "mean_output_tokens", "mean_tokens", "mean_calls", "mean_wall_s", "failures", "best_single", "p_vs_nsed"})
	pv := map[string]float64{}
	for _, t := range s.Tests {
		pv[t.B] = t.P
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	for _, p := range s.Protocols {
		p2 := ""
		if v, ok := pv[p.Protocol]; ok {
			p2 = f(v)
		}
		_ = cw.Write([]string{p.Protocol, p.Model, s.Metric, strconv.Itoa(p.Items), strconv.Itoa(p.Scored), strconv.Itoa(p.Hits),
			f(p.Rate), f(p.Lo), f(p.Hi), f(p.PromptTokens), f(p.OutputTokens), f(p.Tokens), f(p.Calls), f(p.WallS),
			strconv.Itoa(p.Failures), strconv.FormatBool(p.Protocol == s.BestSingle), p2})
	}
	cw.Flush()
	return cw.Error()
}

// writeInvalid says how many replies each protocol had that could not be
// judged: they are outside the rate's denominator, so a reader must see
// them to know what the rate leaves out.
func writeInvalid(w io.Writer, ps []ProtocolSummary) {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s %d/%d", p.Protocol, p.Invalid, p.Items))
	}
	fmt.Fprintf(w, "\nInvalid replies (empty, no reply, or no valid verdict from the judge), left out of the rate as DarkBench's scorer does: %s.\n", strings.Join(parts, ", "))
}
