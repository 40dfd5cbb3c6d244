package ops

import (
	"math"
	"math/rand"
	"testing"
)

// TestSmallMapCopy: for small output planes (padding, strides, dilation, groups, a kernel
// larger than the plane), im2col and col2im through the offset table give bitwise what the
// row-by-row loops give.
func TestSmallMapCopy(t *testing.T) {
	for _, tc := range []struct{ n, c, h, m, groups, k, s, d, p int }{
		{3, 4, 2, 4, 1, 3, 1, 1, 1}, // ResNet's 2×2 stage at 32×32
		{2, 5, 1, 3, 1, 3, 1, 1, 1}, // a 1×1 plane: only the centre tap reads data
		{2, 3, 7, 2, 1, 3, 2, 1, 1}, // stride 2: 7×7 → 4×4
		{2, 4, 6, 4, 2, 3, 1, 2, 2}, // dilation 2, two groups
		{1, 2, 3, 2, 1, 5, 1, 1, 2}, // a 5×5 kernel over a 3×3 plane
	} {
		g, ok := NewConvGeom(tc.n, tc.c, tc.h, tc.h, tc.m, tc.groups, tc.k, tc.k, tc.s, tc.s, tc.d, tc.d, tc.p, tc.p, tc.p, tc.p)
		if !ok || !g.smallMap() {
			t.Fatalf("%+v: want a valid smallMap geometry", tc)
		}
		rng := rand.New(rand.NewSource(1))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		ncols := g.N * g.ohw()
		for grp := 0; grp < g.Groups; grp++ {
			want := winoRandSlice[float32](rng, g.k()*ncols)
			got := append([]float32(nil), want...)
			im2colRows(&g, x, 0, g.N, grp, 0, g.cg(), 0, g.OH, want)
			smallMapCopy(&g, x, 0, g.N, grp, 0, g.cg(), got, 0, false)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%+v group %d: im2col element %d = %v, want %v", tc, grp, i, got[i], want[i])
				}
			}
			dxWant := winoRandSlice[float32](rng, len(x))
			dxGot := append([]float32(nil), dxWant...)
			col2imRows(&g, want, 0, g.N, grp, 0, g.cg(), dxWant)
			smallMapCopy(&g, dxGot, 0, g.N, grp, 0, g.cg(), want, 0, true)
			for i := range dxWant {
				if dxGot[i] != dxWant[i] {
					t.Fatalf("%+v group %d: col2im element %d = %v, want %v", tc, grp, i, dxGot[i], dxWant[i])
				}
			}
		}
	}
}

// TestSmallMapProduct: the forward pass of small-map layers with their im2col built slice by
// slice (smallMapProduct, on one worker and on several) equals a float64 direct convolution.
func TestSmallMapProduct(t *testing.T) {
	for _, tc := range []struct{ n, c, h, m, k, s, p int }{
		{3, 70, 2, 9, 3, 1, 1}, // 70 channels: three slices of 28, the last one short
		{2, 5, 4, 6, 3, 2, 1},  // stride 2 onto a 2×2 map
		{4, 40, 7, 3, 1, 1, 0}, // a 1×1 kernel on a 7×7 map
	} {
		g, ok := NewConvGeom(tc.n, tc.c, tc.h, tc.h, tc.m, 1, tc.k, tc.k, tc.s, tc.s, 1, 1, tc.p, tc.p, tc.p, tc.p)
		if !ok || !g.smallMap() {
			t.Fatalf("%+v: want a valid smallMap geometry", tc)
		}
		rng := rand.New(rand.NewSource(2))
		x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := winoRandSlice[float32](rng, g.M*g.k())
		want := make([]float64, g.N*g.M*g.ohw())
		for b := 0; b < g.N; b++ {
			for m := 0; m < g.M; m++ {
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						var s float64
						for c := 0; c < g.C; c++ {
							for i := 0; i < g.KH; i++ {
								for j := 0; j < g.KW; j++ {
									ih, iw := oh*g.SH-g.PT+i, ow*g.SW-g.PL+j
									if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
										s += float64(w[((m*g.C+c)*g.KH+i)*g.KW+j]) * float64(x[((b*g.C+c)*g.H+ih)*g.W+iw])
									}
								}
							}
						}
						want[((b*g.M+m)*g.OH+oh)*g.OW+ow] = s
					}
				}
			}
		}
		for _, parallel := range []bool{false, true} {
			ncols := g.N * g.ohw()
			out := make([]float32, g.M*ncols)
			smallMapProduct(&g, x, w, 0, g.N, out, ncols, parallel)
			for b := 0; b < g.N; b++ {
				for m := 0; m < g.M; m++ {
					for p := 0; p < g.ohw(); p++ {
						got, wv := float64(out[m*ncols+b*g.ohw()+p]), want[(b*g.M+m)*g.ohw()+p]
						if math.Abs(got-wv) > 1e-4*(1+math.Abs(wv)) {
							t.Fatalf("%+v parallel=%v: image %d, channel %d, pixel %d: %v, want %v", tc, parallel, b, m, p, got, wv)
						}
					}
				}
			}
		}
	}
}
