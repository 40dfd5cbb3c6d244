package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BinaryKind selects an element-wise arithmetic operator.
type BinaryKind int

const (
	Add BinaryKind = iota
	Sub
	Mul
	Div
	// PRelu is ONNX's PRelu: a where a > 0, b·a elsewhere, the slope b broadcast to a (PyTorch's
	// nn.PReLU, whose gradient at a = 0 is also taken from the slope side).
	PRelu
	// preluDA and preluDB are PRelu's partial derivatives, for its gradient: 1 or b; 0 or a.
	preluDA
	preluDB
)

var binaryNames = [...]string{"Add", "Sub", "Mul", "Div", "PRelu", "PReluDA", "PReluDB"}

func (k BinaryKind) String() string { return binaryNames[k] }

// Binary is ONNX's Add, Sub, Mul or Div with NumPy broadcasting. (gorgonia's own broadcasting
// ops materialise both operands; this one reads them through strides.)
type Binary struct {
	base
	Kind BinaryKind
	// Act, when not nil, is an activation applied to the result in the same pass (a residual
	// block's Add → ReLU; FusibleAct); the op's output is the activation's.
	Act *Unary
}

// NewBinary adds kind(a, b) to the graph.
func NewBinary(kind BinaryKind, a, b *G.Node) (*G.Node, error) { return NewBinaryAct(kind, a, b, nil) }

// NewBinaryAct is NewBinary followed by the activation act (nil for none), computed by the
// same op; act must be FusibleAct.
func NewBinaryAct(kind BinaryKind, a, b *G.Node, act *Unary) (*G.Node, error) {
	as, bs := shapeOf(a), shapeOf(b)
	out, err := BroadcastShape(as, bs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	if kind == PRelu && !out.Eq(as) { // ONNX broadcasts the slope one way only
		return nil, fmt.Errorf("PRelu: slope of shape %v does not broadcast to the input's %v", bs, as)
	}
	if len(out) == 0 {
		out = tensor.Shape{1}
	}
	act, err = fusedAct(kind.String(), act, out)
	if err != nil {
		return nil, err
	}
	name := kind.String()
	if act != nil {
		name += "+" + act.Kind.String()
	}
	return apply(&Binary{base: newBase(name, out, as, bs), Kind: kind, Act: act}, a, b)
}

func (op *Binary) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		binaryFwd(op.Kind, op.Act, data[float32](in[0]), op.in[0], data[float32](in[1]), op.in[1], data[float32](out), op.out)
	} else {
		binaryFwd(op.Kind, op.Act, data[float64](in[0]), op.in[0], data[float64](in[1]), op.in[1], data[float64](out), op.out)
	}
	return nil
}

// binaryFwd computes y = act(k(a, b)) (act nil: none), the activation over each piece of y
// while it is in cache.
func binaryFwd[T Float](k BinaryKind, act *Unary, a []T, as tensor.Shape, b []T, bs tensor.Shape, y []T, ys tensor.Shape) {
	if as.TotalSize() == ys.TotalSize() && bs.TotalSize() == ys.TotalSize() {
		parallelFor(len(y), 1<<15, func(lo, hi int) {
			i := lo
			if y32, ok := any(y[lo:hi]).([]float32); ok && k == Add && (act == nil || act.Kind == Relu) {
				i += addVec(any(a[lo:hi]).([]float32), any(b[lo:hi]).([]float32), y32, act != nil)
			}
			tail := i // what the vector path left
			for ; i < hi; i++ {
				y[i] = apply2(k, a[i], b[i])
			}
			if act != nil {
				applyUnary(act, y[tail:hi], y[tail:hi])
			}
		})
		return
	}
	sa, sb := bstrides(as, ys), bstrides(bs, ys)
	// Walk both operands' broadcast index together through the target.
	nd := len(ys)
	inner := 1
	if nd > 0 {
		inner = ys[nd-1]
	}
	outer := ys.TotalSize() / max(inner, 1)
	idx := make([]int, max(nd-1, 0))
	ia, ib := 0, 0
	stA, stB := 0, 0
	if nd > 0 {
		stA, stB = sa[nd-1], sb[nd-1]
	}
	for o := 0; o < outer; o++ {
		row := y[o*inner : (o+1)*inner]
		for j := range row {
			row[j] = apply2(k, a[ia+j*stA], b[ib+j*stB])
		}
		if act != nil {
			applyUnary(act, row, row)
		}
		for ax := nd - 2; ax >= 0; ax-- {
			idx[ax]++
			ia += sa[ax]
			ib += sb[ax]
			if idx[ax] < ys[ax] {
				break
			}
			ia -= sa[ax] * ys[ax]
			ib -= sb[ax] * ys[ax]
			idx[ax] = 0
		}
	}
}

// SumInto sets out = a + b element-wise, split over the workers: the engine's sums of two
// gradients of one value (gorgonia's Grad adds them with its own single-threaded op).
func SumInto[T Float](out, a, b []T) {
	binaryFwd(Add, nil, a, tensor.Shape{len(a)}, b, tensor.Shape{len(b)}, out, tensor.Shape{len(out)})
}

func apply2[T Float](k BinaryKind, a, b T) T {
	switch k {
	case Add:
		return a + b
	case Sub:
		return a - b
	case Mul:
		return a * b
	case Div:
		return a / b
	case PRelu:
		if a > 0 {
			return a
		}
		return b * a
	case preluDA:
		if a > 0 {
			return 1
		}
		return b
	}
	if a > 0 { // preluDB
		return 0
	}
	return a
}

func (op *Binary) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *Binary) DiffWRT(int) []bool                { return []bool{true, true} }

func (op *Binary) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	grad, err := actGrad(op.Act, op.out, out, grad)
	if err != nil {
		return nil, err
	}
	res := make(G.Nodes, 2)
	for i := 0; i < 2; i++ {
		var err error
		switch {
		case op.Kind == Add || (op.Kind == Sub && i == 0):
			res[i], err = ReduceTo(grad, op.in[i], 1)
		case op.Kind == Sub:
			res[i], err = ReduceTo(grad, op.in[i], -1)
		default:
			g := &BinaryGrad{base: newBase(fmt.Sprintf("%sGrad%d", op.Kind, i), reducedShape(op.in[i]), op.in[0], op.in[1], op.out), Fwd: op, Wrt: i}
			res[i], err = apply(g, in[0], in[1], grad)
		}
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func reducedShape(s tensor.Shape) tensor.Shape {
	if len(s) == 0 {
		return tensor.Shape{1}
	}
	return s
}

// BinaryGrad computes the gradient of Mul, Div or PRelu with respect to one operand from (a, b, dy):
// the element-wise partial derivative times dy, summed back to the operand's shape.
type BinaryGrad struct {
	base
	Fwd *Binary
	Wrt int
}

func (op *BinaryGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		binaryBwd(op, data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), data[float32](out))
	} else {
		binaryBwd(op, data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](out))
	}
	return nil
}

func binaryBwd[T Float](op *BinaryGrad, a, b, dy, dx []T) {
	f := op.Fwd
	// t = ∂y/∂operand · dy, at full (broadcast) size.
	var other []T
	var os tensor.Shape
	t := make([]T, len(dy))
	switch {
	case f.Kind == Mul && op.Wrt == 0:
		other, os = b, f.in[1]
		binaryFwd(Mul, nil, dy, f.out, other, os, t, f.out)
	case f.Kind == Mul:
		other, os = a, f.in[0]
		binaryFwd(Mul, nil, dy, f.out, other, os, t, f.out)
	case f.Kind == PRelu:
		d := preluDA
		if op.Wrt == 1 {
			d = preluDB
		}
		binaryFwd(d, nil, a, f.in[0], b, f.in[1], t, f.out)
		for i := range t {
			t[i] *= dy[i]
		}
	case op.Wrt == 0: // d(a/b)/da = 1/b
		binaryFwd(Div, nil, dy, f.out, b, f.in[1], t, f.out)
	default: // d(a/b)/db = -a/b²  = -(a/b)/b
		binaryFwd(Div, nil, a, f.in[0], b, f.in[1], t, f.out)
		binaryFwd(Div, nil, t, f.out, b, f.in[1], t, f.out)
		for i := range t {
			t[i] = -t[i] * dy[i]
		}
	}
	reduceInto(t, f.out, dx, reducedShape(f.in[op.Wrt]), 1)
}
func (op *BinaryGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
