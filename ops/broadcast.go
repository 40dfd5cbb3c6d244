package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// broadcastsTo reports whether shape s broadcasts to t under NumPy's rules (aligned on the right,
// each dimension equal or 1). A nil s is a scalar.
func broadcastsTo(s, t tensor.Shape) bool {
	if len(s) > len(t) {
		return false
	}
	off := len(t) - len(s)
	for i, d := range s {
		if d != 1 && d != t[off+i] {
			return false
		}
	}
	return true
}

// BroadcastShape is the NumPy broadcast of two shapes.
func BroadcastShape(a, b tensor.Shape) (tensor.Shape, error) {
	n := max(len(a), len(b))
	out := make(tensor.Shape, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// bstrides returns, for each axis of target t, the stride of s's element along it (0 where s is
// broadcast).
func bstrides(s, t tensor.Shape) []int {
	st := make([]int, len(t))
	off := len(t) - len(s)
	stride := 1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 1 {
			st[off+i] = stride
		}
		stride *= s[i]
	}
	return st
}

// forEachBroadcast calls fn(i, j) for every element i of a tensor of shape t, where j is the
// index of the corresponding element of the broadcast operand with strides st. The innermost
// axis is handed over in runs: fn(i, j, n, step) covers i..i+n-1 and j, j+step, ...
func forEachBroadcast(t tensor.Shape, st []int, fn func(i, j, n, step int)) {
	nd := len(t)
	if nd == 0 {
		fn(0, 0, 1, 0)
		return
	}
	inner := t[nd-1]
	outer := t.TotalSize() / max(inner, 1)
	idx := make([]int, nd-1)
	j := 0
	for o := 0; o < outer; o++ {
		fn(o*inner, j, inner, st[nd-1])
		for ax := nd - 2; ax >= 0; ax-- {
			idx[ax]++
			j += st[ax]
			if idx[ax] < t[ax] {
				break
			}
			j -= st[ax] * t[ax]
			idx[ax] = 0
		}
	}
}

// broadcastInto sets y = scale·broadcast(c).
func broadcastInto[T Float](c []T, cs tensor.Shape, y []T, ys tensor.Shape, scale T) {
	forEachBroadcast(ys, bstrides(cs, ys), func(i, j, n, step int) {
		for k := 0; k < n; k++ {
			y[i+k] = scale * c[j+k*step]
		}
	})
}

// reduceInto sets out (shape os) to scale times the sum of x (shape xs) over the axes where os
// is broadcast: the adjoint of broadcasting.
func reduceInto[T Float](x []T, xs tensor.Shape, out []T, os tensor.Shape, scale T) {
	if os.TotalSize() == xs.TotalSize() { // nothing to sum: a residual addition's gradient
		parallelFor(len(out), 1<<15, func(lo, hi int) {
			if scale == 1 {
				copy(out[lo:hi], x[lo:hi])
				return
			}
			for i := lo; i < hi; i++ {
				out[i] = scale * x[i]
			}
		})
		return
	}
	acc := make([]float64, len(out))
	forEachBroadcast(xs, bstrides(os, xs), func(i, j, n, step int) {
		if step == 0 {
			var s float64
			for _, v := range x[i : i+n] {
				s += float64(v)
			}
			acc[j] += s
			return
		}
		for k := 0; k < n; k++ {
			acc[j+k*step] += float64(x[i+k])
		}
	})
	for i, v := range acc {
		out[i] = scale * T(v)
	}
}

// ReduceToOp sums a tensor down to a shape it was broadcast from, times a scale.
type ReduceToOp struct {
	base
	scale float64
}

// ReduceTo adds scale·(x summed over the axes broadcast from shape s) to the graph; s nil means a
// scalar result, kept as a one-element tensor.
func ReduceTo(x *G.Node, s tensor.Shape, scale float64) (*G.Node, error) {
	xs := x.Shape()
	if !broadcastsTo(s, xs) {
		return nil, fmt.Errorf("reduce: %v is not a broadcast of %v", xs, s)
	}
	out := s
	if len(out) == 0 {
		out = tensor.Shape{1}
	}
	return apply(&ReduceToOp{base: newBase("ReduceTo", out, xs), scale: scale}, x)
}

// Scale is the factor applied to the sum.
func (op *ReduceToOp) Scale() float64 { return op.scale }

func (op *ReduceToOp) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		reduceInto(data[float32](in[0]), op.in[0], data[float32](out), op.out, float32(op.scale))
	} else {
		reduceInto(data[float64](in[0]), op.in[0], data[float64](out), op.out, op.scale)
	}
	return nil
}
func (op *ReduceToOp) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

func (op *ReduceToOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff broadcasts the gradient back to the input's shape, times the same scale: the gradient
// of a sum (scale 1, ONNX's ReduceSum) or of a mean (1/count, ReduceMean) in the forward graph.
func (op *ReduceToOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := apply(&BroadcastToOp{base: newBase("BroadcastTo", op.in[0], op.out), scale: op.scale}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// BroadcastToOp sets its output to scale times its input broadcast to the output's shape:
// ReduceToOp's adjoint, in the gradient of a reduction.
type BroadcastToOp struct {
	base
	scale float64
}

func (op *BroadcastToOp) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		broadcastInto(data[float32](in[0]), op.in[0], data[float32](out), op.out, float32(op.scale))
	} else {
		broadcastInto(data[float64](in[0]), op.in[0], data[float64](out), op.out, op.scale)
	}
	return nil
}
func (op *BroadcastToOp) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
