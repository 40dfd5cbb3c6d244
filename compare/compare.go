// Package compare measures how far computed tensors are from reference ones: the figures
// `tlkit validate`, `tlkit export`'s check and the GPU checks report.
package compare

import "math"

// RelL2 is ‖got−want‖/‖want‖ computed in float64 (with ‖want‖ floored at 1e-300, so an all-zero
// reference makes any difference huge); +Inf when the lengths differ.
func RelL2(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / math.Max(den, 1e-300))
}

// MaxAbsDiff is the largest |got[i]−want[i]|; +Inf when the lengths differ.
func MaxAbsDiff(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var m float64
	for i := range got {
		m = math.Max(m, math.Abs(float64(got[i])-float64(want[i])))
	}
	return m
}

// Argmax is the index of v's largest value (the first one on ties).
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Top1Agreement is the fraction of the rows (got and want are rows×k, row-major) whose largest
// value is at the same index in both.
func Top1Agreement(got, want []float32, rows int) float64 {
	if rows <= 0 || len(got) != len(want) {
		return 0
	}
	k := len(want) / rows
	agree := 0
	for r := 0; r < rows; r++ {
		if Argmax(got[r*k:(r+1)*k]) == Argmax(want[r*k:(r+1)*k]) {
			agree++
		}
	}
	return float64(agree) / float64(rows)
}
