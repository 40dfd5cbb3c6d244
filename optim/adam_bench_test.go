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

// BenchmarkAdamResNet34 updates ResNet-34's parameter tensors (sizes as torchvision's).
func BenchmarkAdamResNet34(b *testing.B) {
	var sizes []int
	add := func(n int) { sizes = append(sizes, n) }
	add(64 * 3 * 49)
	add(64)
	add(64)
	in := 64
	for stage, n := range []int{3, 4, 6, 3} {
		out := 64 << stage
		for i := 0; i < n; i++ {
			add(out * in * 9)
			add(out)
			add(out)
			add(out * out * 9)
			add(out)
			add(out)
			if in != out {
				add(out * in)
				add(out)
				add(out)
			}
			in = out
		}
	}
	add(100 * 512)
	add(100)
	var ps []Param
	for i, n := range sizes {
		p := Param{Name: string(rune(i)), W: make([]float32, n), G: make([]float32, n)}
		for j := range p.G {
			p.G[j] = float32(j%13)*0.01 - 0.05
		}
		ps = append(ps, p)
	}
	a := NewAdam(1e-4)
	a.Update(ps)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Update(ps)
	}
}
