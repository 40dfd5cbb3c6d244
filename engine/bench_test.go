package engine

import (
	"math/rand"
	"testing"

	"tlkit/models"
	"tlkit/optim"
)

func benchStep(b *testing.B, batch, hw int) {
	m, err := models.ResNet(34, 64, 0, 100, []int{3, hw, hw})
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(m, Options{Batch: batch, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, batch*3*hw*hw)
	for i := range x {
		x[i] = rand.Float32()
	}
	p.SetInput(x)
	y := make([]int, batch)
	for i := range y {
		y[i] = rand.Intn(100)
	}
	p.SetLabels(y)
	opt := optim.NewAdam(1e-4)
	step := func() {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
		opt.Update(p.GradParams())
	}
	step()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkResNet34Step is a full fine-tuning step (forward, backward, Adam).
func BenchmarkResNet34Step32x32B32(b *testing.B)  { benchStep(b, 32, 32) }
func BenchmarkResNet34Step224x224B8(b *testing.B) { benchStep(b, 8, 224) }
