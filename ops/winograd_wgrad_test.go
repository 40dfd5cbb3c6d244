package ops

import (
	"math"
	"math/rand"
	"runtime"
	"testing"
)

// winoNaiveBackwardWeight is winoNaiveConv's gradient in w, accumulated in float64.
func winoNaiveBackwardWeight[T Float](g *ConvGeom, x, dy, dw []T) {
	for m := 0; m < g.M; m++ {
		for c := 0; c < g.C; c++ {
			for a := 0; a < 3; a++ {
				for b := 0; b < 3; b++ {
					var sum float64
					for n := 0; n < g.N; n++ {
						for r := 0; r < g.OH; r++ {
							i := r - g.PT + a
							if i < 0 || i >= g.H {
								continue
							}
							for s := 0; s < g.OW; s++ {
								j := s - g.PL + b
								if j >= 0 && j < g.W {
									sum += float64(dy[((n*g.M+m)*g.OH+r)*g.OW+s]) * float64(x[((n*g.C+c)*g.H+i)*g.W+j])
								}
							}
						}
					}
					dw[((m*g.C+c)*3+a)*3+b] = T(sum)
				}
			}
		}
	}
}

// checkWinogradWeight compares winogradBackwardWeight with convBackwardWeight (or, where im2col
// cannot run, winoNaiveBackwardWeight) on random data, returning the relative error.
func checkWinogradWeight[T Float](t *testing.T, tc winoCase, seed int64) float64 {
	t.Helper()
	g, ok := tc.geom()
	if !ok {
		t.Fatalf("%v: invalid geometry", tc)
	}
	rng := rand.New(rand.NewSource(seed))
	x := winoRandSlice[T](rng, g.N*g.C*g.H*g.W)
	dy := winoRandSlice[T](rng, g.N*g.M*g.OH*g.OW)
	want := make([]T, g.M*g.C*9)
	got := make([]T, len(want))
	for i := range got {
		got[i] = T(math.NaN()) // every element must be written
	}
	if winoIm2colPanics(&g) {
		winoNaiveBackwardWeight(&g, x, dy, want)
	} else {
		convBackwardWeight(&g, x, dy, want)
	}
	winogradBackwardWeight(&g, x, dy, got)
	e := winoRelErr(got, want)
	if math.IsNaN(e) {
		t.Fatalf("%v: weight gradient not fully written", tc)
	}
	return e
}

// TestWinoNaiveWeightMatchesIm2col checks the reference against convBackwardWeight.
func TestWinoNaiveWeightMatchesIm2col(t *testing.T) {
	checked := 0
	for i, tc := range winoCases() {
		g, _ := tc.geom()
		if winoIm2colPanics(&g) {
			continue
		}
		checked++
		rng := rand.New(rand.NewSource(int64(i)))
		x := winoRandSlice[float64](rng, g.N*g.C*g.H*g.W)
		dy := winoRandSlice[float64](rng, g.N*g.M*g.OH*g.OW)
		dw1, dw2 := make([]float64, g.M*g.C*9), make([]float64, g.M*g.C*9)
		convBackwardWeight(&g, x, dy, dw1)
		winoNaiveBackwardWeight(&g, x, dy, dw2)
		if e := winoRelErr(dw2, dw1); e > 1e-12 {
			t.Errorf("%v: naive reference differs from im2col by %.3g", tc, e)
		}
	}
	t.Logf("%d of %d geometries checked", checked, len(winoCases()))
}

func TestWinogradWeightFloat64(t *testing.T) {
	worst := 0.0
	for i, tc := range winoCases() {
		e := checkWinogradWeight[float64](t, tc, int64(i))
		if e > 1e-12 {
			t.Errorf("%v: relative error %.3g", tc, e)
		}
		worst = math.Max(worst, e)
	}
	t.Logf("float64 worst relative error: %.3g", worst)
}

func TestWinogradWeightFloat32(t *testing.T) {
	worst := 0.0
	for i, tc := range winoCases() {
		e := checkWinogradWeight[float32](t, tc, int64(i))
		if e > 1e-5 {
			t.Errorf("%v: relative error %.3g", tc, e)
		}
		worst = math.Max(worst, e)
	}
	t.Logf("float32 worst relative error: %.3g", worst)
}

// TestWinogradWeightWorkers checks both schedules (whole blocks per worker with partial sums,
// phases split over the workers), each forced and chosen, under several worker counts, with
// blocks that span images and tile rows.
func TestWinogradWeightWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cases := []winoCase{
		{4, 5, 33, 35, 6, 0, 2, 1, 1, false},
		{3, 6, 17, 15, 9, 1, 1, 1, 1, false},
		{1, 3, 5, 6, 4, 2, 1, 1, 0, false},
		{2, 70, 24, 24, 33, 1, 1, 1, 1, false},
		{5, 3, 31, 29, 2, 1, 0, 0, 1, false},
		{2, 40, 20, 21, 50, 1, 1, 1, 1, false},
		{1, 2, 2, 90, 3, 0, 1, 2, 0, false},
		{1, 1, 1, 1, 1, 1, 1, 1, 1, false},
		{2, 3, 3, 3, 2, 0, 0, 0, 0, false},
	}
	defer func() { wgForce = wgForceNone }()
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		for _, force := range []int{wgForceNone, wgForceBlocks, wgForcePhases} {
			wgForce = force
			for i, tc := range cases {
				e := checkWinogradWeight[float64](t, tc, int64(i))
				if e > 1e-12 {
					t.Errorf("GOMAXPROCS %d, schedule %d, %v: relative error %.3g", procs, force, tc, e)
				}
			}
		}
	}
}

// TestWinogradWeightDeterministic checks that repeated runs give bitwise the same gradient, in
// both schedules.
func TestWinogradWeightDeterministic(t *testing.T) {
	for _, tc := range []winoCase{
		{4, 16, 40, 40, 16, 1, 1, 1, 1, false}, // whole blocks
		{2, 64, 7, 7, 64, 1, 1, 1, 1, false},   // phases
	} {
		g, _ := tc.geom()
		rng := rand.New(rand.NewSource(5))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		dy := winoRandSlice[float32](rng, g.N*g.M*g.OH*g.OW)
		first := make([]float32, g.M*g.C*9)
		winogradBackwardWeight(&g, x, dy, first)
		for run := 0; run < 10; run++ {
			got := make([]float32, len(first))
			winogradBackwardWeight(&g, x, dy, got)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%v: run %d differs at %d: %v vs %v", tc, run, i, got[i], first[i])
				}
			}
		}
	}
}

func TestWinogradWeightResNetLayers(t *testing.T) {
	for i, tc := range winoResNetLayers {
		e := checkWinogradWeight[float32](t, tc, int64(200+i))
		e64 := checkWinogradWeight[float64](t, tc, int64(200+i))
		g, _ := tc.geom()
		t.Logf("%v: relative error float32 %.3g, float64 %.3g; eligible %v", tc, e, e64, winogradWeightEligible(&g))
		if e > 1e-5 || e64 > 1e-12 {
			t.Errorf("%v: relative error float32 %.3g, float64 %.3g", tc, e, e64)
		}
	}
}

// vecISAs lists the instruction sets this machine can run the float32 transforms with.
func vecISAs() []int {
	var l []int
	for isa := isaGo; isa <= bestISA; isa++ {
		l = append(l, isa)
	}
	return l
}

// TestWinogradTransformsVector checks each vector path of the float32 transforms against the
// Go code, bitwise, for tile counts around the vector widths, and that it writes nothing
// outside its output.
func TestWinogradTransformsVector(t *testing.T) {
	defer func() { vecISA = bestISA }()
	rng := rand.New(rand.NewSource(11))
	const canary = float32(12345)
	fill := func(n int, c float32) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = c
		}
		return s
	}
	same := func(what string, isa, n int, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s, ISA %d, n %d: element %d is %v, want %v", what, isa, n, i, got[i], want[i])
			}
		}
	}
	for _, isa := range vecISAs()[1:] {
		for n := 1; n <= 70; n++ {
			vecISA = isa
			// Rows with exactly the columns the tiles read; values with many significant bits
			// so that any reordering of the additions would show.
			rows := make([][]float32, 4)
			for i := range rows {
				rows[i] = winoRandSlice[float32](rng, 2*n+2)
			}
			out1, out2 := fill(16*winoKB, canary), fill(16*winoKB, canary)
			winoInputRows(rows[0], rows[1], rows[2], rows[3], n, out1)
			winoInputRowsGo(rows[0], rows[1], rows[2], rows[3], n, out2)
			same("input transform", isa, n, out1, out2)

			in := winoRandSlice[float32](rng, 16*winoKB)
			bv := float32(rng.Float64())
			y1 := [2][]float32{fill(2*n+3, canary), fill(2*n+3, canary)}
			y2 := [2][]float32{fill(2*n+3, canary), fill(2*n+3, canary)}
			winoOutputRows2(in, n, bv, y1[0][:2*n], y1[1][:2*n])
			winoOutputRows2Go(in, n, bv, y2[0][:2*n], y2[1][:2*n])
			same("output transform row 0", isa, n, y1[0], y2[0])
			same("output transform row 1", isa, n, y1[1], y2[1])

			// Kernel transform of n kernels (m×c = 1×n and n×1), and inverse transform of a
			// row of n kernels.
			for _, mc := range [][2]int{{1, n}, {n, 1}, {3, n}} {
				w := winoRandSlice[float32](rng, 9*mc[0]*mc[1])
				u1 := fill(16*winoPlaneStride(mc[0]*mc[1]), canary)
				u2 := fill(len(u1), canary)
				winoKernel(w, mc[0], mc[1], u1)
				vecISA = isaGo
				winoKernel(w, mc[0], mc[1], u2)
				vecISA = isa
				same("kernel transform", isa, n, u1, u2)
			}
			cs := wgRowStride(n)
			row := winoRandSlice[float32](rng, 16*cs)
			k1, k2 := fill(9*n+5, canary), fill(9*n+5, canary)
			wgInverseRow(row, cs, n, k1[:9*n])
			wgInverseRowGo(row, cs, n, k2[:9*n])
			same("inverse transform", isa, n, k1, k2)

			d0, d1 := winoRandSlice[float32](rng, 2*n), winoRandSlice[float32](rng, 2*n)
			out1, out2 = fill(16*winoKB, canary), fill(16*winoKB, canary)
			wgDyRows(d0, d1, n, out1)
			wgDyRowsGo(d0, d1, n, out2)
			same("dy transform", isa, n, out1, out2)
		}
	}
}

// TestWinogradVectorWhole checks that the float32 convolutions give bitwise the same results
// on every instruction set.
func TestWinogradVectorWhole(t *testing.T) {
	defer func() { vecISA = bestISA }()
	for i, tc := range append(winoCases()[:40], winoResNetLayers[4], winoResNetLayers[0]) {
		g, _ := tc.geom()
		rng := rand.New(rand.NewSource(int64(i)))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := winoRandSlice[float32](rng, g.M*g.C*9)
		dy := winoRandSlice[float32](rng, g.N*g.M*g.OH*g.OW)
		var bias []float32
		if tc.bias {
			bias = winoRandSlice[float32](rng, g.M)
		}
		var ref [3][]float32
		for _, isa := range vecISAs() {
			vecISA = isa
			y := make([]float32, len(dy))
			dx := make([]float32, len(x))
			dw := make([]float32, len(w))
			winogradForward(&g, x, w, bias, nil, y)
			winogradBackwardData(&g, w, dy, dx)
			winogradBackwardWeight(&g, x, dy, dw)
			for k, got := range [3][]float32{y, dx, dw} {
				if isa == isaGo {
					ref[k] = got
					continue
				}
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(ref[k][j]) {
						t.Fatalf("%v, ISA %d: result %d differs at %d: %v vs %v", tc, isa, k, j, got[j], ref[k][j])
					}
				}
			}
		}
	}
}

func TestWinogradWeightEligible(t *testing.T) {
	for _, tc := range []struct{ kh, kw, s, d, groups int }{
		{3, 3, 2, 1, 1}, {3, 3, 1, 2, 1}, {3, 3, 1, 1, 2}, {1, 1, 1, 1, 1}, {5, 5, 1, 1, 1},
	} {
		ph, pw := tc.d*(tc.kh-1)/2, tc.d*(tc.kw-1)/2
		g, _ := NewConvGeom(8, 64, 56, 56, 64, tc.groups, tc.kh, tc.kw, tc.s, tc.s, tc.d, tc.d, ph, pw, ph, pw)
		if winogradWeightEligible(&g) {
			t.Errorf("%+v: eligible", tc)
		}
	}
	// The ResNet-34 layers: Winograd where BenchmarkWinogradWeight shows it faster.
	want := []bool{true, true, false, false, true, true, true, true}
	for i, tc := range winoResNetLayers {
		g, _ := tc.geom()
		if got := winogradWeightEligible(&g); got != want[i] {
			t.Errorf("%v: winogradWeightEligible = %v, want %v", tc, got, want[i])
		}
	}
}
