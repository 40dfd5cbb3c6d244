// Package blas multiplies matrices for tlkit's kernels. It loads OpenBLAS at run time when the
// shared library is present (dlopen, so neither building nor running needs it) and falls back to
// gonum's pure-Go BLAS otherwise; both give the same results to rounding.
//
// All matrices are row-major. Callers parallelise across goroutines themselves, so OpenBLAS is
// set to one thread: two levels of threading on two cores only add contention.
package blas

import (
	"os"
	"sync"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// EnvVar selects the implementation: "go" forces gonum, a path loads that OpenBLAS library.
const EnvVar = "TLKIT_BLAS"

// openBLASNames are tried in order when EnvVar does not name a library.
var openBLASNames = []string{
	"libopenblas.so.0",
	"libopenblas.so",
	"/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
	"/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
}

var (
	once    sync.Once
	native  *nativeLib // nil when OpenBLAS is not loaded
	backend string
)

func load() {
	once.Do(func() {
		sel := os.Getenv(EnvVar)
		if sel == "go" {
			backend = "gonum (pure Go, forced by " + EnvVar + "=go)"
			return
		}
		names := openBLASNames
		if sel != "" {
			names = []string{sel}
		}
		// OpenBLAS reads this when it loads: with one thread it starts no worker pool, whose
		// idle threads would otherwise spin (sched_yield) on the cores our goroutines use.
		os.Setenv("OPENBLAS_NUM_THREADS", "1")
		for _, name := range names {
			if lib, err := openNative(name); err == nil {
				native = lib
				backend = "OpenBLAS (" + name + ")"
				return
			}
		}
		backend = "gonum (pure Go; install libopenblas0 for speed)"
	})
}

// Backend describes the implementation in use, for logs and benchmark reports.
func Backend() string {
	load()
	return backend
}

var goImpl gonum.Implementation

func trans(t bool) gblas.Transpose {
	if t {
		return gblas.Trans
	}
	return gblas.NoTrans
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C in float32, where op(X) is X or its transpose;
// op(A) is m×k, op(B) is k×n and C is m×n.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	load()
	if native != nil {
		native.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	goImpl.Sgemm(trans(transA), trans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is Sgemm in float64.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	load()
	if native != nil {
		native.dgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	goImpl.Dgemm(trans(transA), trans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
