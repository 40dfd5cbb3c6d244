package ops

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestDotGemm checks dotGemm and transGemm against a float64 product over shapes with overlapping last row
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
	for _, s := range [][3]int{{8, 3, 64}, {3, 8, 70}, {6, 25, 3000}, {8, 36, 4999}, {130, 600, 70}, {13, 7, 100}, {9, 200, 1030}, {128, 48, 4608}, {20, 4, 2100}} {
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
			aAt, bAt := func(i, p int) float32 { return a[i*lda+p] }, func(p, j int) float32 { return b[j*ldb+p] }
			checkProduct(t, fmt.Sprintf("dot %v acc=%v", s, acc), m, n, k, alpha, aAt, bAt, acc, c0, c, ldc)
			copy(c, c0)
			if ok := transGemm(m, n, k, alpha, a, lda, b, ldb, acc, c, ldc); ok != (m >= microMinRows) {
				t.Fatalf("%v: transGemm computed %v, want %v", s, ok, m >= microMinRows)
			} else if !ok {
				continue
			}
			checkProduct(t, fmt.Sprintf("trans %v acc=%v", s, acc), m, n, k, alpha, aAt, bAt, acc, c0, c, ldc)
		}
	}
}

// BenchmarkDotGemm times dotGemm against OpenBLAS (blas.Sgemm with B transposed) on weight
// gradients and a fully connected layer: the MNIST CNN's second convolution (8×36 over 8 images'
// pixels), its first fully connected layer (batch 128, 4608 → 48), and ResNet-34's im2col weight
// gradients at batch 8, 224×224 (a stride-2 3×3 layer over one image, a 1×1 shortcut, a strip of
// the 7×7 stem).
func BenchmarkDotGemm(b *testing.B) {
	benchProducts(b, "dot", true, []gemmShape{{"cnn-conv2", 8, 36, 4992}, {"cnn-fc1", 128, 48, 4608}, {"resnet-3x3s2", 128, 576, 784}, {"resnet-1x1s2", 128, 64, 784}, {"resnet-stem", 64, 147, 1568}},
		func(s gemmShape, a, bm, c []float32) { dotGemm(s.m, s.n, s.k, 1, a, s.k, bm, s.k, false, c, s.n) })
}

// BenchmarkTransGemm times transGemm against OpenBLAS on short-k weight gradients: ResNet-34's
// 1×1 and 2×2 maps at batch 32 (k = 32 and 128 pixels) and a Winograd block of 512 channels.
func BenchmarkTransGemm(b *testing.B) {
	benchProducts(b, "trans", true, []gemmShape{{"1x1x512", 512, 4608, 32}, {"2x2x256", 256, 2304, 128}, {"winograd512", 512, 512, 256}},
		func(s gemmShape, a, bm, c []float32) { transGemm(s.m, s.n, s.k, 1, a, s.k, bm, s.k, false, c, s.n) })
}
