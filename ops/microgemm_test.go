package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"tlkit/blas"
)

// TestMicroGemm checks microGemm against a float64 product over shapes with partial row and
// column blocks, several k blocks, both layouts of A, and accumulation.
func TestMicroGemm(t *testing.T) {
	// Without AVX-512 microGemm must decline, leaving the product to gemm's OpenBLAS path.
	saved := microISA
	microISA = isaAVX2
	if microGemm(false, 8, 8, 8, make([]float32, 64), 8, make([]float32, 64), 8, false, make([]float32, 64), 8) {
		t.Fatal("microGemm computed a product without AVX-512")
	}
	microISA = saved
	if !microGemmOK() {
		return // this machine has no AVX-512: the declining above is all there is to check
	}
	rng := rand.New(rand.NewSource(1))
	for _, s := range [][3]int{{8, 1, 1}, {4, 5, 3}, {6, 100, 25}, {8, 32, 7}, {13, 45, 300}, {64, 100, 513}, {130, 33, 64}, {16, 64, 256}} {
		m, n, k := s[0], s[1], s[2]
		for _, transA := range []bool{false, true} {
			for _, acc := range []bool{false, true} {
				lda, ldb, ldc := k+3, n+5, n+2
				if transA {
					lda = m + 3
				}
				a := winoRandSlice[float32](rng, max(m, k)*lda)
				b := winoRandSlice[float32](rng, k*ldb)
				c := winoRandSlice[float32](rng, m*ldc)
				c0 := append([]float32(nil), c...)
				if !microGemm(transA, m, n, k, a, lda, b, ldb, acc, c, ldc) {
					t.Fatalf("%v: microGemm declined", s)
				}
				aAt := func(i, p int) float32 { return a[i*lda+p] }
				if transA {
					aAt = func(i, p int) float32 { return a[p*lda+i] }
				}
				name := fmt.Sprintf("%v transA=%v acc=%v", s, transA, acc)
				checkProduct(t, name, m, n, k, 1, aAt, func(p, j int) float32 { return b[p*ldb+j] }, acc, c0, c, ldc)
			}
		}
	}
}

// checkProduct checks c (m×n in rows of ldc) against alpha·A·B (+ c0 when acc) computed in
// float64 from the elements aAt(i, p) and bAt(p, j), within float32 rounding of the terms'
// magnitudes, and that the columns past n kept c0's values.
func checkProduct(t *testing.T, name string, m, n, k int, alpha float32, aAt, bAt func(int, int) float32, acc bool, c0, c []float32, ldc int) {
	t.Helper()
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			got := float64(c[i*ldc+j])
			if j >= n {
				if got != float64(c0[i*ldc+j]) {
					t.Fatalf("%s: C[%d][%d] past the block changed", name, i, j)
				}
				continue
			}
			var want, mag float64
			if acc {
				want = float64(c0[i*ldc+j])
			}
			for p := 0; p < k; p++ {
				v := float64(alpha) * float64(aAt(i, p)) * float64(bAt(p, j))
				want += v
				mag += math.Abs(v)
			}
			if math.Abs(got-want) > 1e-6*(mag+1) {
				t.Fatalf("%s: C[%d][%d] = %v, want %v", name, i, j, got, want)
			}
		}
	}
}

// BenchmarkMicroGemm times microGemm against OpenBLAS (blas.Sgemm, one thread's share) on the
// products of ResNet-34's convolutions at batch 8, 224×224: the stem's im2col product
// (64×147 by 147×3136 per image), a Winograd block (64 channels, 256 tiles) and a 1×1 stride-2
// shortcut's product. Report GFLOP/s with -test.benchtime 0.5s; compare medians of several runs.
func BenchmarkMicroGemm(b *testing.B) {
	benchProducts(b, "micro", false, []gemmShape{{"stem", 64, 3136, 147}, {"winograd64", 64, 256, 64}, {"winograd256", 256, 256, 256}, {"shortcut", 128, 784, 64}},
		func(s gemmShape, a, bm, c []float32) { microGemm(false, s.m, s.n, s.k, a, s.k, bm, s.n, false, c, s.n) })
}

// gemmShape names a product of an m×k by a k×n matrix.
type gemmShape struct {
	name    string
	m, n, k int
}

// benchProducts times ours (named name) against OpenBLAS on each shape, B transposed when
// transB, and reports GFLOP/s.
func benchProducts(b *testing.B, name string, transB bool, shapes []gemmShape, ours func(s gemmShape, a, bm, c []float32)) {
	rng := rand.New(rand.NewSource(1))
	for _, s := range shapes {
		a := winoRandSlice[float32](rng, s.m*s.k)
		bm := winoRandSlice[float32](rng, s.k*s.n)
		c := make([]float32, s.m*s.n)
		ldb := s.n
		if transB {
			ldb = s.k
		}
		for _, impl := range []struct {
			name string
			fn   func()
		}{
			{name, func() { ours(s, a, bm, c) }},
			{"openblas", func() { blas.Sgemm(false, transB, s.m, s.n, s.k, 1, a, s.k, bm, ldb, 0, c, s.n) }},
		} {
			b.Run(s.name+"/"+impl.name, func(b *testing.B) {
				if impl.name == name && !microGemmOK() {
					b.Skip("no AVX-512: only OpenBLAS computes products")
				}
				for i := 0; i < b.N; i++ {
					impl.fn()
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
