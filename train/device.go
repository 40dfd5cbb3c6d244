package train

import (
	"errors"
	"fmt"

	"tlkit/engine"
	"tlkit/gpu"
	"tlkit/nn"
	"tlkit/optim"
)

// Forwarder computes a model's first output for a batch of n samples: the CPU engine's or a GPU's
// inference programs, one per batch size.
type Forwarder interface {
	Forward(x []float32, n int) ([]float32, error)
}

// CPU runs inference programs in tlkit's CPU engine.
type CPU struct{ P *engine.Programs }

// NewCPU prepares CPU inference programs of m.
func NewCPU(m *nn.Model, o engine.Options) CPU { return CPU{engine.NewPrograms(m, o)} }

// Forward implements Forwarder.
func (c CPU) Forward(x []float32, n int) ([]float32, error) {
	p, err := c.P.Get(n)
	if err != nil {
		return nil, err
	}
	if err := p.SetInput(x); err != nil {
		return nil, err
	}
	if err := p.Run(); err != nil {
		return nil, err
	}
	return p.Output(0).Data().([]float32), nil
}

// GPU runs inference programs on a CUDA device.
type GPU struct{ P *gpu.Programs }

// NewGPU prepares device inference programs of m.
func NewGPU(d *gpu.Device, m *nn.Model, o engine.Options) GPU {
	return GPU{d.NewPrograms(m, o, gpu.Options{})}
}

// Forward implements Forwarder.
func (g GPU) Forward(x []float32, n int) ([]float32, error) {
	p, err := g.P.Get(n)
	if err != nil {
		return nil, err
	}
	if err := p.SetInput(x); err != nil {
		return nil, err
	}
	if err := p.Run(); err != nil {
		return nil, err
	}
	return p.Output(0)
}

// OpenDevice opens the named compute device: "cpu" (nil, the default) or "cuda". Without a usable
// GPU, "cuda" fails at once with what is missing.
func OpenDevice(name string) (*gpu.Device, error) {
	switch name {
	case "", "cpu":
		return nil, nil
	case "cuda", "gpu":
		d, err := gpu.Open()
		if err != nil {
			return nil, fmt.Errorf("--device cuda: %w", err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("unknown device %q (cpu or cuda)", name)
}

// stepper is one compiled training step at a batch size, on some device.
type stepper interface {
	setBatch(x []float32, y []int) error
	run() (loss float64, logits []float32, err error)
	// update applies the optimizer to the step's gradients (clipping them first when clip > 0).
	update(opt *optim.Adam, clip float64) error
}

type cpuStep struct{ p *engine.Program }

func (s cpuStep) setBatch(x []float32, y []int) error {
	if err := s.p.SetInput(x); err != nil {
		return err
	}
	return s.p.SetLabels(y)
}

func (s cpuStep) run() (float64, []float32, error) {
	if err := s.p.Run(); err != nil {
		return 0, nil, err
	}
	return s.p.Loss(), s.p.Output(0).Data().([]float32), nil
}

func (s cpuStep) update(opt *optim.Adam, clip float64) error {
	ps := s.p.GradParams()
	if clip > 0 {
		optim.ClipGradNorm(ps, clip)
	}
	return opt.Update(ps)
}

type gpuStep struct{ p *gpu.Program }

func (s gpuStep) setBatch(x []float32, y []int) error {
	if err := s.p.SetInput(x); err != nil {
		return err
	}
	return s.p.SetLabels(y)
}

func (s gpuStep) run() (float64, []float32, error) {
	if err := s.p.Run(); err != nil {
		return 0, nil, err
	}
	loss, err := s.p.Loss()
	if err != nil {
		return 0, nil, err
	}
	logits, err := s.p.Output(0)
	return loss, logits, err
}

func (s gpuStep) update(opt *optim.Adam, clip float64) error {
	if clip > 0 {
		return errors.New("gradient clipping is not implemented on the GPU backend")
	}
	return s.p.Step(opt)
}

// steps builds and caches the training steps of a trainer on its device.
type steps struct {
	cpu *engine.Programs
	gpu *gpu.Programs
	any *gpu.Program // a device program, for synchronising to the host
}

func newSteps(t *Trainer) *steps {
	o := engine.Options{Train: true, FreezeBN: t.Cfg.FreezeBN}
	if t.Device != nil {
		return &steps{gpu: t.Device.NewPrograms(t.Model, o, gpu.Options{TF32: t.TF32})}
	}
	return &steps{cpu: engine.NewPrograms(t.Model, o)}
}

func (s *steps) get(n int) (stepper, error) {
	if s.gpu != nil {
		p, err := s.gpu.Get(n)
		if err != nil {
			return nil, err
		}
		s.any = p
		return gpuStep{p}, nil
	}
	p, err := s.cpu.Get(n)
	if err != nil {
		return nil, err
	}
	return cpuStep{p}, nil
}

// eval is the inference side of the same model and device.
func (s *steps) eval(t *Trainer) Forwarder {
	if s.gpu != nil {
		return NewGPU(t.Device, t.Model, engine.Options{})
	}
	return CPU{s.cpu.Eval()}
}

// sync brings the device's weights, BatchNorm statistics and optimizer moments to the host.
func (s *steps) sync(opt *optim.Adam) error {
	if s.any == nil {
		return nil
	}
	if err := s.any.SyncToHost(); err != nil {
		return err
	}
	return s.any.SyncOptimizer(opt)
}
