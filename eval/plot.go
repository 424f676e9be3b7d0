package eval

import (
	"bytes"
	"image/color"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// PlotProtocolsPNG draws each protocol's rate as a bar with its 95% Wilson
// interval as an error bar.
func PlotProtocolsPNG(path string, s *Summary) error {
	p := plot.New()
	p.Title.Text = "nsed bench: " + s.Dataset + " (" + string(s.Format) + ")"
	p.Y.Label.Text = s.Metric + " (95% Wilson CI)"
	p.Y.Min, p.Y.Max = 0, 1
	vals := make(plotter.Values, len(s.Protocols))
	var names []string
	ep := errPoints{XYs: make(plotter.XYs, len(s.Protocols)), YErrors: make(plotter.YErrors, len(s.Protocols))}
	for i, ps := range s.Protocols {
		vals[i] = ps.Rate
		names = append(names, strings.TrimPrefix(ps.Protocol, ProtoSingle+":"))
		ep.XYs[i] = plotter.XY{X: float64(i), Y: ps.Rate}
		ep.YErrors[i].Low, ep.YErrors[i].High = ps.Rate-ps.Lo, ps.Hi-ps.Rate
	}
	if len(vals) == 0 {
		vals = plotter.Values{0}
		names = []string{"(no results)"}
		ep = errPoints{XYs: plotter.XYs{{}}, YErrors: plotter.YErrors{{}}}
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return err
	}
	bars.Color = color.RGBA{R: 70, G: 130, B: 180, A: 255}
	bars.LineStyle.Width = 0
	errs, err := plotter.NewYErrorBars(ep)
	if err != nil {
		return err
	}
	errs.CapWidth = vg.Points(10)
	p.Add(bars, errs)
	p.NominalX(names...)
	w := vg.Length(max(6, len(names)+2)) * vg.Inch * 0.75
	return savePlot(p, w, 4*vg.Inch, path)
}

// PlotDynamicsPNG draws the per-round rate and agreement of each
// multi-round protocol.
func PlotDynamicsPNG(path string, s *Summary) error {
	p := plot.New()
	p.Title.Text = "Dynamics by round: " + s.Dataset
	p.X.Label.Text = "round"
	p.Y.Label.Text = "share of items"
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = true
	byProto := map[string][2]plotter.XYs{}
	var order []string
	for _, d := range s.Dynamics {
		if _, ok := byProto[d.Protocol]; !ok {
			order = append(order, d.Protocol)
		}
		v := byProto[d.Protocol]
		v[0] = append(v[0], plotter.XY{X: float64(d.Round), Y: d.Rate})
		v[1] = append(v[1], plotter.XY{X: float64(d.Round), Y: d.Agreement})
		byProto[d.Protocol] = v
	}
	palette := []color.RGBA{{R: 70, G: 130, B: 180, A: 255}, {R: 220, G: 110, B: 40, A: 255}, {R: 60, G: 160, B: 80, A: 255}, {R: 150, G: 80, B: 170, A: 255}}
	for i, proto := range order {
		v := byProto[proto]
		for k, label := range []string{s.Metric, "agreement"} {
			l, pts, err := plotter.NewLinePoints(v[k])
			if err != nil {
				return err
			}
			c := palette[i%len(palette)]
			l.Color, pts.Color = c, c
			if k == 1 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(l, pts)
			p.Legend.Add(proto+" "+label, l, pts)
		}
	}
	return savePlot(p, 6*vg.Inch, 4*vg.Inch, path)
}

// savePlot writes p as an image at path, owner-only like the other bench
// outputs (plot.Save would create it world-readable).
func savePlot(p *plot.Plot, w, h vg.Length, path string) error {
	wt, err := p.WriterTo(w, h, strings.TrimPrefix(filepath.Ext(path), "."))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}
