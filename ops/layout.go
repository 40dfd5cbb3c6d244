package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RowStrides are the strides of a row-major shape.
func RowStrides(s []int) []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

// Transpose permutes axes (ONNX Transpose).
type Transpose struct {
	base
	Perm []int
}

// NewTranspose adds x with axes permuted by perm (nil reverses them) to the graph.
func NewTranspose(x *G.Node, perm []int) (*G.Node, error) {
	xs := x.Shape()
	out, perm, err := TransposeShape(xs, perm)
	if err != nil {
		return nil, err
	}
	return apply(&Transpose{base: newBase(fmt.Sprintf("Transpose%v", perm), out, xs), Perm: perm}, x)
}

// TransposeShape checks that perm permutes shape's axes (nil: reverse them, as ONNX's default)
// and returns the permuted shape and the permutation.
func TransposeShape(shape, perm []int) ([]int, []int, error) {
	if perm == nil {
		for i := len(shape) - 1; i >= 0; i-- {
			perm = append(perm, i)
		}
	}
	if len(perm) != len(shape) {
		return nil, nil, fmt.Errorf("transpose: perm %v for a %d-D tensor", perm, len(shape))
	}
	seen := make([]bool, len(perm))
	out := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(shape) || seen[p] {
			return nil, nil, fmt.Errorf("transpose: perm %v is not a permutation", perm)
		}
		seen[p] = true
		out[i] = shape[p]
	}
	return out, append([]int(nil), perm...), nil
}

func (op *Transpose) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		permute(data[float32](in[0]), op.in[0], op.Perm, data[float32](out))
	} else {
		permute(data[float64](in[0]), op.in[0], op.Perm, data[float64](out))
	}
	return nil
}

// permute writes x (shape xs) with axes perm into y.
func permute[T Float](x []T, xs tensor.Shape, perm []int, y []T) {
	st := RowStrides(xs)
	ys := make(tensor.Shape, len(perm))
	src := make([]int, len(perm)) // stride in x of each y axis
	for i, p := range perm {
		ys[i] = xs[p]
		src[i] = st[p]
	}
	forEachBroadcast(ys, src, func(i, j, n, step int) {
		for k := 0; k < n; k++ {
			y[i+k] = x[j+k*step]
		}
	})
}

func (op *Transpose) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *Transpose) DiffWRT(int) []bool                { return []bool{true} }
func (op *Transpose) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	inv := make([]int, len(op.Perm))
	for i, p := range op.Perm {
		inv[p] = i
	}
	dx, err := NewTranspose(grad, inv)
	return G.Nodes{dx}, err
}

// Slice copies the box [Starts, Starts+Shape) (step 1) of its input: ONNX Slice with unit steps,
// and the gradient of Concat and Pad.
type Slice struct {
	base
	Starts []int
}

// NewSlice adds the box of shape size starting at starts of x to the graph.
func NewSlice(x *G.Node, starts []int, size tensor.Shape) (*G.Node, error) {
	xs := x.Shape()
	if len(starts) != len(xs) || len(size) != len(xs) {
		return nil, fmt.Errorf("slice: starts %v and size %v for shape %v", starts, size, xs)
	}
	for i := range xs {
		if starts[i] < 0 || size[i] < 0 || starts[i]+size[i] > xs[i] {
			return nil, fmt.Errorf("slice: box at %v of size %v exceeds shape %v", starts, size, xs)
		}
	}
	return apply(&Slice{base: newBase(fmt.Sprintf("Slice%v%v", starts, []int(size)), size.Clone(), xs), Starts: append([]int(nil), starts...)}, x)
}

// boxCopy copies between a box of a big tensor and a small one; toSmall selects the direction.
func boxCopy[T Float](big []T, bs tensor.Shape, starts []int, small []T, ss tensor.Shape, toSmall bool) {
	st := RowStrides(bs)
	off := 0
	for i, s := range starts {
		off += s * st[i]
	}
	forEachBroadcast(ss, st, func(i, j, n, step int) {
		for k := 0; k < n; k++ {
			if toSmall {
				small[i+k] = big[off+j+k*step]
			} else {
				big[off+j+k*step] = small[i+k]
			}
		}
	})
}

func (op *Slice) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		boxCopy(data[float32](in[0]), op.in[0], op.Starts, data[float32](out), op.out, true)
	} else {
		boxCopy(data[float64](in[0]), op.in[0], op.Starts, data[float64](out), op.out, true)
	}
	return nil
}
func (op *Slice) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *Slice) DiffWRT(int) []bool                { return []bool{true} }
func (op *Slice) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	end := make([]int, len(op.Starts))
	for i := range end {
		end[i] = op.in[0][i] - op.Starts[i] - op.out[i]
	}
	dx, err := NewPad(grad, op.Starts, end, 0)
	return G.Nodes{dx}, err
}

// PadMode is how Pad fills the border: ONNX's "constant", "reflect" or "edge" (PyTorch's
// F.pad modes "constant", "reflect", "replicate").
type PadMode int

const (
	PadConstant PadMode = iota
	// PadReflect mirrors the input about its first and last elements (which are not repeated):
	// the pads must be smaller than the axis.
	PadReflect
	// PadEdge repeats the first and last elements.
	PadEdge
)

// Pad surrounds its input with a constant or with its own reflected or repeated elements
// (ONNX Pad, non-negative pads).
type Pad struct {
	base
	Begin []int
	Value float64
	Mode  PadMode
}

// NewPad adds x padded by begin/end elements per axis with value to the graph.
func NewPad(x *G.Node, begin, end []int, value float64) (*G.Node, error) {
	return NewPadMode(x, begin, end, PadConstant, value)
}

// NewPadMode is NewPad with a border mode (value is used by PadConstant only).
func NewPadMode(x *G.Node, begin, end []int, mode PadMode, value float64) (*G.Node, error) {
	xs := x.Shape()
	if len(begin) != len(xs) || len(end) != len(xs) {
		return nil, fmt.Errorf("pad: pads %v/%v for a %d-D tensor", begin, end, len(xs))
	}
	out := make(tensor.Shape, len(xs))
	for i := range xs {
		if begin[i] < 0 || end[i] < 0 {
			return nil, fmt.Errorf("pad: negative pads %v/%v are not supported", begin, end)
		}
		if mode == PadReflect && (begin[i] >= xs[i] || end[i] >= xs[i]) {
			return nil, fmt.Errorf("pad: reflect pads %v/%v must be smaller than the input's sides %v", begin, end, xs)
		}
		out[i] = xs[i] + begin[i] + end[i]
	}
	return apply(&Pad{base: newBase(fmt.Sprintf("Pad%v%v", begin, end), out, xs), Begin: append([]int(nil), begin...), Value: value, Mode: mode}, x)
}

func (op *Pad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		padInto(op, data[float32](in[0]), data[float32](out))
	} else {
		padInto(op, data[float64](in[0]), data[float64](out))
	}
	return nil
}

func padInto[T Float](op *Pad, x, y []T) {
	if op.Mode != PadConstant {
		padMapped(op, func(o, i int) { y[o] = x[i] })
		return
	}
	v := T(op.Value)
	for i := range y {
		y[i] = v
	}
	boxCopy(y, op.out, op.Begin, x, op.in[0], false)
}

// padMapped calls fn(o, i) for every output element o of a reflect or edge Pad with the input
// element i it copies, in increasing o.
func padMapped(op *Pad, fn func(o, i int)) {
	xs, ys := op.in[0], op.out
	nd := len(ys)
	maps := make([][]int, nd) // per axis: output index → input index
	for ax := range ys {
		n, m := xs[ax], make([]int, ys[ax])
		for o := range m {
			i := o - op.Begin[ax]
			switch {
			case i < 0 && op.Mode == PadReflect:
				i = -i
			case i >= n && op.Mode == PadReflect:
				i = 2*(n-1) - i
			case i < 0:
				i = 0
			case i >= n:
				i = n - 1
			}
			m[o] = i
		}
		maps[ax] = m
	}
	strides := RowStrides(xs)
	idx := make([]int, nd)
	for o := 0; o < ys.TotalSize(); o++ {
		i := 0
		for ax, k := range idx {
			i += maps[ax][k] * strides[ax]
		}
		fn(o, i)
		for ax := nd - 1; ax >= 0; ax-- {
			if idx[ax]++; idx[ax] < ys[ax] {
				break
			}
			idx[ax] = 0
		}
	}
}

func (op *Pad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *Pad) DiffWRT(int) []bool                { return []bool{true} }
func (op *Pad) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if op.Mode != PadConstant {
		dx, err := apply(&PadGrad{base: newBase("PadGrad", op.in[0], op.out), Fwd: op}, grad)
		return G.Nodes{dx}, err
	}
	dx, err := NewSlice(grad, op.Begin, op.in[0])
	return G.Nodes{dx}, err
}

// PadGrad is the gradient of a reflect or edge Pad: each output gradient added back to the
// input element it was copied from.
type PadGrad struct {
	base
	Fwd *Pad
}

func (op *PadGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		padGradInto(op.Fwd, data[float32](in[0]), data[float32](out))
	} else {
		padGradInto(op.Fwd, data[float64](in[0]), data[float64](out))
	}
	return nil
}

func padGradInto[T Float](f *Pad, dy, dx []T) {
	clear(dx)
	padMapped(f, func(o, i int) { dx[i] += dy[o] })
}

func (op *PadGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// Concat joins tensors along an axis (ONNX Concat).
type Concat struct {
	base
	Axis int
}

// NewConcat adds the concatenation of xs along axis to the graph.
func NewConcat(axis int, xs ...*G.Node) (*G.Node, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("concat: no inputs")
	}
	s0 := xs[0].Shape()
	if axis < 0 {
		axis += len(s0)
	}
	if axis < 0 || axis >= len(s0) {
		return nil, fmt.Errorf("concat: axis out of range for %v", s0)
	}
	out := s0.Clone()
	out[axis] = 0
	shapes := make([]tensor.Shape, len(xs))
	for i, x := range xs {
		s := x.Shape()
		if len(s) != len(s0) {
			return nil, fmt.Errorf("concat: shapes %v and %v differ in rank", s0, s)
		}
		for d := range s {
			if d != axis && s[d] != s0[d] {
				return nil, fmt.Errorf("concat: shapes %v and %v differ outside axis %d", s0, s, axis)
			}
		}
		out[axis] += s[axis]
		shapes[i] = s
	}
	return apply(&Concat{base: newBase(fmt.Sprintf("Concat%d", axis), out, shapes...), Axis: axis}, xs...)
}

func (op *Concat) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	off := 0
	for i, x := range in {
		starts := make([]int, len(op.out))
		starts[op.Axis] = off
		if isF32(out) {
			boxCopy(data[float32](out), op.out, starts, data[float32](x), op.in[i], false)
		} else {
			boxCopy(data[float64](out), op.out, starts, data[float64](x), op.in[i], false)
		}
		off += op.in[i][op.Axis]
	}
	return nil
}
func (op *Concat) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *Concat) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *Concat) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	res := make(G.Nodes, len(in))
	off := 0
	for i := range in {
		starts := make([]int, len(op.out))
		starts[op.Axis] = off
		var err error
		if res[i], err = NewSlice(grad, starts, op.in[i]); err != nil {
			return nil, err
		}
		off += op.in[i][op.Axis]
	}
	return res, nil
}
