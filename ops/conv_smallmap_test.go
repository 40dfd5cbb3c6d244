package ops

import (
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
			smallMapCopy(&g, x, 0, g.N, grp, 0, g.cg(), got, false)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%+v group %d: im2col element %d = %v, want %v", tc, grp, i, got[i], want[i])
				}
			}
			dxWant := winoRandSlice[float32](rng, len(x))
			dxGot := append([]float32(nil), dxWant...)
			col2imRows(&g, want, 0, g.N, grp, 0, g.cg(), dxWant)
			smallMapCopy(&g, dxGot, 0, g.N, grp, 0, g.cg(), want, true)
			for i := range dxWant {
				if dxGot[i] != dxWant[i] {
					t.Fatalf("%+v group %d: col2im element %d = %v, want %v", tc, grp, i, dxGot[i], dxWant[i])
				}
			}
		}
	}
}
