package gpu

import (
	"errors"
	"fmt"
	"math"
	"os"
	"unsafe"

	"gorgonia.org/tensor"

	"tlkit/engine"
	"tlkit/ops"
	"tlkit/optim"
)

// Options configure a compiled program.
type Options struct {
	// TF32 lets cuBLAS and cuDNN use TF32 tensor cores for float32 products (10-bit mantissas
	// in the multiplications); off, they compute in full float32 (cuDNN FMA math, cuBLAS
	// default math).
	TF32 bool
	// Algo chooses convolution algorithms (default: benchmark once per shape).
	Algo AlgoPolicy
	// WorkspaceLimit caps one convolution's workspace in bytes (0: 1 GiB).
	WorkspaceLimit int64
	// SyncEachStep waits for every step to finish, so that an asynchronous error (a kernel's
	// bad memory access) is reported with the step that caused it. Slow: for diagnosis. The
	// environment variable TLKIT_GPU_SYNC=1 turns it on for every program.
	SyncEachStep bool
}

// EnvSync forces Options.SyncEachStep when set to 1.
const EnvSync = "TLKIT_GPU_SYNC"

func (o Options) workspaceLimit() int64 {
	if o.WorkspaceLimit > 0 {
		return o.WorkspaceLimit
	}
	return 1 << 30
}

// Program is an engine program compiled for the device: its activations and gradients live in
// one arena allocated once; parameters, BatchNorm statistics and Adam moments live in the
// device's shared memory, so programs of one model (several batch sizes, training and
// evaluation) see the same weights.
type Program struct {
	d        *Device
	src      *engine.Program
	opts     Options
	pl       *plan
	arena    uint64
	consts   uint64
	ptrs     []uint64         // device pointer per schedule index (roots only)
	bufs     map[int]*hostBuf // schedule index -> shared buffer
	stats    []*hostBuf       // running statistics this program reads or updates
	gradBufs []*hostBuf       // parameter of gradient i
	run      []func() error
	descs    []*convDescs
	tdescs   []unsafe.Pointer
	ws       uint64
	closed   bool
}

// Compile prepares p to run on the device. It fails, listing them, when p uses ops the GPU
// backend cannot run.
func (d *Device) Compile(p *engine.Program, o Options) (*Program, error) {
	pl, err := newPlan(p)
	if err != nil {
		return nil, err
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.exit()
	pr := &Program{d: d, src: p, opts: o, pl: pl, bufs: map[int]*hostBuf{}, ptrs: make([]uint64, len(pl.vals))}
	if err := pr.build(); err != nil {
		pr.free()
		return nil, err
	}
	return pr, nil
}

func (pr *Program) build() error {
	d, a, pl := pr.d, pr.d.a, pr.pl
	names := map[*float32]string{}
	for _, t := range pr.src.Model.Tensors() {
		if len(t.Data) > 0 {
			names[&t.Data[0]] = t.Name
		}
	}
	for i, v := range pl.vals {
		if v.st != stParam {
			continue
		}
		b, err := d.buffer(v.host, v.tname)
		if err != nil {
			return err
		}
		pr.bufs[i] = b
		pr.ptrs[i] = b.dev
	}
	for k := 0; k < pr.src.NumGrads(); k++ {
		t := pr.src.GradParam(k)
		if len(t.Data) != pl.vals[pl.grads[k]].elems {
			return fmt.Errorf("gpu: parameter %q has %d values, its gradient %d", t.Name, len(t.Data), pl.vals[pl.grads[k]].elems)
		}
		b, err := d.buffer(t.Data, t.Name)
		if err != nil {
			return err
		}
		pr.gradBufs = append(pr.gradBufs, b)
	}
	statBuf := map[*ops.BatchNorm][2]*hostBuf{}
	for _, s := range pl.steps {
		if s.bn == nil || s.bn.Mean == nil {
			continue
		}
		if _, ok := statBuf[s.bn]; ok {
			continue
		}
		var bs [2]*hostBuf
		for j, h := range [][]float32{s.bn.Mean, s.bn.Var} {
			name := names[&h[0]]
			if name == "" {
				name = fmt.Sprintf("running statistic %d of %s", j, nodeName(pl.sched[s.node], s.node))
			}
			b, err := d.buffer(h, name)
			if err != nil {
				return err
			}
			bs[j] = b
			pr.stats = append(pr.stats, b)
		}
		statBuf[s.bn] = bs
	}
	// Descriptors and algorithms first, while the arena does not yet take memory from cuDNN's
	// benchmarks.
	type prepared struct {
		cd *convDescs
		ch algoChoice
		cp convParams
	}
	prep := make([]prepared, len(pl.steps))
	for k, s := range pl.steps {
		var g ops.ConvGeom
		var dir convDir
		switch op := pl.sched[s.node].Node.Op().(type) {
		case *ops.Conv2D:
			g, dir = op.Geom, dirFwd
		case *ops.ConvGradData:
			g, dir = op.Geom, dirBwdData
		case *ops.ConvGradWeight:
			g, dir = op.Geom, dirBwdFilter
		default:
			if s.scratch > 0 && uint64(s.scratch) > pr.ws {
				pr.ws = uint64(s.scratch)
			}
			continue
		}
		cp, err := convParamsOf(g)
		if err != nil {
			return err
		}
		bias := false
		if c, ok := pl.sched[s.node].Node.Op().(*ops.Conv2D); ok {
			bias = c.HasBias()
		}
		cd, err := d.newConvDescs(cp, bias)
		if err != nil {
			return fmt.Errorf("gpu: %s: %w", nodeName(pl.sched[s.node], s.node), err)
		}
		pr.descs = append(pr.descs, cd)
		ch, err := d.chooseAlgo(dir, cp, cd, pr.opts)
		if err != nil {
			return fmt.Errorf("gpu: %s: %w", nodeName(pl.sched[s.node], s.node), err)
		}
		if ch.Workspace > pr.ws {
			pr.ws = ch.Workspace
		}
		prep[k] = prepared{cd, ch, cp}
	}
	if err := d.growWorkspace(pr.ws); err != nil {
		return err
	}
	var err error
	if pl.arenaBytes > 0 {
		if pr.arena, err = a.memAlloc(pl.arenaBytes); err != nil {
			return fmt.Errorf("gpu: allocating the program's %d-byte arena: %w", pl.arenaBytes, err)
		}
	}
	if len(pl.consts) > 0 {
		if pr.consts, err = a.memAlloc(int64(len(pl.consts))); err != nil {
			return err
		}
		if err := a.htodBytes(pr.consts, pl.consts); err != nil {
			return err
		}
	}
	for i, v := range pl.vals {
		switch v.st {
		case stArena, stInput, stLabels:
			pr.ptrs[i] = pr.arena + uint64(v.off)
		case stConst:
			pr.ptrs[i] = pr.consts + uint64(v.off)
		}
	}
	for k, s := range pl.steps {
		f, err := pr.stepFunc(s, prep[k].cd, prep[k].ch, statBuf[s.bn])
		if err != nil {
			return fmt.Errorf("gpu: %s: %w", nodeName(pl.sched[s.node], s.node), err)
		}
		name := nodeName(pl.sched[s.node], s.node)
		op := s.op
		k := k
		sync := pr.opts.SyncEachStep || os.Getenv(EnvSync) == "1"
		pr.run = append(pr.run, func() error {
			if err := f(); err != nil {
				return fmt.Errorf("gpu: step %d, %s (%v): %w", k, name, op, err)
			}
			if sync {
				if err := a.sync(); err != nil {
					return fmt.Errorf("gpu: step %d, %s (%v), waiting for it: %w", k, name, op, err)
				}
			}
			return nil
		})
	}
	return nil
}

// ptr is the device address of scheduled value i.
func (pr *Program) ptr(i int) uint64 { return pr.ptrs[pr.pl.vals[i].root] }

func (pr *Program) newTensorDesc(n, c, h, w int) (unsafe.Pointer, error) {
	t, err := pr.d.a.tensorDesc(n, c, h, w)
	if err == nil {
		pr.tdescs = append(pr.tdescs, t)
	}
	return t, err
}

// stepFunc prepares the function that runs one step.
func (pr *Program) stepFunc(s dstep, cd *convDescs, ch algoChoice, stats [2]*hostBuf) (func() error, error) {
	d, a, pl := pr.d, pr.d.a, pr.pl
	node := pl.sched[s.node].Node
	out := pr.ptr(s.node)
	n := pl.vals[s.node].elems
	in := make([]uint64, len(s.in))
	for j, i := range s.in {
		in[j] = pr.ptr(i)
	}
	meta := pr.consts + uint64(s.metaOff)
	switch s.op {
	case opConv:
		op := node.Op().(*ops.Conv2D)
		x, w, y := in[0], in[1], out
		var b uint64
		if op.HasBias() {
			b = in[2]
		}
		act := -1
		if op.Act != nil {
			act = int(op.Act.Kind) // a fused ReLU/sigmoid/tanh: the element-wise kernel, in place
		}
		return func() error {
			if err := a.conv("cudnnConvolutionForward", a.cudnnConvFwd, d.dnn, cd.x, x, cd.w, w, cd.conv, ch.Algo, d.ws, ch.Workspace, 0, cd.y, y); err != nil {
				return err
			}
			if b != 0 {
				if err := a.addTensor(d.dnn, cd.bias, b, cd.y, y); err != nil {
					return err
				}
			}
			if act >= 0 {
				return d.launch("tl_unary_fwd", int64(n), y, y, n, act, float32(0), float32(0), float32(0), float32(0))
			}
			return nil
		}, nil
	case opConvGradData:
		w, dy, dx := in[0], in[1], out
		return func() error {
			return a.conv("cudnnConvolutionBackwardData", a.cudnnConvBwdData, d.dnn, cd.w, w, cd.y, dy, cd.conv, ch.Algo, d.ws, ch.Workspace, 0, cd.x, dx)
		}, nil
	case opConvGradWeight:
		x, dy, dw := in[0], in[1], out
		return func() error {
			return a.conv("cudnnConvolutionBackwardFilter", a.cudnnConvBwdFilter, d.dnn, cd.x, x, cd.y, dy, cd.conv, ch.Algo, d.ws, ch.Workspace, 0, cd.w, dw)
		}, nil
	case opBNTrainFwd, opBNInferFwd, opBNTrainBwd, opBNFrozenDx, opBNDscale:
		return pr.bnFunc(s, in, out, stats)
	case opUnary, opUnaryGrad:
		var u *ops.Unary
		if s.op == opUnary {
			u = node.Op().(*ops.Unary)
		} else {
			u = node.Op().(*ops.UnaryGrad).Fwd
		}
		kind := int(u.Kind)
		al, be, lo, hi := float32(u.P.Alpha), float32(u.P.Beta), float32(u.P.Min), float32(u.P.Max)
		if s.op == opUnary {
			return func() error { return d.launch("tl_unary_fwd", int64(n), in[0], out, n, kind, al, be, lo, hi) }, nil
		}
		return func() error {
			return d.launch("tl_unary_bwd", int64(n), in[0], in[1], in[2], out, n, kind, al, be, lo, hi)
		}, nil
	case opMaxPool, opMaxPoolGrad:
		var g ops.PoolGeom
		if s.op == opMaxPool {
			g = node.Op().(*ops.MaxPool).Geom
		} else {
			g = node.Op().(*ops.MaxPoolGrad).Geom
		}
		planes := g.N * g.C
		if s.op == opMaxPool {
			return func() error {
				return d.launch("tl_maxpool_fwd", int64(planes)*int64(g.OH*g.OW), in[0], out, planes, g.H, g.W, g.OH, g.OW,
					g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL)
			}, nil
		}
		return func() error {
			return d.launch("tl_maxpool_bwd", int64(planes)*int64(g.H*g.W), in[0], in[1], out, planes, g.H, g.W, g.OH, g.OW,
				g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL)
		}, nil
	case opAvgPool, opAvgPoolGrad:
		var g ops.PoolGeom
		if s.op == opAvgPool {
			g = node.Op().(*ops.AvgPool).Geom
		} else {
			g = node.Op().(*ops.AvgPoolGrad).Geom
		}
		planes := g.N * g.C
		inc := 0
		if g.CountIncludePad {
			inc = 1
		}
		name, work := "tl_avgpool_fwd", int64(planes)*int64(g.OH*g.OW)
		if s.op == opAvgPoolGrad {
			name, work = "tl_avgpool_bwd", int64(planes)*int64(g.H*g.W)
		}
		return func() error {
			return d.launch(name, work, in[0], out, planes, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR, inc)
		}, nil
	case opGAP:
		planes, p := planesOf(node.Op().(*ops.GlobalAvgPool).InShapes()[0])
		return func() error { return d.launch("tl_gap_fwd", int64(planes)*32, in[0], out, planes, p) }, nil
	case opGAPGrad:
		planes, p := planesOf(node.Op().(*ops.GlobalAvgPoolGrad).Fwd.InShapes()[0])
		return func() error { return d.launch("tl_gap_bwd", int64(planes)*int64(p), in[0], out, planes, p) }, nil
	case opGemm:
		op := node.Op().(*ops.Gemm)
		gc := gemmCallOf(op)
		m, nn, _, _ := op.Dims()
		A, B := in[0], in[1]
		var c uint64
		if gc.beta == 1 {
			c = in[2]
		}
		alpha, beta := float32(op.Alpha), float32(op.Beta)
		return func() error {
			if gc.beta == 1 {
				if err := d.launch("tl_bcast2", int64(m)*int64(nn), c, out, m, nn, gc.cS0, gc.cS1, beta); err != nil {
					return err
				}
			}
			return a.sgemm(d.blas, gc.transFirst, gc.transSecond, gc.m, gc.n, gc.k, alpha, B, gc.ldFirst, A, gc.ldSecond, gc.beta, out, gc.ldc)
		}, nil
	case opBinary:
		op := node.Op().(*ops.Binary)
		kind := int(op.Kind)
		run := func() error { return d.launch("tl_binary_same", int64(n), in[0], in[1], out, n, kind) }
		if len(s.meta) > 0 {
			rank := len(op.OutShape())
			run = func() error { return d.launch("tl_binary_bcast", int64(n), in[0], in[1], out, n, kind, rank, meta) }
		}
		if op.Act == nil {
			return run, nil
		}
		act := int(op.Act.Kind) // a fused ReLU/sigmoid/tanh (a residual block's): the element-wise kernel, in place
		return func() error {
			if err := run(); err != nil {
				return err
			}
			return d.launch("tl_unary_fwd", int64(n), out, out, n, act, float32(0), float32(0), float32(0), float32(0))
		}, nil
	case opBinaryGrad:
		op := node.Op().(*ops.BinaryGrad)
		mode := binaryGradMode(op)
		full := op.Fwd.OutShape()
		nf, rank := full.TotalSize(), len(full)
		if s.scratch == 0 {
			return func() error {
				return d.launch("tl_binary_grad", int64(nf), in[0], in[1], in[2], out, nf, mode, rank, meta)
			}, nil
		}
		return func() error {
			if err := d.launch("tl_binary_grad", int64(nf), in[0], in[1], in[2], d.ws, nf, mode, rank, meta); err != nil {
				return err
			}
			return d.launchBlocks("tl_reduce_to", n, d.ws, out, n, float32(1), rank, meta+uint64(4*3*rank))
		}, nil
	case opReduce:
		scale := float32(1)
		if r, ok := node.Op().(*ops.ReduceToOp); ok {
			scale = float32(r.Scale())
		}
		rank := len(s.meta) / 3
		return func() error { return d.launchBlocks("tl_reduce_to", n, in[0], out, n, scale, rank, meta) }, nil
	case opScale:
		scale := float32(node.Op().(*ops.ReduceToOp).Scale())
		return func() error { return d.launch("tl_scale", int64(n), in[0], out, n, scale) }, nil
	case opXent, opXentGrad:
		var ce *ops.CrossEntropy
		if s.op == opXent {
			ce = node.Op().(*ops.CrossEntropy)
		} else {
			ce = node.Op().(*ops.CrossEntropyGrad).Fwd
		}
		zs := ce.InShapes()[0]
		rows, k := zs[0], zs[1]
		sum := 0
		if ce.Sum {
			sum = 1
		}
		if s.op == opXent {
			return func() error { return d.launchBlocks("tl_xent_fwd", 1, in[0], in[1], out, rows, k, sum) }, nil
		}
		return func() error { return d.launchBlocks("tl_xent_bwd", rows, in[0], in[1], in[2], out, rows, k, sum) }, nil
	case opSoftmax, opSoftmaxGrad:
		var sm *ops.Softmax
		if s.op == opSoftmax {
			sm = node.Op().(*ops.Softmax)
		} else {
			sm = node.Op().(*ops.SoftmaxGrad).Fwd
		}
		outer, len_, inner := ops.AxisSplit(sm.OutShape(), sm.Axis)
		lg := 0
		if sm.Log {
			lg = 1
		}
		rows := int64(outer) * int64(inner)
		if s.op == opSoftmax {
			return func() error { return d.launch("tl_softmax_fwd", rows, in[0], out, outer, len_, inner, lg) }, nil
		}
		return func() error { return d.launch("tl_softmax_bwd", rows, in[0], in[1], out, outer, len_, inner, lg) }, nil
	case opAdd:
		return func() error { return d.launch("tl_binary_same", int64(n), in[0], in[1], out, n, 0) }, nil
	}
	return nil, fmt.Errorf("no device implementation of %v", s.op)
}

// bnFunc prepares a BatchNorm step. The op's scratch in the arena holds four blocks of C floats:
// the saved mean, the saved (training) or running (inference) inverse standard deviation, and
// dscale and dbias when no fused step receives them.
func (pr *Program) bnFunc(s dstep, in []uint64, out uint64, stats [2]*hostBuf) (func() error, error) {
	d, a, pl := pr.d, pr.d.a, pr.pl
	bn := s.bn
	dims := bnDims(bn.InShapes()[0])
	c := dims[1]
	xd, err := pr.newTensorDesc(dims[0], dims[1], dims[2], dims[3])
	if err != nil {
		return nil, err
	}
	bd, err := pr.newTensorDesc(1, c, 1, 1)
	if err != nil {
		return nil, err
	}
	aux := pr.arena + uint64(pl.aux[bn])
	stride := uint64(auxStride(c))
	smean, sinv := aux, aux+stride
	var rmean, rvar uint64
	if stats[0] != nil {
		rmean, rvar = stats[0].dev, stats[1].dev
	} else if !bn.Training {
		return nil, errors.New("inference-mode BatchNorm without running statistics")
	}
	eps := bn.Epsilon
	n := dims[0] * dims[1] * dims[2]
	// A BatchNorm fused with the ReLU after it applies the ReLU in place (its gradient is a
	// separate ReluGrad node of the schedule).
	relu := func() error {
		if !bn.Relu {
			return nil
		}
		return d.launch("tl_unary_fwd", int64(n), out, out, n, kRelu, float32(0), float32(0), float32(0), float32(0))
	}
	switch s.op {
	case opBNTrainFwd:
		factor := 1 - bn.Momentum // cuDNN: running = factor·batch + (1-factor)·running, unbiased variance
		return func() error {
			if err := a.bnTrain(d.dnn, xd, in[0], out, bd, in[1], in[2], factor, rmean, rvar, eps, smean, sinv); err != nil {
				return err
			}
			if stats[0] != nil {
				stats[0].dirty, stats[1].dirty = true, true
			}
			return relu()
		}, nil
	case opBNInferFwd:
		return func() error {
			if err := a.bnInfer(d.dnn, xd, in[0], out, bd, in[1], in[2], rmean, rvar, eps); err != nil {
				return err
			}
			return relu()
		}, nil
	case opBNTrainBwd:
		dscale, dbias := aux+2*stride, aux+3*stride
		if s.dscale >= 0 {
			dscale = pr.ptr(s.dscale)
		}
		if s.dbias >= 0 {
			dbias = pr.ptr(s.dbias)
		}
		return func() error {
			return a.bnBackward(d.dnn, xd, in[0], in[2], out, bd, in[1], dscale, dbias, eps, smean, sinv)
		}, nil
	case opBNFrozenDx:
		return func() error {
			if err := d.launch("tl_bn_invstd", int64(c), rvar, sinv, c, float32(eps)); err != nil {
				return err
			}
			return d.launch("tl_bn_frozen_dx", int64(n), in[2], in[1], sinv, out, n, c, dims[2])
		}, nil
	case opBNDscale:
		if bn.Training {
			return func() error {
				return d.launchBlocks("tl_bn_dscale", c, in[0], in[1], smean, sinv, out, dims[0], c, dims[2])
			}, nil
		}
		return func() error {
			if err := d.launch("tl_bn_invstd", int64(c), rvar, sinv, c, float32(eps)); err != nil {
				return err
			}
			return d.launchBlocks("tl_bn_dscale", c, in[0], in[1], rmean, sinv, out, dims[0], c, dims[2])
		}, nil
	}
	return nil, fmt.Errorf("not a BatchNorm step: %v", s.op)
}

// binaryGradMode selects tl_binary_grad's formula.
func binaryGradMode(op *ops.BinaryGrad) int {
	switch {
	case op.Fwd.Kind == ops.Mul && op.Wrt == 0:
		return 0
	case op.Fwd.Kind == ops.Mul:
		return 1
	case op.Wrt == 0:
		return 2
	}
	return 3
}

// planesOf views N×C×... as N·C planes of P values.
func planesOf(s tensor.Shape) (planes, p int) {
	planes = s[0] * s[1]
	return planes, s.TotalSize() / planes
}

// Run executes the program once: forward, and for training programs the loss and gradients.
// It queues work and returns; errors of the queued work surface at the next call that waits
// (Loss, Output, Sync, ...).
func (pr *Program) Run() error {
	if err := pr.enter(); err != nil {
		return err
	}
	defer pr.d.exit()
	mode := 0 // CUBLAS_DEFAULT_MATH: full float32
	if pr.opts.TF32 {
		mode = 3 // CUBLAS_TF32_TENSOR_OP_MATH
	}
	if err := pr.d.a.setMathMode(pr.d.blas, mode); err != nil {
		return err
	}
	for _, f := range pr.run {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func (pr *Program) enter() error {
	if err := pr.d.enter(); err != nil {
		return err
	}
	if pr.closed {
		pr.d.exit()
		return errors.New("gpu: the program is closed")
	}
	return nil
}

// SetInput copies a batch (Batch × sample size values) to the device.
func (pr *Program) SetInput(x []float32) error {
	v := pr.pl.vals[pr.pl.input]
	if len(x) != v.elems {
		return fmt.Errorf("gpu: got %d input values, the program's input has %d", len(x), v.elems)
	}
	if err := pr.enter(); err != nil {
		return err
	}
	defer pr.d.exit()
	return pr.d.a.htod(pr.ptr(pr.pl.input), x)
}

// SetLabels copies the batch's class indices to the device.
func (pr *Program) SetLabels(y []int) error {
	if pr.pl.labels < 0 {
		return errors.New("gpu: the program has no labels (not built for training)")
	}
	v := pr.pl.vals[pr.pl.labels]
	if len(y) != v.elems {
		return fmt.Errorf("gpu: got %d labels for a batch of %d", len(y), v.elems)
	}
	f := make([]float32, len(y))
	for i, c := range y {
		if c < 0 || c >= pr.pl.classes {
			return fmt.Errorf("gpu: label %d of sample %d is not a class index in [0,%d)", c, i, pr.pl.classes)
		}
		f[i] = float32(c)
	}
	if err := pr.enter(); err != nil {
		return err
	}
	defer pr.d.exit()
	return pr.d.a.htod(pr.ptr(pr.pl.labels), f)
}

func (pr *Program) download(i int) ([]float32, error) {
	if err := pr.enter(); err != nil {
		return nil, err
	}
	defer pr.d.exit()
	out := make([]float32, pr.pl.vals[i].elems)
	if err := pr.d.a.dtoh(out, pr.ptr(i)); err != nil {
		return nil, err
	}
	return out, nil
}

// Loss is the last run's loss (waits for the run).
func (pr *Program) Loss() (float64, error) {
	if pr.pl.loss < 0 {
		return math.NaN(), errors.New("gpu: the program has no loss (not built for training)")
	}
	v, err := pr.download(pr.pl.loss)
	if err != nil {
		return math.NaN(), err
	}
	return float64(v[0]), nil
}

// Output copies output i of the last run to the host (waits for the run).
func (pr *Program) Output(i int) ([]float32, error) {
	if i < 0 || i >= len(pr.pl.outputs) {
		return nil, fmt.Errorf("gpu: output %d of %d", i, len(pr.pl.outputs))
	}
	return pr.download(pr.pl.outputs[i])
}

// OutputShape is the shape of output i.
func (pr *Program) OutputShape(i int) tensor.Shape { return pr.src.OutputShape(i) }

// NumGrads is the number of trainable parameters (engine order).
func (pr *Program) NumGrads() int { return len(pr.pl.grads) }

// Grad copies the gradient of trainable parameter i (engine order) to the host.
func (pr *Program) Grad(i int) ([]float32, error) {
	if i < 0 || i >= len(pr.pl.grads) {
		return nil, fmt.Errorf("gpu: gradient %d of %d", i, len(pr.pl.grads))
	}
	return pr.download(pr.pl.grads[i])
}

// MemoryBytes is the size of the program's arena (activations, gradients, scratch).
func (pr *Program) MemoryBytes() int64 { return pr.pl.arenaBytes }

// Steps is the number of device steps a run executes.
func (pr *Program) Steps() int { return len(pr.pl.steps) }

// Step applies one Adam update on the device to every trainable parameter from the last run's
// gradients, with adam's hyper-parameters and step count (which it advances, as Update does).
// Moments live on the device; the first step of a parameter starts from adam's host moments when
// it has some (a resumed run), else from zero.
func (pr *Program) Step(adam *optim.Adam) error {
	if len(pr.pl.grads) == 0 {
		return errors.New("gpu: the program has no gradients (not built for training)")
	}
	if err := pr.enter(); err != nil {
		return err
	}
	defer pr.d.exit()
	d, a := pr.d, pr.d.a
	for _, b := range pr.gradBufs {
		if b.m != 0 {
			continue
		}
		var err error
		if b.m, err = a.memAlloc(int64(4 * len(b.host))); err != nil {
			return err
		}
		if b.v, err = a.memAlloc(int64(4 * len(b.host))); err != nil {
			a.memFree(b.m)
			b.m = 0
			return err
		}
		if s := adam.State(b.name); s != nil && len(s.M) == len(b.host) && len(s.V) == len(b.host) {
			err = a.htod(b.m, s.M)
			if err == nil {
				err = a.htod(b.v, s.V)
			}
		} else {
			err = a.memsetD32(b.m, 0, len(b.host))
			if err == nil {
				err = a.memsetD32(b.v, 0, len(b.host))
			}
		}
		if err != nil {
			return err
		}
	}
	sc := adam.NextStep()
	dec := 0
	if sc.Decoupled {
		dec = 1
	}
	for k, b := range pr.gradBufs {
		n := len(b.host)
		if err := d.launch("tl_adam", int64(n), b.dev, pr.ptr(pr.pl.grads[k]), b.m, b.v, n, sc.StepSize, sc.B1, sc.B2, sc.Eps, sc.Inv, sc.WD, sc.Decay, dec); err != nil {
			return fmt.Errorf("gpu: Adam step of %q: %w", b.name, err)
		}
		b.dirty = true
	}
	if pr.opts.SyncEachStep || os.Getenv(EnvSync) == "1" {
		if err := a.sync(); err != nil {
			return fmt.Errorf("gpu: waiting for the Adam step: %w", err)
		}
	}
	return nil
}

// SyncOptimizer copies the Adam moments of this program's parameters into adam's state, so a
// checkpoint of the optimizer sees them.
func (pr *Program) SyncOptimizer(adam *optim.Adam) error {
	if err := pr.enter(); err != nil {
		return err
	}
	defer pr.d.exit()
	for _, b := range pr.gradBufs {
		if b.m == 0 {
			continue
		}
		m, v := make([]float32, len(b.host)), make([]float32, len(b.host))
		if err := pr.d.a.dtoh(m, b.m); err != nil {
			return err
		}
		if err := pr.d.a.dtoh(v, b.v); err != nil {
			return err
		}
		adam.SetState(b.name, &optim.Moments{M: m, V: v})
	}
	return nil
}

// SyncToHost writes the device's parameters and BatchNorm running statistics back into the
// model's tensors (every program of the device, since they share them).
func (pr *Program) SyncToHost() error {
	if err := pr.enter(); err != nil {
		return err
	}
	defer pr.d.exit()
	return pr.d.syncToHost()
}

// SyncFromHost uploads the host values of this program's parameters and running statistics
// again (after the host changed them, e.g. loading a checkpoint).
func (pr *Program) SyncFromHost() error {
	if err := pr.enter(); err != nil {
		return err
	}
	defer pr.d.exit()
	up := func(b *hostBuf) error {
		if err := pr.d.a.htod(b.dev, b.host); err != nil {
			return fmt.Errorf("gpu: uploading %q: %w", b.name, err)
		}
		b.dirty = false
		return nil
	}
	for _, b := range pr.bufs {
		if err := up(b); err != nil {
			return err
		}
	}
	for _, b := range pr.stats {
		if err := up(b); err != nil {
			return err
		}
	}
	return nil
}

// Close frees the program's own memory and descriptors (shared parameters stay with the device).
func (pr *Program) Close() error {
	if err := pr.enter(); err != nil {
		return err
	}
	defer pr.d.exit()
	err := pr.d.a.sync()
	pr.free()
	pr.closed = true
	return err
}

func (pr *Program) free() {
	a := pr.d.a
	for _, cd := range pr.descs {
		cd.destroy(a)
	}
	pr.descs = nil
	for _, t := range pr.tdescs {
		a.destroyTensor(t)
	}
	pr.tdescs = nil
	a.memFree(pr.arena)
	a.memFree(pr.consts)
	pr.arena, pr.consts = 0, 0
	pr.run = nil
}
