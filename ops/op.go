// Package ops holds tlkit's operators as gorgonia Ops: each computes its forward pass with our
// own kernels and differentiates itself symbolically (SymDiff) into other ops of this package.
//
// Why our own ops rather than gorgonia's: several of gorgonia's are silently wrong (AveragePool,
// 4-D Mean/Sum, BatchNorm's gradient in inference mode, Dropout's gradient), hold hidden state
// (BatchNorm's SetTraining resets running statistics) or have no gradient (GlobalAveragePool); and
// one explicit op set is what a second compute backend has to implement.
//
// Ops are stateless apart from BatchNorm's running statistics: backward ops recompute what they
// need (a max-pool's argmax, a batch's mean) from their inputs, so any executor order is safe.
// Every op works in float32 and float64; the float64 path is what gradient tests check.
package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Kernel is an op that writes its result into a tensor the caller provides, so an executor can
// reuse memory across steps. out has the shape and dtype the graph inferred for the node.
type Kernel interface {
	G.Op
	Exec(out *tensor.Dense, in []*tensor.Dense) error
}

// View is an op whose output is its first input's data under another shape (Reshape, Flatten);
// an executor can alias the memory instead of copying.
type View interface {
	G.Op
	IsView() bool
}

// ScalarKernel is an op whose result is a scalar (a loss).
type ScalarKernel interface {
	G.Op
	ExecScalar(in []*tensor.Dense) (float64, error)
}

var opSeq uint64

// base carries what every op of this package shares: fixed input and output shapes (graphs are
// built for one batch size), a unique identity so gorgonia never merges two op instances, and the
// boilerplate of gorgonia's Op interface.
type base struct {
	name string
	id   uint64
	in   []tensor.Shape // input shapes; nil entry = scalar input
	out  tensor.Shape   // nil = scalar output
}

func newBase(name string, out tensor.Shape, in ...tensor.Shape) base {
	return base{name: name, id: atomic.AddUint64(&opSeq, 1), in: in, out: out}
}

func (b *base) Arity() int { return len(b.in) }

func ttype(s tensor.Shape, a hm.TypeVariable) hm.Type {
	if s == nil {
		return a
	}
	return G.TensorType{Dims: len(s), Of: a}
}

func (b *base) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(b.in)+1)
	for _, s := range b.in {
		ts = append(ts, ttype(s, a))
	}
	ts = append(ts, ttype(b.out, a))
	return hm.NewFnType(ts...)
}

func (b *base) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if b.out == nil {
		return tensor.ScalarShape(), nil
	}
	return b.out.Clone(), nil
}

func (b *base) ReturnsPtr() bool     { return false }
func (b *base) CallsExtern() bool    { return false }
func (b *base) OverwritesInput() int { return -1 }
func (b *base) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "tlkit.%s#%d", b.name, b.id)
}
func (b *base) Hashcode() uint32 {
	h := fnv.New32a()
	b.WriteHash(h)
	return h.Sum32()
}
func (b *base) String() string { return b.name }

// InShapes are the shapes of the op's inputs (nil entries for scalars).
func (b *base) InShapes() []tensor.Shape { return b.in }

// OutShape is the shape of the op's result (nil for a scalar).
func (b *base) OutShape() tensor.Shape { return b.out }

// Float is the element type of tlkit's tensors.
type Float interface{ ~float32 | ~float64 }

func data[T Float](t *tensor.Dense) []T { return t.Data().([]T) }

func isF32(t *tensor.Dense) bool { return t.Dtype() == tensor.Float32 }

// Dense converts a gorgonia value to a dense tensor; scalars become one-element tensors.
func Dense(v G.Value) (*tensor.Dense, error) {
	switch x := v.(type) {
	case *tensor.Dense:
		return x, nil
	case *G.F32:
		return tensor.New(tensor.WithBacking([]float32{float32(*x)}), tensor.WithShape(1)), nil
	case *G.F64:
		return tensor.New(tensor.WithBacking([]float64{float64(*x)}), tensor.WithShape(1)), nil
	}
	return nil, fmt.Errorf("ops: unsupported value type %T", v)
}

// denses views gorgonia values as dense tensors (Dense on each).
func denses(vs []G.Value) ([]*tensor.Dense, error) {
	in := make([]*tensor.Dense, len(vs))
	for i, v := range vs {
		d, err := Dense(v)
		if err != nil {
			return nil, err
		}
		in[i] = d
	}
	return in, nil
}

// doKernel implements gorgonia's Do for a Kernel: allocate the output, then Exec.
func doKernel(k Kernel, out tensor.Shape, vs []G.Value) (G.Value, error) {
	in, err := denses(vs)
	if err != nil {
		return nil, err
	}
	o := tensor.New(tensor.Of(in[0].Dtype()), tensor.WithShape(out...))
	if err := k.Exec(o, in); err != nil {
		return nil, err
	}
	return o, nil
}

func doScalar(k ScalarKernel, vs []G.Value) (G.Value, error) {
	in, err := denses(vs)
	if err != nil {
		return nil, err
	}
	r, err := k.ExecScalar(in)
	if err != nil {
		return nil, err
	}
	if in[0].Dtype() == tensor.Float32 {
		return G.NewF32(float32(r)), nil
	}
	return G.NewF64(r), nil
}

// apply adds op to the graph of its inputs, wrapping gorgonia's errors with the op's name.
func apply(op G.Op, in ...*G.Node) (*G.Node, error) {
	n, err := G.ApplyOp(op, in...)
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", op, err)
	}
	return n, nil
}

func shapeOf(n *G.Node) tensor.Shape {
	if n.IsScalar() {
		return nil
	}
	return n.Shape()
}

func zero[T Float](s []T) {
	for i := range s {
		s[i] = 0
	}
}
