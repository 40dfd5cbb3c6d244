package ops

import (
	"math/rand"
	"testing"
)

// TestConvRowStrips: a stem-like layer (7×7, stride 2, pad 3, 3 input channels) whose single
// image's im2col matrix outgrows colTarget is computed in strips of output rows; its forward
// pass (bias and ReLU included) and weight gradient must equal a direct float64 convolution.
func TestConvRowStrips(t *testing.T) {
	g, ok := NewConvGeom(2, 3, 171, 170, 16, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3)
	if !ok {
		t.Fatal("bad geometry")
	}
	if s := g.rowStrips(); s < 2 {
		t.Fatalf("rowStrips = %d, want strips for a %d×%d im2col matrix per image", s, g.k(), g.ohw())
	}
	rng := rand.New(rand.NewSource(3))
	x := winoRandSlice[float32](rng, g.N*g.C*g.H*g.W)
	w := winoRandSlice[float32](rng, g.M*g.k())
	bias := winoRandSlice[float32](rng, g.M)
	dy := winoRandSlice[float32](rng, g.N*g.M*g.ohw())

	// direct float64 convolution and weight gradient
	want := make([]float64, len(dy))
	dwWant := make([]float64, len(w))
	for b := 0; b < g.N; b++ {
		for m := 0; m < g.M; m++ {
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					o := ((b*g.M+m)*g.OH+oh)*g.OW + ow
					s := float64(bias[m])
					for c := 0; c < g.C; c++ {
						for i := 0; i < g.KH; i++ {
							ih := oh*g.SH - g.PT + i
							if ih < 0 || ih >= g.H {
								continue
							}
							for j := 0; j < g.KW; j++ {
								iw := ow*g.SW - g.PL + j
								if iw < 0 || iw >= g.W {
									continue
								}
								xv := float64(x[((b*g.C+c)*g.H+ih)*g.W+iw])
								k := ((m*g.C+c)*g.KH+i)*g.KW + j
								s += float64(w[k]) * xv
								dwWant[k] += float64(dy[o]) * xv
							}
						}
					}
					want[o] = max(s, 0)
				}
			}
		}
	}
	y := make([]float32, len(dy))
	convForwardCached(&g, x, w, bias, y, nil, &Unary{Kind: Relu})
	dw := make([]float32, len(w))
	convBackwardWeight(&g, x, dy, dw)
	if e := winoRelErr(y, toF32(want)); e > 1e-6 {
		t.Errorf("forward: relative error %.2e", e)
	}
	if e := winoRelErr(dw, toF32(dwWant)); e > 1e-5 {
		t.Errorf("weight gradient: relative error %.2e", e)
	}
}

func toF32(v []float64) []float32 {
	r := make([]float32, len(v))
	for i, x := range v {
		r[i] = float32(x)
	}
	return r
}
