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
// Medians of 4 such runs on 2026-11-27 (2-core Xeon, AVX-512, OpenBLAS), ms per call,
// im2col / Winograd (the first fit, before the later kernel changes, had 7×7×512 at 1.09× and
// left it to im2col):
//
//	layer (N, out H×W×C)   forward               backward data
//	32, 8×8×64             1.35 / 0.68  1.99×    1.23 / 0.70  1.76×
//	32, 4×4×128            1.20 / 0.80  1.50×    1.21 / 0.78  1.55×
//	32, 2×2×256            1.41 / 1.48  0.95×    1.28 / 1.23  1.04×
//	32, 1×1×512            1.43 / 3.46  0.41×    1.34 / 2.97  0.45×
//	8, 56×56×64            12.3 / 5.00  2.46×    13.0 / 4.86  2.67×
//	8, 28×28×128           9.89 / 5.54  1.79×    11.1 / 6.07  1.83×
//	8, 14×14×256           9.63 / 4.51  2.13×    10.0 / 4.35  2.30×
//	8, 7×7×512             8.93 / 7.12  1.25×    9.09 / 7.07  1.29×
//
// winogradEligible leaves 2×2 and 1×1 to im2col.
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
