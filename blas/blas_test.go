package blas

import (
	"math/rand"
	"testing"
)

// naive is the textbook triple loop, the reference for both implementations.
func naive(transA, transB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, alpha, beta float64) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var av, bv float64
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
		}
	}
}

func TestGemmAgainstNaive(t *testing.T) {
	t.Logf("backend: %s", Backend())
	rng := rand.New(rand.NewSource(1))
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {64, 33, 17}, {2, 100, 3}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a := make([]float64, tc.m*tc.k)
				b := make([]float64, tc.k*tc.n)
				c := make([]float64, tc.m*tc.n)
				for i := range a {
					a[i] = rng.Float64() - 0.5
				}
				for i := range b {
					b[i] = rng.Float64() - 0.5
				}
				for i := range c {
					c[i] = rng.Float64() - 0.5
				}
				lda, ldb := tc.k, tc.n
				if ta {
					lda = tc.m
				}
				if tb {
					ldb = tc.k
				}
				want := append([]float64(nil), c...)
				naive(ta, tb, tc.m, tc.n, tc.k, a, lda, b, ldb, want, tc.n, 0.7, 0.3)
				got := append([]float64(nil), c...)
				Dgemm(ta, tb, tc.m, tc.n, tc.k, 0.7, a, lda, b, ldb, 0.3, got, tc.n)
				a32, b32, c32 := f32(a), f32(b), f32(c)
				Sgemm(ta, tb, tc.m, tc.n, tc.k, 0.7, a32, lda, b32, ldb, 0.3, c32, tc.n)
				for i := range want {
					if d := got[i] - want[i]; d > 1e-12 || d < -1e-12 {
						t.Fatalf("dgemm %v ta=%v tb=%v: c[%d]=%g want %g", tc, ta, tb, i, got[i], want[i])
					}
					if d := float64(c32[i]) - want[i]; d > 1e-5 || d < -1e-5 {
						t.Fatalf("sgemm %v ta=%v tb=%v: c[%d]=%g want %g", tc, ta, tb, i, c32[i], want[i])
					}
				}
			}
		}
	}
}

func f32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}
