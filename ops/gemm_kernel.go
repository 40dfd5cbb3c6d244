package ops

import "tlkit/blas"

// gemm computes C = alpha*op(A)*op(B) + beta*C (row-major) on one goroutine.
func gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	switch a := any(a).(type) {
	case []float32:
		if beta == 0 || beta == 1 {
			b, c := any(b).([]float32), any(c).([]float32)
			al, acc := float32(alpha), beta == 1
			switch {
			case !transB:
				if alpha == 1 && microGemm(transA, m, n, k, a, lda, b, ldb, acc, c, ldc) {
					return
				}
			case !transA:
				if k <= m && m >= transMinRows && transGemm(m, n, k, al, a, lda, b, ldb, acc, c, ldc) ||
					dotGemm(m, n, k, al, a, lda, b, ldb, acc, c, ldc) {
					return
				}
			}
		}
		blas.Sgemm(transA, transB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blas.Dgemm(transA, transB, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

func scaleRows[T Float](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if beta == 0 {
				row[j] = 0
			} else {
				row[j] *= beta
			}
		}
	}
}

// pgemm is gemm split over all workers along the larger of C's dimensions, for products that
// are not already inside a parallel loop.
func pgemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	w := workers()
	// Below about a million multiply-adds threading costs more than it saves.
	if w == 1 || m*n*k < 1<<20 {
		gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= n {
		parallelFor(m, 16, func(lo, hi int) {
			// rows lo..hi of op(A)
			var aoff int
			if transA {
				aoff = lo
			} else {
				aoff = lo * lda
			}
			gemm(transA, transB, hi-lo, n, k, alpha, a[aoff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
		return
	}
	parallelFor(n, 16, func(lo, hi int) {
		// columns lo..hi of op(B)
		var boff int
		if transB {
			boff = lo * ldb
		} else {
			boff = lo
		}
		gemm(transA, transB, m, hi-lo, k, alpha, a, lda, b[boff:], ldb, beta, c[lo:], ldc)
	})
}
