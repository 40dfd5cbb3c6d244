package engine

import (
	"fmt"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"tlkit/nn"
	"tlkit/ops"
)

type stepKind uint8

const (
	stepInput   stepKind = iota // value bound before the run (inputs, parameters, constants)
	stepKernel                  // ops.Kernel writing into planned memory
	stepScalar                  // ops.ScalarKernel
	stepView                    // alias of its first input
	stepAdd                     // gorgonia's element-wise add of two same-shape tensors (gradient sums)
	stepGeneric                 // any other gorgonia op, through Do
)

// exec runs a sorted graph over planned memory.
type exec struct {
	nodes []*G.Node
	kind  []stepKind
	args  [][]int
	vals  []*tensor.Dense
	argv  [][]*tensor.Dense // per step, reused argument slices
	index map[*G.Node]int
	bytes int64
	// prof, when set, accumulates the time each kind of op takes (Program.Profile).
	prof       map[string]time.Duration
	profShapes bool // key the profile by op kind and output shape
}

// newExec sorts the part of p's graph that keep depends on and plans its memory: each computed
// value gets a buffer that is free from the step after its last reader, and values of equal size
// with disjoint lifetimes share one.
func newExec(p *Program, keep []*G.Node) (*exec, error) {
	sorted, err := G.Sort(p.g)
	if err != nil {
		return nil, fmt.Errorf("engine: sorting the graph: %w", err)
	}
	// G.Sort returns dependents first; execution goes the other way.
	for i, j := 0, len(sorted)-1; i < j; i, j = i+1, j-1 {
		sorted[i], sorted[j] = sorted[j], sorted[i]
	}
	needed := map[*G.Node]bool{}
	var mark func(n *G.Node)
	children := func(n *G.Node) []*G.Node {
		var cs []*G.Node
		it := p.g.From(n.ID())
		for it.Next() {
			cs = append(cs, it.Node().(*G.Node))
		}
		return cs
	}
	mark = func(n *G.Node) {
		if needed[n] {
			return
		}
		needed[n] = true
		for _, c := range children(n) {
			mark(c)
		}
	}
	for _, k := range keep {
		mark(k)
	}
	x := &exec{index: map[*G.Node]int{}}
	for _, n := range sorted {
		if !needed[n] {
			continue
		}
		x.index[n] = len(x.nodes)
		x.nodes = append(x.nodes, n)
	}
	N := len(x.nodes)
	x.kind = make([]stepKind, N)
	x.args = make([][]int, N)
	x.vals = make([]*tensor.Dense, N)
	x.argv = make([][]*tensor.Dense, N)
	lastUse := make([]int, N)
	for i, n := range x.nodes {
		lastUse[i] = i
		for _, c := range children(n) {
			j, ok := x.index[c]
			if !ok {
				return nil, fmt.Errorf("engine: node %v reads %v, which is not scheduled", n, c)
			}
			x.args[i] = append(x.args[i], j)
		}
		x.argv[i] = make([]*tensor.Dense, len(x.args[i]))
		op := n.Op()
		switch {
		case op == nil:
			x.kind[i] = stepInput
		case isView(op):
			x.kind[i] = stepView
		case isKernel(op):
			x.kind[i] = stepKernel
		case isScalar(op):
			x.kind[i] = stepScalar
		case isGorgoniaAdd(op, n, children(n)):
			x.kind[i] = stepAdd
		default:
			x.kind[i] = stepGeneric
		}
		if x.kind[i] == stepInput || (x.kind[i] == stepGeneric && n.Value() != nil && len(x.args[i]) == 0) {
			x.kind[i] = stepInput
		}
	}
	// A view keeps its source alive as long as the view itself is read.
	root := make([]int, N)
	for i := range x.nodes {
		root[i] = i
		if x.kind[i] == stepView {
			root[i] = root[x.args[i][0]]
		}
		for _, a := range x.args[i] {
			if r := root[a]; lastUse[r] < i {
				lastUse[r] = i
			}
		}
	}
	for i := N - 1; i >= 0; i-- {
		if x.kind[i] == stepView {
			r := root[i]
			if lastUse[i] > lastUse[r] {
				lastUse[r] = lastUse[i]
			}
		}
	}
	kept := map[int]bool{}
	for _, k := range keep {
		kept[root[x.index[k]]] = true
	}
	// Plan buffers: exact-size free lists, released after the last reader.
	type key struct {
		dt   tensor.Dtype
		size int
	}
	pool := map[key][]int{} // free slot ids
	var slots []any         // []float32 or []float64 per slot
	slotOf := make([]int, N)
	releaseAt := map[int][]int{}
	dt := p.dtype()
	release := func(i int) {
		// Free what dies at step i only after step i's output is placed, so an op never
		// writes over its own inputs.
		for _, j := range releaseAt[i] {
			if slotOf[j] >= 0 {
				sz := x.vals[j].Shape().TotalSize()
				pool[key{dt, sz}] = append(pool[key{dt, sz}], slotOf[j])
			}
		}
	}
	for i, n := range x.nodes {
		switch x.kind[i] {
		case stepInput:
			slotOf[i] = -1
			v := n.Value()
			if v == nil {
				// a graph input without a value: the batch or the labels
				shape := n.Shape()
				if n.IsScalar() || len(shape) == 0 {
					shape = tensor.Shape{1}
				}
				x.vals[i] = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
				x.bytes += int64(shape.TotalSize() * int(dt.Size()))
				release(i)
				continue
			}
			d, err := ops.Dense(v)
			if err != nil {
				return nil, fmt.Errorf("engine: value of %v: %w", n, err)
			}
			x.vals[i] = d
			release(i)
			continue
		case stepView:
			slotOf[i] = -1
			release(i)
			continue
		}
		size := n.Shape().TotalSize()
		if n.IsScalar() || size == 0 {
			size = 1
		}
		k := key{dt, size}
		var s int
		if ids := pool[k]; len(ids) > 0 {
			s = ids[len(ids)-1]
			pool[k] = ids[:len(ids)-1]
		} else {
			s = len(slots)
			if dt == tensor.Float64 {
				slots = append(slots, make([]float64, size))
			} else {
				slots = append(slots, make([]float32, size))
			}
			x.bytes += int64(size * int(dt.Size()))
		}
		slotOf[i] = s
		shape := n.Shape()
		if n.IsScalar() || len(shape) == 0 {
			shape = tensor.Shape{1}
		}
		x.vals[i] = tensor.New(tensor.WithBacking(slots[s]), tensor.WithShape(shape...))
		if !kept[i] {
			releaseAt[lastUse[i]] = append(releaseAt[lastUse[i]], i)
		}
		release(i)
	}
	// Views alias their source's memory under their own shape.
	for i, n := range x.nodes {
		if x.kind[i] != stepView {
			continue
		}
		src := x.vals[x.args[i][0]]
		x.vals[i] = tensor.New(tensor.WithBacking(src.Data()), tensor.WithShape(n.Shape()...))
	}
	return x, nil
}

func isView(op G.Op) bool {
	v, ok := op.(ops.View)
	return ok && v.IsView()
}
func isKernel(op G.Op) bool { _, ok := op.(ops.Kernel); return ok }
func isScalar(op G.Op) bool { _, ok := op.(ops.ScalarKernel); return ok }

// isGorgoniaAdd recognises the element-wise additions gorgonia's autodiff inserts to sum the
// gradients of a value read by several nodes.
func isGorgoniaAdd(op G.Op, n *G.Node, cs []*G.Node) bool {
	if !strings.HasPrefix(op.String(), "+ ") || len(cs) != 2 {
		return false
	}
	return cs[0].Shape().Eq(n.Shape()) && cs[1].Shape().Eq(n.Shape())
}

func (x *exec) value(n *G.Node) *tensor.Dense {
	i, ok := x.index[n]
	if !ok {
		return nil
	}
	return x.vals[i]
}

func (x *exec) run() error {
	for i, n := range x.nodes {
		k := x.kind[i]
		if k == stepInput || k == stepView {
			continue
		}
		args := x.argv[i]
		for j, a := range x.args[i] {
			args[j] = x.vals[a]
		}
		out := x.vals[i]
		var err error
		var t0 time.Time
		if x.prof != nil {
			t0 = time.Now()
		}
		switch k {
		case stepKernel:
			err = n.Op().(ops.Kernel).Exec(out, args)
		case stepScalar:
			var v float64
			v, err = n.Op().(ops.ScalarKernel).ExecScalar(args)
			switch d := out.Data().(type) {
			case []float32:
				d[0] = float32(v)
			case []float64:
				d[0] = v
			}
		case stepAdd:
			addInto(out, args[0], args[1])
		case stepGeneric:
			vs := make([]G.Value, len(args))
			for j, a := range args {
				vs[j] = a
			}
			var v G.Value
			v, err = n.Op().Do(vs...)
			if err == nil {
				var d *tensor.Dense
				if d, err = ops.Dense(v); err == nil {
					copyData(out, d)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("engine: %v: %w", n.Op(), err)
		}
		if x.prof != nil {
			key := opKind(n.Op())
			if x.profShapes {
				key += " " + fmt.Sprint(n.Shape())
			}
			x.prof[key] += time.Since(t0)
		}
	}
	return nil
}

// opKind names an op's type for profiles ("Conv2D", "BatchNormGradInput", ...).
func opKind(op G.Op) string {
	s := fmt.Sprintf("%T", op)
	if i := strings.LastIndex(s, "."); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// Profile starts (or, with false, stops) accumulating the time of each kind of op over runs;
// byShape also separates them by output shape.
func (p *Program) Profile(on, byShape bool) {
	p.x.profShapes = byShape
	if on {
		p.x.prof = map[string]time.Duration{}
	} else {
		p.x.prof = nil
	}
}

// ProfileTimes returns the accumulated time per op kind.
func (p *Program) ProfileTimes() map[string]time.Duration { return p.x.prof }

func addInto(out, a, b *tensor.Dense) {
	switch o := out.Data().(type) {
	case []float32:
		ops.SumInto(o, a.Data().([]float32), b.Data().([]float32))
	case []float64:
		ops.SumInto(o, a.Data().([]float64), b.Data().([]float64))
	}
}

func copyData(dst, src *tensor.Dense) {
	switch d := dst.Data().(type) {
	case []float32:
		copy(d, src.Data().([]float32))
	case []float64:
		copy(d, src.Data().([]float64))
	}
}

// StepKind says how a scheduled node is computed.
type StepKind uint8

// The kinds of scheduled node.
const (
	StepInput   = StepKind(stepInput)   // bound before the run: the batch, labels, parameters, constants
	StepKernel  = StepKind(stepKernel)  // an ops.Kernel
	StepScalar  = StepKind(stepScalar)  // an ops.ScalarKernel (a loss)
	StepView    = StepKind(stepView)    // a reshape of its first argument's memory
	StepAdd     = StepKind(stepAdd)     // gorgonia's addition of two same-shape gradients
	StepGeneric = StepKind(stepGeneric) // another gorgonia op
)

// Step is one node of a program's schedule, in execution order; a second compute backend runs
// the same schedule with its own kernels.
type Step struct {
	Node *G.Node
	Kind StepKind
	Args []int // schedule indices of the node's inputs, in order
}

// Schedule returns the program's nodes in execution order.
func (p *Program) Schedule() []Step {
	x := p.x
	s := make([]Step, len(x.nodes))
	for i, n := range x.nodes {
		s[i] = Step{Node: n, Kind: StepKind(x.kind[i]), Args: append([]int(nil), x.args[i]...)}
	}
	return s
}

// Index is the schedule index of a node of the program, or -1.
func (p *Program) Index(n *G.Node) int {
	if i, ok := p.x.index[n]; ok {
		return i
	}
	return -1
}

// Value is the host tensor the CPU executor holds for a schedule index (parameters, constants
// and inputs included).
func (p *Program) Value(i int) *tensor.Dense { return p.x.vals[i] }

// InputNode, TargetNode, OutputNode, LossNode and GradNode name the graph nodes a backend reads
// and writes: the batch, the labels (or probe), output i, the loss, and the gradient of trainable
// parameter i (Grads order).
func (p *Program) InputNode() *G.Node         { return p.input }
func (p *Program) TargetNode() *G.Node        { return p.labels }
func (p *Program) OutputNode(i int) *G.Node   { return p.outputs[i] }
func (p *Program) LossNode() *G.Node          { return p.loss }
func (p *Program) GradNode(i int) *G.Node     { return p.grads[i] }
func (p *Program) GradParam(i int) *nn.Tensor { return p.gparams[i] }
func (p *Program) NumGrads() int              { return len(p.grads) }
