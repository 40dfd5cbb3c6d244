package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"tlkit/nn"
	"tlkit/ops"
)

// lowering builds the gorgonia graph of one program, node by node.
type lowering struct {
	p      *Program
	vals   map[string]*G.Node
	consts map[string]*nn.Tensor // compile-time values (folded shape computations)
	// fusedAct maps a BatchNormalization, Conv or Add node to the activation node it computes as
	// well; fused marks those activation nodes.
	fusedAct map[string]*nn.Node
	fused    map[string]bool
}

// fuse finds BatchNormalization → Relu and Conv or Add → Relu/Sigmoid/Tanh pairs where the activation
// is the only reader of the first node's output (and that is not an output): one op computes
// both, saving a pass over the data and the memory of the intermediate.
func (c *lowering) fuse(outputs []string) {
	c.fusedAct, c.fused = map[string]*nn.Node{}, map[string]bool{}
	keep := map[string]bool{}
	for _, o := range outputs {
		keep[o] = true
	}
	cons := c.p.Model.Consumers()
	for _, n := range c.p.Model.Nodes {
		if len(n.Outputs) == 0 || keep[n.Outputs[0]] {
			continue
		}
		rs := cons[n.Outputs[0]]
		if len(rs) != 1 {
			continue
		}
		a := rs[0]
		k, isAct := unaryKinds[a.Op]
		switch {
		case n.Op == "BatchNormalization" && a.Op == "Relu",
			(n.Op == "Conv" || n.Op == "Add") && isAct && ops.FusibleAct(k):
			c.fusedAct[n.Name] = a
			c.fused[a.Name] = true
		}
	}
}

type lowerFn func(c *lowering, n *nn.Node) error

// lowerings maps each supported ONNX operator to the function that builds it.
var lowerings = map[string]lowerFn{}

func register(fn lowerFn, names ...string) {
	for _, n := range names {
		lowerings[n] = fn
	}
}

// Supported reports whether the engine can build the operator.
func Supported(op string) bool { _, ok := lowerings[op]; return ok }

// SupportedOps lists the operators the engine builds, sorted.
func SupportedOps() []string {
	var s []string
	for k := range lowerings {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// UnsupportedError lists every operator of a model the engine cannot build, with the names of
// the nodes that use it, so a user sees the whole problem at once.
type UnsupportedError struct {
	Ops map[string][]string // op type -> node names
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("unsupported operators (%d):", len(e.Ops)) + OpList(e.Ops)
}

// OpList formats op type -> node names as the lines of an unsupported-operator error, sorted by
// type, each naming its first five nodes.
func OpList(ops map[string][]string) string {
	var types []string
	for t := range ops {
		types = append(types, t)
	}
	sort.Strings(types)
	var b strings.Builder
	for _, t := range types {
		names := ops[t]
		shown := names
		if len(shown) > 5 {
			shown = shown[:5]
		}
		fmt.Fprintf(&b, "\n  %s: %d node(s): %s", t, len(names), strings.Join(shown, ", "))
		if len(names) > len(shown) {
			fmt.Fprintf(&b, ", ... (%d more)", len(names)-len(shown))
		}
	}
	return b.String()
}

// Unsupported returns an *UnsupportedError naming every unsupported operator of m, or nil.
func Unsupported(m *nn.Model) error {
	bad := map[string][]string{}
	for _, n := range m.Nodes {
		if !Supported(n.Op) {
			bad[n.Op] = append(bad[n.Op], n.Name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &UnsupportedError{bad}
}

func (c *lowering) lower(n *nn.Node) error {
	return lowerings[n.Op](c, n)
}

// in returns the graph node for input i of n, creating nodes for model tensors on first use.
func (c *lowering) in(n *nn.Node, i int) (*G.Node, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil, fmt.Errorf("input %d is missing", i)
	}
	name := n.Inputs[i]
	if v, ok := c.vals[name]; ok {
		return v, nil
	}
	t := c.p.Model.Tensor(name)
	if ct, ok := c.consts[name]; ok {
		t = ct
	}
	if t == nil {
		return nil, fmt.Errorf("input %q is not defined", name)
	}
	if t.Data == nil {
		return nil, fmt.Errorf("input %q is an integer tensor where a float tensor is needed", name)
	}
	v := c.tensorNode(t)
	c.vals[name] = v
	return v, nil
}

// optIn is in for an optional input: nil when absent.
func (c *lowering) optIn(n *nn.Node, i int) (*G.Node, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil, nil
	}
	return c.in(n, i)
}

func (c *lowering) tensorNode(t *nn.Tensor) *G.Node {
	var d *tensor.Dense
	shape := t.Shape
	if len(shape) == 0 {
		shape = []int{1}
	}
	if c.p.Opts.Float64 {
		f := make([]float64, len(t.Data))
		for i, v := range t.Data {
			f[i] = float64(v)
		}
		d = tensor.New(tensor.WithBacking(f), tensor.WithShape(shape...))
	} else {
		d = tensor.New(tensor.WithBacking(t.Data), tensor.WithShape(shape...))
	}
	v := G.NewTensor(c.p.g, c.p.dtype(), len(shape), G.WithShape(shape...), G.WithName(t.Name), G.WithValue(d))
	c.p.params[t.Name] = d
	c.p.pnodes[t.Name] = v
	return v
}

// ints returns input i of n as a compile-time integer vector (a shape or axes), or nil if absent.
func (c *lowering) ints(n *nn.Node, i int) ([]int64, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil, nil
	}
	t := c.constOf(n.Inputs[i])
	if t == nil || t.Ints == nil {
		return nil, fmt.Errorf("input %q must be a constant integer tensor", n.Inputs[i])
	}
	return t.Ints, nil
}

// scalarIn returns input i of n as a compile-time float constant (Clip's bounds), ok=false if absent.
func (c *lowering) scalarIn(n *nn.Node, i int) (float64, bool, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return 0, false, nil
	}
	t := c.constOf(n.Inputs[i])
	if t == nil {
		t = c.p.Model.Tensor(n.Inputs[i])
	}
	if t == nil || t.Data == nil || len(t.Data) != 1 {
		return 0, false, fmt.Errorf("input %q must be a constant scalar", n.Inputs[i])
	}
	return float64(t.Data[0]), true, nil
}

func (c *lowering) out(n *nn.Node, v *G.Node) error {
	if len(n.Outputs) == 0 {
		return fmt.Errorf("has no output")
	}
	c.vals[n.Outputs[0]] = v
	return nil
}

func ints(v []int64) []int {
	o := make([]int, len(v))
	for i, x := range v {
		o[i] = int(x)
	}
	return o
}

func shapeInts(s tensor.Shape) []int64 {
	o := make([]int64, len(s))
	for i, x := range s {
		o[i] = int64(x)
	}
	return o
}

// ErrNotSupported marks build errors caused by an operator feature tlkit does not implement
// (rather than by an inconsistent model); test with errors.Is.
var ErrNotSupported = errors.New("not supported")

type featureError struct{ msg string }

func (e *featureError) Error() string        { return e.msg }
func (e *featureError) Is(target error) bool { return target == ErrNotSupported }

// notSupported formats an error that errors.Is(err, ErrNotSupported) recognises.
func notSupported(format string, args ...any) error {
	return &featureError{fmt.Sprintf(format, args...)}
}

// axisAttr reads n's axis attribute (default def) for a tensor of rank r: a negative axis counts
// from the end, and the axis must name one of the r axes.
func axisAttr(n *nn.Node, def int64, r int) (int, error) {
	a, err := n.IntAttr("axis", def)
	if err != nil {
		return 0, err
	}
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a >= int64(r) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	return int(a), nil
}

// intsAttrOrInput reads an integer list that is attribute name up to the opset that made it
// input 1 (Squeeze's and the reductions' axes, Split's sizes), the constant input after it; nil
// when absent.
func (c *lowering) intsAttrOrInput(n *nn.Node, name string) ([]int64, error) {
	v, err := n.IntsAttr(name, nil)
	if err != nil || v != nil {
		return v, err
	}
	return c.ints(n, 1)
}
