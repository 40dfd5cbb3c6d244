package finetune

import (
	"fmt"
	"math/rand"
	"os"

	"tlkit/compare"
	"tlkit/engine"
	"tlkit/exporter"
	"tlkit/nn"
	"tlkit/ort"
)

// ExportCheck compares ONNX Runtime's output on an exported file with tlkit's on the same input.
type ExportCheck struct {
	Batch      int     `json:"batch"`
	MaxAbsDiff float64 `json:"max_abs_diff"`
	RelL2      float64 `json:"rel_l2"`
	Top1Agree  float64 `json:"top1_agreement"`
	ORTVersion string  `json:"ort_version"`
}

// Export writes m to path as ONNX and, when ONNX Runtime can be loaded, checks the file: a seeded
// standard-normal batch goes through ONNX Runtime and tlkit's engine and their outputs are
// compared (check is nil when ONNX Runtime is unavailable, with ortErr saying why).
func Export(m *nn.Model, path string, ortLib string, batch int, seed int64) (check *ExportCheck, ortErr error, err error) {
	if err := exporter.WriteFile(path, m); err != nil {
		return nil, nil, err
	}
	if err := ort.Load(ortLib); err != nil {
		return nil, err, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := ort.NewSession(data, ort.Options{Name: path})
	if err != nil {
		return nil, nil, fmt.Errorf("ONNX Runtime refuses the exported file: %w", err)
	}
	defer s.Close()
	shape := append([]int{batch}, m.Inputs[0].Shape[1:]...)
	rng := rand.New(rand.NewSource(seed))
	x := make([]float32, nn.Numel(shape))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	p, err := engine.Compile(m, engine.Options{Batch: batch})
	if err != nil {
		return nil, nil, err
	}
	p.SetInput(x)
	if err := p.Run(); err != nil {
		return nil, nil, err
	}
	want := p.Output(0).Data().([]float32)
	ishape := make([]int64, len(shape))
	for i, d := range shape {
		ishape[i] = int64(d)
	}
	outs, err := s.Run([]ort.Tensor{{Name: m.Inputs[0].Name, Shape: ishape, Data: x}})
	if err != nil {
		return nil, nil, err
	}
	got := outs[0].Data
	c := &ExportCheck{Batch: batch, ORTVersion: ort.Version(), MaxAbsDiff: compare.MaxAbsDiff(got, want),
		RelL2: compare.RelL2(got, want), Top1Agree: compare.Top1Agreement(got, want, batch)}
	return c, nil, nil
}
