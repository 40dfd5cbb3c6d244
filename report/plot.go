package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"tlkit/train"
)

// Line colours of the curves (matplotlib's first two, which most readers know).
var (
	trainColor = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	testColor  = color.RGBA{R: 255, G: 127, B: 14, A: 255}
)

// Plot draws the loss and accuracy curves of a run into a PNG, redrawn after every epoch so
// that an interrupted run still leaves its curves, and once more on Finish.
type Plot struct {
	path, title string
	history     []train.EpochStats // by epoch
}

// NewPlot draws to path (typically DIR/curves.png) under title, such as "lenet5 on mnist".
func NewPlot(path, title string) *Plot { return &Plot{path: path, title: title} }

// WithHistory gives the plot the epochs run before a resumed run's StartEpoch, which the
// recorder calls do not repeat; it returns p.
func (p *Plot) WithHistory(history []train.EpochStats) *Plot {
	p.history = append([]train.EpochStats(nil), history...)
	return p
}

// Start forgets epochs from StartEpoch on: they are about to be run (again).
func (p *Plot) Start(info train.RunInfo) error {
	kept := p.history[:0]
	for _, h := range p.history {
		if h.Epoch < info.StartEpoch {
			kept = append(kept, h)
		}
	}
	p.history = kept
	return nil
}

// Step does nothing: the curves have one point per epoch.
func (p *Plot) Step(train.StepInfo) error { return nil }

// Epoch adds the epoch and redraws the file.
func (p *Plot) Epoch(s train.EpochStats) error {
	i := sort.Search(len(p.history), func(i int) bool { return p.history[i].Epoch >= s.Epoch })
	if i < len(p.history) && p.history[i].Epoch == s.Epoch {
		p.history[i] = s
	} else {
		p.history = append(p.history[:i], append([]train.EpochStats{s}, p.history[i:]...)...)
	}
	return WriteCurves(p.path, p.title, p.history)
}

// Finish draws the whole history the training loop kept.
func (p *Plot) Finish(history []train.EpochStats) error {
	if len(history) > 0 {
		p.WithHistory(history)
	}
	if len(p.history) == 0 {
		return nil
	}
	return WriteCurves(p.path, p.title, p.history)
}

// WriteCurves writes a PNG with two panels: loss, and accuracy in percent, of the training
// and the test pass against the epoch. Non-finite values (a diverged run) are left out.
func WriteCurves(path, title string, history []train.EpochStats) error {
	if len(history) == 0 {
		return fmt.Errorf("writing %s: no epochs to plot", path)
	}
	var trainLoss, testLoss, trainAcc, testAcc plotter.XYs
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, h := range history {
		x := float64(h.Epoch)
		lo, hi = math.Min(lo, x), math.Max(hi, x)
		trainLoss = appendFinite(trainLoss, x, h.TrainLoss)
		trainAcc = appendFinite(trainAcc, x, 100*h.TrainAcc)
		if h.TestSamples > 0 {
			testLoss = appendFinite(testLoss, x, h.TestLoss)
			testAcc = appendFinite(testAcc, x, 100*h.TestAcc)
		}
	}
	loss, err := curvePanel("Loss", "cross-entropy", lo, hi, trainLoss, testLoss)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	loss.Legend.Top = true
	acc, err := curvePanel("Accuracy", "accuracy", lo, hi, trainAcc, testAcc)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	acc.Y.Tick.Marker = valueTicks{suffix: "%"}

	const w, h = 12 * vg.Inch, 4.5 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	heading := loss.Title.TextStyle
	heading.Font.Size = 15
	heading.XAlign, heading.YAlign = draw.XCenter, draw.YTop
	dc.FillText(heading, vg.Point{X: w / 2, Y: h - 8}, title)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadTop: 32, PadBottom: 8, PadLeft: 8, PadRight: 16, PadX: 32}
	panels := plot.Align([][]*plot.Plot{{loss, acc}}, tiles, dc)
	loss.Draw(panels[0][0])
	acc.Draw(panels[0][1])
	return writeFileAtomic(path, func(f io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(f)
		return err
	})
}

func appendFinite(xys plotter.XYs, x, y float64) plotter.XYs {
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return xys
	}
	return append(xys, plotter.XY{X: x, Y: y})
}

// curvePanel is one panel with a train and a test line against the epochs lo..hi.
func curvePanel(title, ylabel string, lo, hi float64, trainXY, testXY plotter.XYs) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 13
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = ylabel
	pad := math.Max(0.03*(hi-lo), 0.1) // keeps the first and last points off the frame
	p.X.Min, p.X.Max = lo-pad, hi+pad
	if lo == hi {
		p.X.Min, p.X.Max = lo-0.5, hi+0.5
	}
	p.X.Tick.Marker = epochTicks{}
	p.Y.Tick.Marker = valueTicks{}
	padRange(&p.Y, trainXY, testXY)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	p.Add(grid)
	p.Legend.Left = false
	p.Legend.Padding = 4
	p.Legend.XOffs = -6
	p.Legend.YOffs = 6
	for _, c := range []struct {
		name string
		xys  plotter.XYs
		col  color.Color
		dash []vg.Length
	}{{"train", trainXY, trainColor, nil}, {"test", testXY, testColor, []vg.Length{6, 3}}} {
		if len(c.xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(c.xys)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width, line.Dashes = c.col, 2, c.dash
		points.Color, points.Shape, points.Radius = c.col, draw.CircleGlyph{}, 2.5
		p.Add(line, points)
		p.Legend.Add(c.name, line, points)
	}
	return p, nil
}

// epochTicks labels whole epochs only, at a step of 1, 2 or 5 × 10ⁿ giving at most ten labels.
type epochTicks struct{}

func (epochTicks) Ticks(min, max float64) []plot.Tick {
	first, last := math.Ceil(min), math.Floor(max)
	step := 1.0
	for i := 0; (last-first)/step > 10; i++ {
		step *= []float64{2, 2.5, 2}[i%3] // 1, 2, 5, 10, 20, 50, ...
	}
	var ticks []plot.Tick
	for v := math.Ceil(first/step) * step; v <= last; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return ticks
}

// valueTicks labels about five round values (steps of 1, 2 or 5 × 10ⁿ) with as many
// decimals as the step needs, adding suffix (such as "%") to each label, with a minor tick
// between labels.
type valueTicks struct{ suffix string }

func (t valueTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) {
		return []plot.Tick{{Value: min, Label: strconv.FormatFloat(min, 'g', 4, 64) + t.suffix}}
	}
	mag := math.Pow(10, math.Floor(math.Log10((max-min)/5)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; (max-min)/step <= 7+1e-9 {
			break
		}
	}
	decimals := max0(int(-math.Floor(math.Log10(step) + 1e-9)))
	var ticks []plot.Tick
	for i := math.Ceil(min/step - 0.5); i*step <= max; i++ {
		if v := i * step; v >= min {
			if math.Abs(v) < step*1e-6 {
				v = 0 // not -0.0 or 1e-17
			}
			label := strconv.FormatFloat(v, 'f', decimals, 64)
			ticks = append(ticks, plot.Tick{Value: v, Label: label + t.suffix})
		}
		if v := (i + 0.5) * step; v >= min && v <= max {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

// padRange sets an axis to the values' range with a margin, so no point sits on the frame.
func padRange(a *plot.Axis, xys ...plotter.XYs) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range xys {
		for _, p := range s {
			lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
		}
	}
	if lo > hi {
		return
	}
	pad := 0.08 * (hi - lo)
	if pad == 0 {
		pad = math.Max(0.05*math.Abs(hi), 0.01)
	}
	a.Min, a.Max = lo-pad, hi+pad
	if lo >= 0 && a.Min < 0 { // losses and accuracies are never negative
		a.Min = 0
	}
}
