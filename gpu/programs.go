package gpu

import (
	"tlkit/engine"
	"tlkit/nn"
)

// Programs compiles a model once per batch size (the full batch and the last partial one) for the
// device, like engine.Programs; all of them share the model's device parameters.
type Programs struct {
	dev   *Device
	model *nn.Model
	eo    engine.Options
	o     Options
	byN   map[int]*Program
}

// NewPrograms caches device programs of m built with eo (Batch is set per call) and o.
func (d *Device) NewPrograms(m *nn.Model, eo engine.Options, o Options) *Programs {
	return &Programs{dev: d, model: m, eo: eo, o: o, byN: map[int]*Program{}}
}

// Get returns the program for batch size n, compiling it on first use.
func (ps *Programs) Get(n int) (*Program, error) {
	if p, ok := ps.byN[n]; ok {
		return p, nil
	}
	eo := ps.eo
	eo.Batch = n
	ep, err := engine.Compile(ps.model, eo)
	if err != nil {
		return nil, err
	}
	p, err := ps.dev.Compile(ep, ps.o)
	if err != nil {
		return nil, err
	}
	ps.byN[n] = p
	return p, nil
}

// Close frees every program (the shared parameters stay with the device).
func (ps *Programs) Close() error {
	var first error
	for n, p := range ps.byN {
		if err := p.Close(); err != nil && first == nil {
			first = err
		}
		delete(ps.byN, n)
	}
	return first
}
