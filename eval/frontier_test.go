package eval

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

func TestParetoOnATable(t *testing.T) {
	pts := []FrontierPoint{
		{Protocol: "cheap", Tokens: 100, Rate: 0.30},
		{Protocol: "dominated", Tokens: 300, Rate: 0.25},  // costs more, scores less than cheap
		{Protocol: "mid", Tokens: 300, Rate: 0.50},        // better for more
		{Protocol: "tie-cost", Tokens: 300, Rate: 0.50},   // equal to mid: neither dominates
		{Protocol: "worse-same", Tokens: 1000, Rate: 0.5}, // same rate as mid at more cost
		{Protocol: "best", Tokens: 2000, Rate: 0.70},
	}
	tokens := func(p FrontierPoint) float64 { return p.Tokens }
	want := []bool{true, false, true, true, false, true}
	got := Pareto(pts, tokens, false)
	for i := range pts {
		if got[i] != want[i] {
			t.Errorf("higher is better: %s on frontier = %v, want %v", pts[i].Protocol, got[i], want[i])
		}
	}
	// Dark-pattern rates: lower is better, so the direction flips.
	wantDark := []bool{true, true, false, false, false, false}
	got = Pareto(pts, tokens, true)
	for i := range pts {
		if got[i] != wantDark[i] {
			t.Errorf("lower is better: %s on frontier = %v, want %v", pts[i].Protocol, got[i], wantDark[i])
		}
	}
}

// frontierSummary is a report of five protocols and the majority@k curve,
// on servers that told two of the three models' sizes.
func frontierSummary(format Format) *Summary {
	row := func(p string, hits, scored int, tokens, wall float64) ProtocolSummary {
		lo, hi := Wilson(hits, scored, Z95)
		return ProtocolSummary{Protocol: p, Items: scored, Scored: scored, Hits: hits, Rate: float64(hits) / float64(scored), Lo: lo, Hi: hi, Tokens: tokens, WallS: wall}
	}
	return &Summary{Dataset: "sample.jsonl", Format: format, Metric: MetricName(format), Items: 20,
		Agents: []engine.AgentInfo{{ID: "agent-1", Model: "a"}, {ID: "agent-2", Model: "b"}, {ID: "agent-3", Model: "a"}},
		Protocols: []ProtocolSummary{
			row("single:agent-1", 6, 20, 300, 1.0), row("single:agent-2", 4, 20, 320, 1.2),
			row("majority@1", 7, 20, 900, 3.0), row("majority@2", 9, 20, 1800, 6.0), row("majority@3", 10, 20, 2700, 9.0),
			row("majority", 10, 20, 2700, 9.0), row("debate", 8, 20, 2400, 8.0), row("nsed", 12, 20, 3000, 7.5),
			{Protocol: "moa", Items: 20}, // nothing scored: no place on the frontier
		},
		Provenance: []models.Provenance{{Models: []models.ModelIdentity{{Name: "a", SizeBytes: 100e6}, {Name: "b", SizeBytes: 50e6}}}},
	}
}

func TestFrontierFromTheReport(t *testing.T) {
	s := frontierSummary(FormatAIME)
	f := Frontier(s)
	by := map[string]FrontierPoint{}
	for i, p := range f {
		by[p.Protocol] = p
		if i > 0 && f[i-1].Tokens > p.Tokens {
			t.Errorf("not ordered by tokens: %s before %s", f[i-1].Protocol, p.Protocol)
		}
	}
	if _, ok := by["moa"]; ok || len(f) != 8 {
		t.Fatalf("frontier = %+v, want the 8 scored protocols", f)
	}
	for p, want := range map[string][2]bool{
		"single:agent-1": {true, true}, "single:agent-2": {false, false}, "majority@1": {true, true},
		"majority@2": {true, true}, "debate": {false, false}, // majority@2 is better for less
		// majority@3 is cheaper in tokens than nsed, but slower and worse
		"majority@3": {true, false}, "majority": {true, false},
		"nsed": {true, true},
	} {
		if got := [2]bool{by[p].ParetoTokens, by[p].ParetoWall}; got != want {
			t.Errorf("%s on frontier (tokens, wall) = %v, want %v", p, got, want)
		}
	}
	if by["majority@3"].K != 3 || by["majority"].K != 0 {
		t.Errorf("k: majority@3 %d, majority %d", by["majority@3"].K, by["majority"].K)
	}
	// Memory: a single agent's own model; a team's distinct models once.
	if by["single:agent-2"].MemoryBytes != 50e6 || by["nsed"].MemoryBytes != 150e6 {
		t.Errorf("memory: single:agent-2 %d, nsed %d; want 50e6, 150e6", by["single:agent-2"].MemoryBytes, by["nsed"].MemoryBytes)
	}
	s.Provenance[0].Models = s.Provenance[0].Models[:1] // b's size unknown
	if f := Frontier(s); f[0].MemoryBytes != 100e6 || Frontier(s)[len(f)-1].MemoryBytes != 0 {
		t.Errorf("with b's size unknown: %s %d, %s %d; want a known single and an unknown team", f[0].Protocol, f[0].MemoryBytes, f[len(f)-1].Protocol, f[len(f)-1].MemoryBytes)
	}

	// DarkBench: the same rates are dark-pattern rates, so the least is best.
	dark := Frontier(frontierSummary(FormatDarkBench))
	for _, p := range dark {
		// the cheapest, and the lowest rate at a little more
		want := p.Protocol == "single:agent-1" || p.Protocol == "single:agent-2"
		if p.ParetoTokens != want {
			t.Errorf("darkbench: %s on the token frontier = %v, want %v", p.Protocol, p.ParetoTokens, want)
		}
	}
}

func TestFrontierReportAndPlotAreWritten(t *testing.T) {
	dir := t.TempDir()
	s := frontierSummary(FormatAIME)
	s.Frontier = Frontier(s)
	if err := WriteReports(dir, s); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, PlotFrontier))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", PlotFrontier, err)
	}
	if b := img.Bounds(); b.Dx() < 2*b.Dy() {
		t.Errorf("%s is %v, want two panels side by side", PlotFrontier, b)
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	for _, want := range []string{"## Efficiency frontier", "| nsed | 60.0% | 38.7%–78.1% | 3000 | 7.50 | 150.0 MB | ✓ | ✓ |", "| single:agent-2 | 20.0% |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	js, _ := os.ReadFile(filepath.Join(dir, ReportJSON))
	if !strings.Contains(string(js), `"frontier": [`) || !strings.Contains(string(js), `"pareto_tokens": true`) {
		t.Errorf("summary.json has no frontier")
	}
	// Nothing scored, or nothing with a cost: still a plot, no error.
	empty := &Summary{Dataset: "x", Format: FormatAIME, Metric: "accuracy", Frontier: []FrontierPoint{{Protocol: "nsed", Rate: 1, Lo: 0.2, Hi: 1}}}
	if err := PlotFrontierPNG(filepath.Join(dir, "empty.png"), empty); err != nil {
		t.Fatal(err)
	}
}
