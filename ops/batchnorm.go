package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNorm is spatial batch normalisation (ONNX BatchNormalization) over N×C×... tensors, with
// inputs x, scale, bias.
//
// In training mode it normalises with the batch's statistics and, when Running is set, updates
// the running statistics as PyTorch does: running = Momentum·running + (1-Momentum)·batch, with
// the unbiased batch variance for the running variance (ONNX's text uses the biased one; we follow
// PyTorch, whose models are what users bring). Momentum is ONNX's (0.9 = PyTorch's 0.1).
// In inference mode it uses the running statistics, and its gradient treats them as constants
// (gorgonia's BatchNorm gets this gradient wrong).
type BatchNorm struct {
	base
	Training bool
	Epsilon  float64
	Momentum float64
	// Relu applies max(0, ·) to the result: BatchNorm followed by ReLU as one op, which saves a
	// pass over the data and the memory of the unactivated values.
	Relu bool
	// Running statistics, shared with the model's buffers; required in inference mode.
	Mean, Var []float32
	n, c, p   int

	// State of the last forward pass, which the backward ops of the same step read instead of
	// recomputing: the statistics used, and the per-channel sums Σdy and Σdy·x̂ of the backward pass
	// (computed by whichever backward op runs first).
	runs         uint64
	mean, invstd []float64
	bvar         []float64
	sumsRun      uint64
	sdy, sdyx    []float64
}

// NewBatchNorm adds batch normalisation of x (followed by ReLU when relu) to the graph.
func NewBatchNorm(x, scale, bias *G.Node, training bool, eps, momentum float64, mean, variance []float32, relu bool) (*G.Node, error) {
	s := x.Shape()
	if len(s) < 2 {
		return nil, fmt.Errorf("batchnorm: want N×C×..., got %v", s)
	}
	c := s[1]
	if scale.Shape().TotalSize() != c || bias.Shape().TotalSize() != c {
		return nil, fmt.Errorf("batchnorm: input has %d channels, scale %v and bias %v", c, scale.Shape(), bias.Shape())
	}
	if (mean != nil && len(mean) != c) || (variance != nil && len(variance) != c) || (!training && (mean == nil || variance == nil)) {
		return nil, fmt.Errorf("batchnorm: running statistics must have %d channels", c)
	}
	if training && s.TotalSize()/c < 2 {
		return nil, fmt.Errorf("batchnorm: training needs more than one value per channel, input is %v", s)
	}
	op := &BatchNorm{base: newBase("BatchNorm", s, s, scale.Shape(), bias.Shape()), Training: training, Epsilon: eps, Momentum: momentum,
		Relu: relu, Mean: mean, Var: variance, n: s[0], c: c, p: s.TotalSize() / (s[0] * c),
		mean: make([]float64, c), invstd: make([]float64, c), bvar: make([]float64, c), sdy: make([]float64, c), sdyx: make([]float64, c)}
	if training {
		op.name = "BatchNormTrain"
	}
	if relu {
		op.name += "Relu"
	}
	return apply(op, x, scale, bias)
}

// computeStats sets op.mean and op.invstd: the batch's statistics (and biased variance) in
// training mode, the running ones otherwise.
func computeStats[T Float](op *BatchNorm, x []T) {
	if !op.Training {
		for ch := range op.mean {
			op.mean[ch] = float64(op.Mean[ch])
			op.invstd[ch] = 1 / math.Sqrt(float64(op.Var[ch])+op.Epsilon)
		}
		return
	}
	cnt := float64(op.n * op.p)
	parallelFor(op.c, 4, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for b := 0; b < op.n; b++ {
				s += sumF64(x[(b*op.c+ch)*op.p : (b*op.c+ch+1)*op.p])
			}
			m := s / cnt
			var q float64
			for b := 0; b < op.n; b++ {
				q += sqDevF64(x[(b*op.c+ch)*op.p:(b*op.c+ch+1)*op.p], m)
			}
			op.mean[ch], op.bvar[ch] = m, q/cnt
			op.invstd[ch] = 1 / math.Sqrt(q/cnt+op.Epsilon)
		}
	})
}

// sumF64 is Σx in float64, eight lanes at a time with AVX2 for float32.
func sumF64[T Float](x []T) float64 {
	i, s := 0, 0.0
	if x32, ok := any(x).([]float32); ok {
		i, s = sumVec(x32)
	}
	for ; i < len(x); i++ {
		s += float64(x[i])
	}
	return s
}

// sqDevF64 is Σ(x-m)² in float64, as sumF64 sums.
func sqDevF64[T Float](x []T, m float64) float64 {
	i, s := 0, 0.0
	if x32, ok := any(x).([]float32); ok {
		i, s = sqDevVec(x32, m)
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - m
		s += d * d
	}
	return s
}

// dotDevF64 is Σ g·(x-m) in float64, as sumF64 sums.
func dotDevF64[T Float](g, x []T, m float64) float64 {
	i, s := 0, 0.0
	if x32, ok := any(x).([]float32); ok {
		i, s = dotDevVec(any(g).([]float32), x32, m)
	}
	for ; i < len(x); i++ {
		s += float64(g[i]) * (float64(x[i]) - m)
	}
	return s
}

// backwardStats makes sure op.mean/op.invstd describe x: after this step's forward pass they do;
// an op run on its own (gorgonia's TapeMachine, tests) computes them.
func backwardStats[T Float](op *BatchNorm, x []T) {
	if op.runs == 0 {
		computeStats(op, x)
	}
}

func (op *BatchNorm) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		bnForward(op, data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), data[float32](out))
	} else {
		bnForward(op, data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](out))
	}
	return nil
}

func bnForward[T Float](op *BatchNorm, x, scale, bias, y []T) {
	computeStats(op, x)
	op.runs++
	mean, invstd := op.mean, op.invstd
	parallelFor(op.n*op.c, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ch := i % op.c
			a := float64(scale[ch]) * invstd[ch]
			b := float64(bias[ch]) - mean[ch]*a
			ta, tb := T(a), T(b)
			xs, ys := x[i*op.p:(i+1)*op.p], y[i*op.p:(i+1)*op.p]
			j := 0
			if x32, ok := any(xs).([]float32); ok {
				j = affineVec(x32, any(ys).([]float32), float32(ta), float32(tb), op.Relu)
			}
			if op.Relu {
				for ; j < len(xs); j++ {
					ys[j] = max(xs[j]*ta+tb, 0)
				}
				continue
			}
			for ; j < len(xs); j++ {
				ys[j] = xs[j]*ta + tb
			}
		}
	})
	if op.Training && op.Mean != nil {
		cnt := float64(op.n * op.p)
		m := op.Momentum
		for ch := 0; ch < op.c; ch++ {
			op.Mean[ch] = float32(m*float64(op.Mean[ch]) + (1-m)*op.mean[ch])
			op.Var[ch] = float32(m*float64(op.Var[ch]) + (1-m)*op.bvar[ch]*cnt/(cnt-1))
		}
	}
}

func (op *BatchNorm) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
func (op *BatchNorm) DiffWRT(int) []bool                { return []bool{true, true, true} }

func (op *BatchNorm) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	x, scale := in[0], in[1]
	if op.Relu {
		// ReLU's gradient, from the output (y > 0 exactly where the normalised value is).
		relu := &Unary{base: newBase("Relu", op.out, op.out), Kind: Relu}
		g := &UnaryGrad{base: newBase("ReluGrad", op.out, op.out, op.out, op.out), Fwd: relu}
		var err error
		if grad, err = apply(g, out, out, grad); err != nil {
			return nil, err
		}
	}
	dx, err := apply(&BatchNormGradInput{base: newBase("BatchNormGradInput", op.out, op.out, op.in[1], op.out), Fwd: op}, x, scale, grad)
	if err != nil {
		return nil, err
	}
	ds, err := apply(&BatchNormGradScale{base: newBase("BatchNormGradScale", op.in[1], op.out, op.out), Fwd: op}, x, grad)
	if err != nil {
		return nil, err
	}
	db, err := ChannelSum(grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, ds, db}, nil
}

// BatchNormGradInput computes dx from (x, scale, dy), recomputing the statistics from x. In training
// mode dx = scale·invstd·(dy - mean(dy) - x̂·mean(dy·x̂)); in inference mode dx = scale·invstd·dy.
type BatchNormGradInput struct {
	base
	Fwd *BatchNorm
}

func (op *BatchNormGradInput) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		bnBackwardInput(op.Fwd, data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), data[float32](out))
	} else {
		bnBackwardInput(op.Fwd, data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](out))
	}
	return nil
}

// bnSums sets op.sdy and op.sdyx (Σdy and Σdy·x̂ per channel) once per forward pass.
func bnSums[T Float](op *BatchNorm, x, dy []T) {
	if op.sumsRun == op.runs && op.runs != 0 {
		return
	}
	mean, invstd := op.mean, op.invstd
	parallelFor(op.c, 4, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s, sx float64
			m := mean[ch]
			for b := 0; b < op.n; b++ {
				off := (b*op.c + ch) * op.p
				s += sumF64(dy[off : off+op.p])
				sx += dotDevF64(dy[off:off+op.p], x[off:off+op.p], m)
			}
			op.sdy[ch], op.sdyx[ch] = s, sx*invstd[ch]
		}
	})
	op.sumsRun = op.runs
}

func bnBackwardInput[T Float](op *BatchNorm, x, scale, dy, dx []T) {
	backwardStats(op, x)
	mean, invstd := op.mean, op.invstd
	var sdy, sdyx []float64
	if op.Training {
		bnSums(op, x, dy)
		sdy, sdyx = op.sdy, op.sdyx
	}
	cnt := float64(op.n * op.p)
	parallelFor(op.n*op.c, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ch := i % op.c
			k := float64(scale[ch]) * invstd[ch]
			gs, xs, ds := dy[i*op.p:(i+1)*op.p], x[i*op.p:(i+1)*op.p], dx[i*op.p:(i+1)*op.p]
			if !op.Training {
				tk := T(k)
				for j, g := range gs {
					ds[j] = g * tk
				}
				continue
			}
			// dx = k·(dy - a - (x - mean)·invstd·b) = k·dy + (c0 + c1·x)
			a, b := sdy[ch]/cnt, sdyx[ch]/cnt
			c1 := -k * b * invstd[ch]
			c0 := -k*a - c1*mean[ch]
			tk, t0, t1 := T(k), T(c0), T(c1)
			j := 0
			if g32, ok := any(gs).([]float32); ok {
				j = bnGradVec(g32, any(xs).([]float32), any(ds).([]float32), float32(tk), float32(t0), float32(t1))
			}
			for ; j < len(gs); j++ {
				ds[j] = gs[j]*tk + t0 + t1*xs[j]
			}
		}
	})
}

func (op *BatchNormGradInput) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }

// BatchNormGradScale computes dscale = Σ dy·x̂ from (x, dy).
type BatchNormGradScale struct {
	base
	Fwd *BatchNorm
}

func (op *BatchNormGradScale) Exec(out *tensor.Dense, in []*tensor.Dense) error {
	if isF32(out) {
		bnBackwardScale(op.Fwd, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	} else {
		bnBackwardScale(op.Fwd, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	}
	return nil
}

func bnBackwardScale[T Float](op *BatchNorm, x, dy, ds []T) {
	backwardStats(op, x)
	bnSums(op, x, dy)
	for ch := range ds {
		ds[ch] = T(op.sdyx[ch])
	}
}

func (op *BatchNormGradScale) Do(vs ...G.Value) (G.Value, error) { return doKernel(op, op.out, vs) }
