package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2D is ONNX's Conv on NCHW tensors: inputs x, w and an optional bias; explicit pads,
// strides, dilations and groups. It is computed as im2col followed by a matrix product per chunk
// of images, split over the cores.
type Conv2D struct {
	base
	Geom ConvGeom
	bias bool
	// Act, when not nil, is an activation applied to the output in the same pass, while each
	// chunk of it is still in cache (FusibleAct); the op's output is the activation's.
	Act *Unary
	// ConstWeights says that the weights never change while the op lives (inference over
	// constant weights): a Winograd layer then transforms them on its first pass and keeps the
	// result (16/9 of the weights' memory) instead of transforming them on every pass, which
	// costs reading the weights and writing the transform each time (about 5% of ResNet-34's
	// inference). Default false.
	ConstWeights bool
	winoU32      []float32
	winoU64      []float64
	// trimW32/trimW64 keep the live taps of constant weights (conv_trim.go); with
	// ConstWeights, a layer whose kernel reaches only padding with some taps computes without
	// them (ResNet's 1×1 maps at 32×32: 4.2 → 0.9 ms of an 8-image forward pass).
	trimW32 []float32
	trimW64 []float64

	// The im2col matrices of the last forward pass, kept for the weight gradient of the same
	// step when they are small (ConvGeom.cachedCols) and the graph has that gradient (keepCols,
	// set by SymDiff: an inference program's passes use cache-sized scratch instead); runs counts
	// forward passes.
	keepCols bool
	cols32   []float32
	cols64   []float64
	runs     uint64
}

// NewConv2D adds a convolution of x by w (and b, when not nil) to the graph.
func NewConv2D(x, w, b *G.Node, strides, dilations, pads [2]int, padsEnd [2]int, groups int) (*G.Node, error) {
	return NewConv2DAct(x, w, b, strides, dilations, pads, padsEnd, groups, nil)
}

// NewConv2DAct is NewConv2D followed by the activation act (nil for none), computed by the
// convolution itself; act must be FusibleAct.
func NewConv2DAct(x, w, b *G.Node, strides, dilations, pads [2]int, padsEnd [2]int, groups int, act *Unary) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		return nil, fmt.Errorf("conv: want 4-D input and weights, got %v and %v", xs, ws)
	}
	if groups < 1 || xs[1] != ws[1]*groups {
		return nil, fmt.Errorf("conv: input has %d channels but weights %v with group %d expect %d", xs[1], ws, groups, ws[1]*groups)
	}
	g, ok := NewConvGeom(xs[0], xs[1], xs[2], xs[3], ws[0], groups, ws[2], ws[3],
		strides[0], strides[1], dilations[0], dilations[1], pads[0], pads[1], padsEnd[0], padsEnd[1])
	if !ok {
		return nil, fmt.Errorf("conv: input %v, weights %v, strides %v, dilations %v, pads %v/%v give no output", xs, ws, strides, dilations, pads, padsEnd)
	}
	out := tensor.Shape{g.N, g.M, g.OH, g.OW}
	in := []*G.Node{x, w}
	shapes := []tensor.Shape{xs, ws}
	if b != nil {
		if bs := b.Shape(); bs.TotalSize() != g.M || len(bs) != 1 {
			return nil, fmt.Errorf("conv: bias shape %v, want [%d]", bs, g.M)
		}
		in = append(in, b)
		shapes = append(shapes, b.Shape())
	}
	name := fmt.Sprintf("Conv%dx%d/s%d", g.KH, g.KW, g.SH)
	act, err := fusedAct("conv", act, out)
	if err != nil {
		return nil, err
	}
	if act != nil {
		name += "+" + act.Kind.String()
	}
	op := &Conv2D{base: newBase(name, out, shapes...), Geom: g, bias: b != nil, Act: act}
	return apply(op, in...)
}

// HasBias reports whether the convolution adds a bias (its third input).
func (op *Conv2D) HasBias() bool { return op.bias }

func (op *Conv2D) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		runConv[float32](op, out, in)
	} else {
		runConv[float64](op, out, in)
	}
	return nil
}

func runConv[T Float](op *Conv2D, out *tensor.Dense, in []*tensor.Dense) {
	var b []T
	if op.bias {
		b = data[T](in[2])
	}
	op.runs++
	x, w, y := data[T](in[0]), data[T](in[1]), data[T](out)
	if op.ConstWeights {
		if t, ki0, kj0, ok := op.Geom.trimmed(); ok {
			// The live taps alone, kept from the first pass. (Training programs keep the full
			// kernel: gathering the live taps from changing weights reads all of them, as the
			// full product does, and their gradient would still be written whole.)
			tw := keptOnce(&op.trimW32, &op.trimW64, t.M*t.k(), func(u []T) { trimWeights(&op.Geom, &t, ki0, kj0, w, u) })
			convForwardCached(&t, x, tw, b, y, nil, op.Act)
			return
		}
	}
	if winogradEligible(&op.Geom) {
		if op.ConstWeights {
			u := keptOnce(&op.winoU32, &op.winoU64, winogradKernelLen(&op.Geom), func(u []T) { winogradTransformKernel(&op.Geom, w, u) })
			winogradForwardU(&op.Geom, x, u, b, op.Act, y)
			return
		}
		winogradForward(&op.Geom, x, w, b, op.Act, y)
		return
	}
	var cols []T
	if op.keepCols {
		cols = colsOf[T](op, true)
	}
	convForwardCached(&op.Geom, x, w, b, y, cols, op.Act)
}

// keptSlice returns whichever of the float32 and float64 fields has the element type T: an op's
// buffers kept across passes, one field per element type.
func keptSlice[T Float](f32 *[]float32, f64 *[]float64) *[]T {
	if p, ok := any(f32).(*[]T); ok {
		return p
	}
	return any(f64).(*[]T)
}

// keptOnce returns the kept buffer of element type T, allocating n elements and filling them
// with fill on the first call (constant weights transformed once: ConstWeights).
func keptOnce[T Float](f32 *[]float32, f64 *[]float64, n int, fill func([]T)) []T {
	u := keptSlice[T](f32, f64)
	if *u == nil {
		*u = make([]T, n)
		fill(*u)
	}
	return *u
}

// colsOf returns op's cache of im2col matrices in the element type T (allocating it when make
// is set), or nil when the layer is too large to cache.
func colsOf[T Float](op *Conv2D, make_ bool) []T {
	n := op.Geom.cachedCols()
	if n == 0 {
		return nil
	}
	c := keptSlice[T](&op.cols32, &op.cols64)
	if *c == nil && make_ {
		*c = make([]T, n)
	}
	return *c
}

func (op *Conv2D) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

func (op *Conv2D) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

func (op *Conv2D) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	grad, err := actGrad(op.Act, op.out, out, grad)
	if err != nil {
		return nil, err
	}
	gd := &ConvGradData{base: newBase("ConvGradData", op.in[0], op.in[1], op.out), Geom: op.Geom}
	dx, err := apply(gd, in[1], grad)
	if err != nil {
		return nil, err
	}
	gw := &ConvGradWeight{base: newBase("ConvGradWeight", op.in[1], op.in[0], op.out), Geom: op.Geom, Fwd: op}
	op.keepCols = true
	dw, err := apply(gw, in[0], grad)
	if err != nil {
		return nil, err
	}
	res := G.Nodes{dx, dw}
	if op.bias {
		db, err := ChannelSum(grad)
		if err != nil {
			return nil, err
		}
		res = append(res, db)
	}
	return res, nil
}

// ConvGradData computes a convolution's input gradient from (w, dy).
type ConvGradData struct {
	base
	Geom ConvGeom
}

func (op *ConvGradData) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		convGradData(&op.Geom, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	} else {
		convGradData(&op.Geom, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	}
	return nil
}

// convGradData picks Winograd for the 3×3 stride-1 layers where it is faster (see
// winogradEligible), im2col otherwise.
func convGradData[T Float](g *ConvGeom, w, dy, dx []T) {
	if winogradEligible(g) {
		winogradBackwardData(g, w, dy, dx)
		return
	}
	convBackwardData(g, w, dy, dx)
}
func (op *ConvGradData) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// ConvGradWeight computes a convolution's weight gradient from (x, dy), reusing the forward
// pass's im2col matrices when the layer kept them.
type ConvGradWeight struct {
	base
	Geom ConvGeom
	Fwd  *Conv2D
}

func (op *ConvGradWeight) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		runConvGradWeight[float32](op, out, in)
	} else {
		runConvGradWeight[float64](op, out, in)
	}
	return nil
}

func runConvGradWeight[T Float](op *ConvGradWeight, out *tensor.Dense, in []*tensor.Dense) {
	if winogradWeightEligible(&op.Geom) {
		winogradBackwardWeight(&op.Geom, data[T](in[0]), data[T](in[1]), data[T](out))
		return
	}
	// The forward pass of this step (runs > 0, not Winograd) filled the cache from the same x.
	if f := op.Fwd; f != nil && f.runs > 0 && !winogradEligible(&f.Geom) {
		if cols := colsOf[T](f, false); cols != nil {
			convBackwardWeightCached(&op.Geom, data[T](in[0]), data[T](in[1]), data[T](out), cols)
			return
		}
	}
	convBackwardWeight(&op.Geom, data[T](in[0]), data[T](in[1]), data[T](out))
}

func (op *ConvGradWeight) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// ChannelSumOp sums an N×C×... tensor over every axis but the channel axis: the gradient of a
// per-channel bias.
type ChannelSumOp struct{ base }

// ChannelSum adds the per-channel sum of x (N×C×...) to the graph.
func ChannelSum(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) < 2 {
		return nil, fmt.Errorf("channel sum: want at least 2-D, got %v", s)
	}
	return apply(&ChannelSumOp{newBase("ChannelSum", tensor.Shape{s[1]}, s)}, x)
}

func (op *ChannelSumOp) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := op.in[0]
	p := s.TotalSize() / (s[0] * s[1])
	if isF32(out) {
		channelSum(data[float32](in[0]), s[0], s[1], p, data[float32](out))
	} else {
		channelSum(data[float64](in[0]), s[0], s[1], p, data[float64](out))
	}
	return nil
}
func (op *ChannelSumOp) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
