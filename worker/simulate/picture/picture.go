// Package picture draws a `worker simulate` run with gonum/plot. It is
// linked into the dev build only (worker/dev_commands.go): the plotting
// library brings fonts parsed at start-up, image codecs and megabytes of
// binary that a production worker has no use for, and the production
// build's simulate prints the same figures and JSON without the picture.
package picture

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/worker/simulate"
)

// The strategies' colours in the picture.
var (
	fixedColor    = color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff}
	adaptiveColor = color.RGBA{R: 0x1b, G: 0x6e, B: 0xb3, A: 0xff}
	goalColor     = color.Gray{Y: 0x90}
)

// Write draws the run in two panels, the two strategies' detection
// latency CDFs (log-scale minutes) above their calls per hour over the
// measured days, as SVG or PNG by path's extension.
func Write(path string, r *simulate.Result) error {
	if !simulate.PictureFormat(path) {
		return fmt.Errorf("picture %s: want a .svg or .png file", path)
	}
	ext := strings.ToLower(filepath.Ext(path))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Draw(f, ext[1:], r); err != nil {
		_ = f.Close()
		return fmt.Errorf("picture %s: %w", path, err)
	}
	return f.Close()
}

// Draw writes the picture of Write to w in format "svg" or
// "png".
func Draw(w io.Writer, format string, r *simulate.Result) error {
	latency, err := latencyPlot(r)
	if err != nil {
		return err
	}
	calls, err := callsPlot(r)
	if err != nil {
		return err
	}
	const width, height = 8 * vg.Inch, 9 * vg.Inch
	var c vg.CanvasWriterTo
	switch format {
	case "svg":
		c = vgsvg.New(width, height)
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))}
	default:
		return fmt.Errorf("format %q: want svg or png", format)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 5}
	plots := [][]*plot.Plot{{latency}, {calls}}
	canvases := plot.Align(plots, tiles, dc)
	latency.Draw(canvases[0][0])
	calls.Draw(canvases[1][0])
	_, err = c.WriteTo(w)
	return err
}

// minLatency is where the log-scale axis starts: latencies below it (polls
// within seconds of the end) are drawn at it.
const minLatency = 0.1

func latencyPlot(r *simulate.Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Detection latency: Lighthouse's end time to the worker's transition"
	p.X.Label.Text = "minutes (log scale); dashed: the goals for the median (10) and p90 (60)"
	p.Y.Label.Text = "share of finished uploads detected"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top, p.Legend.Left = true, true
	maxX := minLatency * 10
	for _, s := range r.Strategies {
		if n := len(s.Latencies()); n > 0 {
			maxX = max(maxX, s.Latencies()[n-1])
		}
	}
	p.X.Min, p.X.Max = minLatency, maxX
	for _, g := range []float64{simulate.GoalMedianMinutes, simulate.GoalP90Minutes} {
		goal, err := plotter.NewLine(plotter.XYs{{X: g, Y: 0}, {X: g, Y: 1}})
		if err != nil {
			return nil, err
		}
		goal.Color, goal.Dashes = goalColor, []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(goal)
	}
	for _, s := range r.Strategies {
		line, err := plotter.NewLine(cdf(s.Latencies()))
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = strategyColor(s), vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(legendName(r, &s), line)
	}
	return p, nil
}

// cdf is the empirical distribution function of sorted values, at most
// about 1,000 points.
func cdf(sorted []float64) plotter.XYs {
	n := len(sorted)
	if n == 0 {
		return plotter.XYs{{X: minLatency, Y: 0}}
	}
	step := max(n/1000, 1)
	xys := make(plotter.XYs, 0, n/step+2)
	for i := 0; i < n; i += step {
		xys = append(xys, plotter.XY{X: max(sorted[i], minLatency), Y: float64(i+1) / float64(n)})
	}
	return append(xys, plotter.XY{X: max(sorted[n-1], minLatency), Y: 1})
}

func callsPlot(r *simulate.Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Lighthouse calls per hour over the %d measured days", r.Options.Days)
	p.X.Label.Text = "day (from a Monday, 00:00 Eastern)"
	p.Y.Label.Text = "calls per hour"
	p.Y.Min = 0
	p.Legend.Top = true
	for _, s := range r.Strategies {
		xys := make(plotter.XYs, len(s.CallsPerHour))
		for h, c := range s.CallsPerHour {
			xys[h] = plotter.XY{X: float64(h) / 24, Y: float64(c)}
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = strategyColor(s), vg.Points(1)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s: %s calls a day", legendName(r, &s), simulate.Thousands(s.CallsPerDay)), line)
	}
	return p, nil
}

func strategyColor(s simulate.StrategyResult) color.Color {
	if s.Strategy == config.StrategyFixed {
		return fixedColor
	}
	return adaptiveColor
}

func legendName(r *simulate.Result, s *simulate.StrategyResult) string {
	if s.Strategy == config.StrategyFixed {
		return "fixed (every " + simulate.ShortDuration(r.Options.FixedPeriod) + ")"
	}
	return "adaptive"
}
