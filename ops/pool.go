package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PoolGeom is the geometry of a 2-D pooling window over NCHW tensors.
type PoolGeom struct {
	N, C, H, W     int
	KH, KW         int
	SH, SW         int
	DH, DW         int
	PT, PL, PB, PR int
	OH, OW         int
	// CountIncludePad makes AveragePool divide by the window clipped to the padded input rather
	// than by the number of real input pixels in it (ONNX count_include_pad, PyTorch's default 1,
	// ONNX's default 0).
	CountIncludePad bool
}

// poolOut is the output length of one axis; with ceil rounding the last window must still start
// inside the input or its leading pad, as in PyTorch and ONNX.
func poolOut(in, k, s, d, p0, p1 int, ceil bool) int {
	span := in + p0 + p1 - d*(k-1) - 1
	if span < 0 {
		return 0
	}
	o := span/s + 1
	if ceil && span%s != 0 {
		o++
		if (o-1)*s >= in+p0 {
			o--
		}
	}
	return o
}

// NewPoolGeom computes the output size.
func NewPoolGeom(shape tensor.Shape, k, s, d, pads [2]int, padsEnd [2]int, ceil bool) (PoolGeom, error) {
	if len(shape) != 4 {
		return PoolGeom{}, fmt.Errorf("pool: want a 4-D NCHW input, got %v", shape)
	}
	g := PoolGeom{N: shape[0], C: shape[1], H: shape[2], W: shape[3], KH: k[0], KW: k[1], SH: s[0], SW: s[1], DH: d[0], DW: d[1],
		PT: pads[0], PL: pads[1], PB: padsEnd[0], PR: padsEnd[1]}
	if g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 {
		return g, fmt.Errorf("pool: kernel %v, strides %v and dilations %v must be positive", k, s, d)
	}
	if g.PT >= g.KH*g.DH || g.PB >= g.KH*g.DH || g.PL >= g.KW*g.DW || g.PR >= g.KW*g.DW {
		return g, fmt.Errorf("pool: pads %v/%v must be smaller than the kernel %v", pads, padsEnd, k)
	}
	g.OH = poolOut(g.H, g.KH, g.SH, g.DH, g.PT, g.PB, ceil)
	g.OW = poolOut(g.W, g.KW, g.SW, g.DW, g.PL, g.PR, ceil)
	if g.OH < 1 || g.OW < 1 {
		return g, fmt.Errorf("pool: input %v is smaller than the window %v", shape, k)
	}
	return g, nil
}

func (g *PoolGeom) outShape() tensor.Shape { return tensor.Shape{g.N, g.C, g.OH, g.OW} }

// MaxPool is ONNX's MaxPool (2-D, with pads, strides, dilations and ceil_mode). Padding never
// wins the max.
type MaxPool struct {
	base
	Geom PoolGeom
}

// NewMaxPool adds a max-pool of x to the graph.
func NewMaxPool(x *G.Node, g PoolGeom) (*G.Node, error) {
	return apply(&MaxPool{base: newBase(fmt.Sprintf("MaxPool%dx%d/s%d", g.KH, g.KW, g.SH), g.outShape(), x.Shape()), Geom: g}, x)
}

// maxPlaneBwd adds each dy of one channel plane into dx at its window's first maximum (in
// row-major order). The window's maximum is found branch-free as in maxPlaneFwd, then the scan
// for it stops at the first hit: one mispredicted branch per window instead of several (27 ms
// of a ResNet-34 step at 224×224 before). A NaN in the window falls back to maxWindowArg, whose
// rule it is. colMax is scratch of length W.
func maxPlaneBwd[T Float](g *PoolGeom, x, dy, dx, colMax []T) {
	for oh := 0; oh < g.OH; oh++ {
		ih0 := oh*g.SH - g.PT
		ilo, ihi := validRange(ih0, g.DH, g.H, g.KH)
		if ilo == ihi {
			continue // the window lies in the padding: nothing to route
		}
		windowColMax(g, x, ih0, ilo, ihi, colMax)
		for ow := 0; ow < g.OW; ow++ {
			iw0 := ow*g.SW - g.PL
			jlo, jhi := validRange(iw0, g.DW, g.W, g.KW)
			if jlo == jhi {
				continue
			}
			best := rowWindowMax(colMax, iw0, jlo, jhi, g.DW)
			at := -1
		scan:
			for i := ilo; i < ihi; i++ {
				base := (ih0+i*g.DH)*g.W + iw0
				for j := jlo; j < jhi; j++ {
					if x[base+j*g.DW] == best {
						at = base + j*g.DW
						break scan
					}
				}
			}
			if at < 0 {
				at = maxWindowArg(g, x, oh, ow)
			}
			dx[at] += dy[oh*g.OW+ow]
		}
	}
}

// maxWindowArg is the index of the first maximum of window (oh, ow) in row-major order, NaNs
// skipped unless the window starts with one; -1 for a window in the padding.
func maxWindowArg[T Float](g *PoolGeom, x []T, oh, ow int) int {
	best := T(math.Inf(-1))
	at := -1
	for i := 0; i < g.KH; i++ {
		ih := oh*g.SH - g.PT + i*g.DH
		if ih < 0 || ih >= g.H {
			continue
		}
		for j := 0; j < g.KW; j++ {
			iw := ow*g.SW - g.PL + j*g.DW
			if iw < 0 || iw >= g.W {
				continue
			}
			if v := x[ih*g.W+iw]; v > best || at < 0 {
				best, at = v, ih*g.W+iw
			}
		}
	}
	return at
}

// windowColMax sets colMax to the element-wise maximum of the input rows ih0 + i·DH, i in
// [ilo,ihi) (not empty), eight lanes at a time where it can.
func windowColMax[T Float](g *PoolGeom, x []T, ih0, ilo, ihi int, colMax []T) {
	copy(colMax, x[(ih0+ilo*g.DH)*g.W:(ih0+ilo*g.DH+1)*g.W])
	for i := ilo + 1; i < ihi; i++ {
		row := x[(ih0+i*g.DH)*g.W : (ih0+i*g.DH+1)*g.W]
		j := 0
		if c32, ok := any(colMax).([]float32); ok {
			j = maxVec(c32, any(row).([]float32))
		}
		for ; j < len(row); j++ {
			colMax[j] = max(colMax[j], row[j])
		}
	}
}

// maxPlaneFwd is maxPlane's forward pass without the argmax, separably: for each output row
// the element-wise maximum of the window's input rows is taken first (eight lanes at a time,
// maxVec), then each window's maximum along that row. Both steps are branch-free (the
// comparisons of maxPlane mispredict on real activations; ResNet's 3×3 pooling at 224×224 took
// 25 ms a step), and a 3×3 window costs 3 + 3 instead of 9 scalar maxima. Like PyTorch, a NaN in
// the window gives NaN. colMax is scratch of length W.
func maxPlaneFwd[T Float](g *PoolGeom, x, y, colMax []T) {
	negInf := T(math.Inf(-1))
	for oh := 0; oh < g.OH; oh++ {
		ih0 := oh*g.SH - g.PT
		ilo, ihi := validRange(ih0, g.DH, g.H, g.KH)
		if ilo == ihi { // the window lies in the padding
			for i := range colMax {
				colMax[i] = negInf
			}
		} else {
			windowColMax(g, x, ih0, ilo, ihi, colMax)
		}
		if c32, ok := any(colMax).([]float32); ok && g.stem() {
			maxRow3s2(c32, any(y[oh*g.OW:(oh+1)*g.OW]).([]float32))
			continue
		}
		for ow := 0; ow < g.OW; ow++ {
			iw0 := ow*g.SW - g.PL
			jlo, jhi := validRange(iw0, g.DW, g.W, g.KW)
			y[oh*g.OW+ow] = rowWindowMax(colMax, iw0, jlo, jhi, g.DW)
		}
	}
}

// rowWindowMax is the maximum of colMax[iw0 + j·dw] for j in [jlo,jhi) (-∞ when empty), NaN if
// one of them is: one window's maximum from its row of column maxima.
func rowWindowMax[T Float](colMax []T, iw0, jlo, jhi, dw int) T {
	best := T(math.Inf(-1))
	for j := jlo; j < jhi; j++ {
		best = max(best, colMax[iw0+j*dw])
	}
	return best
}

// stem reports whether rows pool as ResNet's stem does (3 wide, stride 2, one column of padding
// on the left, W = 2·OW), which maxRow3s2 does with vectors.
func (g *PoolGeom) stem() bool {
	return g.KW == 3 && g.SW == 2 && g.DW == 1 && g.PL == 1 && g.W == 2*g.OW && g.OW <= maxRowScratch
}

// maxRowScratch is the longest output row maxRow3s2 takes (its scratch is on the stack).
const maxRowScratch = 256

// maxRow3s2 sets y[ow] = max(c[2ow-1], c[2ow], c[2ow+1]) (c[-1] being padding) for a row c of
// 2·len(y) column maxima: the even and odd columns are picked apart (evenVec), then the three
// maxima are element-wise (maxVec), bitwise what the window loop gives.
func maxRow3s2(c, y []float32) {
	var odd [maxRowScratch]float32
	n := len(y)
	o := odd[:n]
	k := evenVec(y, c)
	for ; k < n; k++ {
		y[k] = c[2*k]
	}
	k = evenVec(o, c[1:])
	for ; k < n; k++ {
		o[k] = c[2*k+1]
	}
	k = maxVec(y, o) // y[ow] = max(c[2ow], c[2ow+1])
	for ; k < n; k++ {
		y[k] = max(y[k], o[k])
	}
	t := y[1:] // and c[2ow-1] for ow ≥ 1
	k = maxVec(t, o[:n-1])
	for ; k < n-1; k++ {
		t[k] = max(t[k], o[k])
	}
}

func (op *MaxPool) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		maxPoolFwd(&op.Geom, data[float32](in[0]), data[float32](out))
	} else {
		maxPoolFwd(&op.Geom, data[float64](in[0]), data[float64](out))
	}
	return nil
}

func maxPoolFwd[T Float](g *PoolGeom, x, y []T) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	parallelFor(g.N*g.C, 4, func(lo, hi int) {
		colMax := getScratch[T](g.W)
		defer putScratch(colMax)
		for p := lo; p < hi; p++ {
			maxPlaneFwd(g, x[p*hw:(p+1)*hw], y[p*ohw:(p+1)*ohw], colMax)
		}
	})
}

func (op *MaxPool) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *MaxPool) DiffWRT(int) []bool                { return []bool{true} }
func (op *MaxPool) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := apply(&MaxPoolGrad{base: newBase("MaxPoolGrad", op.in[0], op.in[0], op.out), Geom: op.Geom}, in[0], grad)
	return G.Nodes{dx}, err
}

// MaxPoolGrad routes dy to the argmax of each window, found again from x.
type MaxPoolGrad struct {
	base
	Geom PoolGeom
}

func (op *MaxPoolGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		maxPoolBwd(&op.Geom, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	} else {
		maxPoolBwd(&op.Geom, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	}
	return nil
}

func maxPoolBwd[T Float](g *PoolGeom, x, dy, dx []T) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	parallelFor(g.N*g.C, 4, func(lo, hi int) {
		zero(dx[lo*hw : hi*hw])
		colMax := getScratch[T](g.W)
		defer putScratch(colMax)
		for p := lo; p < hi; p++ {
			maxPlaneBwd(g, x[p*hw:(p+1)*hw], dy[p*ohw:(p+1)*ohw], dx[p*hw:(p+1)*hw], colMax)
		}
	})
}

func (op *MaxPoolGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// AvgPool is ONNX's AveragePool (2-D; pads, strides, ceil_mode, count_include_pad).
type AvgPool struct {
	base
	Geom PoolGeom
}

// NewAvgPool adds an average-pool of x to the graph.
func NewAvgPool(x *G.Node, g PoolGeom) (*G.Node, error) {
	if g.DH != 1 || g.DW != 1 {
		return nil, fmt.Errorf("average pool: dilations %dx%d are not supported", g.DH, g.DW)
	}
	return apply(&AvgPool{base: newBase(fmt.Sprintf("AvgPool%dx%d/s%d", g.KH, g.KW, g.SH), g.outShape(), x.Shape()), Geom: g}, x)
}

// avgWindow returns the clipped window of output (oh, ow) and the divisor.
func (g *PoolGeom) avgWindow(oh, ow int) (h0, h1, w0, w1 int, div float64) {
	h0, w0 = oh*g.SH-g.PT, ow*g.SW-g.PL
	h1, w1 = min(h0+g.KH, g.H+g.PB), min(w0+g.KW, g.W+g.PR)
	padded := (h1 - h0) * (w1 - w0)
	h0, w0 = max(h0, 0), max(w0, 0)
	h1, w1 = min(h1, g.H), min(w1, g.W)
	if g.CountIncludePad {
		return h0, h1, w0, w1, float64(padded)
	}
	return h0, h1, w0, w1, float64((h1 - h0) * (w1 - w0))
}

func (op *AvgPool) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		avgPool(&op.Geom, data[float32](in[0]), data[float32](out), false)
	} else {
		avgPool(&op.Geom, data[float64](in[0]), data[float64](out), false)
	}
	return nil
}

// avgPool computes the pooling (backward=false: a is x, b is y) or its adjoint (backward=true: a
// is dx, b is dy).
func avgPool[T Float](g *PoolGeom, a, b []T, backward bool) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	parallelFor(g.N*g.C, 4, func(lo, hi int) {
		if backward {
			zero(a[lo*hw : hi*hw])
		}
		interior := g.PT == 0 && g.PL == 0 && (g.OH-1)*g.SH+g.KH <= g.H && (g.OW-1)*g.SW+g.KW <= g.W
		for p := lo; p < hi; p++ {
			x, y := a[p*hw:(p+1)*hw], b[p*ohw:(p+1)*ohw]
			if interior && g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 {
				// LeNet's 2×2 pooling: four loads and a scale per output
				for oh := 0; oh < g.OH; oh++ {
					r0, r1 := x[2*oh*g.W:], x[(2*oh+1)*g.W:]
					yr := y[oh*g.OW : (oh+1)*g.OW]
					if backward {
						for ow, v := range yr {
							v *= 0.25
							r0[2*ow] += v
							r0[2*ow+1] += v
							r1[2*ow] += v
							r1[2*ow+1] += v
						}
						continue
					}
					for ow := range yr {
						yr[ow] = (r0[2*ow] + r0[2*ow+1] + r1[2*ow] + r1[2*ow+1]) * 0.25
					}
				}
				continue
			}
			if interior {
				// every window lies inside the image: a constant divisor, no clipping
				inv := T(1) / T(g.KH*g.KW)
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						base := oh*g.SH*g.W + ow*g.SW
						if backward {
							v := y[oh*g.OW+ow] * inv
							for i := 0; i < g.KH; i++ {
								row := x[base+i*g.W : base+i*g.W+g.KW]
								for j := range row {
									row[j] += v
								}
							}
							continue
						}
						var s T
						for i := 0; i < g.KH; i++ {
							for _, v := range x[base+i*g.W : base+i*g.W+g.KW] {
								s += v
							}
						}
						y[oh*g.OW+ow] = s * inv
					}
				}
				continue
			}
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					h0, h1, w0, w1, div := g.avgWindow(oh, ow)
					if div == 0 {
						if !backward {
							y[oh*g.OW+ow] = 0
						}
						continue
					}
					if backward {
						v := y[oh*g.OW+ow] / T(div)
						for i := h0; i < h1; i++ {
							for j := w0; j < w1; j++ {
								x[i*g.W+j] += v
							}
						}
						continue
					}
					var s float64
					for i := h0; i < h1; i++ {
						for j := w0; j < w1; j++ {
							s += float64(x[i*g.W+j])
						}
					}
					y[oh*g.OW+ow] = T(s / div)
				}
			}
		}
	})
}

func (op *AvgPool) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *AvgPool) DiffWRT(int) []bool                { return []bool{true} }
func (op *AvgPool) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := apply(&AvgPoolGrad{base: newBase("AvgPoolGrad", op.in[0], op.out), Geom: op.Geom}, grad)
	return G.Nodes{dx}, err
}

type AvgPoolGrad struct {
	base
	Geom PoolGeom
}

func (op *AvgPoolGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		avgPool(&op.Geom, data[float32](out), data[float32](in[0]), true)
	} else {
		avgPool(&op.Geom, data[float64](out), data[float64](in[0]), true)
	}
	return nil
}
func (op *AvgPoolGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// GlobalAvgPool is ONNX's GlobalAveragePool: the mean over all spatial positions, keeping them as
// size-1 axes (N×C×H×W → N×C×1×1).
type GlobalAvgPool struct{ base }

// NewGlobalAvgPool adds a global average pool of x (N×C×...) to the graph.
func NewGlobalAvgPool(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) < 3 {
		return nil, fmt.Errorf("global average pool: want N×C×spatial, got %v", s)
	}
	out := tensor.Shape{s[0], s[1]}
	for range s[2:] {
		out = append(out, 1)
	}
	return apply(&GlobalAvgPool{newBase("GlobalAvgPool", out, s)}, x)
}

func (op *GlobalAvgPool) planes() (int, int) {
	s := op.in[0]
	return s[0] * s[1], s.TotalSize() / (s[0] * s[1])
}

func (op *GlobalAvgPool) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	np, p := op.planes()
	if isF32(out) {
		meanPlanes(data[float32](in[0]), np, p, data[float32](out))
	} else {
		meanPlanes(data[float64](in[0]), np, p, data[float64](out))
	}
	return nil
}

func meanPlanes[T Float](x []T, np, p int, y []T) {
	parallelFor(np, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var s float64
			for _, v := range x[i*p : (i+1)*p] {
				s += float64(v)
			}
			y[i] = T(s / float64(p))
		}
	})
}

func (op *GlobalAvgPool) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *GlobalAvgPool) DiffWRT(int) []bool                { return []bool{true} }
func (op *GlobalAvgPool) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := apply(&GlobalAvgPoolGrad{base: newBase("GlobalAvgPoolGrad", op.in[0], op.out), Fwd: op}, grad)
	return G.Nodes{dx}, err
}

type GlobalAvgPoolGrad struct {
	base
	Fwd *GlobalAvgPool
}

func (op *GlobalAvgPoolGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	np, p := op.Fwd.planes()
	if isF32(out) {
		spreadPlanes(data[float32](in[0]), np, p, data[float32](out))
	} else {
		spreadPlanes(data[float64](in[0]), np, p, data[float64](out))
	}
	return nil
}

func spreadPlanes[T Float](dy []T, np, p int, dx []T) {
	parallelFor(np, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := dy[i] / T(p)
			row := dx[i*p : (i+1)*p]
			for j := range row {
				row[j] = v
			}
		}
	})
}
func (op *GlobalAvgPoolGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
