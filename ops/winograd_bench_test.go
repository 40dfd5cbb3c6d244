package ops

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkWinograd times ResNet-34's 3×3 stride-1 layers (batch 32 on 32×32 images, batch 8
// on 224×224) forward and backward-data in float32, by im2col+GEMM and by Winograd. The machine
// these were tuned on is noisy, so run the whole set several times and compare medians:
//
//	go test -c -o ops.test ./ops
//	for i in 1 2 3 4 5 6 7; do ./ops.test -test.run '^$' -test.bench Winograd -test.benchtime 0.3s; done
//
// Medians of 7 such runs (2-core Xeon, AVX-512, OpenBLAS), ms per call, im2col / Winograd:
//
//	layer (N, out H×W×C)   forward               backward data
//	32, 8×8×64             1.87 / 0.82  2.29×    1.46 / 0.82  1.78×
//	32, 4×4×128            1.18 / 0.90  1.31×    0.95 / 0.90  1.05×
//	32, 2×2×256            1.20 / 1.29  0.93×    1.07 / 1.28  0.84×
//	32, 1×1×512            1.60 / 3.74  0.43×    1.48 / 3.72  0.40×
//	8, 56×56×64            12.8 / 7.03  1.83×    12.9 / 6.71  1.93×
//	8, 28×28×128           9.51 / 6.30  1.51×    10.0 / 6.63  1.51×
//	8, 14×14×256           9.61 / 5.75  1.67×    9.14 / 5.79  1.58×
//	8, 7×7×512             8.87 / 8.12  1.09×    8.76 / 7.68  1.14×
//
// 7×7×512 at batch 8 varies between 0.8× and 1.2× from run to run; winogradEligible leaves it to
// im2col, as it does 2×2 and 1×1.
func BenchmarkWinograd(b *testing.B) {
	for _, tc := range winoResNetLayers {
		g, ok := tc.geom()
		if !ok {
			b.Fatalf("%v: invalid geometry", tc)
		}
		rng := rand.New(rand.NewSource(1))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := winoRandSlice[float32](rng, g.M*g.C*9)
		y := winoRandSlice[float32](rng, g.N*g.M*g.OH*g.OW)
		name := fmt.Sprintf("n%d_%dx%dx%d", g.N, g.OH, g.OW, g.M)
		for _, k := range []struct {
			name string
			fn   func()
		}{
			{"fwd/im2col", func() { convForward(&g, x, w, nil, y) }},
			{"fwd/winograd", func() { winogradForward(&g, x, w, nil, nil, y) }},
			{"bwd/im2col", func() { convBackwardData(&g, w, y, x) }},
			{"bwd/winograd", func() { winogradBackwardData(&g, w, y, x) }},
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
