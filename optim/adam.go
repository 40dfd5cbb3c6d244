// Package optim updates parameters from their gradients: Adam (and AdamW), gradient clipping
// and learning-rate schedules.
//
// gorgonia's AdamSolver is correct but copies every gradient several times per step (a fifth of a
// ResNet-34 step) and its AdamW never updates weights, so tlkit has its own, allocation-free, that
// also satisfies gorgonia's Solver interface.
package optim

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one parameter and its gradient, both float32 and of equal length.
type Param struct {
	Name string
	W, G []float32
}

// Adam is the Adam optimizer with PyTorch's update rule and defaults:
//   - LR 1e-3 in PyTorch; tlkit's training commands pass the seed's 1e-4.
//   - Beta1 0.9, Beta2 0.999, Eps 1e-8 (Keras uses 1e-7, added to √v̂ the same way).
//   - WeightDecay 0: with Decoupled false it is PyTorch's Adam weight_decay (an L2 term added to
//     the gradient); with Decoupled true it is AdamW (weights shrink by lr·wd each step; PyTorch's
//     AdamW default is 0.01).
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	WeightDecay           float64
	Decoupled             bool
	// Steps counts the updates made; it sets the bias corrections.
	Steps int64
	state map[string]*Moments
}

// Moments is Adam's per-parameter state: first and second moment estimates.
type Moments struct{ M, V []float32 }

// NewAdam returns Adam with PyTorch's defaults and learning rate lr.
func NewAdam(lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, state: map[string]*Moments{}}
}

// State returns the moments of the named parameter (nil before its first update); checkpoints
// save and restore them through it.
func (a *Adam) State(name string) *Moments { return a.state[name] }

// SetState restores the moments of the named parameter.
func (a *Adam) SetState(name string, m *Moments) {
	if a.state == nil {
		a.state = map[string]*Moments{}
	}
	a.state[name] = m
}

// StepConsts are the float32 constants of one Adam step, shared by the CPU loop and the GPU
// backend's kernel so that both round them alike.
type StepConsts struct {
	StepSize  float32 // LR / (1 - Beta1^t)
	B1, B2    float32
	Eps       float32
	Inv       float32 // 1 / sqrt(1 - Beta2^t)
	WD        float32 // weight decay
	Decay     float32 // 1 - LR·WeightDecay, the decoupled (AdamW) factor
	Decoupled bool
}

// NextStep counts one more step (Steps) and returns its constants.
func (a *Adam) NextStep() StepConsts {
	a.Steps++
	t := float64(a.Steps)
	bc1 := 1 - math.Pow(a.Beta1, t)
	bc2sqrt := math.Sqrt(1 - math.Pow(a.Beta2, t))
	return StepConsts{
		StepSize: float32(a.LR / bc1), B1: float32(a.Beta1), B2: float32(a.Beta2), Eps: float32(a.Eps),
		Inv: float32(1 / bc2sqrt), WD: float32(a.WeightDecay), Decay: float32(1 - a.LR*a.WeightDecay),
		Decoupled: a.Decoupled,
	}
}

// Update applies one Adam step to every parameter.
func (a *Adam) Update(ps []Param) error {
	if a.state == nil {
		a.state = map[string]*Moments{}
	}
	for _, p := range ps {
		if len(p.W) != len(p.G) {
			return fmt.Errorf("adam: parameter %q has %d values but %d gradients", p.Name, len(p.W), len(p.G))
		}
		if s := a.state[p.Name]; s != nil && len(s.M) != len(p.W) {
			return fmt.Errorf("adam: state of %q has %d values, parameter %d", p.Name, len(s.M), len(p.W))
		}
	}
	sc := a.NextStep()
	stepSize, b1, b2, eps, inv, wd, decay := sc.StepSize, sc.B1, sc.B2, sc.Eps, sc.Inv, sc.WD, sc.Decay
	// One parallel pass over all parameters, cut into chunks of equal size that the workers take
	// in a fixed order: many small tensors cost no more than one large one.
	type chunk struct {
		w, g, m, v []float32
	}
	const chunkLen = 1 << 15
	var chunks []chunk
	for _, p := range ps {
		s := a.state[p.Name]
		if s == nil {
			s = &Moments{M: make([]float32, len(p.W)), V: make([]float32, len(p.W))}
			a.state[p.Name] = s
		}
		for lo := 0; lo < len(p.W); lo += chunkLen {
			hi := min(lo+chunkLen, len(p.W))
			chunks = append(chunks, chunk{p.W[lo:hi], p.G[lo:hi], s.M[lo:hi], s.V[lo:hi]})
		}
	}
	decoupled := sc.Decoupled
	vc := adamConsts{absMask: math.Float32frombits(1<<31 - 1), tiny: 1e-30, small: 1e-15,
		b1: b1, omb1: 1 - b1, b2: b2, omb2: 1 - b2, inv: inv, eps: eps, stepSize: stepSize, wd: wd, dec: decay}
	switch {
	case wd != 0 && decoupled:
		vc.mode = 1
	case wd != 0:
		vc.mode = 2
	}
	update := func(c chunk) {
		w, g, m, v := c.w, c.g[:len(c.w)], c.m[:len(c.w)], c.v[:len(c.w)]
		// the vector path (adam_amd64.s) does the same operations, bitwise, on most elements
		for i := adamVec(w, g, m, v, &vc); i < len(w); i++ {
			gi := g[i]
			// Compare magnitudes (sign bit cleared): tests on signed values would branch on the
			// gradient's random sign and mispredict half the time.
			if abs32(gi) < 1e-30 {
				gi = 0 // a subnormal gradient would make every product below slow
			}
			if wd != 0 {
				if decoupled {
					w[i] *= decay
				} else {
					gi += wd * w[i]
				}
			}
			// Values below 1e-15 (moments below 1e-30) change no float32 weight but, squared or
			// decayed, become subnormal floats, which x86 processes ~60× slower. Flushing them
			// keeps late-training steps as fast as early ones.
			var g2 float32
			if abs32(gi) > 1e-15 {
				g2 = gi * gi
			}
			mi := b1*m[i] + (1-b1)*gi
			if abs32(mi) < 1e-30 {
				mi = 0
			}
			vi := b2*v[i] + (1-b2)*g2
			if vi < 1e-30 {
				vi = 0
			}
			m[i], v[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))*inv + eps
			w[i] -= stepSize * mi / denom
		}
	}
	nw := runtime.GOMAXPROCS(0)
	if nw > len(chunks) {
		nw = len(chunks)
	}
	var wg sync.WaitGroup
	for k := 1; k < nw; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for c := k; c < len(chunks); c += nw {
				update(chunks[c])
			}
		}(k)
	}
	for c := 0; c < len(chunks); c += max(nw, 1) {
		update(chunks[c])
	}
	wg.Wait()
	return nil
}

// split runs fn over [0,n) on all cores for large n.
func split(n int, fn func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if n < 1<<16 || w == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	wg.Wait()
}

// Step makes Adam a gorgonia Solver: each ValueGrad is a float32 tensor node with its gradient.
func (a *Adam) Step(vgs []G.ValueGrad) error {
	ps := make([]Param, len(vgs))
	for i, vg := range vgs {
		name := fmt.Sprint(i)
		if n, ok := vg.(*G.Node); ok {
			name = n.Name()
		}
		w, ok := vg.Value().(*tensor.Dense)
		if !ok {
			return fmt.Errorf("adam: %s: value is %T, want a tensor", name, vg.Value())
		}
		gv, err := vg.Grad()
		if err != nil {
			return fmt.Errorf("adam: %s: %w", name, err)
		}
		g, ok := gv.(*tensor.Dense)
		if !ok {
			return fmt.Errorf("adam: %s: gradient is %T, want a tensor", name, gv)
		}
		wf, ok1 := w.Data().([]float32)
		gf, ok2 := g.Data().([]float32)
		if !ok1 || !ok2 {
			return fmt.Errorf("adam: %s: only float32 parameters are supported", name)
		}
		ps[i] = Param{Name: name, W: wf, G: gf}
	}
	return a.Update(ps)
}

var _ G.Solver = (*Adam)(nil)

// ClipGradNorm scales all gradients together so that their global L2 norm is at most maxNorm,
// as torch.nn.utils.clip_grad_norm_ does, and returns the norm before clipping.
func ClipGradNorm(ps []Param, maxNorm float64) float64 {
	var s float64
	for _, p := range ps {
		for _, g := range p.G {
			s += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(s)
	if maxNorm > 0 && norm > maxNorm {
		c := float32(maxNorm / (norm + 1e-6))
		for _, p := range ps {
			for i := range p.G {
				p.G[i] *= c
			}
		}
	}
	return norm
}

// adamConsts are the float32 values of one Adam step for the vector path, which reads them by
// offset (4 bytes each, in this order).
type adamConsts struct {
	absMask, tiny, small        float32
	b1, omb1, b2, omb2          float32
	inv, eps, stepSize, wd, dec float32
	mode                        int32 // 0 no weight decay, 1 decoupled, 2 added to the gradient
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
