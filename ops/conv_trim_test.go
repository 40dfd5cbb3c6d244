package ops

import (
	"math"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

// TestConvTrimmed: on geometries where kernel taps read only padding (ResNet's 1×1 maps, the
// stride-2 entry to them, a 7×7 kernel on a 3×3 map), the trimmed convolution's output equals
// the full geometry's, and a constant-weights Conv2D computes it.
func TestConvTrimmed(t *testing.T) {
	for _, tc := range []struct {
		n, c, h, m, k, s, p int
		kh, kw              int // the trimmed kernel
	}{
		{4, 6, 1, 5, 3, 1, 1, 1, 1}, // 1×1 map: the centre tap alone, a pointwise layer
		{4, 6, 2, 5, 3, 2, 1, 2, 2}, // 2×2 → 1×1, stride 2: rows and columns 1–2
		{2, 3, 3, 4, 7, 1, 3, 5, 5}, // 7×7 on 3×3, pad 3: the outer ring is dead
	} {
		g, ok := NewConvGeom(tc.n, tc.c, tc.h, tc.h, tc.m, 1, tc.k, tc.k, tc.s, tc.s, 1, 1, tc.p, tc.p, tc.p, tc.p)
		if !ok {
			t.Fatalf("%+v: bad geometry", tc)
		}
		tg, ki0, kj0, ok := g.trimmed()
		if !ok || tg.KH != tc.kh || tg.KW != tc.kw || tg.OH != g.OH || tg.OW != g.OW {
			t.Fatalf("%+v: trimmed to %d×%d (ok %v, out %d×%d), want %d×%d", tc, tg.KH, tg.KW, ok, tg.OH, tg.OW, tc.kh, tc.kw)
		}
		rng := rand.New(rand.NewSource(1))
		x := winoRandSlice[float64](rng, g.N*g.C*g.H*g.W)
		w := winoRandSlice[float64](rng, g.M*g.k())
		dy := winoRandSlice[float64](rng, g.N*g.M*g.ohw())
		tw := make([]float64, tg.M*tg.k())
		trimWeights(&g, &tg, ki0, kj0, w, tw)

		y, yt := make([]float64, len(dy)), make([]float64, len(dy))
		convForward(&g, x, w, nil, y)
		convForward(&tg, x, tw, nil, yt)
		near(t, "output", yt, y)
		op := &Conv2D{Geom: g, ConstWeights: true}
		yo := make([]float64, len(dy))
		for pass := 0; pass < 2; pass++ { // the first pass keeps the live taps, the second reads them
			runConvSlices(op, x, w, yo)
			near(t, "Conv2D output", yo, y)
		}
		if op.trimW64 == nil {
			t.Errorf("%+v: the constant-weights convolution kept no trimmed weights", tc)
		}
	}
	// Every tap live: not trimmed.
	g, _ := NewConvGeom(2, 3, 4, 4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
	if _, _, _, ok := g.trimmed(); ok {
		t.Error("a 3×3 kernel on a 4×4 map was trimmed")
	}
}

func near(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// runConvSlices runs op's forward kernel on float64 slices.
func runConvSlices(op *Conv2D, x, w, y []float64) {
	g := &op.Geom
	xt := tensor.New(tensor.WithShape(g.N, g.C, g.H, g.W), tensor.WithBacking(x))
	wt := tensor.New(tensor.WithShape(g.M, g.cg(), g.KH, g.KW), tensor.WithBacking(w))
	yt := tensor.New(tensor.WithShape(g.N, g.M, g.OH, g.OW), tensor.WithBacking(y))
	runConv[float64](op, yt, []*tensor.Dense{xt, wt})
}
