package report

import (
	"fmt"
	"image/color"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
)

func countsFrom(k int, yTrue, yPred []int) [][]int {
	c := make([][]int, k)
	for i := range c {
		c[i] = make([]int, k)
	}
	for i := range yTrue {
		c[yTrue[i]][yPred[i]]++
	}
	return c
}

// TestConfusionMatchesScikitLearnDocs uses the examples of scikit-learn's documentation of
// confusion_matrix and recall_score (recall per class = per-class accuracy).
func TestConfusionMatchesScikitLearnDocs(t *testing.T) {
	m, err := NewConfusionMatrix(countsFrom(3, []int{2, 0, 2, 2, 0, 1}, []int{0, 0, 2, 2, 0, 2}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(m.Counts); got != "[[2 0 0] [0 0 1] [1 0 2]]" { // sklearn: array([[2, 0, 0], [0, 0, 1], [1, 0, 2]])
		t.Errorf("counts %s", got)
	}
	dir := t.TempDir()
	if err := m.WriteCSV(filepath.Join(dir, "confusion.csv")); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, filepath.Join(dir, "confusion.csv")), "true\\predicted,0,1,2\n0,2,0,0\n1,0,0,1\n2,1,0,2\n"; got != want {
		t.Errorf("confusion.csv:\n%s\nwant:\n%s", got, want)
	}
	if got := m.Accuracy(); math.Abs(got-4.0/6) > 1e-15 {
		t.Errorf("accuracy %v", got)
	}

	m, _ = NewConfusionMatrix(countsFrom(3, []int{0, 1, 2, 0, 1, 2}, []int{0, 2, 1, 0, 0, 1}), []string{"cat", "dog", "bird, small"})
	var recall []float64
	for _, c := range m.PerClass() {
		recall = append(recall, c.Accuracy)
	}
	if fmt.Sprint(recall) != "[1 0 0]" { // sklearn: recall_score(..., average=None) → array([1., 0., 0.])
		t.Errorf("per-class accuracy %v, want [1 0 0]", recall)
	}
	if err := m.WritePerClassCSV(filepath.Join(dir, "per_class.csv")); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, filepath.Join(dir, "per_class.csv")), "class,samples,correct,accuracy\ncat,2,2,1.000000\ndog,2,0,0.000000\n\"bird, small\",2,0,0.000000\n"; got != want {
		t.Errorf("per_class.csv:\n%s\nwant:\n%s", got, want)
	}
	empty, _ := NewConfusionMatrix([][]int{{1, 0}, {0, 0}}, nil)
	if pc := empty.PerClass(); pc[1].Samples != 0 || !math.IsNaN(pc[1].Accuracy) || pc[0].Accuracy != 1 {
		t.Errorf("class without samples: %+v", pc)
	}
}

func TestConfusionRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		counts [][]int
		names  []string
		want   string
	}{
		{nil, nil, "no classes"},
		{[][]int{{1, 2}, {3}}, nil, "row 1 has 1 columns, want 2"},
		{[][]int{{1, -2}, {3, 4}}, nil, "negative count -2 at [0][1]"},
		{[][]int{{1, 2}, {3, 4}}, []string{"a"}, "1 class names for 2 classes"},
	} {
		if _, err := NewConfusionMatrix(c.counts, c.names); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want %q", c.counts, c.names, err, c.want)
		}
	}
}

// syntheticConfusion is a k-class matrix where each class is right with probability acc.
func syntheticConfusion(k int, acc float64) [][]int {
	r := rand.New(rand.NewSource(int64(k)))
	c := make([][]int, k)
	for i := range c {
		c[i] = make([]int, k)
		for s := 0; s < 200; s++ {
			if r.Float64() < acc {
				c[i][i]++
			} else {
				c[i][(i+1+r.Intn(3))%k]++
			}
		}
	}
	return c
}

var darkBlue = color.RGBA{R: 8, G: 48, B: 107, A: 255} // the top of ColorBrewer's Blues

func TestConfusionPNG(t *testing.T) {
	dir := t.TempDir()
	names := []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
	counts := syntheticConfusion(10, 0.9)
	counts[3] = make([]int, 10) // a class without test samples
	m, _ := NewConfusionMatrix(counts, names)
	m.Title = "cnn on fashion-mnist"
	path := filepath.Join(dir, "confusion.png")
	if err := m.WritePNG(path); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, path)
	if b := img.Bounds(); b.Dx() < 500 || b.Dx() > 1000 || b.Dy() < 500 || b.Dy() > 1000 {
		t.Errorf("10-class matrix is %v", b)
	}
	if n := countColor(img, darkBlue); n < 9*20*20 { // nine ~90% diagonal cells of ~48 px, and the bar
		t.Errorf("only %d dark blue pixels for a 90%%-correct diagonal", n)
	}
	if n := countColor(img, color.RGBA{R: 235, G: 235, B: 235}); n < 10*40*40 {
		t.Errorf("only %d grey pixels for the row without samples", n)
	}

	for _, k := range []int{100, 1000} {
		var names []string
		for i := 0; i < k; i++ {
			names = append(names, fmt.Sprintf("class_%d", i))
		}
		m, _ := NewConfusionMatrix(syntheticConfusion(k, 0.7), names)
		path := filepath.Join(dir, fmt.Sprintf("confusion%d.png", k))
		if err := m.WritePNG(path); err != nil {
			t.Fatal(err)
		}
		b := decodePNG(t, path).Bounds()
		if b.Dx() < 1400 || b.Dx() > 2000 || b.Dy() < 1400 || b.Dy() > 2000 {
			t.Errorf("%d-class matrix is %v, want about 1.5k px square", k, b)
		}
	}
}

func TestConfusionLayout(t *testing.T) {
	for _, c := range []struct {
		k       int
		cell    float64
		font    float64
		every   int
		byNames bool
	}{
		{2, 48, 11, 1, true}, {10, 48, 11, 1, true}, {100, 14, 8, 1, true}, {200, 7, 9, 5, false}, {1000, 1.4, 9, 50, false},
	} {
		cell, font, every, names := confusionLayout(c.k)
		if cell != c.cell || float64(font) != c.font || every != c.every || names != c.byNames {
			t.Errorf("%d classes: cell %v px, font %v pt, every %d, names %v; want %v %v %d %v", c.k, cell, font, every, names, c.cell, c.font, c.every, c.byNames)
		}
	}
}
