package compare

import (
	"math"
	"testing"
)

func TestMeasures(t *testing.T) {
	got, want := []float32{1, 2, 0, 3}, []float32{1, 1, 2, 0}
	if d := RelL2(got, want); math.Abs(d-math.Sqrt(14.0/6)) > 1e-12 {
		t.Errorf("RelL2 = %v, want sqrt(14/6)", d)
	}
	if d := MaxAbsDiff(got, want); d != 3 {
		t.Errorf("MaxAbsDiff = %v, want 3", d)
	}
	// rows [1 2] vs [1 1] (argmax 1 vs 0 on a tie: the first), [0 3] vs [2 0]: no row agrees
	if a := Top1Agreement(got, want, 2); a != 0 {
		t.Errorf("Top1Agreement = %v, want 0", a)
	}
	if a := Top1Agreement(got, got, 2); a != 1 {
		t.Errorf("Top1Agreement with itself = %v", a)
	}
	if d := RelL2(got, want[:3]); !math.IsInf(d, 1) {
		t.Errorf("RelL2 of different lengths = %v, want +Inf", d)
	}
	if d := RelL2([]float32{0}, []float32{0}); d != 0 {
		t.Errorf("RelL2 of zeros = %v", d)
	}
}
