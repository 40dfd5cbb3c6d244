package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Reshape gives its input another shape with the same elements in the same order: ONNX's
// Reshape, Flatten, Squeeze, Unsqueeze, Identity and inference-mode Dropout all lower to it.
// Executors alias the memory instead of copying (it is a View).
type Reshape struct{ base }

// NewReshape adds x viewed with shape s to the graph.
func NewReshape(x *G.Node, s tensor.Shape) (*G.Node, error) {
	xs := x.Shape()
	if xs.TotalSize() != s.TotalSize() {
		return nil, fmt.Errorf("reshape: cannot view %v (%d elements) as %v (%d)", xs, xs.TotalSize(), s, s.TotalSize())
	}
	return apply(&Reshape{newBase(fmt.Sprintf("Reshape%v", []int(s)), s.Clone(), xs)}, x)
}

func (op *Reshape) IsView() bool { return true }

func (op *Reshape) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		copy(data[float32](out), data[float32](in[0]))
	} else {
		copy(data[float64](out), data[float64](in[0]))
	}
	return nil
}
func (op *Reshape) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *Reshape) DiffWRT(int) []bool                { return []bool{true} }
func (op *Reshape) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := NewReshape(grad, op.in[0])
	return G.Nodes{dx}, err
}
