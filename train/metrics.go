package train

import (
	"math"
	"sort"
)

// Metrics accumulates classification results over batches of logits: mean cross-entropy, top-1
// and top-5 accuracy, and the confusion matrix. The training loop, tlkit eval and the ONNX Runtime
// path all score through it.
type Metrics struct {
	Classes   int
	Samples   int
	LossSum   float64
	Correct   int
	Top5      int
	Confusion [][]int // [true][predicted]
	// Predictions and Labels hold every sample's predicted and true class, in order, when
	// KeepPredictions is set.
	Predictions     []int
	Labels          []int
	KeepPredictions bool
	keepConf        bool
}

// NewMetrics starts an empty accumulator; confusion selects whether to keep the matrix.
func NewMetrics(classes int, confusion bool) *Metrics {
	m := &Metrics{Classes: classes, keepConf: confusion}
	if confusion {
		m.Confusion = make([][]int, classes)
		for i := range m.Confusion {
			m.Confusion[i] = make([]int, classes)
		}
	}
	return m
}

// Add scores n samples of logits (n×Classes, row-major) against labels and returns the predicted
// classes.
func (m *Metrics) Add(logits []float32, labels []int, n int) []int {
	k := m.Classes
	pred := make([]int, n)
	for i := 0; i < n; i++ {
		row := logits[i*k : (i+1)*k]
		y := labels[i]
		best, mx := 0, math.Inf(-1)
		for j, v := range row {
			if float64(v) > mx {
				best, mx = j, float64(v)
			}
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		if y >= 0 && y < k {
			m.LossSum += mx + math.Log(s) - float64(row[y])
			// rank of the true class: how many logits beat it
			higher := 0
			for _, v := range row {
				if v > row[y] {
					higher++
				}
			}
			if higher < 5 {
				m.Top5++
			}
			if m.keepConf {
				m.Confusion[y][best]++
			}
		}
		if best == y {
			m.Correct++
		}
		pred[i] = best
	}
	m.Samples += n
	if m.KeepPredictions {
		m.Predictions = append(m.Predictions, pred...)
		m.Labels = append(m.Labels, labels[:n]...)
	}
	return pred
}

// Loss is the mean cross-entropy so far.
func (m *Metrics) Loss() float64 { return m.LossSum / math.Max(float64(m.Samples), 1) }

// Acc is the top-1 accuracy so far, a fraction.
func (m *Metrics) Acc() float64 { return float64(m.Correct) / math.Max(float64(m.Samples), 1) }

// Top5Acc is the top-5 accuracy so far.
func (m *Metrics) Top5Acc() float64 { return float64(m.Top5) / math.Max(float64(m.Samples), 1) }

// PerClass returns each class's accuracy (recall) from the confusion matrix; NaN for a class
// with no samples.
func (m *Metrics) PerClass() []float64 {
	out := make([]float64, m.Classes)
	for c, row := range m.Confusion {
		tot := 0
		for _, v := range row {
			tot += v
		}
		if tot == 0 {
			out[c] = math.NaN()
		} else {
			out[c] = float64(row[c]) / float64(tot)
		}
	}
	return out
}

// TopK returns the indices of the k largest logits of a row, largest first.
func TopK(row []float32, k int) []int {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
	if k < len(idx) {
		idx = idx[:k]
	}
	return idx
}
