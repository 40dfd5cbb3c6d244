package optim

import "testing"

func benchAdam(b *testing.B, scale float32) {
	n := 21 << 20
	p := Param{Name: "w", W: make([]float32, n), G: make([]float32, n)}
	for i := range p.G {
		p.G[i] = float32(i%13) * scale
	}
	a := NewAdam(1e-4)
	a.Update([]Param{p})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Update([]Param{p})
	}
}

// BenchmarkAdam21M updates a ResNet-34-sized parameter set.
func BenchmarkAdam21M(b *testing.B) { benchAdam(b, 0.01) }

// BenchmarkAdam21MTinyGrads has gradients whose squares are subnormal floats, as happens late in
// training; subnormal arithmetic is many times slower on x86 unless avoided.
func BenchmarkAdam21MTinyGrads(b *testing.B) { benchAdam(b, 1e-21) }
