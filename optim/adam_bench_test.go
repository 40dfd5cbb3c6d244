package optim

import "testing"

func BenchmarkAdam21M(b *testing.B) {
	n := 21 << 20
	p := Param{Name: "w", W: make([]float32, n), G: make([]float32, n)}
	for i := range p.G {
		p.G[i] = float32(i%13) * 0.01
	}
	a := NewAdam(1e-4)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Update([]Param{p})
	}
}
