package ops

import (
	"math"
	"math/rand"
	"testing"
)

// ulps is the distance between a and b in float32 units in the last place.
func ulps(a, b float32) int64 {
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia < 0x80000000 != (ib < 0x80000000) {
		return int64(math.MaxInt32)
	}
	d := ia - ib
	if d < 0 {
		d = -d
	}
	return d
}

func TestFloat32Functions(t *testing.T) {
	worst := map[string]int64{}
	for i := -200000; i <= 200000; i++ {
		x := float32(i) * 1e-4 // [-20, 20]
		for name, f := range map[string]struct {
			got  float32
			want float64
		}{
			"exp":     {exp32(x), math.Exp(float64(x))},
			"tanh":    {tanh32(x), math.Tanh(float64(x))},
			"sigmoid": {sigmoid32(x), 1 / (1 + math.Exp(-float64(x)))},
		} {
			if name == "exp" && math.Abs(float64(x)) > 80 {
				continue
			}
			if u := ulps(f.got, float32(f.want)); u > worst[name] {
				worst[name] = u
			}
		}
	}
	for name, u := range worst {
		if u > 2 {
			t.Errorf("%s: worst error %d ulp, want ≤ 2", name, u)
		}
	}
	t.Logf("worst errors in ulp: %v", worst)
}

func TestReluGradSigns(t *testing.T) {
	x := []float32{-1, -0.0, 0, 1e-30, 2, float32(math.Inf(1)), float32(math.Inf(-1))}
	dy := []float32{1, 2, 3, 4, 5, 6, 7}
	dx := make([]float32, len(x))
	reluGrad(x, dy, dx)
	want := []float32{0, 0, 0, 4, 5, 6, 0}
	for i := range want {
		if dx[i] != want[i] {
			t.Errorf("x=%v: dx %v, want %v", x[i], dx[i], want[i])
		}
	}
	x64 := []float64{-1, math.Copysign(0, -1), 0, 1e-300, 2}
	dy64 := []float64{1, 2, 3, 4, 5}
	dx64 := make([]float64, len(x64))
	reluGrad(x64, dy64, dx64)
	for i, w := range []float64{0, 0, 0, 4, 5} {
		if dx64[i] != w {
			t.Errorf("float64 x=%v: dx %v, want %v", x64[i], dx64[i], w)
		}
	}
}

// TestTanhVector checks that the vector path gives bitwise tanh32's results, on a dense sweep,
// random values of every magnitude and the special values.
func TestTanhVector(t *testing.T) {
	var x []float32
	for i := -300000; i <= 300000; i++ {
		x = append(x, float32(i)*1e-4)
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		x = append(x, math.Float32frombits(r.Uint32()))
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 0.625, -0.625, 9, -9, math.Nextafter32(9, 0),
		math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.SmallestNonzeroFloat32, 1e-30, -1e-30)
	y := make([]float32, len(x))
	n := tanhVec(x, y)
	if bestISA >= isaAVX2 && n != len(x)&^7 {
		t.Fatalf("vector path did %d of %d", n, len(x))
	}
	t.Logf("vector path: %d of %d values", n, len(x))
	for i := 0; i < n; i++ {
		want := tanh32(x[i])
		if math.Float32bits(y[i]) != math.Float32bits(want) && !(want != want && y[i] != y[i]) {
			t.Fatalf("tanh(%g): vector %g (%#x), Go %g (%#x)", x[i], y[i], math.Float32bits(y[i]), want, math.Float32bits(want))
		}
	}
}

// TestBiasReluVector: the AVX2 ReLU (with and without a bias) gives bitwise the Go loop's
// max(x+b, 0) and max(x, 0), NaN and signed zeros included.
func TestBiasReluVector(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		-1, 1, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 0.25, -0.25}
	for i := 0; i < 10000; i++ {
		x = append(x, float32(r.NormFloat64()), math.Float32frombits(r.Uint32()))
	}
	for _, b := range []float32{0, 0.25, -0.25, float32(math.Copysign(0, -1))} {
		for _, add := range []bool{false, true} {
			y := make([]float32, len(x))
			bias := float32(0) // without add: plain ReLU, max(x, 0)
			if add {
				bias = b
			}
			n := biasReluVec(x, y, bias)
			if bestISA >= isaAVX2 && n != len(x)&^7 {
				t.Fatalf("vector path did %d of %d", n, len(x))
			}
			for i := 0; i < n; i++ {
				v := x[i]
				if add {
					v += b
				}
				want := max(v, 0)
				if math.Float32bits(y[i]) != math.Float32bits(want) && !(want != want && y[i] != y[i]) {
					t.Fatalf("relu(%g + %g, add %v): vector %g (%#x), Go %g (%#x)", x[i], b, add, y[i], math.Float32bits(y[i]), want, math.Float32bits(want))
				}
			}
		}
	}
}

// TestMaxVector: the AVX2 element-wise max gives bitwise Go's max, NaN and signed zeros included.
func TestMaxVector(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1, -1}
	var a, b []float32
	for _, u := range special {
		for _, v := range special {
			a, b = append(a, u), append(b, v)
		}
	}
	for i := 0; i < 10000; i++ {
		a, b = append(a, float32(r.NormFloat64())), append(b, float32(r.NormFloat64()))
	}
	dst := append([]float32(nil), a...)
	n := maxVec(dst, b)
	if bestISA >= isaAVX2 && n != len(a)&^7 {
		t.Fatalf("vector path did %d of %d", n, len(a))
	}
	for i := 0; i < n; i++ {
		want := max(a[i], b[i])
		if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
			t.Fatalf("max(%g, %g): vector %g (%#x), Go %g (%#x)", a[i], b[i], dst[i], math.Float32bits(dst[i]), want, math.Float32bits(want))
		}
	}
}

// TestReluGradVector: the AVX2 ReLU gradient gives bitwise reluGrad's Go loop, for signed zeros,
// NaNs of both signs, infinities and the smallest and largest values.
func TestReluGradVector(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), -float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
		math.Float32frombits(0x80000000), math.Float32frombits(0xffffffff), math.Float32frombits(0x7fffffff)}
	for i := 0; i < 10000; i++ {
		x = append(x, float32(r.NormFloat64()), math.Float32frombits(r.Uint32()))
	}
	dy := make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(r.NormFloat64())
	}
	got, want := make([]float32, len(x)), make([]float32, len(x))
	n := reluGradVec(x, dy, got)
	if bestISA >= isaAVX2 && n != len(x)&^7 {
		t.Fatalf("vector path did %d of %d", n, len(x))
	}
	isa := vecISA
	vecISA = isaGo
	reluGrad(x, dy, want)
	vecISA = isa
	for i := 0; i < n; i++ {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("reluGrad(x=%g (%#x), dy=%g): vector %g, Go %g", x[i], math.Float32bits(x[i]), dy[i], got[i], want[i])
		}
	}
}

// TestEvenVector: the AVX2 stride-2 copy picks src[2k], for every length around the vector size.
func TestEvenVector(t *testing.T) {
	src := make([]float32, 200)
	for i := range src {
		src[i] = float32(i) + 0.5
	}
	for n := 0; n <= 100; n++ {
		dst := make([]float32, n)
		k := evenVec(dst, src[:2*n])
		if bestISA >= isaAVX2 && k != n&^7 {
			t.Fatalf("n=%d: vector path did %d", n, k)
		}
		for i := 0; i < k; i++ {
			if dst[i] != src[2*i] {
				t.Fatalf("n=%d: dst[%d] = %g, want %g", n, i, dst[i], src[2*i])
			}
		}
	}
}

// TestBatchNormVectors: BatchNorm's AVX2 loops give bitwise the Go loops' x·a+b (with and
// without ReLU) and dy·k+c0+c1·x, and its float64 sums agree with a float64 loop to rounding.
func TestBatchNormVectors(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	n := 1003
	x, g := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], g[i] = float32(r.NormFloat64()*3+1), float32(r.NormFloat64())
	}
	x[5], x[9] = float32(math.NaN()), float32(math.Copysign(0, -1))
	x[17] = -0.5 / 1.25 // x·a+b = 0 exactly (a = 1.25, b = 0.5): signed zeros
	same := func(what string, got, want []float32, k int) {
		t.Helper()
		if bestISA >= isaAVX2 && k != n&^7 {
			t.Fatalf("%s: vector path did %d of %d", what, k, n)
		}
		for i := 0; i < k; i++ {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
				t.Fatalf("%s[%d]: vector %g, Go %g", what, i, got[i], want[i])
			}
		}
	}
	a, b := float32(1.25), float32(0.5)
	for _, relu := range []bool{false, true} {
		got, want := make([]float32, n), make([]float32, n)
		k := affineVec(x, got, a, b, relu)
		for i, v := range x {
			want[i] = v*a + b
			if relu {
				want[i] = max(want[i], 0)
			}
		}
		same("affine", got, want, k)
	}
	got, want := make([]float32, n), make([]float32, n)
	kk, c0, c1 := float32(0.7), float32(-0.1), float32(0.03)
	k := bnGradVec(g, x, got, kk, c0, c1)
	for i := range x {
		want[i] = g[i]*kk + c0 + c1*x[i]
	}
	same("bnGrad", got, want, k)

	x[5] = 1 // the sums: no NaN
	m := 0.37
	var s, q, d float64
	for i := 0; i < n&^7; i++ {
		s += float64(x[i])
		q += (float64(x[i]) - m) * (float64(x[i]) - m)
		d += float64(g[i]) * (float64(x[i]) - m)
	}
	k1, s1 := sumVec(x)
	_, q1 := sqDevVec(x, m)
	_, d1 := dotDevVec(g, x, m)
	if k1 == 0 {
		return
	}
	for _, c := range [][3]float64{{s1, s, 0}, {q1, q, 1}, {d1, d, 2}} {
		if math.Abs(c[0]-c[1]) > 1e-12*math.Max(1, math.Abs(c[1])) {
			t.Errorf("sum %v: vector %v, Go %v", c[2], c[0], c[1])
		}
	}
}

// TestAddVector: the AVX2 addition (with and without ReLU) gives bitwise the Go loop's results.
func TestAddVector(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	n := 1001
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	a[3], b[3] = 0.5, -0.5                                                    // +0
	a[4], b[4] = float32(math.Copysign(0, -1)), float32(math.Copysign(0, -1)) // -0
	a[6] = float32(math.NaN())
	for _, relu := range []bool{false, true} {
		y := make([]float32, n)
		k := addVec(a, b, y, relu)
		if bestISA >= isaAVX2 && k != n&^7 {
			t.Fatalf("vector path did %d of %d", k, n)
		}
		for i := 0; i < k; i++ {
			want := a[i] + b[i]
			if relu {
				want = max(want, 0)
			}
			if math.Float32bits(y[i]) != math.Float32bits(want) && !(want != want && y[i] != y[i]) {
				t.Fatalf("relu %v: %g + %g: vector %g, Go %g", relu, a[i], b[i], y[i], want)
			}
		}
	}
}
