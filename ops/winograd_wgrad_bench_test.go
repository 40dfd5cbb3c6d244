package ops

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkWinogradWeight times ResNet-34's 3×3 stride-1 layers' weight gradient in float32, by
// im2col+GEMM and by Winograd F(3×3,2×2). The machine is noisy: run the set several times and
// compare medians, e.g.
//
//	go test -c -o ops.test ./ops
//	for i in 1 2 3 4 5 6 7; do ./ops.test -test.run '^$' -test.bench 'WinogradWeight$' -test.benchtime 0.3s; done
//
// Medians of 7 runs (2-core Sapphire Rapids Xeon, OpenBLAS, AVX-512 transforms), ms per call:
//
//	layer (N, out H×W×C)   im2col  Winograd        winogradWeightEligible
//	32, 8×8×64             1.74    0.80   2.17×    yes
//	32, 4×4×128            1.18    0.89   1.33×    yes
//	32, 2×2×256            1.27    1.32   0.96×    no
//	32, 1×1×512            1.44    3.27   0.44×    no
//	8, 56×56×64            11.4    7.13   1.60×    yes
//	8, 28×28×128           9.35    5.25   1.78×    yes
//	8, 14×14×256           7.78    4.37   1.78×    yes
//	8, 7×7×512             6.99    5.85   1.20×    yes
func BenchmarkWinogradWeight(b *testing.B) {
	for _, tc := range winoResNetLayers {
		g, ok := tc.geom()
		if !ok {
			b.Fatalf("%v: invalid geometry", tc)
		}
		rng := rand.New(rand.NewSource(1))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		dy := winoRandSlice[float32](rng, g.N*g.M*g.OH*g.OW)
		dw := make([]float32, g.M*g.C*9)
		name := fmt.Sprintf("n%d_%dx%dx%d", g.N, g.OH, g.OW, g.M)
		for _, k := range []struct {
			name string
			fn   func()
		}{
			{"im2col", func() { convBackwardWeight(&g, x, dy, dw) }},
			{"winograd", func() { winogradBackwardWeight(&g, x, dy, dw) }},
		} {
			b.Run(name+"/"+k.name, func(b *testing.B) {
				k.fn() // warm the scratch pool
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					k.fn()
				}
			})
		}
	}
}

// BenchmarkWinogradISA times the float32 Winograd convolutions of the ResNet-34 layers with the
// transforms in Go and with each vector path (isa0 Go, isa1 AVX2, isa2 AVX-512). Medians of 7
// runs, ms per call, Go / AVX2 / AVX-512 (speedup of AVX-512 over Go):
//
//	layer (N, out H×W×C)   forward                   backward data             weight gradient
//	32, 8×8×64             0.76 0.77 0.64  1.19×    0.79 0.81 0.65  1.22×    0.91 0.91 0.80  1.13×
//	32, 4×4×128            0.93 0.93 0.79  1.17×    0.92 0.91 0.78  1.19×    1.04 1.03 0.85  1.22×
//	32, 2×2×256            1.34 1.35 1.25  1.07×    1.34 1.32 1.22  1.10×    1.37 1.39 1.32  1.04×
//	32, 1×1×512            3.26 3.24 2.82  1.16×    3.26 3.25 2.89  1.13×    3.65 3.57 3.28  1.11×
//	8, 56×56×64            6.52 5.48 4.98  1.31×    6.88 5.23 4.64  1.49×    8.71 7.13 7.29  1.19×
//	8, 28×28×128           5.83 5.03 4.80  1.21×    5.64 5.19 5.24  1.08×    5.79 5.20 5.47  1.06×
//	8, 14×14×256           4.70 4.68 4.24  1.11×    4.72 4.66 4.15  1.14×    4.90 4.87 4.24  1.16×
//	8, 7×7×512             7.00 7.08 6.54  1.07×    6.93 6.94 6.39  1.08×    6.40 6.34 5.98  1.07×
//
// The GEMMs dominate; what the transforms leave is mostly memory traffic (reading x and dy,
// writing the blocks), which vector code does not shorten.
func BenchmarkWinogradISA(b *testing.B) {
	defer func() { vecISA = bestISA }()
	for _, tc := range winoResNetLayers {
		g, _ := tc.geom()
		rng := rand.New(rand.NewSource(1))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := winoRandSlice[float32](rng, g.M*g.C*9)
		y := winoRandSlice[float32](rng, g.N*g.M*g.OH*g.OW)
		name := fmt.Sprintf("n%d_%dx%dx%d", g.N, g.OH, g.OW, g.M)
		for _, k := range []struct {
			name string
			fn   func()
		}{
			{"fwd", func() { winogradForward(&g, x, w, nil, nil, y) }},
			{"bwd", func() { winogradBackwardData(&g, w, y, x) }},
			{"wgrad", func() { winogradBackwardWeight(&g, x, y, w) }},
		} {
			for _, isa := range vecISAs() {
				b.Run(fmt.Sprintf("%s/%s/isa%d", name, k.name, isa), func(b *testing.B) {
					vecISA = isa
					k.fn()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						k.fn()
					}
				})
			}
		}
	}
}

// BenchmarkWinogradTransforms times the float32 transforms alone on one 256-tile block row
// (input and dy: 16 planes written per tile; output: 16 planes read) or 256 kernels (kernel:
// 3×3 to 16 planes; inverse: 16 planes to 3×3), per ISA, in cache; ns per tile or kernel,
// Go / AVX2 / AVX-512 (the kernel transforms have no AVX2 path):
//
//	input    5.7  1.12  0.75
//	output   3.6  0.62  0.50
//	dy       4.2  0.55  0.34
//	kernel   6.1  6.1   1.55
//	inverse  5.4  5.4   2.0
func BenchmarkWinogradTransforms(b *testing.B) {
	defer func() { vecISA = bestISA }()
	rng := rand.New(rand.NewSource(1))
	const n = 256
	rows := winoRandSlice[float32](rng, 4*(2*n+2))
	out := make([]float32, 16*winoKB)
	kw := winoRandSlice[float32](rng, 9*n)
	ku := make([]float32, 16*winoPlaneStride(n))
	krow := winoRandSlice[float32](rng, 16*wgRowStride(n))
	for _, isa := range vecISAs() {
		r := func(i int) []float32 { return rows[i*(2*n+2) : (i+1)*(2*n+2)] }
		for _, k := range []struct {
			name string
			fn   func()
		}{
			{"input", func() { winoInputRows(r(0), r(1), r(2), r(3), n, out) }},
			{"output", func() { winoOutputRows2(out, n, 0.5, r(0), r(1)) }},
			{"dy", func() { wgDyRows(r(0), r(1), n, out) }},
			{"kernel", func() { winoKernel(kw, 1, n, ku) }},
			{"inverse", func() { wgInverseRow(krow, wgRowStride(n), n, kw) }},
		} {
			b.Run(fmt.Sprintf("%s/isa%d", k.name, isa), func(b *testing.B) {
				vecISA = isa
				for i := 0; i < b.N; i++ {
					k.fn()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/tile")
			})
		}
	}
}

// wgFitLayers are the geometries winogradWeightEligible's cost model was fitted to (3×3, pad 1,
// C = M): batch, side, channels.
var wgFitLayers = [][3]int{
	{8, 56, 64}, {8, 56, 32}, {8, 28, 64}, {8, 28, 128}, {8, 28, 256}, {8, 14, 128}, {8, 14, 256},
	{8, 14, 512}, {8, 7, 256}, {8, 7, 512}, {8, 4, 512}, {8, 4, 256},
	{32, 32, 16}, {32, 16, 32}, {32, 16, 64}, {32, 8, 64}, {32, 8, 128}, {32, 4, 128},
	{32, 4, 256}, {32, 2, 256}, {32, 2, 512}, {32, 1, 512}, {32, 7, 512},
	{1, 56, 64}, {1, 14, 256}, {1, 7, 512}, {2, 28, 128}, {4, 3, 64}, {16, 5, 128},
}

// BenchmarkWinogradWeightFit times both weight-gradient paths on wgFitLayers, in float32.
func BenchmarkWinogradWeightFit(b *testing.B) {
	for _, l := range wgFitLayers {
		tc := winoCase{l[0], l[2], l[1], l[1], l[2], 1, 1, 1, 1, false}
		g, _ := tc.geom()
		rng := rand.New(rand.NewSource(1))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		dy := winoRandSlice[float32](rng, g.N*g.M*g.OH*g.OW)
		dw := make([]float32, g.M*g.C*9)
		for _, k := range []struct {
			name string
			fn   func()
		}{
			{"im2col", func() { convBackwardWeight(&g, x, dy, dw) }},
			{"winograd", func() { winogradBackwardWeight(&g, x, dy, dw) }},
		} {
			b.Run(fmt.Sprintf("n%d_%dx%dx%d/%s", g.N, g.OH, g.OW, g.M, k.name), func(b *testing.B) {
				k.fn()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					k.fn()
				}
			})
		}
	}
}

// BenchmarkWinogradWeightSchedule times both of winogradBackwardWeight's schedules, forced, on
// the ResNet-34 layers (wgWholeBlocks chooses between them).
func BenchmarkWinogradWeightSchedule(b *testing.B) {
	defer func() { wgForce = wgForceNone }()
	for _, tc := range winoResNetLayers {
		g, _ := tc.geom()
		rng := rand.New(rand.NewSource(1))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		dy := winoRandSlice[float32](rng, g.N*g.M*g.OH*g.OW)
		dw := make([]float32, g.M*g.C*9)
		wg := newWinoGeom(g.N, g.C, g.H, g.W, g.M, g.OH, g.OW, g.PT, g.PL)
		for _, f := range []int{wgForceBlocks, wgForcePhases} {
			name := fmt.Sprintf("n%d_%dx%dx%d/blocks%v/chosen%v", g.N, g.OH, g.OW, g.M, f == wgForceBlocks, (f == wgForceBlocks) == wgWholeBlocks(&wg))
			b.Run(name, func(b *testing.B) {
				wgForce = f
				winogradBackwardWeight(&g, x, dy, dw)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					winogradBackwardWeight(&g, x, dy, dw)
				}
			})
		}
	}
}
