package engine

import (
	"math/rand"
	"testing"

	"tlkit/models"
	"tlkit/optim"
)

// benchEpoch times the compute of one MNIST epoch (469 steps of 128) of a seed model.
func benchEpoch(b *testing.B, name string) {
	m, err := models.Build(name, 0, 10, []int{1, 28, 28})
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(m, Options{Batch: 128, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 128*784)
	for i := range x {
		x[i] = rand.Float32()
	}
	y := make([]int, 128)
	opt := optim.NewAdam(1e-4)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for s := 0; s < 469; s++ {
			p.SetInput(x)
			p.SetLabels(y)
			if err := p.Run(); err != nil {
				b.Fatal(err)
			}
			opt.Update(p.GradParams())
		}
	}
}

func BenchmarkMNISTEpochMLP(b *testing.B)    { benchEpoch(b, "mlp") }
func BenchmarkMNISTEpochCNN(b *testing.B)    { benchEpoch(b, "cnn") }
func BenchmarkMNISTEpochLeNet5(b *testing.B) { benchEpoch(b, "lenet5") }
