// Package backbone is the part of a network below its classification head: it cuts a model at
// the head's input and computes the features a frozen backbone produces, once, so a new head can
// train on them without running the backbone every epoch.
package backbone

import (
	"fmt"

	"tlkit/head"
	"tlkit/nn"
)

// Cut returns a copy of m that stops at the head's input: its one output is the features value
// (N × In), and nodes and tensors only the head used are gone.
func Cut(m *nn.Model, h *head.Head) (*nn.Model, error) {
	c := m.Clone()
	c.Outputs = []nn.Value{{Name: h.Features}}
	Prune(c)
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("cutting the backbone: %w", err)
	}
	return c, nil
}

// Prune removes the nodes that no output depends on and the tensors no node reads.
func Prune(m *nn.Model) {
	prod := m.Producers()
	need := map[string]bool{}
	var visit func(v string)
	visit = func(v string) {
		if need[v] {
			return
		}
		need[v] = true
		if n := prod[v]; n != nil {
			for _, in := range n.Inputs {
				if in != "" {
					visit(in)
				}
			}
		}
	}
	for _, o := range m.Outputs {
		visit(o.Name)
	}
	var nodes []*nn.Node
	for _, n := range m.Nodes {
		for _, o := range n.Outputs {
			if need[o] {
				nodes = append(nodes, n)
				break
			}
		}
	}
	m.Nodes = nodes
	for _, t := range append([]*nn.Tensor{}, m.Tensors()...) {
		if !need[t.Name] {
			m.RemoveTensor(t.Name)
		}
	}
}
