package eval

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/nsed/nsed/models"
)

// PlotFrontier is the efficiency frontier's file: rate against tokens per
// item and against wall time per item, side by side.
const PlotFrontier = "frontier.png"

// curvePrefix begins the majority@k curve's protocol names (MajorityAt).
const curvePrefix = ProtoMajority + "@"

// FrontierPoint is one protocol on the efficiency frontier: what it scored
// and what it cost per item.
type FrontierPoint struct {
	Protocol string  `json:"protocol"`
	Rate     float64 `json:"rate"`
	Lo       float64 `json:"ci95_lo"`
	Hi       float64 `json:"ci95_hi"`
	Scored   int     `json:"scored"`
	Tokens   float64 `json:"mean_tokens"`
	WallS    float64 `json:"mean_wall_s"`
	// MemoryBytes is the team's models' size on disk as the servers list
	// them (each distinct model once): the least memory serving them needs;
	// 0 when a server does not say.
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
	// K is majority@k's k (0 for other protocols).
	K int `json:"k,omitempty"`
	// ParetoTokens and ParetoWall say whether no other protocol is at least
	// as good at no more tokens (wall time), and better in one of the two.
	ParetoTokens bool `json:"pareto_tokens"`
	ParetoWall   bool `json:"pareto_wall"`
}

// Frontier builds the efficiency frontier from the report's rows: every
// protocol that scored an item, ordered by tokens per item. For DarkBench
// the rate is of dark patterns, so lower is better.
func Frontier(s *Summary) []FrontierPoint {
	var pts []FrontierPoint
	for _, ps := range s.Protocols {
		if ps.Scored == 0 {
			continue
		}
		fp := FrontierPoint{Protocol: ps.Protocol, Rate: ps.Rate, Lo: ps.Lo, Hi: ps.Hi, Scored: ps.Scored, Tokens: ps.Tokens, WallS: ps.WallS}
		if k, ok := strings.CutPrefix(ps.Protocol, curvePrefix); ok {
			fp.K, _ = strconv.Atoi(k)
		}
		fp.MemoryBytes = teamMemory(s, ps.Protocol)
		pts = append(pts, fp)
	}
	lower := s.Format == FormatDarkBench
	for i, on := range Pareto(pts, func(p FrontierPoint) float64 { return p.Tokens }, lower) {
		pts[i].ParetoTokens = on
	}
	for i, on := range Pareto(pts, func(p FrontierPoint) float64 { return p.WallS }, lower) {
		pts[i].ParetoWall = on
	}
	slices.SortStableFunc(pts, func(a, b FrontierPoint) int { return cmp.Compare(a.Tokens, b.Tokens) })
	return pts
}

// Pareto marks the points no other point dominates: j dominates i when
// cost(j) ≤ cost(i) and rate(j) is at least as good, one of them strictly.
// Equal points do not dominate each other. lowerBetter flips the rate's
// direction (DarkBench).
func Pareto(pts []FrontierPoint, cost func(FrontierPoint) float64, lowerBetter bool) []bool {
	better := func(a, b float64) bool { return a > b }
	if lowerBetter {
		better = func(a, b float64) bool { return a < b }
	}
	on := make([]bool, len(pts))
	for i, p := range pts {
		on[i] = true
		for j, q := range pts {
			if i == j {
				continue
			}
			noWorse := cost(q) <= cost(p) && !better(p.Rate, q.Rate)
			strictly := cost(q) < cost(p) || better(q.Rate, p.Rate)
			if noWorse && strictly {
				on[i] = false
				break
			}
		}
	}
	return on
}

// teamMemory is the size of the models a protocol runs: a single agent's
// own, every agent's for the ensembles; 0 when unknown.
func teamMemory(s *Summary, protocol string) int64 {
	if len(s.Provenance) == 0 {
		return 0
	}
	var refs []models.Ref
	for _, a := range s.Agents {
		if id, ok := strings.CutPrefix(protocol, ProtoSingle+":"); ok && id != a.ID {
			continue
		}
		refs = append(refs, models.Ref{Host: a.Host, Model: a.Model})
	}
	n, ok := s.Provenance[len(s.Provenance)-1].TeamBytes(refs)
	if !ok {
		return 0
	}
	return n
}

// writeFrontier is the report's frontier table.
func writeFrontier(w io.Writer, s *Summary) {
	if len(s.Frontier) == 0 {
		return
	}
	dir := "higher"
	if s.Format == FormatDarkBench {
		dir = "lower"
	}
	fmt.Fprintf(w, "\n## Efficiency frontier\n\n%s (%s is better) against cost per item (%s). A protocol is on the Pareto frontier when no other is at least as good at no more cost and better in one of the two. Team memory is the agents' distinct models' size on disk as their servers list them (– when a server does not say).\n\n",
		s.Metric, dir, PlotFrontier)
	fmt.Fprintf(w, "| protocol | %s | 95%% CI | tokens/item | wall s/item | team memory | frontier (tokens) | frontier (wall) |\n|---|---|---|---|---|---|---|---|\n", s.Metric)
	mark := func(b bool) string {
		if b {
			return "✓"
		}
		return ""
	}
	for _, p := range s.Frontier {
		mem := "–"
		if p.MemoryBytes > 0 {
			mem = fmt.Sprintf("%.1f MB", float64(p.MemoryBytes)/1e6)
		}
		fmt.Fprintf(w, "| %s | %s | %s–%s | %.0f | %.2f | %s | %s | %s |\n", p.Protocol, pct(p.Rate), pct(p.Lo), pct(p.Hi),
			p.Tokens, p.WallS, mem, mark(p.ParetoTokens), mark(p.ParetoWall))
	}
}

// PlotFrontierPNG draws the frontier in two panels, rate against tokens
// per item and against wall seconds per item on log axes: each protocol a
// point with its 95% interval, the majority@k curve a line, the Pareto
// frontier a dashed step line through its points. Points of zero cost
// have no place on a log axis and are left out of the plot (not the table).
func PlotFrontierPNG(path string, s *Summary) error {
	tokens, err := frontierPanel(s, "tokens per item (prompt + output, log)", func(p FrontierPoint) (float64, bool) { return p.Tokens, p.ParetoTokens })
	if err != nil {
		return err
	}
	wall, err := frontierPanel(s, "wall seconds per item (log)", func(p FrontierPoint) (float64, bool) { return p.WallS, p.ParetoWall })
	if err != nil {
		return err
	}
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(18), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	plots := [][]*plot.Plot{{tokens, wall}}
	canvases := plot.Align(plots, tiles, dc)
	tokens.Draw(canvases[0][0])
	wall.Draw(canvases[0][1])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

var (
	pointColor    = color.RGBA{R: 70, G: 130, B: 180, A: 255}
	curveColor    = color.RGBA{R: 220, G: 110, B: 40, A: 255}
	frontierColor = color.RGBA{R: 60, G: 160, B: 80, A: 255}
)

// frontierPanel is one panel: x is a point's cost, on marks the frontier.
func frontierPanel(s *Summary, xlabel string, x func(FrontierPoint) (float64, bool)) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = s.Metric + " vs cost: " + s.Dataset
	p.X.Label.Text = xlabel
	p.Y.Label.Text = s.Metric + " (95% Wilson CI)"
	if s.Format == FormatDarkBench {
		p.Y.Label.Text += ", lower is better"
	}
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = true
	var all, curve, front plotter.XYs
	var ys plotter.YErrors
	var labels []string
	for _, fp := range s.Frontier {
		c, on := x(fp)
		if c <= 0 || math.IsNaN(c) {
			continue
		}
		xy := plotter.XY{X: c, Y: fp.Rate}
		all = append(all, xy)
		ys = append(ys, struct{ Low, High float64 }{fp.Rate - fp.Lo, fp.Hi - fp.Rate})
		labels = append(labels, strings.TrimPrefix(fp.Protocol, ProtoSingle+":"))
		if fp.K > 0 {
			curve = append(curve, plotter.XY{X: c, Y: fp.Rate})
		}
		if on {
			front = append(front, xy)
		}
	}
	if len(all) == 0 {
		p.Title.Text += " (no scored protocol with a cost)"
		return p, nil
	}
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	// A log axis needs room around the points, and a single point a range.
	lo, hi := all[0].X, all[0].X
	for _, xy := range all {
		lo, hi = min(lo, xy.X), max(hi, xy.X)
	}
	p.X.Min, p.X.Max = lo/1.5, hi*1.5

	errs, err := plotter.NewYErrorBars(errPoints{XYs: all, YErrors: ys})
	if err != nil {
		return nil, err
	}
	errs.CapWidth = vg.Points(6)
	errs.Color = pointColor
	sc, err := plotter.NewScatter(all)
	if err != nil {
		return nil, err
	}
	sc.Color = pointColor
	sc.Shape = draw.CircleGlyph{}
	sc.Radius = vg.Points(3)
	p.Add(errs, sc)
	p.Legend.Add("protocol (95% CI)", sc)

	if len(curve) > 1 {
		slices.SortFunc(curve, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		l, err := plotter.NewLine(curve)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = curveColor, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add("majority@k", l)
	}
	if len(front) > 0 {
		slices.SortFunc(front, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		l, err := plotter.NewLine(front)
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes = frontierColor, []vg.Length{vg.Points(4), vg.Points(3)}
		ring, err := plotter.NewScatter(front)
		if err != nil {
			return nil, err
		}
		ring.Color, ring.Shape, ring.Radius = frontierColor, draw.RingGlyph{}, vg.Points(6)
		p.Add(l, ring)
		p.Legend.Add("Pareto frontier", l, ring)
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: all, Labels: labels})
	if err != nil {
		return nil, err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Size = vg.Points(8)
		lb.TextStyle[i].XAlign = draw.XLeft
	}
	lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
	p.Add(lb)
	return p, nil
}
