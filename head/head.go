// Package head finds the classification head of a network (its last fully connected layer) and
// replaces it by a new one for another number of classes, the first step of transfer learning.
package head

import (
	"fmt"
	"strings"

	"tlkit/nn"
	"tlkit/torchrand"
)

// Head describes a network's classification head: a Gemm (or MatMul, with an optional bias Add)
// reading the pooled features, and an optional trailing Softmax/LogSoftmax.
type Head struct {
	Nodes    []*nn.Node // the head's nodes, in model order (Gemm, or MatMul [+ Add], [+ Softmax])
	Features string     // the value the head reads: the backbone's output
	In, Out  int        // feature width and number of classes
	Params   []string   // the head's parameter tensors
	Softmax  bool       // the model ends in a (Log)Softmax
}

// passThrough are operators a head may be followed by without changing which layer it is.
var passThrough = map[string]bool{"Identity": true, "Dropout": true}

// NotFoundError says why no head was found and which node was there instead.
type NotFoundError struct {
	Output, Node, Op, Why string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no classification head: expected the output %q to be computed by a Gemm or MatMul (optionally followed by Softmax), but it comes from node %q (%s)%s",
		e.Output, e.Node, e.Op, e.Why)
}

// Find locates the head of m (the producer chain of its first output).
func Find(m *nn.Model) (*Head, error) {
	if len(m.Outputs) == 0 {
		return nil, fmt.Errorf("the model has no output")
	}
	out := m.Outputs[0].Name
	prod := m.Producers()
	h := &Head{}
	n := prod[out]
	for n != nil && passThrough[n.Op] {
		h.Nodes = append([]*nn.Node{n}, h.Nodes...)
		n = prod[n.Inputs[0]]
	}
	if n == nil {
		return nil, &NotFoundError{Output: out, Node: "(graph input)", Op: "-"}
	}
	if n.Op == "Softmax" || n.Op == "LogSoftmax" {
		h.Softmax = true
		h.Nodes = append([]*nn.Node{n}, h.Nodes...)
		n = prod[n.Inputs[0]]
		if n == nil {
			return nil, &NotFoundError{Output: out, Node: "(graph input)", Op: "-"}
		}
	}
	weight := func(name string) *nn.Tensor {
		t := m.Tensor(name)
		if t == nil || t.Data == nil || len(t.Shape) != 2 {
			return nil
		}
		return t
	}
	switch n.Op {
	case "Gemm":
		w := weight(n.Inputs[1])
		if w == nil {
			return nil, &NotFoundError{Output: out, Node: n.Name, Op: n.Op, Why: ": its B input is not a 2-D weight tensor"}
		}
		tb, _ := n.IntAttr("transB", 0)
		ta, _ := n.IntAttr("transA", 0)
		if ta != 0 {
			return nil, &NotFoundError{Output: out, Node: n.Name, Op: n.Op, Why: ": it transposes its input (transA=1)"}
		}
		h.In, h.Out = w.Shape[0], w.Shape[1]
		if tb != 0 {
			h.In, h.Out = w.Shape[1], w.Shape[0]
		}
		h.Features = n.Inputs[0]
		h.Params = []string{n.Inputs[1]}
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			h.Params = append(h.Params, n.Inputs[2])
		}
		h.Nodes = append([]*nn.Node{n}, h.Nodes...)
	case "Add", "MatMul":
		var bias string
		mm := n
		if n.Op == "Add" {
			for i, in := range n.Inputs {
				if p := prod[in]; p != nil && p.Op == "MatMul" {
					mm, bias = p, n.Inputs[1-i]
				}
			}
			if mm == n {
				return nil, &NotFoundError{Output: out, Node: n.Name, Op: n.Op, Why: ": no MatMul feeds it"}
			}
		}
		w := weight(mm.Inputs[1])
		if w == nil {
			return nil, &NotFoundError{Output: out, Node: mm.Name, Op: mm.Op, Why: ": its second input is not a 2-D weight tensor"}
		}
		h.In, h.Out = w.Shape[0], w.Shape[1]
		h.Features = mm.Inputs[0]
		h.Params = []string{mm.Inputs[1]}
		h.Nodes = append([]*nn.Node{mm}, h.Nodes...)
		if bias != "" {
			h.Params = append(h.Params, bias)
			h.Nodes = append([]*nn.Node{mm, n}, h.Nodes[1:]...)
		}
	default:
		return nil, &NotFoundError{Output: out, Node: n.Name, Op: n.Op}
	}
	// The head's tensors must be its own.
	for _, p := range h.Params {
		for _, c := range m.Consumers()[p] {
			if !contains(h.Nodes, c) {
				return nil, fmt.Errorf("the head's tensor %q is also used by node %q", p, c.Name)
			}
		}
	}
	return h, nil
}

func contains(ns []*nn.Node, n *nn.Node) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// prefix is the layer name of the head's weight ("fc" for "fc.weight"), used for the new head.
func (h *Head) prefix() string {
	w := h.Params[0]
	if i := strings.LastIndex(w, "."); i > 0 && !strings.Contains(w, "::") {
		return w[:i]
	}
	return "head"
}

// Replace returns a copy of m whose head is a new Linear(In → classes) layer, initialised as
// torch.nn.Linear is right after torch.manual_seed(seed) (nn.LinearInit: the same values as
// PyTorch's `torch.manual_seed(seed); model.fc = nn.Linear(In, classes)`) and named like the old one
// (torchvision: fc.weight, fc.bias). A trailing Softmax is dropped: tlkit trains on logits. The model's output keeps its
// name.
func Replace(m *nn.Model, classes int, seed int64) (*nn.Model, *Head, error) {
	if classes < 1 {
		return nil, nil, fmt.Errorf("classes must be positive, got %d", classes)
	}
	h, err := Find(m)
	if err != nil {
		return nil, nil, err
	}
	c := m.Clone()
	drop := map[string]bool{}
	for _, n := range h.Nodes {
		drop[n.Name] = true
	}
	var nodes []*nn.Node
	for _, n := range c.Nodes {
		if !drop[n.Name] {
			nodes = append(nodes, n)
		}
	}
	for _, p := range h.Params {
		c.RemoveTensor(p)
	}
	prefix := h.prefix()
	wd, bd := nn.LinearInit(torchrand.New(uint64(seed)), h.In, classes)
	w := &nn.Tensor{Name: prefix + ".weight", Shape: []int{classes, h.In}, Data: wd}
	b := &nn.Tensor{Name: prefix + ".bias", Shape: []int{classes}, Data: bd}
	for _, t := range []*nn.Tensor{w, b} {
		if err := c.AddTensor(t); err != nil {
			return nil, nil, err
		}
	}
	name := prefix
	for _, n := range nodes {
		if n.Name == name {
			name = prefix + "_new"
		}
	}
	nodes = append(nodes, &nn.Node{Name: name, Op: "Gemm", Inputs: []string{h.Features, w.Name, b.Name},
		Outputs: []string{c.Outputs[0].Name}, Attrs: map[string]nn.Attr{"transB": nn.Int(1)}})
	c.Nodes = nodes
	c.Outputs = []nn.Value{{Name: c.Outputs[0].Name}}
	if err := c.Check(); err != nil {
		return nil, nil, err
	}
	nh := &Head{Nodes: nodes[len(nodes)-1:], Features: h.Features, In: h.In, Out: classes, Params: []string{w.Name, b.Name}}
	return c, nh, nil
}

// FreezeBackbone makes every parameter but the head's frozen.
func FreezeBackbone(m *nn.Model, h *Head) {
	own := map[string]bool{}
	for _, p := range h.Params {
		own[p] = true
	}
	m.Freeze(func(name string) bool { return !own[name] })
}
