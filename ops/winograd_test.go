package ops

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"
)

// winoCase is a convolution geometry for the Winograd tests.
type winoCase struct {
	n, c, h, w, m  int
	pt, pl, pb, pr int
	bias           bool
}

func (tc winoCase) geom() (ConvGeom, bool) {
	return NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.m, 1, 3, 3, 1, 1, 1, 1, tc.pt, tc.pl, tc.pb, tc.pr)
}

func (tc winoCase) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_m%d_pad%d.%d.%d.%d_bias%v", tc.n, tc.c, tc.h, tc.w, tc.m, tc.pt, tc.pl, tc.pb, tc.pr, tc.bias)
}

// winoCases covers batch 1–4, channels 1–70, sizes 1×1 to 17×15, pads 0–2 (symmetric and not),
// with and without bias: a fixed list of corner cases and random draws.
func winoCases() []winoCase {
	cases := []winoCase{
		{1, 1, 1, 1, 1, 1, 1, 1, 1, false},
		{1, 1, 1, 1, 1, 2, 2, 2, 2, true},
		{2, 3, 3, 3, 2, 0, 0, 0, 0, true},
		{1, 2, 4, 4, 3, 0, 0, 0, 0, false},
		{1, 2, 5, 5, 3, 1, 1, 1, 1, true},
		{3, 5, 17, 15, 7, 1, 1, 1, 1, true},
		{2, 70, 9, 8, 70, 1, 1, 1, 1, false},
		{1, 4, 6, 7, 5, 2, 0, 1, 2, true},
		{4, 3, 2, 9, 2, 0, 2, 2, 1, false},
		{1, 8, 16, 16, 8, 1, 1, 1, 1, true},
		{2, 16, 8, 8, 33, 1, 0, 0, 1, true},
		{1, 1, 17, 1, 1, 1, 1, 0, 1, false},
		{1, 1, 1, 15, 1, 0, 1, 2, 1, false},
		{2, 3, 3, 4, 2, 3, 3, 3, 4, true}, // pads beyond the kernel: mirrored pads go negative
		// Wide images (the unpadded row path) and enough tiles for whole blocks per worker.
		{4, 5, 33, 35, 6, 0, 2, 1, 1, true},
		{3, 7, 37, 45, 5, 1, 2, 1, 0, false},
		{2, 3, 40, 41, 4, 2, 1, 0, 2, true},
	}
	rng := rand.New(rand.NewSource(7))
	for len(cases) < 120 {
		tc := winoCase{
			n: 1 + rng.Intn(4), c: 1 + rng.Intn(70), m: 1 + rng.Intn(70),
			h: 1 + rng.Intn(17), w: 1 + rng.Intn(15),
			pt: rng.Intn(3), pl: rng.Intn(3), pb: rng.Intn(3), pr: rng.Intn(3),
			bias: rng.Intn(2) == 0,
		}
		if rng.Intn(2) == 0 { // symmetric pads half the time
			tc.pl, tc.pb, tc.pr = tc.pt, tc.pt, tc.pt
		}
		if _, ok := tc.geom(); ok {
			cases = append(cases, tc)
		}
	}
	return cases
}

func winoRandSlice[T Float](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.Float64()*2 - 1)
	}
	return s
}

// winoRelErr is max|got-want| / max|want|: the error relative to the output's scale.
func winoRelErr[T Float](got, want []T) float64 {
	var d, s float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		s = math.Max(s, math.Abs(float64(want[i])))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// checkWinograd compares winogradForward and winogradBackwardData with convForward and
// convBackwardData on random data, returning the relative errors.
func checkWinograd[T Float](t *testing.T, tc winoCase, seed int64) (fwd, bwd float64) {
	t.Helper()
	g, ok := tc.geom()
	if !ok {
		t.Fatalf("%v: invalid geometry", tc)
	}
	if !winogradSupported(&g) {
		t.Fatalf("%v: not supported", tc)
	}
	rng := rand.New(rand.NewSource(seed))
	x := winoRandSlice[T](rng, g.N*g.C*g.H*g.W)
	w := winoRandSlice[T](rng, g.M*g.C*9)
	dy := winoRandSlice[T](rng, g.N*g.M*g.OH*g.OW)
	var bias []T
	if tc.bias {
		bias = winoRandSlice[T](rng, g.M)
	}
	want := make([]T, g.N*g.M*g.OH*g.OW)
	got := make([]T, len(want))
	for i := range got {
		got[i] = T(math.NaN()) // every element must be written
	}
	if winoIm2colPanics(&g) {
		winoNaiveConv(&g, x, w, bias, want)
	} else {
		convForward(&g, x, w, bias, want)
	}
	winogradForward(&g, x, w, bias, nil, got)
	fwd = winoRelErr(got, want)

	wantDx := make([]T, len(x))
	gotDx := make([]T, len(x))
	for i := range gotDx {
		gotDx[i] = T(math.NaN())
	}
	if winoIm2colPanics(&g) {
		winoNaiveBackwardData(&g, w, dy, wantDx)
	} else {
		convBackwardData(&g, w, dy, wantDx)
	}
	winogradBackwardData(&g, w, dy, gotDx)
	bwd = winoRelErr(gotDx, wantDx)
	if math.IsNaN(fwd) || math.IsNaN(bwd) {
		t.Fatalf("%v: output not fully written (forward %v, backward %v)", tc, fwd, bwd)
	}
	return fwd, bwd
}

// winoIm2colPanics reports the geometries where im2col and col2im slice out of range: a kernel
// column whose every output position reads left padding (pad ≥ 2 on narrow inputs), where
// validRange clamps lo to hi and srow[iw0+lo:iw0+hi] has a negative bound. The tests compare
// those with winoNaiveConv instead.
func winoIm2colPanics(g *ConvGeom) bool {
	for kj := 0; kj < g.KW; kj++ {
		iw0 := kj*g.DW - g.PL
		if lo, _ := validRange(iw0, g.SW, g.W, g.OW); iw0+lo < 0 {
			return true
		}
	}
	return false
}

// winoNaiveConv is the direct definition of a 3×3 stride-1 convolution, accumulated in float64.
func winoNaiveConv[T Float](g *ConvGeom, x, w, bias, y []T) {
	for n := 0; n < g.N; n++ {
		for m := 0; m < g.M; m++ {
			for r := 0; r < g.OH; r++ {
				for s := 0; s < g.OW; s++ {
					var sum float64
					if bias != nil {
						sum = float64(bias[m])
					}
					for c := 0; c < g.C; c++ {
						for a := 0; a < 3; a++ {
							for b := 0; b < 3; b++ {
								i, j := r-g.PT+a, s-g.PL+b
								if i >= 0 && i < g.H && j >= 0 && j < g.W {
									sum += float64(x[((n*g.C+c)*g.H+i)*g.W+j]) * float64(w[((m*g.C+c)*3+a)*3+b])
								}
							}
						}
					}
					y[((n*g.M+m)*g.OH+r)*g.OW+s] = T(sum)
				}
			}
		}
	}
}

// winoNaiveBackwardData is winoNaiveConv's adjoint in x.
func winoNaiveBackwardData[T Float](g *ConvGeom, w, dy, dx []T) {
	acc := make([]float64, len(dx))
	for n := 0; n < g.N; n++ {
		for m := 0; m < g.M; m++ {
			for r := 0; r < g.OH; r++ {
				for s := 0; s < g.OW; s++ {
					d := float64(dy[((n*g.M+m)*g.OH+r)*g.OW+s])
					for c := 0; c < g.C; c++ {
						for a := 0; a < 3; a++ {
							for b := 0; b < 3; b++ {
								i, j := r-g.PT+a, s-g.PL+b
								if i >= 0 && i < g.H && j >= 0 && j < g.W {
									acc[((n*g.C+c)*g.H+i)*g.W+j] += d * float64(w[((m*g.C+c)*3+a)*3+b])
								}
							}
						}
					}
				}
			}
		}
	}
	for i, v := range acc {
		dx[i] = T(v)
	}
}

// TestWinoNaiveMatchesIm2col checks the fallback reference against convForward and
// convBackwardData where those work.
func TestWinoNaiveMatchesIm2col(t *testing.T) {
	checked := 0
	for i, tc := range winoCases() {
		g, _ := tc.geom()
		if winoIm2colPanics(&g) {
			continue
		}
		checked++
		rng := rand.New(rand.NewSource(int64(i)))
		x := winoRandSlice[float64](rng, g.N*g.C*g.H*g.W)
		w := winoRandSlice[float64](rng, g.M*g.C*9)
		dy := winoRandSlice[float64](rng, g.N*g.M*g.OH*g.OW)
		var bias []float64
		if tc.bias {
			bias = winoRandSlice[float64](rng, g.M)
		}
		y1, y2 := make([]float64, len(dy)), make([]float64, len(dy))
		convForward(&g, x, w, bias, y1)
		winoNaiveConv(&g, x, w, bias, y2)
		dx1, dx2 := make([]float64, len(x)), make([]float64, len(x))
		convBackwardData(&g, w, dy, dx1)
		winoNaiveBackwardData(&g, w, dy, dx2)
		if e, f := winoRelErr(y2, y1), winoRelErr(dx2, dx1); e > 1e-12 || f > 1e-12 {
			t.Errorf("%v: naive reference differs from im2col by %.3g, %.3g", tc, e, f)
		}
	}
	t.Logf("%d of %d geometries checked", checked, len(winoCases()))
}

// TestWinogradWorkers checks both of winoRun's schedules (whole blocks per worker, phases split
// over the workers) under several worker counts.
func TestWinogradWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cases := []winoCase{
		{4, 5, 33, 35, 6, 0, 2, 1, 1, true},
		{3, 6, 17, 15, 9, 1, 1, 1, 1, true},
		{1, 3, 5, 6, 4, 2, 1, 1, 0, false},
		{2, 70, 24, 24, 33, 1, 1, 1, 1, false},
	}
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		for i, tc := range cases {
			f, b := checkWinograd[float64](t, tc, int64(i))
			if f > 1e-12 || b > 1e-12 {
				t.Errorf("GOMAXPROCS %d, %v: relative error forward %.3g, backward data %.3g", procs, tc, f, b)
			}
		}
	}
}

// TestWinogradSharedKernel checks that the pre-transformed weights give the same results.
func TestWinogradSharedKernel(t *testing.T) {
	tc := winoCase{3, 6, 17, 15, 9, 1, 0, 2, 1, true}
	g, _ := tc.geom()
	rng := rand.New(rand.NewSource(3))
	x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
	w := winoRandSlice[float32](rng, g.M*g.C*9)
	dy := winoRandSlice[float32](rng, g.N*g.M*g.OH*g.OW)
	bias := winoRandSlice[float32](rng, g.M)
	u := make([]float32, winogradKernelLen(&g))
	winogradTransformKernel(&g, w, u)
	y1, y2 := make([]float32, len(dy)), make([]float32, len(dy))
	winogradForward(&g, x, w, bias, nil, y1)
	winogradForwardU(&g, x, u, bias, nil, y2)
	dx1, dx2 := make([]float32, len(x)), make([]float32, len(x))
	winogradBackwardData(&g, w, dy, dx1)
	winogradBackwardDataU(&g, u, dy, dx2)
	for i := range y1 {
		if y1[i] != y2[i] {
			t.Fatalf("forward differs at %d: %v vs %v", i, y1[i], y2[i])
		}
	}
	for i := range dx1 {
		if dx1[i] != dx2[i] {
			t.Fatalf("backward data differs at %d: %v vs %v", i, dx1[i], dx2[i])
		}
	}
}

func TestWinogradFloat64(t *testing.T) {
	worstF, worstB := 0.0, 0.0
	for i, tc := range winoCases() {
		f, b := checkWinograd[float64](t, tc, int64(i))
		if f > 1e-12 || b > 1e-12 {
			t.Errorf("%v: relative error forward %.3g, backward data %.3g", tc, f, b)
		}
		worstF, worstB = math.Max(worstF, f), math.Max(worstB, b)
	}
	t.Logf("float64 worst relative error: forward %.3g, backward data %.3g", worstF, worstB)
}

func TestWinogradFloat32(t *testing.T) {
	worstF, worstB := 0.0, 0.0
	for i, tc := range winoCases() {
		f, b := checkWinograd[float32](t, tc, int64(i))
		if f > 1e-5 || b > 1e-5 {
			t.Errorf("%v: relative error forward %.3g, backward data %.3g", tc, f, b)
		}
		worstF, worstB = math.Max(worstF, f), math.Max(worstB, b)
	}
	t.Logf("float32 worst relative error: forward %.3g, backward data %.3g", worstF, worstB)
}

// winoResNetLayers are ResNet-34's 3×3 stride-1 convolutions at batch 32 on 32×32 images and
// batch 8 on 224×224 images.
var winoResNetLayers = []winoCase{
	{32, 64, 8, 8, 64, 1, 1, 1, 1, false},
	{32, 128, 4, 4, 128, 1, 1, 1, 1, false},
	{32, 256, 2, 2, 256, 1, 1, 1, 1, false},
	{32, 512, 1, 1, 512, 1, 1, 1, 1, false},
	{8, 64, 56, 56, 64, 1, 1, 1, 1, false},
	{8, 128, 28, 28, 128, 1, 1, 1, 1, false},
	{8, 256, 14, 14, 256, 1, 1, 1, 1, false},
	{8, 512, 7, 7, 512, 1, 1, 1, 1, false},
}

func TestWinogradResNetLayers(t *testing.T) {
	for i, tc := range winoResNetLayers {
		f, b := checkWinograd[float32](t, tc, int64(100+i))
		t.Logf("%v: float32 relative error forward %.3g, backward data %.3g", tc, f, b)
		if f > 1e-5 || b > 1e-5 {
			t.Errorf("%v: relative error forward %.3g, backward data %.3g", tc, f, b)
		}
	}
}

func TestWinogradEligible(t *testing.T) {
	// Only 3×3, stride-1, undilated, ungrouped convolutions.
	for _, tc := range []struct{ kh, kw, s, d, groups int }{
		{3, 3, 2, 1, 1}, {3, 3, 1, 2, 1}, {3, 3, 1, 1, 2}, {1, 1, 1, 1, 1}, {5, 5, 1, 1, 1}, {3, 1, 1, 1, 1},
	} {
		ph, pw := tc.d*(tc.kh-1)/2, tc.d*(tc.kw-1)/2
		g, ok := NewConvGeom(8, 64, 56, 56, 64, tc.groups, tc.kh, tc.kw, tc.s, tc.s, tc.d, tc.d, ph, pw, ph, pw)
		if !ok {
			t.Fatalf("%+v: invalid geometry", tc)
		}
		if winogradSupported(&g) || winogradEligible(&g) {
			t.Errorf("%+v: supported", tc)
		}
	}
	// The ResNet-34 layers: Winograd where the benchmarks show it faster.
	want := []bool{true, true, false, false, true, true, true, true}
	for i, tc := range winoResNetLayers {
		g, _ := tc.geom()
		if got := winogradEligible(&g); got != want[i] {
			t.Errorf("%v: winogradEligible = %v, want %v", tc, got, want[i])
		}
	}
	// Deep layers pay off with enough tiles to share the weight transform.
	g, _ := winoCase{32, 512, 7, 7, 512, 1, 1, 1, 1, false}.geom()
	if !winogradEligible(&g) {
		t.Errorf("7×7×512 at batch 32 not eligible")
	}
}
