package ops

import (
	"math"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

// TestMaxPoolRules: max pooling's forward pass gives each window's maximum (NaN if the window
// has one) and its backward pass routes each gradient to the window's first maximum in row-major
// order (maxWindowArg's rule), on random geometries (strides, dilations, pads, ceil mode) and
// inputs full of ties, signed zeros and NaNs.
func TestMaxPoolRules(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	values := []float32{-1, 0, float32(math.Copysign(0, -1)), 1, 2, float32(math.Inf(-1))}
	cases := 0
	stems := 0
	for cases < 300 {
		k := [2]int{1 + rng.Intn(3), 1 + rng.Intn(3)}
		s := [2]int{1 + rng.Intn(3), 1 + rng.Intn(3)}
		d := [2]int{1 + rng.Intn(2), 1 + rng.Intn(2)}
		p := [2]int{rng.Intn(k[0] * d[0]), rng.Intn(k[1] * d[1])}
		pe := [2]int{rng.Intn(k[0] * d[0]), rng.Intn(k[1] * d[1])}
		shape := tensor.Shape{1 + rng.Intn(2), 1 + rng.Intn(3), 1 + rng.Intn(12), 1 + rng.Intn(20)}
		ceil := rng.Intn(2) == 0
		if cases%3 == 0 { // ResNet's stem pooling (maxRow3s2), rows of 1 to 40 outputs
			k, s, d, p, pe = [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}
			shape[3], ceil = 2*(1+rng.Intn(40)), false
		}
		g, err := NewPoolGeom(shape, k, s, d, p, pe, ceil)
		if err != nil {
			continue
		}
		cases++
		if g.stem() {
			stems++
		}
		x := make([]float32, shape.TotalSize())
		for i := range x {
			x[i] = values[rng.Intn(len(values))]
			if rng.Intn(40) == 0 {
				x[i] = float32(math.NaN())
			}
		}
		dy := make([]float32, g.N*g.C*g.OH*g.OW)
		for i := range dy {
			dy[i] = float32(rng.NormFloat64())
		}
		y := make([]float32, len(dy))
		maxPoolFwd(&g, x, y)
		dx := make([]float32, len(x))
		maxPoolBwd(&g, x, dy, dx)
		want := make([]float32, len(x))
		hw, ohw := g.H*g.W, g.OH*g.OW
		for pl := 0; pl < g.N*g.C; pl++ {
			xp := x[pl*hw : (pl+1)*hw]
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					o := pl*ohw + oh*g.OW + ow
					m, nan := float32(math.Inf(-1)), false
					for i := 0; i < g.KH; i++ {
						for j := 0; j < g.KW; j++ {
							ih, iw := oh*g.SH-g.PT+i*g.DH, ow*g.SW-g.PL+j*g.DW
							if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
								v := xp[ih*g.W+iw]
								nan = nan || v != v
								m = max(m, v)
							}
						}
					}
					if got := y[o]; nan && got == got || !nan && math.Float32bits(got) != math.Float32bits(m) {
						t.Fatalf("%+v: y[%d] = %g, want %g", g, o, got, m)
					}
					if at := maxWindowArg(&g, xp, oh, ow); at >= 0 {
						want[pl*hw+at] += dy[o]
					}
				}
			}
		}
		for i := range want {
			if math.Float32bits(dx[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: dx[%d] = %g, want %g", g, i, dx[i], want[i])
			}
		}
	}
	if stems < 50 {
		t.Fatalf("only %d stem geometries", stems)
	}
}
