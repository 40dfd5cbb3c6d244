package report

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ConfusionMatrix holds classification counts, Counts[true][predicted], with class names.
type ConfusionMatrix struct {
	Counts  [][]int
	Classes []string
	Title   string // heading of the PNG; "Confusion matrix" when empty
}

// NewConfusionMatrix checks that counts is square, non-negative and matches classNames
// (nil names the classes 0, 1, ...).
func NewConfusionMatrix(counts [][]int, classNames []string) (*ConfusionMatrix, error) {
	k := len(counts)
	if k == 0 {
		return nil, fmt.Errorf("confusion matrix: no classes")
	}
	for i, row := range counts {
		if len(row) != k {
			return nil, fmt.Errorf("confusion matrix: row %d has %d columns, want %d (square)", i, len(row), k)
		}
		for j, n := range row {
			if n < 0 {
				return nil, fmt.Errorf("confusion matrix: negative count %d at [%d][%d]", n, i, j)
			}
		}
	}
	if classNames == nil {
		for i := 0; i < k; i++ {
			classNames = append(classNames, strconv.Itoa(i))
		}
	}
	if len(classNames) != k {
		return nil, fmt.Errorf("confusion matrix: %d class names for %d classes", len(classNames), k)
	}
	return &ConfusionMatrix{Counts: counts, Classes: classNames}, nil
}

// ClassAccuracy is how well one class was recognised.
type ClassAccuracy struct {
	Class    string
	Samples  int     // samples whose true class this is
	Correct  int     // of those, predicted as this class
	Accuracy float64 // Correct/Samples (the class's recall); NaN without samples
}

// PerClass returns each class's accuracy, in class order.
func (m *ConfusionMatrix) PerClass() []ClassAccuracy {
	out := make([]ClassAccuracy, len(m.Counts))
	for i, row := range m.Counts {
		c := ClassAccuracy{Class: m.Classes[i], Correct: row[i]}
		for _, n := range row {
			c.Samples += n
		}
		c.Accuracy = math.NaN()
		if c.Samples > 0 {
			c.Accuracy = float64(c.Correct) / float64(c.Samples)
		}
		out[i] = c
	}
	return out
}

// Accuracy is the overall fraction of correct predictions.
func (m *ConfusionMatrix) Accuracy() float64 {
	var correct, total int
	for i, row := range m.Counts {
		correct += row[i]
		for _, n := range row {
			total += n
		}
	}
	if total == 0 {
		return math.NaN()
	}
	return float64(correct) / float64(total)
}

// WriteCSV writes the counts with a header row of predicted classes and a first column of
// true classes.
func (m *ConfusionMatrix) WriteCSV(path string) error {
	rows := [][]string{append([]string{`true\predicted`}, m.Classes...)}
	for i, row := range m.Counts {
		r := []string{m.Classes[i]}
		for _, n := range row {
			r = append(r, strconv.Itoa(n))
		}
		rows = append(rows, r)
	}
	return writeCSVFile(path, rows)
}

// WritePerClassCSV writes class, samples, correct and accuracy (a fraction, empty for a
// class without samples), one line per class.
func (m *ConfusionMatrix) WritePerClassCSV(path string) error {
	rows := [][]string{{"class", "samples", "correct", "accuracy"}}
	for _, c := range m.PerClass() {
		acc := ""
		if c.Samples > 0 {
			acc = fmt.Sprintf("%.6f", c.Accuracy)
		}
		rows = append(rows, []string{c.Class, strconv.Itoa(c.Samples), strconv.Itoa(c.Correct), acc})
	}
	return writeCSVFile(path, rows)
}

func writeCSVFile(path string, rows [][]string) error {
	return writeFileAtomic(path, func(f io.Writer) error {
		w := csv.NewWriter(f)
		w.WriteAll(rows)
		return w.Error()
	})
}

// rowNormalised is the matrix as a heat-map grid: each row divided by its total, so that the
// colours show where each true class's samples went whatever the class sizes. Row 0 is drawn
// at the top. Rows without samples are NaN.
type rowNormalised [][]float64

func normalise(counts [][]int) rowNormalised {
	g := make(rowNormalised, len(counts))
	for i, row := range counts {
		total := 0
		for _, n := range row {
			total += n
		}
		g[i] = make([]float64, len(row))
		for j, n := range row {
			g[i][j] = math.NaN()
			if total > 0 {
				g[i][j] = float64(n) / float64(total)
			}
		}
	}
	return g
}

func (g rowNormalised) Dims() (c, r int)   { return len(g), len(g) }
func (g rowNormalised) X(c int) float64    { return float64(c) }
func (g rowNormalised) Y(r int) float64    { return float64(r) }
func (g rowNormalised) Z(c, r int) float64 { return g[len(g)-1-r][c] }

// blues is the colour scale, white for 0 to dark blue for 1 (ColorBrewer's "Blues").
func blues() (palette.ColorMap, error) {
	p, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return nil, err
	}
	dark := append([]color.Color(nil), p.Colors()...)
	for i, j := 0, len(dark)-1; i < j; i, j = i+1, j-1 {
		dark[i], dark[j] = dark[j], dark[i]
	}
	cm, err := moreland.NewLuminance(dark) // needs rising luminance: dark to light
	if err != nil {
		return nil, err
	}
	cm = palette.Reverse(cm)
	cm.SetMin(0)
	cm.SetMax(1)
	return cm, nil
}

// confusionLayout decides the size of the cells and which classes are labelled: every
// class by name up to 100 classes (the cells shrink to 14 px, labels to 8 pt), and beyond
// that every n-th class by number.
func confusionLayout(k int) (cellPx float64, fontPt vg.Length, every int, names bool) {
	if k <= 100 {
		cellPx = math.Max(14, math.Min(48, 640/float64(k)))
		return cellPx, vg.Length(math.Min(11, math.Round(cellPx*0.6))), 1, true
	}
	cellPx = math.Max(1, 1400/float64(k))
	for scale := 1; ; scale *= 10 {
		for _, m := range []int{1, 2, 5} {
			if every = m * scale; k/every <= 40 {
				return cellPx, 9, every, false
			}
		}
	}
}

// WritePNG draws the row-normalised matrix as a heat map, true classes down, predicted
// across, with a colour bar; cells show their counts when there are at most 20 classes.
func (m *ConfusionMatrix) WritePNG(path string) error {
	k := len(m.Counts)
	cm, err := blues()
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	cellPx, fontPt, every, names := confusionLayout(k)

	p := plot.New()
	p.Title.Text = m.Title
	if p.Title.Text == "" {
		p.Title.Text = "Confusion matrix"
	}
	p.Title.Text += " (rows normalised)"
	p.Title.TextStyle.Font.Size = 14
	p.X.Label.Text, p.Y.Label.Text = "predicted class", "true class"
	heat := plotter.NewHeatMap(normalise(m.Counts), cm.Palette(256))
	heat.Min, heat.Max = 0, 1
	heat.NaN = color.Gray{Y: 235}
	heat.Rasterized = k > 100 // a million rectangles would be slow; cells are a pixel or two anyway
	p.Add(heat)

	var xt, yt []plot.Tick
	for i := 0; i < k; i += every {
		label := strconv.Itoa(i)
		if names {
			label = m.Classes[i]
		}
		xt = append(xt, plot.Tick{Value: float64(i), Label: label})
		yt = append(yt, plot.Tick{Value: float64(k - 1 - i), Label: label})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = fontPt, fontPt
	longest := len(strconv.Itoa(k))
	if names {
		for _, name := range m.Classes {
			longest = max(longest, utf8.RuneCountInString(name))
		}
	}
	labelPx := float64(longest) * float64(fontPt) * 0.62 * 96 / 72 // the widest tick label
	xLabelPx := float64(fontPt) * 96 / 72
	if longest > 3 { // long names stand upright under their columns
		p.X.Tick.Label.Rotation = math.Pi / 2
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
		xLabelPx = labelPx
	}
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, float64(k)-0.5, -0.5, float64(k)-0.5

	if k <= 20 {
		if err := addCountLabels(p, m, fontPt); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}

	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	bar.HideX()
	bar.Y.Min, bar.Y.Max = 0, 1
	bar.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0%"}, {Value: 0.25}, {Value: 0.5, Label: "50%"}, {Value: 0.75}, {Value: 1, Label: "100%"}}

	// Size: the cells, room for the tick and axis labels and the title, and the bar on the right.
	plotPx := cellPx * float64(k)
	wPx := math.Max(520, plotPx+labelPx+160)
	hPx := plotPx + xLabelPx + 90
	px := func(v float64) vg.Length { return vg.Length(v * 72 / 96) }
	img := vgimg.NewWith(vgimg.UseWH(px(wPx), px(hPx)), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	heatArea := draw.Crop(dc, px(8), -px(110), px(8), -px(8))
	barArea := draw.Crop(dc, px(wPx-95), -px(25), px(xLabelPx+60), -px(45))
	p.Draw(heatArea)
	bar.Draw(barArea)
	return writeFileAtomic(path, func(f io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(f)
		return err
	})
}

// addCountLabels writes each non-zero count in its cell, white on dark cells.
func addCountLabels(p *plot.Plot, m *ConfusionMatrix, fontPt vg.Length) error {
	g := normalise(m.Counts)
	for _, dark := range []bool{false, true} {
		var xys plotter.XYs
		var labels []string
		for i, row := range m.Counts {
			for j, n := range row {
				if n == 0 || (g[i][j] > 0.5) != dark {
					continue
				}
				xys = append(xys, plotter.XY{X: float64(j), Y: float64(len(g) - 1 - i)})
				labels = append(labels, strconv.Itoa(n))
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
			l.TextStyle[i].Font.Size = fontPt
			if dark {
				l.TextStyle[i].Color = color.White
			}
		}
		p.Add(l)
	}
	return nil
}
