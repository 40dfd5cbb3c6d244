package report

import (
	"encoding/csv"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"

	"tlkit/train"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCSVWritesEveryEpoch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.csv")
	c := NewCSV(path)
	if err := c.Start(runInfo); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_seconds,elapsed_seconds\n" {
		t.Errorf("after Start: %q", got)
	}
	c.Epoch(twoEpochs[0])
	// Kept on disk as soon as the epoch ends, before any Finish.
	want := "epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_seconds,elapsed_seconds\n" +
		"1,0.900000,0.750000,0.500000,0.881200,0.0001,61.000,61.000\n"
	if got := readFile(t, path); got != want {
		t.Errorf("after epoch 1:\n%s\nwant:\n%s", got, want)
	}
	noTest := twoEpochs[1]
	noTest.TestSamples = 0
	c.Epoch(noTest)
	c.Finish(nil)
	want += "2,0.432100,0.912300,,,5e-05,69.500,130.500\n"
	if got := readFile(t, path); got != want {
		t.Errorf("after epoch 2:\n%s\nwant:\n%s", got, want)
	}
	// A standard CSV reader sees the header and numbers.
	f, _ := os.Open(path)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 || len(rows[0]) != 8 {
		t.Fatalf("encoding/csv: %v %v", rows, err)
	}
	if v, _ := strconv.ParseFloat(rows[1][4], 64); v != 0.8812 {
		t.Errorf("test_acc of epoch 1 reads back as %v", v)
	}
}

func TestCSVResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.csv")
	c := NewCSV(path)
	c.Start(runInfo)
	for e := 1; e <= 4; e++ {
		c.Epoch(train.EpochStats{Epoch: e, Epochs: 10, TrainLoss: float64(e), LR: 0.1})
	}
	// The checkpoint was from epoch 2: the run goes on at 3; line 3 and 4 are redone.
	resumed := runInfo
	resumed.StartEpoch = 3
	c = NewCSV(path)
	if err := c.Start(resumed); err != nil {
		t.Fatal(err)
	}
	c.Epoch(train.EpochStats{Epoch: 3, Epochs: 10, TrainLoss: 33, LR: 0.1})
	want := "epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_seconds,elapsed_seconds\n" +
		"1,1.000000,0.000000,,,0.1,0.000,0.000\n" +
		"2,2.000000,0.000000,,,0.1,0.000,0.000\n" +
		"3,33.000000,0.000000,,,0.1,0.000,0.000\n"
	if got := readFile(t, path); got != want {
		t.Errorf("resumed file:\n%s\nwant:\n%s", got, want)
	}

	// A fresh run (StartEpoch 1) starts the file over.
	c = NewCSV(path)
	c.Start(runInfo)
	if got := readFile(t, path); strings.Count(got, "\n") != 1 {
		t.Errorf("a fresh run kept old lines: %q", got)
	}

	// Resuming without a file starts one; resuming onto a foreign file is an error naming it.
	other := filepath.Join(t.TempDir(), "m.csv")
	if err := NewCSV(other).Start(resumed); err != nil || !strings.HasPrefix(readFile(t, other), "epoch,") {
		t.Errorf("resume without a file: %v", err)
	}
	os.WriteFile(other, []byte("a,b\n1,2\n"), 0o644)
	if err := NewCSV(other).Start(resumed); err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "header") {
		t.Errorf("resume onto a foreign CSV: %v", err)
	}
	if err := NewCSV(filepath.Join(t.TempDir(), "missing", "m.csv")).Start(runInfo); err == nil || !strings.Contains(err.Error(), "m.csv") {
		t.Errorf("CSV in a missing directory: %v", err)
	}
}

// decodePNG opens a PNG with the standard decoder and returns it.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// countColor counts pixels within 30 of c in every channel.
func countColor(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if absDiff(r>>8, c.R) < 30 && absDiff(g>>8, c.G) < 30 && absDiff(bl>>8, c.B) < 30 {
				n++
			}
		}
	}
	return n
}

func absDiff(a uint32, b uint8) uint32 {
	if a > uint32(b) {
		return a - uint32(b)
	}
	return uint32(b) - a
}

func TestPlotCurves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "curves.png")
	p := NewPlot(path, "lenet5 on mnist")
	p.Start(runInfo)
	var hist []train.EpochStats
	for e := 1; e <= 12; e++ {
		x := float64(e)
		s := train.EpochStats{Epoch: e, Epochs: 12, TrainLoss: 2*math.Exp(-x/3) + 0.05, TestLoss: 2*math.Exp(-x/3.5) + 0.09,
			TrainAcc: 1 - 0.9*math.Exp(-x/2.5), TestAcc: 0.98 - 0.85*math.Exp(-x/2.6), TestSamples: 10000, EpochTime: time.Second}
		hist = append(hist, s)
		if err := p.Epoch(s); err != nil {
			t.Fatal(err)
		}
		if e == 1 {
			decodePNG(t, path) // drawn after the first epoch already
		}
	}
	if err := p.Finish(hist); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, path)
	if b := img.Bounds(); b.Dx() != 1152 || b.Dy() != 432 {
		t.Errorf("curves.png is %v, want 1152×432 (12×4.5 in at 96 dpi)", b)
	}
	if n := countColor(img, trainColor); n < 500 {
		t.Errorf("only %d pixels of the train colour", n)
	}
	if n := countColor(img, testColor); n < 500 {
		t.Errorf("only %d pixels of the test colour", n)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left beside the plot: %v", entries)
	}

	// Without a test set only the train curves are drawn; a diverged epoch is left out.
	for i := range hist {
		hist[i].TestSamples = 0
	}
	hist[5].TrainLoss = math.NaN()
	if err := WriteCurves(path, "no test set", hist); err != nil {
		t.Fatal(err)
	}
	if n := countColor(decodePNG(t, path), testColor); n != 0 {
		t.Errorf("%d pixels of the test colour without a test set", n)
	}
	if err := WriteCurves(path, "empty", nil); err == nil {
		t.Error("plotting no epochs gave no error")
	}
}

func TestPlotResumeKeepsEarlierEpochs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "curves.png")
	p := NewPlot(path, "resumed").WithHistory(twoEpochs)
	info := runInfo
	info.StartEpoch = 2 // epoch 2 runs again
	p.Start(info)
	if len(p.history) != 1 || p.history[0].Epoch != 1 {
		t.Fatalf("after Start at epoch 2 the plot holds %v", p.history)
	}
	p.Epoch(twoEpochs[1])
	if len(p.history) != 2 {
		t.Errorf("history %v", p.history)
	}
	decodePNG(t, path)
}

func TestTicks(t *testing.T) {
	labels := func(ts []plot.Tick) string {
		var s []string
		for _, t := range ts {
			if t.Label != "" {
				s = append(s, t.Label)
			}
		}
		return strings.Join(s, " ")
	}
	if got := labels(epochTicks{}.Ticks(1, 12)); got != "2 4 6 8 10 12" {
		t.Errorf("epoch ticks 1..12: %s", got)
	}
	if got := labels(epochTicks{}.Ticks(1, 5)); got != "1 2 3 4 5" {
		t.Errorf("epoch ticks 1..5: %s", got)
	}
	if got := labels(valueTicks{suffix: "%"}.Ticks(39.6, 101.2)); got != "40% 50% 60% 70% 80% 90% 100%" {
		t.Errorf("percent ticks: %s", got)
	}
	if got := labels(valueTicks{}.Ticks(-0.04, 1.61)); got != "0.0 0.5 1.0 1.5" {
		t.Errorf("loss ticks: %s", got)
	}
	if got := labels(valueTicks{}.Ticks(1.47, 1.61)); got != "1.48 1.50 1.52 1.54 1.56 1.58 1.60" {
		t.Errorf("narrow ticks: %s", got)
	}
}
