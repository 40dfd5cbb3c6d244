// Package nn describes networks: a graph of ONNX-style operator nodes over named values, and the
// named tensors they use (parameters, buffers, constants). One description serves every use: the
// engine compiles it into a gorgonia graph, the importer builds it from ONNX, the exporter writes
// it back, summaries and checkpoints read its tensors.
package nn

import (
	"fmt"
	"sort"
)

// Role says how a tensor takes part in training.
type Role uint8

const (
	// Param is a learnable weight; the optimizer updates it unless it is Frozen.
	Param Role = iota
	// Buffer is state that the forward pass updates, such as BatchNorm running statistics;
	// checkpoints keep it, the optimizer never touches it and parameter counts leave it out.
	Buffer
	// Const is fixed data, such as the shape vector of a Reshape.
	Const
)

func (r Role) String() string {
	switch r {
	case Param:
		return "param"
	case Buffer:
		return "buffer"
	case Const:
		return "const"
	}
	return fmt.Sprintf("role(%d)", r)
}

// Tensor is a named tensor of the model. Float data lives in Data, integer data (shapes, axes)
// in Ints; exactly one of them holds the elements.
type Tensor struct {
	Name   string
	Shape  []int
	Data   []float32
	Ints   []int64
	Role   Role
	Frozen bool // for Param: excluded from training
}

// Size is the number of elements.
// Copy is a deep copy of t named name.
func (t *Tensor) Copy(name string) *Tensor {
	c := *t
	c.Name = name
	c.Shape = append([]int(nil), t.Shape...)
	if t.Data != nil {
		c.Data = append([]float32(nil), t.Data...)
	}
	if t.Ints != nil {
		c.Ints = append([]int64(nil), t.Ints...)
	}
	return &c
}

func (t *Tensor) Size() int { return Numel(t.Shape) }

// Trainable reports whether the optimizer updates t.
func (t *Tensor) Trainable() bool { return t.Role == Param && !t.Frozen }

// Numel is the product of the dimensions (1 for a scalar shape).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Value is a named graph input or output. A dimension of -1 is not fixed by the model (the batch).
type Value struct {
	Name  string
	Shape []int
}

// Node is one operator application, with ONNX's operator names and attribute meanings.
type Node struct {
	Name    string
	Op      string
	Inputs  []string // "" marks an omitted optional input
	Outputs []string
	Attrs   map[string]Attr
}

// Model is a network: nodes in topological order, the graph inputs (not tensors) and outputs,
// and the named tensors.
type Model struct {
	Name    string
	Inputs  []Value
	Outputs []Value
	Nodes   []*Node
	Opset   int
	// Meta carries free-form facts worth keeping with the weights (class names, preprocessing).
	Meta map[string]string

	tensors []*Tensor
	index   map[string]*Tensor
}

// Tensors lists the model's tensors in insertion order.
func (m *Model) Tensors() []*Tensor { return m.tensors }

// Tensor returns the named tensor, or nil.
func (m *Model) Tensor(name string) *Tensor {
	if m.index == nil {
		return nil
	}
	return m.index[name]
}

// AddTensor adds t; a tensor of the same name is an error.
func (m *Model) AddTensor(t *Tensor) error {
	if m.index == nil {
		m.index = map[string]*Tensor{}
	}
	if _, ok := m.index[t.Name]; ok {
		return fmt.Errorf("nn: duplicate tensor %q", t.Name)
	}
	if t.Data != nil && len(t.Data) != t.Size() || t.Ints != nil && len(t.Ints) != t.Size() {
		return fmt.Errorf("nn: tensor %q has shape %v but %d elements", t.Name, t.Shape, len(t.Data)+len(t.Ints))
	}
	m.index[t.Name] = t
	m.tensors = append(m.tensors, t)
	return nil
}

// RemoveTensor drops the named tensor if present.
func (m *Model) RemoveTensor(name string) {
	if _, ok := m.index[name]; !ok {
		return
	}
	delete(m.index, name)
	for i, t := range m.tensors {
		if t.Name == name {
			m.tensors = append(m.tensors[:i], m.tensors[i+1:]...)
			break
		}
	}
}

// Params lists the tensors with role Param.
func (m *Model) Params() []*Tensor {
	var ps []*Tensor
	for _, t := range m.tensors {
		if t.Role == Param {
			ps = append(ps, t)
		}
	}
	return ps
}

// Count returns the number of parameter elements, all and trainable ones, as torchsummary counts
// them (buffers such as running statistics are not parameters).
func (m *Model) Count() (total, trainable int64) {
	for _, t := range m.tensors {
		if t.Role != Param {
			continue
		}
		total += int64(t.Size())
		if !t.Frozen {
			trainable += int64(t.Size())
		}
	}
	return
}

// Freeze marks every parameter whose name satisfies pred as frozen (and the others trainable).
func (m *Model) Freeze(pred func(name string) bool) {
	for _, t := range m.tensors {
		if t.Role == Param {
			t.Frozen = pred(t.Name)
		}
	}
}

// Clone copies the model deeply, tensor data included.
func (m *Model) Clone() *Model {
	c := &Model{Name: m.Name, Opset: m.Opset}
	c.Inputs = cloneValues(m.Inputs)
	c.Outputs = cloneValues(m.Outputs)
	if m.Meta != nil {
		c.Meta = map[string]string{}
		for k, v := range m.Meta {
			c.Meta[k] = v
		}
	}
	for _, n := range m.Nodes {
		c.Nodes = append(c.Nodes, n.Clone())
	}
	for _, t := range m.tensors {
		_ = c.AddTensor(t.Copy(t.Name))
	}
	return c
}

func cloneValues(vs []Value) []Value {
	out := make([]Value, len(vs))
	for i, v := range vs {
		out[i] = Value{Name: v.Name, Shape: append([]int(nil), v.Shape...)}
	}
	return out
}

// Clone copies the node, attributes included.
func (n *Node) Clone() *Node {
	c := &Node{Name: n.Name, Op: n.Op, Inputs: append([]string(nil), n.Inputs...), Outputs: append([]string(nil), n.Outputs...)}
	if n.Attrs != nil {
		c.Attrs = map[string]Attr{}
		for k, v := range n.Attrs {
			c.Attrs[k] = v.clone()
		}
	}
	return c
}

// Producers maps each value name to the node that computes it.
func (m *Model) Producers() map[string]*Node {
	p := map[string]*Node{}
	for _, n := range m.Nodes {
		for _, o := range n.Outputs {
			p[o] = n
		}
	}
	return p
}

// Consumers maps each value name to the nodes that read it, in node order.
func (m *Model) Consumers() map[string][]*Node {
	c := map[string][]*Node{}
	for _, n := range m.Nodes {
		for _, in := range n.Inputs {
			if in != "" {
				c[in] = append(c[in], n)
			}
		}
	}
	return c
}

// Check verifies the model's structure: node and value names are unique, every input of a node
// is a graph input, a tensor or an earlier node's output, and the outputs are computed.
func (m *Model) Check() error {
	defined := map[string]string{}
	for _, in := range m.Inputs {
		defined[in.Name] = "graph input"
	}
	for _, t := range m.tensors {
		if _, dup := defined[t.Name]; dup {
			return fmt.Errorf("nn: %q is both a graph input and a tensor", t.Name)
		}
		defined[t.Name] = "tensor"
	}
	names := map[string]bool{}
	for i, n := range m.Nodes {
		if n.Name == "" {
			return fmt.Errorf("nn: node %d (%s) has no name", i, n.Op)
		}
		if names[n.Name] {
			return fmt.Errorf("nn: two nodes are named %q", n.Name)
		}
		names[n.Name] = true
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if _, ok := defined[in]; !ok {
				return fmt.Errorf("nn: node %q (%s) reads %q, which nothing before it defines", n.Name, n.Op, in)
			}
		}
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if what, dup := defined[o]; dup {
				return fmt.Errorf("nn: node %q (%s) writes %q, already defined as a %s", n.Name, n.Op, o, what)
			}
			defined[o] = "node output"
		}
	}
	for _, o := range m.Outputs {
		if _, ok := defined[o.Name]; !ok {
			return fmt.Errorf("nn: graph output %q is never computed", o.Name)
		}
	}
	return nil
}

// OpTypes returns the distinct operator types used, sorted.
func (m *Model) OpTypes() []string {
	seen := map[string]bool{}
	for _, n := range m.Nodes {
		seen[n.Op] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
