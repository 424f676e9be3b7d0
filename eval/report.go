package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
	Rate     float64 `json:"rate"` // avg@K with K samples: hits over every scored run
	Lo       float64 `json:"ci95_lo"`
	Hi       float64 `json:"ci95_hi"`
	// SE is the rate's standard error clustered by item (K > 1 only; the
	// interval is then rate ± 1.96·SE, else Wilson's).
	SE float64 `json:"clustered_se,omitempty"`
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
	Dataset  string             `json:"dataset"`
	Format   Format             `json:"format"`
	Metric   string             `json:"metric"`
	Items    int                `json:"items"` // distinct items
	Agents   []engine.AgentInfo `json:"agents"`
	Judge    string             `json:"judge,omitempty"`
	Settings engine.Settings    `json:"settings"`
	Sandbox  string             `json:"sandbox,omitempty"`
	TokenCap int                `json:"tokens_per_call_cap"`
	// Samples is K, the runs per item (avg@K).
	Samples   int               `json:"samples"`
	Protocols []ProtocolSummary `json:"protocols"`
	// Reference is the single agent fixed before the run (--reference, or
	// [bench] reference; the first agent by default), the primary
	// comparison's other side; ReferenceBy says which.
	Reference   string `json:"reference,omitempty"`
	ReferenceBy string `json:"reference_by,omitempty"`
	// BestSingle is the single agent best on these very items: chosen
	// after seeing the results, so post hoc and not tested as primary.
	BestSingle string         `json:"best_single_post_hoc,omitempty"`
	Tests      []PairedTest   `json:"tests"`
	Power      *Power         `json:"power,omitempty"`
	Dynamics   []RoundSummary `json:"dynamics,omitempty"`
	Flips      []Flips        `json:"flips,omitempty"`
	Overturns  []Overturn     `json:"overturns,omitempty"`
	Generated  time.Time      `json:"generated"`

	// JudgeSelf: the judge's model is one of the judged models (allowed by
	// --judge-self-ok); its verdicts on its own replies may be lenient.
	JudgeSelf bool `json:"judge_self,omitempty"`
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
		s.Judge, s.JudgeSelf = b.Judge.Agent.Model, b.Judge.Self
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
	// Every run's score per item and protocol, items in the results' order
	// (repeated samples of an item are its cluster).
	var ids []string
	obs := map[string]map[string][]float64{}
	for _, r := range results {
		if obs[r.ID] == nil {
			obs[r.ID] = map[string][]float64{}
			ids = append(ids, r.ID)
		}
		for p, pr := range r.Protocols {
			if pr != nil && pr.Scored {
				obs[r.ID][p] = append(obs[r.ID][p], b2f(pr.Hit))
			}
		}
		s.Samples = max(s.Samples, r.Sample+1)
	}
	s.Samples = max(s.Samples, b.samples())
	s.Items = len(ids)
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
		if s.Samples > 1 {
			// Repeated samples of an item are not independent draws:
			// the interval comes from the item-clustered SE.
			var clusters [][]float64
			for _, id := range ids {
				clusters = append(clusters, obs[id][p])
			}
			ps.Rate, ps.SE = ClusteredMean(clusters)
			ps.Lo, ps.Hi = math.Max(0, ps.Rate-Z95*ps.SE), math.Min(1, ps.Rate+Z95*ps.SE)
		}
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
	s.BestSingle = bestSingle(s)
	s.Reference, s.ReferenceBy = b.reference(names)
	s.Tests = comparisons(s, order, names, ids, obs)
	s.Power = primaryPower(s)
	for _, p := range order {
		s.Dynamics = append(s.Dynamics, dynamics(results, p)...)
		s.Flips = append(s.Flips, flips(results, p)...)
		if o, ok := overturns(results, p); ok {
			s.Overturns = append(s.Overturns, o)
		}
	}
	s.Provenance = b.provenanceHistory()
	s.Frontier = Frontier(s)
	return s
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
	fmt.Fprintf(w, "%d items", s.Items)
	if s.Samples > 1 {
		fmt.Fprintf(w, " × %d samples", s.Samples)
	}
	fmt.Fprintf(w, " · agents %s", strings.Join(models, ", "))
	if s.Judge != "" {
		fmt.Fprintf(w, " · judge %s", s.Judge)
	}
	fmt.Fprintf(w, " · NSED rounds %d–%d, credits %g, gate budget %d tokens · at most %d output tokens per call under every protocol\n\n",
		s.Settings.MinRounds, s.Settings.MaxRounds, s.Settings.Credits, s.Settings.Gate.BudgetTokens, s.TokenCap)
	if s.JudgeSelf {
		fmt.Fprintf(w, "**Warning: the judge %s is one of the judged models** (--judge-self-ok): it may judge its own replies leniently; judge with a model no agent uses for numbers to compare.\n\n", s.Judge)
	}
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
	if s.Samples > 1 {
		fmt.Fprintf(w, "Each item ran %d times under every protocol (seeds shifted by the sample number): rates are avg@%d, hits over every scored run, with 95%% intervals of ±1.96 standard errors clustered by item.\n\n", s.Samples, s.Samples)
	}
	metric, ci := s.Metric, "95% CI (Wilson)"
	if s.Samples > 1 {
		metric, ci = fmt.Sprintf("%s avg@%d", s.Metric, s.Samples), "95% CI (clustered SE)"
	}
	fmt.Fprintf(w, "| protocol | model | %s%s | %s | scored | tokens/item (prompt+output) | × NSED tokens | calls/item | wall s/item | failures |\n", metric, lower, ci)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range s.Protocols {
		name := p.Protocol + roleLabel(s, p.Protocol)
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
	writeTests(w, s)
	if len(s.Dynamics) > 0 {
		fmt.Fprintf(w, "\n## Dynamics by round\n\nThe leading answer's %s and the share of agents agreeing with it after each round; items that stopped earlier keep their last value.\n\n| protocol | round | items running | %s | agreement |\n|---|---|---|---|---|\n", s.Metric, s.Metric)
		for _, d := range s.Dynamics {
			fmt.Fprintf(w, "| %s | %d | %d/%d | %s | %s |\n", d.Protocol, d.Round, d.Running, d.Items, pct(d.Rate), pct(d.Agreement))
		}
	}
	writeConformity(w, s)
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
		"mean_prompt_tokens", "mean_output_tokens", "mean_tokens", "mean_calls", "mean_wall_s", "failures",
		"samples", "clustered_se", "reference", "best_single_post_hoc",
		"nsed_minus_this", "diff_ci95_lo", "diff_ci95_hi", "p_vs_nsed", "p_holm_vs_nsed"})
	tests := map[string]PairedTest{}
	for _, t := range s.Tests {
		tests[t.B] = t
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	for _, p := range s.Protocols {
		vs := make([]string, 5)
		if t, ok := tests[p.Protocol]; ok {
			vs = []string{f(t.Diff), f(t.DiffLo), f(t.DiffHi), f(t.P), f(t.PHolm)}
		}
		row := []string{p.Protocol, p.Model, s.Metric, strconv.Itoa(p.Items), strconv.Itoa(p.Scored), strconv.Itoa(p.Hits),
			f(p.Rate), f(p.Lo), f(p.Hi), f(p.PromptTokens), f(p.OutputTokens), f(p.Tokens), f(p.Calls), f(p.WallS),
			strconv.Itoa(p.Failures), strconv.Itoa(max(s.Samples, 1)), f(p.SE),
			strconv.FormatBool(p.Protocol == s.Reference), strconv.FormatBool(p.Protocol == s.BestSingle)}
		_ = cw.Write(append(row, vs...))
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
