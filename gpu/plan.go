package gpu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"gorgonia.org/tensor"

	"tlkit/engine"
	"tlkit/nn"
	"tlkit/ops"
)

// This file turns an engine program's schedule into device steps and plans their memory. It
// touches no device, so tests check it against the CPU engine.

// opKind is what a device step runs.
type opKind int

const (
	opConv           opKind = iota // cudnnConvolutionForward (+ cudnnAddTensor for the bias)
	opConvGradData                 // cudnnConvolutionBackwardData
	opConvGradWeight               // cudnnConvolutionBackwardFilter
	opBNTrainFwd                   // cudnnBatchNormalizationForwardTraining (updates running statistics)
	opBNInferFwd                   // cudnnBatchNormalizationForwardInference
	opBNTrainBwd                   // cudnnBatchNormalizationBackward: dx, and dscale/dbias of fused partner steps
	opBNFrozenDx                   // inference-mode BatchNorm's input gradient (own kernel)
	opBNDscale                     // Σ dy·x̂ per channel (own kernel; saved or running statistics)
	opUnary
	opUnaryGrad
	opMaxPool
	opMaxPoolGrad
	opAvgPool
	opAvgPoolGrad
	opGAP
	opGAPGrad
	opGemm // cuBLAS
	opBinary
	opBinaryGrad
	opReduce // ReduceTo or ChannelSum: sums over broadcast axes
	opScale  // ReduceTo without reduction and a scale other than 1
	opXent
	opXentGrad
	opSoftmax
	opSoftmaxGrad
	opAdd // gorgonia's addition of two gradients
)

var opNames = [...]string{"Conv", "ConvGradData", "ConvGradWeight", "BatchNormTrain", "BatchNormInfer", "BatchNormBackward",
	"BatchNormFrozenGradInput", "BatchNormGradScale", "Unary", "UnaryGrad", "MaxPool", "MaxPoolGrad", "AvgPool", "AvgPoolGrad",
	"GlobalAvgPool", "GlobalAvgPoolGrad", "Gemm", "Binary", "BinaryGrad", "Reduce", "Scale", "CrossEntropy", "CrossEntropyGrad",
	"Softmax", "SoftmaxGrad", "Add"}

func (k opKind) String() string { return opNames[k] }

// storage says where a scheduled value lives on the device.
type storage uint8

const (
	stNone   storage = iota // not stored (never happens for a scheduled value once planned)
	stArena                 // planned memory of computed values
	stView                  // the memory of another value (root)
	stParam                 // a model tensor: device memory shared by every program of the model
	stConst                 // a constant of this program (uploaded once)
	stInput                 // the batch (arena, whole-run lifetime)
	stLabels                // the labels (arena, whole-run lifetime)
)

// pval is the plan of one scheduled value.
type pval struct {
	st    storage
	root  int // stView: the value whose memory this is
	elems int
	off   int64 // stArena/stInput/stLabels: byte offset in the arena; stConst: in the constants
	def   int   // the step that writes it
	last  int   // the last step that reads it (len(steps) when it is kept)
	host  []float32
	tname string // stParam: the model tensor's name
}

// dstep is one device step: the op of schedule node `node`, possibly fused with others.
type dstep struct {
	op   opKind
	node int   // schedule index of the node computed (its output)
	in   []int // schedule indices read
	// opBNTrainBwd: schedule indices of the fused BatchNormGradScale and ChannelSum nodes (or -1:
	// cuDNN's dscale/dbias then go to scratch memory).
	dscale, dbias int
	bn            *ops.BatchNorm
	meta          []int32 // constant integers the kernel reads (broadcast and reduction layouts)
	metaOff       int64   // their offset in the program's constants
	scratch       int64   // workspace bytes the step needs besides cuDNN's
}

// plan is a program's device schedule and memory layout.
type plan struct {
	prog       *engine.Program
	sched      []engine.Step
	steps      []dstep
	vals       []pval
	aux        map[*ops.BatchNorm]int64 // arena offset of each BatchNorm's scratch: 4 blocks of C floats
	arenaBytes int64
	consts     []byte
	input      int
	labels     int // -1 without labels
	loss       int // -1 without loss
	outputs    []int
	grads      []int
	classes    int // logits width of a training program
}

// UnsupportedError lists every op of a program the GPU backend cannot run, with its nodes.
type UnsupportedError struct {
	Ops map[string][]string // op description -> nodes
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("gpu: the program uses %d op type(s) the GPU backend cannot run:", len(e.Ops)) + engine.OpList(e.Ops)
}

const align = 256

func alignUp(n int64) int64 { return (n + align - 1) / align * align }

func nodeName(s engine.Step, i int) string { return fmt.Sprintf("#%d %s", i, s.Node.Name()) }

func elemsOf(s engine.Step) int {
	n := s.Node.Shape().TotalSize()
	if s.Node.IsScalar() || n == 0 {
		n = 1
	}
	return n
}

// newPlan maps p's schedule to device steps and plans memory.
func newPlan(p *engine.Program) (*plan, error) {
	if p.Opts.Float64 {
		return nil, errors.New("gpu: float64 programs are not supported (the GPU backend computes in float32)")
	}
	if p.Opts.InputGrad {
		return nil, errors.New("gpu: Options.InputGrad is not supported by the GPU backend")
	}
	if p.Opts.Train && p.Opts.Loss != engine.CrossEntropy {
		return nil, errors.New("gpu: only the cross-entropy loss is supported by the GPU backend")
	}
	sched := p.Schedule()
	N := len(sched)
	pl := &plan{prog: p, sched: sched, vals: make([]pval, N), aux: map[*ops.BatchNorm]int64{}, labels: -1, loss: -1}
	pl.input = p.Index(p.InputNode())
	if pl.input < 0 {
		return nil, errors.New("gpu: the program's input is not scheduled")
	}
	if p.Opts.Train {
		pl.labels = p.Index(p.TargetNode())
		pl.loss = p.Index(p.LossNode())
		if pl.labels < 0 || pl.loss < 0 {
			return nil, errors.New("gpu: the training program's labels or loss is not scheduled")
		}
		os := p.OutputShape(0)
		if len(os) != 2 {
			return nil, fmt.Errorf("gpu: training needs N×classes logits, the first output is %v", os)
		}
		pl.classes = os[1]
	}
	for i := 0; i < p.NumOutputs(); i++ {
		pl.outputs = append(pl.outputs, p.Index(p.OutputNode(i)))
	}
	for i := 0; i < p.NumGrads(); i++ {
		gi := p.Index(p.GradNode(i))
		if gi < 0 {
			return nil, fmt.Errorf("gpu: the gradient of %s is not scheduled", p.GradParam(i).Name)
		}
		pl.grads = append(pl.grads, gi)
	}
	model := map[*float32]*nn.Tensor{}
	for _, t := range p.Model.Tensors() {
		if len(t.Data) > 0 {
			model[&t.Data[0]] = t
		}
	}
	bad := map[string][]string{}
	unsupported := func(what string, i int) { bad[what] = append(bad[what], nodeName(sched[i], i)) }

	// Fusion: a training-mode BatchNormGradInput computes its BatchNormGradScale and a ChannelSum of
	// the same dy (the bias gradient) in one cuDNN call, placed at the first of them.
	groupOf := make([]int, N) // schedule index -> index of the BatchNormGradInput of its group, or -1
	for i := range groupOf {
		groupOf[i] = -1
	}
	dscaleOf, dbiasOf := map[int]int{}, map[int]int{}
	for i, s := range sched {
		gi, ok := s.Node.Op().(*ops.BatchNormGradInput)
		if !ok || s.Kind != engine.StepKernel || !gi.Fwd.Training {
			continue
		}
		groupOf[i] = i
		dscaleOf[i], dbiasOf[i] = -1, -1
		x, dy := s.Args[0], s.Args[2]
		for j, t := range sched {
			if groupOf[j] >= 0 || t.Kind != engine.StepKernel {
				continue
			}
			switch op := t.Node.Op().(type) {
			case *ops.BatchNormGradScale:
				if op.Fwd == gi.Fwd && dscaleOf[i] < 0 && t.Args[0] == x && t.Args[1] == dy {
					dscaleOf[i] = j
					groupOf[j] = i
				}
			case *ops.ChannelSumOp:
				if dbiasOf[i] < 0 && t.Args[0] == dy {
					dbiasOf[i] = j
					groupOf[j] = i
				}
			}
		}
	}

	// Classify values and emit steps in schedule order.
	for i, s := range sched {
		v := &pl.vals[i]
		v.elems = elemsOf(s)
		v.root = i
		switch s.Kind {
		case engine.StepInput:
			switch {
			case i == pl.input:
				v.st = stInput
			case i == pl.labels:
				v.st = stLabels
			default:
				d := p.Value(i)
				if d == nil {
					return nil, fmt.Errorf("gpu: graph input %s has no value", nodeName(s, i))
				}
				f, ok := d.Data().([]float32)
				if !ok || len(f) == 0 {
					return nil, fmt.Errorf("gpu: value of %s is %T, want float32 data", nodeName(s, i), d.Data())
				}
				if len(f) != v.elems {
					return nil, fmt.Errorf("gpu: value of %s has %d elements, its node %d", nodeName(s, i), len(f), v.elems)
				}
				v.host = f
				if t := model[&f[0]]; t != nil && len(t.Data) == len(f) {
					v.st, v.tname = stParam, t.Name
				} else {
					v.st = stConst
				}
			}
			continue
		case engine.StepView:
			v.st, v.root = stView, pl.vals[s.Args[0]].root
			continue
		case engine.StepAdd:
			v.st = stArena
			pl.emit(dstep{op: opAdd, node: i, in: s.Args, dscale: -1, dbias: -1})
			continue
		case engine.StepGeneric:
			unsupported("gorgonia op "+fmt.Sprint(s.Node.Op()), i)
			continue
		}
		// StepKernel, StepScalar
		if g := groupOf[i]; g >= 0 {
			v.st = stArena
			if !pl.emitted(g) {
				gs := sched[g]
				fwd := gs.Node.Op().(*ops.BatchNormGradInput).Fwd
				pl.emit(dstep{op: opBNTrainBwd, node: g, in: gs.Args, dscale: dscaleOf[g], dbias: dbiasOf[g], bn: fwd})
			}
			continue
		}
		st, err := pl.step(i, s)
		if err != nil {
			var ue *unsupportedOp
			if errors.As(err, &ue) {
				unsupported(ue.what, i)
				continue
			}
			return nil, fmt.Errorf("gpu: %s: %w", nodeName(s, i), err)
		}
		if st == nil { // an alias
			v.st, v.root = stView, pl.vals[s.Args[0]].root
			continue
		}
		v.st = stArena
		pl.emit(*st)
	}
	if len(bad) > 0 {
		return nil, &UnsupportedError{bad}
	}
	pl.planMemory()
	return pl, nil
}

type unsupportedOp struct{ what string }

func (e *unsupportedOp) Error() string { return e.what + " is not supported" }

func (pl *plan) emit(s dstep) { pl.steps = append(pl.steps, s) }

func (pl *plan) emitted(node int) bool {
	for i := len(pl.steps) - 1; i >= 0; i-- {
		if pl.steps[i].node == node {
			return true
		}
	}
	return false
}

// step maps one kernel node to a device step; nil with no error means the node aliases its input.
func (pl *plan) step(i int, s engine.Step) (*dstep, error) {
	st := &dstep{node: i, in: s.Args, dscale: -1, dbias: -1}
	switch op := s.Node.Op().(type) {
	case *ops.Conv2D:
		if _, err := convParamsOf(op.Geom); err != nil {
			return nil, &unsupportedOp{"Conv2D with " + err.Error()}
		}
		st.op = opConv
	case *ops.ConvGradData:
		if _, err := convParamsOf(op.Geom); err != nil {
			return nil, &unsupportedOp{"ConvGradData with " + err.Error()}
		}
		st.op = opConvGradData
	case *ops.ConvGradWeight:
		if _, err := convParamsOf(op.Geom); err != nil {
			return nil, &unsupportedOp{"ConvGradWeight with " + err.Error()}
		}
		st.op = opConvGradWeight
	case *ops.BatchNorm:
		st.bn = op
		if op.Training {
			st.op = opBNTrainFwd
		} else {
			st.op = opBNInferFwd
		}
	case *ops.BatchNormGradInput:
		if op.Fwd.Training {
			return nil, errors.New("internal: unfused training-mode BatchNormGradInput")
		}
		st.op, st.bn = opBNFrozenDx, op.Fwd
	case *ops.BatchNormGradScale:
		st.op, st.bn = opBNDscale, op.Fwd
	case *ops.ChannelSumOp:
		xs := op.InShapes()[0]
		st.op = opReduce
		st.meta = reduceMeta(channelShape(xs), tensor.Shape{1, xs[1], 1})
	case *ops.ReduceToOp:
		xs, os := op.InShapes()[0], op.OutShape()
		if xs.TotalSize() == os.TotalSize() {
			if op.Scale() == 1 {
				return nil, nil
			}
			st.op = opScale
			break
		}
		st.op = opReduce
		st.meta = reduceMeta(xs, os)
	case *ops.Unary:
		if op.Kind > kHardSwish {
			return nil, &unsupportedOp{op.Kind.String() + " (no CUDA kernel yet)"}
		}
		st.op = opUnary
	case *ops.UnaryGrad:
		if op.Fwd.Kind > kHardSwish {
			return nil, &unsupportedOp{op.Fwd.Kind.String() + " gradient (no CUDA kernel yet)"}
		}
		st.op = opUnaryGrad
	case *ops.MaxPool:
		st.op = opMaxPool
	case *ops.MaxPoolGrad:
		st.op = opMaxPoolGrad
	case *ops.AvgPool:
		st.op = opAvgPool
	case *ops.AvgPoolGrad:
		st.op = opAvgPoolGrad
	case *ops.GlobalAvgPool:
		st.op = opGAP
	case *ops.GlobalAvgPoolGrad:
		st.op = opGAPGrad
	case *ops.Gemm:
		st.op = opGemm
	case *ops.Binary:
		if op.Kind > ops.Div {
			return nil, &unsupportedOp{op.Kind.String() + " (no CUDA kernel yet)"}
		}
		st.op = opBinary
		in := op.InShapes()
		out := op.OutShape()
		if !sameSize(in[0], out) || !sameSize(in[1], out) {
			st.meta = broadcastMeta(out, in[0], in[1])
		}
	case *ops.BinaryGrad:
		if op.Fwd.Kind > ops.Div {
			return nil, &unsupportedOp{op.Fwd.Kind.String() + " gradient (no CUDA kernel yet)"}
		}
		st.op = opBinaryGrad
		f := op.Fwd
		in := f.InShapes()
		st.meta = broadcastMeta(f.OutShape(), in[0], in[1])
		target := op.OutShape()
		if target.TotalSize() != f.OutShape().TotalSize() {
			st.meta = append(st.meta, reduceMeta(f.OutShape(), target)...)
			st.scratch = int64(4 * f.OutShape().TotalSize())
		}
	case *ops.CrossEntropy:
		st.op = opXent
	case *ops.CrossEntropyGrad:
		st.op = opXentGrad
	case *ops.Softmax:
		st.op = opSoftmax
	case *ops.SoftmaxGrad:
		st.op = opSoftmaxGrad
	default:
		return nil, &unsupportedOp{fmt.Sprintf("%T", s.Node.Op())}
	}
	return st, nil
}

func sameSize(a, b tensor.Shape) bool { return max(a.TotalSize(), 1) == max(b.TotalSize(), 1) }

// channelShape views N×C×... as N×C×P.
func channelShape(s tensor.Shape) tensor.Shape {
	p := 1
	for _, d := range s[2:] {
		p *= d
	}
	return tensor.Shape{s[0], s[1], p}
}

// bcastStrides is the stride of s's element along each axis of t (0 where s is broadcast),
// s aligned to t on the right (NumPy).
func bcastStrides(s, t tensor.Shape) []int32 {
	st := make([]int32, len(t))
	off := len(t) - len(s)
	stride := 1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 1 {
			st[off+i] = int32(stride)
		}
		stride *= s[i]
	}
	return st
}

// broadcastMeta is tl_binary_bcast's layout: y's dims, then a's and b's strides along them.
func broadcastMeta(y, a, b tensor.Shape) []int32 {
	m := make([]int32, 0, 3*len(y))
	for _, d := range y {
		m = append(m, int32(d))
	}
	m = append(m, bcastStrides(a, y)...)
	return append(m, bcastStrides(b, y)...)
}

// reduceMeta is tl_reduce_to's layout for summing x (shape xs) down to os (broadcastable to xs):
// x's dims, x's row-major strides, and 1 for each axis summed away.
func reduceMeta(xs, os tensor.Shape) []int32 {
	r := len(xs)
	m := make([]int32, 3*r)
	stride := 1
	off := r - len(os)
	for d := r - 1; d >= 0; d-- {
		m[d] = int32(xs[d])
		m[r+d] = int32(stride)
		stride *= xs[d]
		od := 1
		if d >= off {
			od = os[d-off]
		}
		if od == 1 && xs[d] != 1 {
			m[2*r+d] = 1
		}
	}
	return m
}

// interval is one block of the arena with the steps it is live in.
type interval struct {
	val       int // schedule index, or -1 for auxiliary memory
	bn        *ops.BatchNorm
	bytes     int64
	def, last int
	off       int64
}

// planMemory sets each value's lifetime and places arena values so that no two values that are
// live in a common step overlap; constants go to their own block.
func (pl *plan) planMemory() {
	K := len(pl.steps)
	for i := range pl.vals {
		v := &pl.vals[i]
		v.def, v.last = -1, -1
		if v.st == stInput || v.st == stLabels {
			v.def, v.last = -1, K
		}
	}
	for k, s := range pl.steps {
		for _, o := range s.outputs() {
			pl.vals[o].def, pl.vals[o].last = k, k
		}
	}
	for k, s := range pl.steps {
		for _, a := range s.in {
			r := pl.vals[a].root
			if pl.vals[r].last < k {
				pl.vals[r].last = k
			}
		}
	}
	var keep []int
	keep = append(keep, pl.outputs...)
	keep = append(keep, pl.grads...)
	if pl.loss >= 0 {
		keep = append(keep, pl.loss)
	}
	for _, i := range keep {
		pl.vals[pl.vals[i].root].last = K
	}
	var items []*interval
	for i, v := range pl.vals {
		switch v.st {
		case stArena, stInput, stLabels:
			items = append(items, &interval{val: i, bytes: alignUp(int64(4 * v.elems)), def: v.def, last: v.last})
		}
	}
	// Per-BatchNorm scratch: saved mean and inverse std (training) or inverse std (inference),
	// and dscale/dbias when no fused step receives them.
	for _, s := range pl.steps {
		if s.bn == nil {
			continue
		}
		if _, ok := pl.aux[s.bn]; ok {
			continue
		}
		pl.aux[s.bn] = -1
		c := s.bn.InShapes()[1].TotalSize()
		items = append(items, &interval{val: -1, bn: s.bn, bytes: 4 * auxStride(c), def: -1, last: K})
	}
	pl.arenaBytes = place(items)
	for _, it := range items {
		if it.val >= 0 {
			pl.vals[it.val].off = it.off
		} else {
			pl.aux[it.bn] = it.off
		}
	}
	// Constants: values, then step metadata.
	var blob []byte
	addBlob := func(b []byte) int64 {
		off := int64(len(blob))
		blob = append(blob, b...)
		for int64(len(blob))%align != 0 {
			blob = append(blob, 0)
		}
		return off
	}
	for i := range pl.vals {
		v := &pl.vals[i]
		if v.st != stConst {
			continue
		}
		b := make([]byte, 4*len(v.host))
		for j, f := range v.host {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
		}
		v.off = addBlob(b)
	}
	for k := range pl.steps {
		s := &pl.steps[k]
		if len(s.meta) == 0 {
			continue
		}
		b := make([]byte, 4*len(s.meta))
		for j, x := range s.meta {
			binary.LittleEndian.PutUint32(b[4*j:], uint32(x))
		}
		s.metaOff = addBlob(b)
	}
	pl.consts = blob
}

// place assigns offsets greedily, largest first, each at the lowest offset free of the blocks
// already placed whose lifetimes overlap its own; it returns the arena size.
func place(items []*interval) int64 {
	order := append([]*interval(nil), items...)
	sort.SliceStable(order, func(a, b int) bool {
		if order[a].bytes != order[b].bytes {
			return order[a].bytes > order[b].bytes
		}
		return order[a].def < order[b].def
	})
	var placed []*interval
	var total int64
	for _, it := range order {
		var busy []*interval
		for _, q := range placed {
			if it.def <= q.last && q.def <= it.last {
				busy = append(busy, q)
			}
		}
		sort.Slice(busy, func(a, b int) bool { return busy[a].off < busy[b].off })
		off := int64(0)
		for _, q := range busy {
			if off+it.bytes <= q.off {
				break
			}
			if end := q.off + q.bytes; end > off {
				off = end
			}
		}
		it.off = off
		placed = append(placed, it)
		if end := off + it.bytes; end > total {
			total = end
		}
	}
	return total
}

// auxStride is the byte distance between the four per-channel blocks of a BatchNorm's scratch
// (each aligned like every arena block).
func auxStride(c int) int64 { return alignUp(int64(4 * c)) }

// outputs lists the schedule indices a step writes.
func (s *dstep) outputs() []int {
	o := []int{s.node}
	if s.op == opBNTrainBwd {
		if s.dscale >= 0 {
			o = append(o, s.dscale)
		}
		if s.dbias >= 0 {
			o = append(o, s.dbias)
		}
	}
	return o
}

// convParams are cuDNN's descriptors of a tlkit convolution.
type convParams struct {
	N, C, H, W       int // input
	M, Cg, KH, KW    int // filter: M×(C/groups)×KH×KW
	PadH, PadW       int
	StrideH, StrideW int
	DilH, DilW       int
	Groups           int
	OH, OW           int
}

// convParamsOf maps tlkit's geometry to cuDNN's, which has one pad per axis (symmetric).
func convParamsOf(g ops.ConvGeom) (convParams, error) {
	if g.PT != g.PB || g.PL != g.PR {
		return convParams{}, fmt.Errorf("asymmetric pads (top %d, bottom %d, left %d, right %d)", g.PT, g.PB, g.PL, g.PR)
	}
	c := convParams{N: g.N, C: g.C, H: g.H, W: g.W, M: g.M, Cg: g.C / g.Groups, KH: g.KH, KW: g.KW, PadH: g.PT, PadW: g.PL,
		StrideH: g.SH, StrideW: g.SW, DilH: g.DH, DilW: g.DW, Groups: g.Groups, OH: g.OH, OW: g.OW}
	if oh, ow := c.cudnnOut(); oh != g.OH || ow != g.OW {
		return convParams{}, fmt.Errorf("output %dx%d that cuDNN computes as %dx%d", g.OH, g.OW, oh, ow)
	}
	return c, nil
}

// cudnnOut is cuDNN's documented output size: 1 + (in + 2·pad − ((k−1)·dilation + 1)) / stride.
func (c convParams) cudnnOut() (int, int) {
	oh := 1 + (c.H+2*c.PadH-((c.KH-1)*c.DilH+1))/c.StrideH
	ow := 1 + (c.W+2*c.PadW-((c.KW-1)*c.DilW+1))/c.StrideW
	return oh, ow
}

// bnDims views a BatchNorm input N×C×... as cuDNN's N×C×P×1.
func bnDims(s tensor.Shape) [4]int {
	p := 1
	for _, d := range s[2:] {
		p *= d
	}
	return [4]int{s[0], s[1], p, 1}
}

// gemmCall is the cuBLAS (column-major) call computing tlkit's row-major Gemm: Yᵀ = op(B)ᵀ·op(A)ᵀ.
type gemmCall struct {
	transFirst, transSecond bool // ops on B, then on A
	m, n, k                 int  // cuBLAS's m, n, k: Yᵀ is m×n
	ldFirst, ldSecond, ldc  int
	beta                    float32 // 1 when C was broadcast into Y first
	cS0, cS1                int     // C's strides along Y's rows and columns
}

func gemmCallOf(op *ops.Gemm) gemmCall {
	m, n, k, hasC := op.Dims()
	in := op.InShapes()
	g := gemmCall{transFirst: op.TransB, transSecond: op.TransA, m: n, n: m, k: k, ldFirst: in[1][1], ldSecond: in[0][1], ldc: n}
	if hasC && op.Beta != 0 {
		g.beta = 1
		cs := in[2]
		st := bcastStrides(cs, tensor.Shape{m, n})
		g.cS0, g.cS1 = int(st[0]), int(st[1])
	}
	return g
}
