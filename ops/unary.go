package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// UnaryKind selects an element-wise activation.
type UnaryKind int

const (
	Relu UnaryKind = iota
	LeakyRelu
	Sigmoid
	Tanh
	Clip
	HardSigmoid
	HardSwish
	Elu
	Selu
	Softplus
	Softsign
	Abs
)

var unaryNames = [...]string{"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus", "Softsign", "Abs"}

func (k UnaryKind) String() string { return unaryNames[k] }

// UnaryParams holds the constants of the parametrised activations: LeakyRelu's and Elu's
// Alpha, Clip's Min/Max, HardSigmoid's Alpha/Beta, Selu's Alpha and gamma (in Beta). ONNX's
// defaults: 0.01, 1; -Inf/+Inf; 0.2/0.5; 1.67326319…/1.05070102… (float32 roundings of
// PyTorch's SELU constants, which PyTorch keeps in double: results differ by ~1e-8 relative).
// Softplus is ONNX's log(1+exp(x)), without PyTorch's threshold (x above 20 returned as is),
// which changes nothing in float32.
type UnaryParams struct {
	Alpha, Beta float64
	Min, Max    float64
}

// Unary is an element-wise activation.
type Unary struct {
	base
	Kind UnaryKind
	P    UnaryParams
}

// NewUnary adds kind(x) to the graph.
func NewUnary(x *G.Node, kind UnaryKind, p UnaryParams) (*G.Node, error) {
	s := x.Shape()
	return apply(&Unary{base: newBase(kind.String(), s, s), Kind: kind, P: p}, x)
}

// f is the activation of one value.
func (p UnaryParams) f(k UnaryKind, x float64) float64 {
	switch k {
	case Relu:
		return math.Max(x, 0)
	case LeakyRelu:
		if x < 0 {
			return p.Alpha * x
		}
		return x
	case Sigmoid:
		if x >= 0 {
			return 1 / (1 + math.Exp(-x))
		}
		e := math.Exp(x)
		return e / (1 + e)
	case Tanh:
		return math.Tanh(x)
	case Clip:
		return math.Min(math.Max(x, p.Min), p.Max)
	case HardSigmoid:
		return math.Max(0, math.Min(1, p.Alpha*x+p.Beta))
	case HardSwish:
		return x * math.Max(0, math.Min(1, x/6+0.5))
	case Elu:
		if x > 0 {
			return x
		}
		return p.Alpha * math.Expm1(x)
	case Selu: // gamma·Elu
		return p.Beta * p.f(Elu, x)
	case Softplus:
		if x > 0 {
			return x + math.Log1p(math.Exp(-x))
		}
		return math.Log1p(math.Exp(x))
	case Softsign:
		return x / (1 + math.Abs(x))
	case Abs:
		return math.Abs(x)
	}
	panic(fmt.Sprintf("ops: unknown activation %d", k))
}

// df is the derivative at x, taking the one-sided value PyTorch takes at kinks (0 at ReLU's 0).
func (p UnaryParams) df(k UnaryKind, x float64) float64 {
	switch k {
	case Relu:
		if x > 0 {
			return 1
		}
		return 0
	case LeakyRelu:
		if x > 0 {
			return 1
		}
		return p.Alpha
	case Sigmoid:
		s := p.f(Sigmoid, x)
		return s * (1 - s)
	case Tanh:
		t := math.Tanh(x)
		return 1 - t*t
	case Clip:
		if x > p.Min && x < p.Max {
			return 1
		}
		return 0
	case HardSigmoid:
		if v := p.Alpha*x + p.Beta; v > 0 && v < 1 {
			return p.Alpha
		}
		return 0
	case HardSwish:
		switch {
		case x < -3:
			return 0
		case x > 3:
			return 1
		}
		return x/3 + 0.5
	case Elu:
		if x > 0 {
			return 1
		}
		return p.Alpha * math.Exp(x)
	case Selu:
		return p.Beta * p.df(Elu, x)
	case Softplus:
		return p.f(Sigmoid, x)
	case Softsign:
		d := 1 + math.Abs(x)
		return 1 / (d * d)
	case Abs: // PyTorch's sign(x): 0 at 0
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}
	panic(fmt.Sprintf("ops: unknown activation %d", k))
}

func (op *Unary) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		unaryForward(op, data[float32](in[0]), data[float32](out))
	} else {
		unaryForward(op, data[float64](in[0]), data[float64](out))
	}
	return nil
}

func unaryForward[T Float](op *Unary, x, y []T) {
	parallelFor(len(x), 1<<15, func(lo, hi int) { op.apply(any(x[lo:hi]), any(y[lo:hi])) })
}

// apply computes y = f(x) over x and y, both []float32 or both []float64, on the calling
// goroutine: unaryForward's body, and a convolution's fused activation over each chunk of its
// output.
func (op *Unary) apply(xs, ys any) {
	switch x := xs.(type) {
	case []float32:
		applyUnary(op, x, ys.([]float32))
	case []float64:
		applyUnary(op, x, ys.([]float64))
	}
}

func applyUnary[T Float](op *Unary, x, y []T) {
	switch op.Kind {
	case Relu: // the hot one gets its own loop, branch-free (signs are random: branches mispredict)
		i := 0
		if x32, ok := any(x).([]float32); ok {
			i = biasReluVec(x32, any(y).([]float32), 0)
		}
		for ; i < len(x); i++ {
			y[i] = max(x[i], 0)
		}
		return
	case Tanh, Sigmoid:
		if x32, ok := any(x).([]float32); ok {
			y32 := any(y).([]float32)
			if op.Kind == Tanh {
				for i := tanhVec(x32, y32); i < len(x32); i++ {
					y32[i] = tanh32(x32[i])
				}
			} else {
				for i := range x32 {
					y32[i] = sigmoid32(x32[i])
				}
			}
			return
		}
	}
	for i := range x {
		y[i] = T(op.P.f(op.Kind, float64(x[i])))
	}
}

// FusibleAct reports whether an op (a convolution, a residual addition) can apply activation
// kind in its own output pass: the activation's gradient must follow from its output alone
// (ReLU, sigmoid, tanh), since the pre-activation values are not kept.
func FusibleAct(kind UnaryKind) bool { return kind == Relu || kind == Sigmoid || kind == Tanh }

// fusedAct checks that act (nil: none) can be fused into an op with output shape out and
// returns the op's own copy of it.
func fusedAct(op string, act *Unary, out tensor.Shape) (*Unary, error) {
	if act == nil {
		return nil, nil
	}
	if !FusibleAct(act.Kind) {
		return nil, fmt.Errorf("%s: activation %v cannot be fused (its gradient needs its input)", op, act.Kind)
	}
	return &Unary{base: newBase(act.Kind.String(), out, out), Kind: act.Kind, P: act.P}, nil
}

// actGrad turns the gradient of a fused activation's output into the gradient of its input,
// from the output alone (for ReLU, y > 0 exactly where x > 0); grad as is when act is nil.
func actGrad(act *Unary, shape tensor.Shape, out, grad *G.Node) (*G.Node, error) {
	if act == nil {
		return grad, nil
	}
	g := &UnaryGrad{base: newBase(act.Kind.String()+"Grad", shape, shape, shape, shape), Fwd: act}
	return apply(g, out, out, grad)
}

func (op *Unary) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *Unary) DiffWRT(int) []bool                { return []bool{true} }

func (op *Unary) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g := &UnaryGrad{base: newBase(op.Kind.String()+"Grad", op.out, op.out, op.out, op.out), Fwd: op}
	dx, err := apply(g, in[0], out, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// UnaryGrad computes dx = dy·f'(x) from (x, y, dy); tanh and sigmoid use y = f(x) rather than
// evaluating f again.
type UnaryGrad struct {
	base
	Fwd *Unary
}

func (op *UnaryGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		unaryBackward(op.Fwd, data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), data[float32](out))
	} else {
		unaryBackward(op.Fwd, data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](out))
	}
	return nil
}

func unaryBackward[T Float](op *Unary, x, y, dy, dx []T) {
	parallelFor(len(x), 1<<15, func(lo, hi int) {
		switch op.Kind {
		case Relu:
			reluGrad(x[lo:hi], dy[lo:hi], dx[lo:hi])
		case Tanh:
			for i := lo; i < hi; i++ {
				dx[i] = dy[i] * (1 - y[i]*y[i])
			}
		case Sigmoid:
			for i := lo; i < hi; i++ {
				dx[i] = dy[i] * y[i] * (1 - y[i])
			}
		default:
			for i := lo; i < hi; i++ {
				dx[i] = dy[i] * T(op.P.df(op.Kind, float64(x[i])))
			}
		}
	})
}

func (op *UnaryGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// reluGrad sets dx = dy where x > 0 and 0 elsewhere, without branches: the sign pattern of
// activations is random, and mispredicted branches made this loop six times slower.
func reluGrad[T Float](x, dy, dx []T) {
	switch xs := any(x).(type) {
	case []float32:
		g, d := any(dy).([]float32), any(dx).([]float32)
		for i := reluGradVec(xs, g, d); i < len(xs); i++ {
			s := int32(math.Float32bits(xs[i]))
			m := uint32(((s - 1) >> 31) | (s >> 31)) // all ones when v <= 0 (or -0)
			d[i] = math.Float32frombits(math.Float32bits(g[i]) &^ m)
		}
	case []float64:
		g, d := any(dy).([]float64), any(dx).([]float64)
		for i, v := range xs {
			s := int64(math.Float64bits(v))
			m := uint64(((s - 1) >> 63) | (s >> 63))
			d[i] = math.Float64frombits(math.Float64bits(g[i]) &^ m)
		}
	}
}
