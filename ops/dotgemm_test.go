package ops

import (
	"math"
	"math/rand"
	"testing"

	"tlkit/blas"
)

// TestDotGemm checks dotGemm against a float64 product over shapes with overlapping last row
// and column blocks, several k blocks, masked k tails and accumulation.
func TestDotGemm(t *testing.T) {
	saved := microISA
	microISA = isaAVX2
	if dotGemm(8, 3, 64, 1, make([]float32, 512), 64, make([]float32, 192), 64, false, make([]float32, 24), 3) {
		t.Fatal("dotGemm computed a product without AVX-512")
	}
	microISA = saved
	if !microGemmOK() {
		return // no AVX-512 here: the declining above is all there is to check
	}
	rng := rand.New(rand.NewSource(1))
	for _, s := range [][3]int{{8, 3, 64}, {3, 8, 70}, {6, 25, 3000}, {8, 36, 4999}, {13, 7, 100}, {9, 200, 1030}, {128, 48, 4608}, {20, 4, 2100}} {
		m, n, k := s[0], s[1], s[2]
		for _, acc := range []bool{false, true} {
			alpha := float32(1)
			if acc {
				alpha = 0.25 // Winograd's weight gradient scales its products
			}
			lda, ldb, ldc := k+3, k+5, n+2
			a := winoRandSlice[float32](rng, m*lda)
			b := winoRandSlice[float32](rng, n*ldb)
			c := winoRandSlice[float32](rng, m*ldc)
			c0 := append([]float32(nil), c...)
			if !dotGemm(m, n, k, alpha, a, lda, b, ldb, acc, c, ldc) {
				t.Fatalf("%v: dotGemm declined", s)
			}
			for i := 0; i < m; i++ {
				for j := 0; j < ldc; j++ {
					got := float64(c[i*ldc+j])
					if j >= n {
						if got != float64(c0[i*ldc+j]) {
							t.Fatalf("%v: C[%d][%d] past the block changed", s, i, j)
						}
						continue
					}
					var want, mag float64
					if acc {
						want = float64(c0[i*ldc+j])
					}
					for p := 0; p < k; p++ {
						v := float64(alpha) * float64(a[i*lda+p]) * float64(b[j*ldb+p])
						want += v
						mag += math.Abs(v)
					}
					if math.Abs(got-want) > 1e-6*(mag+1) {
						t.Fatalf("%v acc=%v: C[%d][%d] = %v, want %v", s, acc, i, j, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkDotGemm times dotGemm against OpenBLAS (blas.Sgemm with B transposed) on weight
// gradients and a fully connected layer: the MNIST CNN's second convolution (8×36 over 8 images'
// pixels), its first fully connected layer (batch 128, 4608 → 48), and ResNet-34's im2col weight
// gradients at batch 8, 224×224 (a stride-2 3×3 layer over one image, a 1×1 shortcut, a strip of
// the 7×7 stem).
func BenchmarkDotGemm(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	for _, s := range []struct {
		name    string
		m, n, k int
	}{{"cnn-conv2", 8, 36, 4992}, {"cnn-fc1", 128, 48, 4608}, {"resnet-3x3s2", 128, 576, 784}, {"resnet-1x1s2", 128, 64, 784}, {"resnet-stem", 64, 147, 1568}} {
		a := winoRandSlice[float32](rng, s.m*s.k)
		bm := winoRandSlice[float32](rng, s.n*s.k)
		c := make([]float32, s.m*s.n)
		flops := 2 * float64(s.m*s.n*s.k)
		for _, impl := range []struct {
			name string
			fn   func()
		}{
			{"dot", func() { dotGemm(s.m, s.n, s.k, 1, a, s.k, bm, s.k, false, c, s.n) }},
			{"openblas", func() { blas.Sgemm(false, true, s.m, s.n, s.k, 1, a, s.k, bm, s.k, 0, c, s.n) }},
		} {
			b.Run(s.name+"/"+impl.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					impl.fn()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
