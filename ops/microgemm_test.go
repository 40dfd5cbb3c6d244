package ops

import (
	"math"
	"math/rand"
	"testing"
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
	for _, s := range [][3]int{{8, 1, 1}, {8, 32, 7}, {13, 45, 300}, {64, 100, 513}, {130, 33, 64}, {16, 64, 256}} {
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
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						got := float64(c[i*ldc+j])
						if j >= n {
							if got != float64(c0[i*ldc+j]) {
								t.Fatalf("%v transA=%v: C[%d][%d] past the block changed", s, transA, i, j)
							}
							continue
						}
						var want, mag float64
						if acc {
							want = float64(c0[i*ldc+j])
						}
						for p := 0; p < k; p++ {
							av := a[i*lda+p]
							if transA {
								av = a[p*lda+i]
							}
							want += float64(av) * float64(b[p*ldb+j])
							mag += math.Abs(float64(av) * float64(b[p*ldb+j]))
						}
						if math.Abs(got-want) > 1e-6*(mag+1) {
							t.Fatalf("%v transA=%v acc=%v: C[%d][%d] = %v, want %v", s, transA, acc, i, j, got, want)
						}
					}
				}
			}
		}
	}
}
