package engine

import (
	"tlkit/nn"
)

// Programs compiles a model once per batch size and mode and keeps the programs, which share the
// model's parameter memory: a full batch and the last partial batch each get their own graph.
type Programs struct {
	model *nn.Model
	opts  Options
	byN   map[int]*Program
	eval  *Programs
}

// NewPrograms caches programs of m built with opts (Batch is set per call).
func NewPrograms(m *nn.Model, opts Options) *Programs {
	return &Programs{model: m, opts: opts, byN: map[int]*Program{}}
}

// Get returns the program for batch size n.
func (ps *Programs) Get(n int) (*Program, error) {
	if p, ok := ps.byN[n]; ok {
		return p, nil
	}
	o := ps.opts
	o.Batch = n
	p, err := Compile(ps.model, o)
	if err != nil {
		return nil, err
	}
	ps.byN[n] = p
	return p, nil
}

// Eval returns the inference programs of the same model.
func (ps *Programs) Eval() *Programs {
	if !ps.opts.Train {
		return ps
	}
	if ps.eval == nil {
		ps.eval = NewPrograms(ps.model, Options{Outputs: ps.opts.Outputs})
	}
	return ps.eval
}
