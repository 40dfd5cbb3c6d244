package exporter

import (
	"math/rand"
	"testing"

	"tlkit/compare"
	"tlkit/engine"
	"tlkit/importer"
	"tlkit/models"
	"tlkit/nn"
	"tlkit/ort"
)

func initORT(t *testing.T) {
	t.Helper()
	if err := ort.Load(""); err != nil {
		t.Fatal(err)
	}
}

func engineForward(t *testing.T, m *nn.Model, x []float32, batch int) []float32 {
	t.Helper()
	p, err := engine.Compile(m, engine.Options{Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	p.SetInput(x)
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), p.Output(0).Data().([]float32)...)
}

// Each exported model runs in ONNX Runtime with the outputs tlkit's engine computes, and imports
// back to the same model.
func TestExportRunsInORT(t *testing.T) {
	initORT(t)
	cases := []struct {
		name   string
		build  func() (*nn.Model, error)
		sample []int
		batch  int
	}{
		{"mlp", func() (*nn.Model, error) { return models.Build("mlp", 1, 10, []int{1, 28, 28}) }, []int{1, 28, 28}, 3},
		{"cnn", func() (*nn.Model, error) { return models.Build("cnn", 1, 10, []int{1, 28, 28}) }, []int{1, 28, 28}, 3},
		{"lenet5", func() (*nn.Model, error) { return models.Build("lenet5", 1, 10, []int{1, 28, 28}) }, []int{1, 28, 28}, 3},
		// The full-size torchvision ResNet-34 architecture with a 100-class head.
		{"resnet34", func() (*nn.Model, error) { return models.ResNet(34, 64, 1, 100, []int{3, 224, 224}) }, []int{3, 224, 224}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			b, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(2))
			x := make([]float32, c.batch*nn.Numel(c.sample))
			for i := range x {
				x[i] = rng.Float32()
			}
			want := engineForward(t, m, x, c.batch)
			s, err := ort.NewSession(b, ort.Options{Name: c.name})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			shape := []int64{int64(c.batch)}
			for _, d := range c.sample {
				shape = append(shape, int64(d))
			}
			outs, err := s.Run([]ort.Tensor{{Name: "input", Shape: shape, Data: x}})
			if err != nil {
				t.Fatal(err)
			}
			if e := compare.RelL2(outs[0].Data, want); e > 1e-5 {
				t.Errorf("ONNX Runtime vs tlkit: relative L2 error %.3g", e)
			}
			back, err := importer.Decode(b, c.name)
			if err != nil {
				t.Fatal(err)
			}
			got := engineForward(t, back, x, c.batch)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("re-imported model differs at %d: %g vs %g", i, got[i], want[i])
				}
			}
			tot, tr := back.Count()
			wt, wtr := m.Count()
			if tot != wt || tr != wtr {
				t.Errorf("re-imported counts %d/%d, want %d/%d", tot, tr, wt, wtr)
			}
		})
	}
}
