// Package engine turns an nn.Model into a gorgonia expression graph for one batch size and mode,
// differentiates it with gorgonia's symbolic autodiff, and runs it.
//
// It runs graphs with its own executor rather than gorgonia's TapeMachine: the executor plans
// every node's memory once (liveness over the sorted graph, buffers shared between values whose
// lifetimes do not overlap, views aliased), so a training step allocates nothing, and it never
// calls SetTraining on ops (the TapeMachine does, and that resets gorgonia BatchNorm statistics).
// Graphs of other batch sizes (the last partial batch) share the same parameter memory.
package engine

import (
	"errors"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"tlkit/nn"
	"tlkit/ops"
	"tlkit/optim"
)

// Options says what to build.
type Options struct {
	// Batch is the batch size the graph is built for; the model's first input dimension is
	// replaced by it (a symbolic batch, or a fixed batch of 1 in the file).
	Batch int
	// Train builds the loss (softmax cross-entropy of the first output against labels) and the
	// gradients of every trainable parameter; BatchNorm then uses batch statistics and updates
	// its running statistics, unless FreezeBN.
	Train bool
	// FreezeBN keeps BatchNorm in inference mode during training (running statistics untouched).
	FreezeBN bool
	// Float64 computes in float64 (gradient checks); parameters are then copies.
	Float64 bool
	// InputGrad also computes the loss gradient with respect to the first input.
	InputGrad bool
	// Outputs overrides the model's outputs by value names (e.g. a backbone's features).
	Outputs []string
	// Loss selects the training objective; the default is the softmax cross-entropy.
	Loss Loss
	// ConstantWeights says that nothing changes the model's tensors while the program lives
	// (a frozen backbone, a checkpoint being scored), so that an inference program may compute
	// from them once: each BatchNorm after a convolution is folded into the convolution's weights
	// and bias, as ONNX Runtime does. The program holds its own folded copies, so later changes
	// to the model's tensors do not reach it. Default false, and ignored with Train: programs that
	// share parameters with training must not use it. Convolutions computed by Winograd also keep
	// their transformed weights after the first pass (16/9 of those layers' weights, about 136 MB
	// for ResNet-34), which saves about 4% of ResNet-34's inference time.
	ConstantWeights bool
}

// Loss is a training objective over the first output.
type Loss int

const (
	// CrossEntropy is the mean softmax cross-entropy against class labels (SetLabels).
	CrossEntropy Loss = iota
	// Probe is Σ output·r for an r of the output's shape (SetProbe): its gradients are the
	// backward pass for upstream gradient r, which tests compare with reference values.
	Probe
)

// Program is a compiled graph with its memory.
type Program struct {
	Model   *nn.Model
	Opts    Options
	g       *G.ExprGraph
	input   *G.Node
	labels  *G.Node
	outputs []*G.Node
	loss    *G.Node
	grads   []*G.Node
	gparams []*nn.Tensor
	inGrad  *G.Node
	params  map[string]*tensor.Dense // graph values of model tensors
	pnodes  map[string]*G.Node       // graph nodes of model tensors
	shapes  map[string]tensor.Shape  // shapes of every value, by name
	x       *exec
}

func (p *Program) dtype() tensor.Dtype {
	if p.Opts.Float64 {
		return tensor.Float64
	}
	return tensor.Float32
}

// CompileError reports a model that cannot be built, naming the node.
type CompileError struct {
	Node, Op string
	Err      error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("node %q (%s): %v", e.Node, e.Op, e.Err)
}
func (e *CompileError) Unwrap() error { return e.Err }

// Compile builds a program for m.
func Compile(m *nn.Model, o Options) (p *Program, err error) {
	defer func() {
		// gorgonia panics on some misuse (Grad on an op without a gradient); turn that into an
		// error rather than crashing the user's run.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("engine: building the graph failed: %v", r)
		}
	}()
	if o.Batch < 1 {
		return nil, fmt.Errorf("engine: batch size %d", o.Batch)
	}
	if len(m.Inputs) != 1 {
		return nil, fmt.Errorf("engine: models with %d inputs are not supported (want 1)", len(m.Inputs))
	}
	if err := Unsupported(m); err != nil {
		return nil, err
	}
	if o.ConstantWeights && !o.Train {
		m = foldBatchNorm(m)
	}
	p = &Program{Model: m, Opts: o, g: G.NewGraph(), params: map[string]*tensor.Dense{}, pnodes: map[string]*G.Node{}}
	c := &lowering{p: p, vals: map[string]*G.Node{}, consts: map[string]*nn.Tensor{}}
	outNames := o.Outputs
	if outNames == nil {
		for _, v := range m.Outputs {
			outNames = append(outNames, v.Name)
		}
	}
	c.fuse(outNames)

	in := m.Inputs[0]
	shape := append([]int(nil), in.Shape...)
	if len(shape) == 0 {
		return nil, fmt.Errorf("engine: input %q has no shape", in.Name)
	}
	shape[0] = o.Batch
	for i, d := range shape {
		if d == 0 {
			return nil, notSupported("engine: input %q has a dimension of size 0 (%v); empty tensors are not supported", in.Name, in.Shape)
		}
		if d < 1 {
			return nil, fmt.Errorf("engine: input %q dimension %d is not fixed (%v); only the batch may vary", in.Name, i, in.Shape)
		}
	}
	p.input = G.NewTensor(p.g, p.dtype(), len(shape), G.WithShape(shape...), G.WithName(in.Name))
	c.vals[in.Name] = p.input

	for _, n := range m.Nodes {
		if err := c.lower(n); err != nil {
			var ce *CompileError
			if errors.As(err, &ce) {
				return nil, err
			}
			return nil, &CompileError{n.Name, n.Op, err}
		}
	}
	outs := o.Outputs
	if outs == nil {
		for _, v := range m.Outputs {
			outs = append(outs, v.Name)
		}
	}
	for _, name := range outs {
		v, ok := c.vals[name]
		if !ok {
			if _, folded := c.consts[name]; folded {
				return nil, notSupported("engine: output %q is a constant computed while building (a shape); outputs must be tensors computed from the input", name)
			}
			return nil, fmt.Errorf("engine: output %q is not computed by the model", name)
		}
		p.outputs = append(p.outputs, v)
	}
	p.shapes = map[string]tensor.Shape{}
	for name, v := range c.vals {
		p.shapes[name] = v.Shape()
	}
	var keep []*G.Node
	keep = append(keep, p.outputs...)
	if o.Train {
		if err := p.buildLoss(); err != nil {
			return nil, err
		}
		keep = append(keep, p.loss)
		keep = append(keep, p.grads...)
		if p.inGrad != nil {
			keep = append(keep, p.inGrad)
		}
	}
	x, err := newExec(p, keep)
	if err != nil {
		return nil, err
	}
	p.x = x
	return p, nil
}

func (p *Program) buildLoss() error {
	logits := p.outputs[0]
	ls := logits.Shape()
	var loss *G.Node
	var err error
	if p.Opts.Loss == Probe {
		if logits.IsScalar() {
			p.labels = G.NewScalar(p.g, p.dtype(), G.WithName("probe"))
		} else {
			p.labels = G.NewTensor(p.g, p.dtype(), len(ls), G.WithShape(ls...), G.WithName("probe"))
		}
		loss, err = ops.NewDot(logits, p.labels)
	} else {
		if len(ls) != 2 {
			return fmt.Errorf("engine: training needs N×classes logits, the first output is %v", ls)
		}
		p.labels = G.NewTensor(p.g, p.dtype(), 1, G.WithShape(ls[0]), G.WithName("labels"))
		loss, err = ops.NewCrossEntropy(logits, p.labels, false)
	}
	if err != nil {
		return err
	}
	p.loss = loss
	var wrt G.Nodes
	for _, t := range p.Model.Params() {
		n, ok := p.pnodes[t.Name]
		if !ok || !t.Trainable() {
			continue
		}
		wrt = append(wrt, n)
		p.gparams = append(p.gparams, t)
	}
	if p.Opts.InputGrad {
		wrt = append(wrt, p.input)
	}
	if len(wrt) == 0 {
		return errors.New("engine: nothing to train: every parameter is frozen")
	}
	if len(p.gparams) == 0 && !p.Opts.InputGrad {
		return errors.New("engine: nothing to train: every parameter is frozen")
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return fmt.Errorf("engine: differentiating the loss: %w", err)
	}
	if p.Opts.InputGrad {
		p.inGrad = grads[len(grads)-1]
		grads = grads[:len(grads)-1]
	}
	p.grads = grads
	return nil
}

// SetInput copies a batch of samples (Batch × sample size, float32) into the input.
func (p *Program) SetInput(x []float32) error {
	return fill(p.x.value(p.input), x)
}

// SetLabels sets the class indices of the batch.
func (p *Program) SetLabels(y []int) error {
	if p.labels == nil {
		return errors.New("engine: program has no labels (not built for training)")
	}
	f := make([]float32, len(y))
	for i, v := range y {
		f[i] = float32(v)
	}
	return fill(p.x.value(p.labels), f)
}

// SetProbe sets r of the Probe loss Σ output·r.
func (p *Program) SetProbe(r []float32) error {
	if p.labels == nil || p.Opts.Loss != Probe {
		return errors.New("engine: program was not built with the Probe loss")
	}
	return fill(p.x.value(p.labels), r)
}

func fill(d *tensor.Dense, x []float32) error {
	switch v := d.Data().(type) {
	case []float32:
		if len(x) != len(v) {
			return fmt.Errorf("engine: got %d values for a tensor of shape %v", len(x), d.Shape())
		}
		copy(v, x)
	case []float64:
		if len(x) != len(v) {
			return fmt.Errorf("engine: got %d values for a tensor of shape %v", len(x), d.Shape())
		}
		for i, f := range x {
			v[i] = float64(f)
		}
	}
	return nil
}

// Input is the graph's input tensor, for callers that fill it directly.
func (p *Program) Input() *tensor.Dense { return p.x.value(p.input) }

// Target is the labels (CrossEntropy) or r (Probe) tensor of a training program.
func (p *Program) Target() *tensor.Dense { return p.x.value(p.labels) }

// Run executes the program once.
func (p *Program) Run() error { return p.x.run() }

// Output returns output i (as float32 values, copied when the program is float64).
func (p *Program) Output(i int) *tensor.Dense { return p.x.value(p.outputs[i]) }

// OutputShape is the shape of output i.
func (p *Program) OutputShape(i int) tensor.Shape { return p.outputs[i].Shape() }

// NumOutputs is the number of outputs.
func (p *Program) NumOutputs() int { return len(p.outputs) }

// Loss is the last run's mean cross-entropy.
func (p *Program) Loss() float64 {
	d := p.x.value(p.loss)
	switch v := d.Data().(type) {
	case []float32:
		return float64(v[0])
	case []float64:
		return v[0]
	}
	return math.NaN()
}

// Grad pairs a trainable parameter with its gradient from the last run.
type Grad struct {
	Param *nn.Tensor
	Value *tensor.Dense
}

// Grads returns the parameter gradients of the last run, in model order.
func (p *Program) Grads() []Grad {
	gs := make([]Grad, len(p.grads))
	for i, g := range p.grads {
		gs[i] = Grad{p.gparams[i], p.x.value(g)}
	}
	return gs
}

// GradParams pairs each trainable parameter with its gradient from the last Run, as the
// optimizer takes them (float32 programs, whose parameters share the model's memory).
func (p *Program) GradParams() []optim.Param {
	ps := make([]optim.Param, len(p.grads))
	for i, g := range p.grads {
		t := p.gparams[i]
		ps[i] = optim.Param{Name: t.Name, W: t.Data, G: p.x.value(g).Data().([]float32)}
	}
	return ps
}

// InputGrad is the loss gradient with respect to the input (Options.InputGrad).
func (p *Program) InputGrad() *tensor.Dense { return p.x.value(p.inGrad) }

// Param returns the graph's tensor for the named model tensor (shared memory in float32; a copy
// in float64 programs).
func (p *Program) Param(name string) *tensor.Dense { return p.params[name] }

// ValueShape is the shape of a named value of the model in this program (ok=false for values
// that are not tensors of the graph, such as folded shape vectors).
func (p *Program) ValueShape(name string) (tensor.Shape, bool) {
	s, ok := p.shapes[name]
	return s, ok
}

// MemoryBytes is the size of the program's planned activation and gradient memory.
func (p *Program) MemoryBytes() int64 { return p.x.bytes }
