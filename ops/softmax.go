package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AxisSplit views a shape as outer×n×inner around axis: the layout of softmax and of every
// other op that works along one axis.
func AxisSplit(s tensor.Shape, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, s[axis], inner
}

// maxExpSum returns the maximum m of the n values x[base], x[base+stride], ... and Σ exp(v − m),
// in float64: the numerically stable pieces of their softmax and log-sum-exp.
func maxExpSum[T Float](x []T, base, n, stride int) (m, s float64) {
	m = math.Inf(-1)
	for k := 0; k < n; k++ {
		m = math.Max(m, float64(x[base+k*stride]))
	}
	for k := 0; k < n; k++ {
		s += math.Exp(float64(x[base+k*stride]) - m)
	}
	return m, s
}

// Softmax is ONNX's Softmax or, with Log set, LogSoftmax, along one axis (opset 13 semantics).
type Softmax struct {
	base
	Axis int
	Log  bool
}

// NewSoftmax adds softmax (or log-softmax) of x along axis to the graph; a negative axis counts
// from the end.
func NewSoftmax(x *G.Node, axis int, log bool) (*G.Node, error) {
	s := x.Shape()
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis >= len(s) {
		return nil, fmt.Errorf("softmax: axis out of range for shape %v", s)
	}
	name := "Softmax"
	if log {
		name = "LogSoftmax"
	}
	return apply(&Softmax{base: newBase(name, s, s), Axis: axis, Log: log}, x)
}

func (op *Softmax) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		softmaxFwd(op, data[float32](in[0]), data[float32](out))
	} else {
		softmaxFwd(op, data[float64](in[0]), data[float64](out))
	}
	return nil
}

func softmaxFwd[T Float](op *Softmax, x, y []T) {
	outer, n, inner := AxisSplit(op.out, op.Axis)
	parallelFor(outer*inner, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			base := (r/inner)*n*inner + r%inner
			mx, s := maxExpSum(x, base, n, inner)
			ls := math.Log(s)
			for k := 0; k < n; k++ {
				v := float64(x[base+k*inner]) - mx - ls
				if op.Log {
					y[base+k*inner] = T(v)
				} else {
					y[base+k*inner] = T(math.Exp(v))
				}
			}
		}
	})
}

func (op *Softmax) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *Softmax) DiffWRT(int) []bool                { return []bool{true} }
func (op *Softmax) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := apply(&SoftmaxGrad{base: newBase(op.name+"Grad", op.out, op.out, op.out), Fwd: op}, out, grad)
	return G.Nodes{dx}, err
}

// SoftmaxGrad computes dx from (y, dy): softmax dx = y·(dy - Σdy·y); log-softmax
// dx = dy - exp(y)·Σdy.
type SoftmaxGrad struct {
	base
	Fwd *Softmax
}

func (op *SoftmaxGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		softmaxBwd(op.Fwd, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	} else {
		softmaxBwd(op.Fwd, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	}
	return nil
}

func softmaxBwd[T Float](op *Softmax, y, dy, dx []T) {
	outer, n, inner := AxisSplit(op.out, op.Axis)
	parallelFor(outer*inner, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			base := (r/inner)*n*inner + r%inner
			var s float64
			for k := 0; k < n; k++ {
				i := base + k*inner
				if op.Log {
					s += float64(dy[i])
				} else {
					s += float64(dy[i]) * float64(y[i])
				}
			}
			for k := 0; k < n; k++ {
				i := base + k*inner
				if op.Log {
					dx[i] = T(float64(dy[i]) - math.Exp(float64(y[i]))*s)
				} else {
					dx[i] = T(float64(y[i]) * (float64(dy[i]) - s))
				}
			}
		}
	})
}
func (op *SoftmaxGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// CrossEntropy is the softmax cross-entropy of logits (N×K) against class indices (N values
// stored in the logits' float type), averaged over the batch (Sum set: summed), as PyTorch's
// F.cross_entropy and ONNX's SoftmaxCrossEntropyLoss compute it. Training on logits with this op
// avoids the tutorial's double softmax.
type CrossEntropy struct {
	base
	Sum bool
}

// NewCrossEntropy adds the mean (or summed) softmax cross-entropy to the graph; the result is a
// scalar, ready for gorgonia.Grad.
func NewCrossEntropy(logits, labels *G.Node, sum bool) (*G.Node, error) {
	ls, ys := logits.Shape(), labels.Shape()
	if len(ls) != 2 || ys.TotalSize() != ls[0] {
		return nil, fmt.Errorf("cross-entropy: want N×K logits and N labels, got %v and %v", ls, ys)
	}
	return apply(&CrossEntropy{base: newBase("CrossEntropy", nil, ls, ys), Sum: sum}, logits, labels)
}

func labelAt[T Float](y []T, i, k int) (int, error) {
	c := int(y[i])
	if float64(c) != float64(y[i]) || c < 0 || c >= k {
		return 0, fmt.Errorf("cross-entropy: label %v of sample %d is not a class index in [0,%d)", y[i], i, k)
	}
	return c, nil
}

func (op *CrossEntropy) ExecScalar(in []*tensor.Dense) (float64, error) {
	if isF32(in[0]) {
		return crossEntropy(op, data[float32](in[0]), data[float32](in[1]))
	}
	return crossEntropy(op, data[float64](in[0]), data[float64](in[1]))
}

func crossEntropy[T Float](op *CrossEntropy, z, y []T) (float64, error) {
	n, k := op.in[0][0], op.in[0][1]
	var loss float64
	for i := 0; i < n; i++ {
		c, err := labelAt(y, i, k)
		if err != nil {
			return 0, err
		}
		row := z[i*k : (i+1)*k]
		mx, s := maxExpSum(row, 0, k, 1)
		loss += mx + math.Log(s) - float64(row[c])
	}
	if !op.Sum {
		loss /= float64(n)
	}
	return loss, nil
}

func (op *CrossEntropy) Do(vs ...G.Value) (G.Value, error) { return doScalar(op, vs) }
func (op *CrossEntropy) DiffWRT(int) []bool                { return []bool{true, false} }
func (op *CrossEntropy) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g := &CrossEntropyGrad{base: newBase("CrossEntropyGrad", op.in[0], op.in[0], op.in[1], shapeOf(grad)), Fwd: op}
	dz, err := apply(g, in[0], in[1], grad)
	return G.Nodes{dz, nil}, err
}

// CrossEntropyGrad computes dlogits = g·(softmax(z) - onehot(y)) [/N] from (z, y, g).
type CrossEntropyGrad struct {
	base
	Fwd *CrossEntropy
}

func (op *CrossEntropyGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		return crossEntropyBwd(op.Fwd, data[float32](in[0]), data[float32](in[1]), data[float32](in[2])[0], data[float32](out))
	}
	return crossEntropyBwd(op.Fwd, data[float64](in[0]), data[float64](in[1]), data[float64](in[2])[0], data[float64](out))
}

func crossEntropyBwd[T Float](op *CrossEntropy, z, y []T, g T, dz []T) error {
	n, k := op.in[0][0], op.in[0][1]
	scale := float64(g)
	if !op.Sum {
		scale /= float64(n)
	}
	for i := 0; i < n; i++ {
		c, err := labelAt(y, i, k)
		if err != nil {
			return err
		}
		row, drow := z[i*k:(i+1)*k], dz[i*k:(i+1)*k]
		mx, s := maxExpSum(row, 0, k, 1)
		for j, v := range row {
			p := math.Exp(float64(v)-mx) / s
			if j == c {
				p--
			}
			drow[j] = T(p * scale)
		}
	}
	return nil
}
func (op *CrossEntropyGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// Dot is Σ y·r over all elements: a scalar probe whose gradient with respect to y is r, used to
// check any op's backward pass against reference gradients for a given upstream gradient r.
type Dot struct{ base }

// NewDot adds Σ y·r to the graph.
func NewDot(y, r *G.Node) (*G.Node, error) {
	if y.IsScalar() != r.IsScalar() || !y.Shape().Eq(r.Shape()) {
		return nil, fmt.Errorf("dot: shapes %v and %v differ", y.Shape(), r.Shape())
	}
	return apply(&Dot{newBase("Dot", nil, shapeOf(y), shapeOf(r))}, y, r)
}

func (op *Dot) ExecScalar(in []*tensor.Dense) (float64, error) {
	var s float64
	if isF32(in[0]) {
		r := data[float32](in[1])
		for i, v := range data[float32](in[0]) {
			s += float64(v) * float64(r[i])
		}
	} else {
		r := data[float64](in[1])
		for i, v := range data[float64](in[0]) {
			s += v * r[i]
		}
	}
	return s, nil
}
func (op *Dot) Do(vs ...G.Value) (G.Value, error) { return doScalar(op, vs) }
func (op *Dot) DiffWRT(int) []bool                { return []bool{true, false} }
func (op *Dot) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	rs := op.in[1]
	if rs == nil {
		rs = tensor.Shape{1}
	}
	g := &DotGrad{newBase("DotGrad", rs, op.in[1], shapeOf(grad))}
	dy, err := apply(g, in[1], grad)
	return G.Nodes{dy, nil}, err
}

// DotGrad is g·r.
type DotGrad struct{ base }

func (op *DotGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		g, r, o := data[float32](in[1])[0], data[float32](in[0]), data[float32](out)
		for i, v := range r {
			o[i] = g * v
		}
	} else {
		g, r, o := data[float64](in[1])[0], data[float64](in[0]), data[float64](out)
		for i, v := range r {
			o[i] = g * v
		}
	}
	return nil
}
func (op *DotGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
