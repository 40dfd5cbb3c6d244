package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gemm is ONNX's Gemm: Y = alpha·op(A)·op(B) + beta·C, with op the optional transpose and C
// (optional) broadcast to Y's shape. A Linear layer is Gemm with transB = 1.
type Gemm struct {
	base
	TransA, TransB bool
	Alpha, Beta    float64
	m, n, k        int
	hasC           bool
}

// NewGemm adds Gemm(a, b, c) to the graph; c may be nil.
func NewGemm(a, b, c *G.Node, transA, transB bool, alpha, beta float64) (*G.Node, error) {
	as, bs := a.Shape(), b.Shape()
	if len(as) != 2 || len(bs) != 2 {
		return nil, fmt.Errorf("gemm: want 2-D A and B, got %v and %v", as, bs)
	}
	m, k := as[0], as[1]
	if transA {
		m, k = k, m
	}
	kb, n := bs[0], bs[1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return nil, fmt.Errorf("gemm: inner dimensions differ: A %v (transA=%v), B %v (transB=%v)", as, transA, bs, transB)
	}
	out := tensor.Shape{m, n}
	in := []*G.Node{a, b}
	shapes := []tensor.Shape{as, bs}
	if c != nil {
		cs := shapeOf(c)
		if !broadcastsTo(cs, out) {
			return nil, fmt.Errorf("gemm: C of shape %v does not broadcast to %v", cs, out)
		}
		in = append(in, c)
		shapes = append(shapes, cs)
	}
	op := &Gemm{base: newBase(fmt.Sprintf("Gemm%dx%dx%d", m, n, k), out, shapes...), TransA: transA, TransB: transB, Alpha: alpha, Beta: beta, m: m, n: n, k: k, hasC: c != nil}
	return apply(op, in...)
}

// Dims returns the product's sizes (Y is m×n, the inner dimension k) and whether C is added.
func (op *Gemm) Dims() (m, n, k int, hasC bool) { return op.m, op.n, op.k, op.hasC }

func (op *Gemm) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		runGemm[float32](op, out, in)
	} else {
		runGemm[float64](op, out, in)
	}
	return nil
}

func runGemm[T Float](op *Gemm, out *tensor.Dense, in []*tensor.Dense) {
	y := data[T](out)
	beta := T(0)
	if op.hasC && op.Beta != 0 {
		broadcastInto(data[T](in[2]), op.in[2], y, op.out, T(op.Beta))
		beta = 1
	}
	a, b := data[T](in[0]), data[T](in[1])
	lda, ldb := op.in[0][1], op.in[1][1]
	pgemm(op.TransA, op.TransB, op.m, op.n, op.k, T(op.Alpha), a, lda, b, ldb, beta, y, op.n)
}

func (op *Gemm) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

func (op *Gemm) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

// SymDiff expresses both gradients as Gemms: with Y = α·op(A)·op(B),
// dA = α·dY·op(B)ᵀ (transposed back when A was) and dB = α·op(A)ᵀ·dY (likewise).
func (op *Gemm) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	a, b := in[0], in[1]
	var da, db *G.Node
	var err error
	if !op.TransA {
		da, err = NewGemm(grad, b, nil, false, !op.TransB, op.Alpha, 0)
	} else {
		da, err = NewGemm(b, grad, nil, op.TransB, true, op.Alpha, 0)
	}
	if err != nil {
		return nil, err
	}
	if !op.TransB {
		db, err = NewGemm(a, grad, nil, !op.TransA, false, op.Alpha, 0)
	} else {
		db, err = NewGemm(grad, a, nil, true, op.TransA, op.Alpha, 0)
	}
	if err != nil {
		return nil, err
	}
	res := G.Nodes{da, db}
	if op.hasC {
		dc, err := ReduceTo(grad, op.in[2], op.Beta)
		if err != nil {
			return nil, err
		}
		res = append(res, dc)
	}
	return res, nil
}
