package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatMul is ONNX's MatMul with NumPy semantics: stacks of matrices with broadcast batch axes; a
// 1-D first operand is a row vector and a 1-D second operand a column vector, their unit axes
// dropped from the result.
type MatMul struct {
	base
	m, k, n      int
	batch        tensor.Shape // broadcast batch shape
	aBatch       tensor.Shape // batch axes of A (as 3+-D)
	bBatch       tensor.Shape
	aOff, bOff   []int // per output batch element: matrix index in A and B
	outMatrixLen int
}

// NewMatMul adds a·b to the graph.
func NewMatMul(a, b *G.Node) (*G.Node, error) {
	as, bs := a.Shape(), b.Shape()
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("matmul: scalar operands %v, %v", as, bs)
	}
	a2, b2 := as.Clone(), bs.Clone()
	if len(a2) == 1 {
		a2 = tensor.Shape{1, a2[0]}
	}
	if len(b2) == 1 {
		b2 = tensor.Shape{b2[0], 1}
	}
	m, k := a2[len(a2)-2], a2[len(a2)-1]
	kb, n := b2[len(b2)-2], b2[len(b2)-1]
	if k != kb {
		return nil, fmt.Errorf("matmul: inner dimensions of %v and %v differ", as, bs)
	}
	ab, bb := a2[:len(a2)-2], b2[:len(b2)-2]
	batch, err := BroadcastShape(ab, bb)
	if err != nil {
		return nil, fmt.Errorf("matmul: batch axes: %w", err)
	}
	out := append(batch.Clone(), m, n)
	if len(as) == 1 {
		out = append(out[:len(out)-2], n)
	}
	if len(bs) == 1 {
		out = out[:len(out)-1]
	}
	if len(out) == 0 {
		out = tensor.Shape{1}
	}
	op := &MatMul{base: newBase("MatMul", out, as, bs), m: m, k: k, n: n, batch: batch, aBatch: ab, bBatch: bb, outMatrixLen: m * n}
	nb := max(batch.TotalSize(), 1)
	if len(batch) == 0 {
		nb = 1
	}
	op.aOff, op.bOff = make([]int, nb), make([]int, nb)
	if len(batch) > 0 {
		forEachBroadcast(batch, bstrides(ab, batch), func(i, j, cnt, step int) {
			for q := 0; q < cnt; q++ {
				op.aOff[i+q] = j + q*step
			}
		})
		forEachBroadcast(batch, bstrides(bb, batch), func(i, j, cnt, step int) {
			for q := 0; q < cnt; q++ {
				op.bOff[i+q] = j + q*step
			}
		})
	}
	return apply(op, a, b)
}

func (op *MatMul) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		matmulFwd(op, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	} else {
		matmulFwd(op, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	}
	return nil
}

func matmulFwd[T Float](op *MatMul, a, b, y []T) {
	m, k, n := op.m, op.k, op.n
	for i := range op.aOff {
		pgemm(false, false, m, n, k, 1, a[op.aOff[i]*m*k:], k, b[op.bOff[i]*k*n:], n, 0, y[i*m*n:], n)
	}
}

func (op *MatMul) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *MatMul) DiffWRT(int) []bool                { return []bool{true, true} }
func (op *MatMul) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	da, err := apply(&MatMulGrad{base: newBase("MatMulGradA", op.in[0], op.in[0], op.in[1], op.out), Fwd: op, Wrt: 0}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	db, err := apply(&MatMulGrad{base: newBase("MatMulGradB", op.in[1], op.in[0], op.in[1], op.out), Fwd: op, Wrt: 1}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{da, db}, nil
}

// MatMulGrad computes dA = Σ dY·Bᵀ or dB = Σ Aᵀ·dY from (a, b, dy), summing over the batch
// elements that share a matrix of the operand.
type MatMulGrad struct {
	base
	Fwd *MatMul
	Wrt int
}

func (op *MatMulGrad) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		matmulBwd(op, data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), data[float32](out))
	} else {
		matmulBwd(op, data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](out))
	}
	return nil
}

func matmulBwd[T Float](op *MatMulGrad, a, b, dy, d []T) {
	f := op.Fwd
	m, k, n := f.m, f.k, f.n
	zero(d)
	for i := range f.aOff {
		g := dy[i*m*n:]
		if op.Wrt == 0 {
			gemm(false, true, m, k, n, 1, g, n, b[f.bOff[i]*k*n:], n, 1, d[f.aOff[i]*m*k:], k)
		} else {
			gemm(true, false, k, n, m, 1, a[f.aOff[i]*m*k:], k, g, n, 1, d[f.bOff[i]*k*n:], n)
		}
	}
}
func (op *MatMulGrad) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
