package optim

import "math"

// Schedule gives the learning rate for a step (0-based) of a run of total steps.
type Schedule interface {
	LR(step, total int) float64
}

// Constant keeps the learning rate fixed.
type Constant struct{ Base float64 }

func (c Constant) LR(int, int) float64 { return c.Base }

// Cosine warms up linearly from Base/Warmup to Base over Warmup steps, then decays to Min along a
// half cosine (timm's cosine schedule with linear warm-up, per step).
type Cosine struct {
	Base, Min float64
	Warmup    int
}

func (c Cosine) LR(step, total int) float64 {
	if step < c.Warmup {
		return c.Base * float64(step+1) / float64(c.Warmup)
	}
	span := total - c.Warmup
	if span <= 0 {
		return c.Base
	}
	p := float64(step-c.Warmup) / float64(span)
	return c.Min + (c.Base-c.Min)*0.5*(1+math.Cos(math.Pi*p))
}
