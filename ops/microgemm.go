package ops

// Our own single-threaded float32 GEMM for the products that dominate convolutions: C = op(A)·B
// or C += op(A)·B, row-major, B not transposed. OpenBLAS (blas.Sgemm) packs both operands into
// its own layout on every call; for the convolutions' products, where B is an im2col matrix or a
// block of Winograd tiles and A a weight matrix read from cache, an AVX-512 micro-kernel reading
// both in place measured 190–215 GFLOP/s on one core against OpenBLAS's 130–170 on the same
// products on a Xeon (Sapphire Rapids), and 208–221 against 95–100 on an AMD EPYC (Zen 5)
// (BenchmarkMicroGemm).
//
// The kernel computes 8 rows by 32 columns of C in registers, one fused multiply-add per element
// and k in ascending k, so its results differ from OpenBLAS's only by rounding.

// Blocking of microGemm: a microKC×microMC block of A stays in L2 while the 32-column strips of
// B's microKC rows (32 KiB) pass through L1 once per 8 rows of A.
const (
	microKC = 256
	microMC = 128
	microNR = 32
	// microPrefetch is how many rows of B ahead the kernels prefetch: B's rows are often far
	// apart (Winograd's blocks keep 16 planes in each row), beyond the hardware prefetchers'
	// reach; 4–8 rows ahead made Winograd layers about 5% faster.
	microPrefetch = 8
	// microMinRows is the fewest rows of A microGemm takes: with fewer, most of each 8-row
	// block's multiplications would be discarded.
	microMinRows = 4
)

// microGemmOK reports whether microGemm computes products on this machine.
func microGemmOK() bool { return microISA == isaAVX512 }

// microISA is the instruction set microGemm uses; tests lower it to check the fallback.
var microISA = bestISA

// microGemm computes C = op(A)·B (acc false) or C += op(A)·B (acc true), A m×k (transA: stored
// k×m), B k×n, C m×n, all row-major with the given leading dimensions, and reports whether it
// did (false without AVX-512, or with m < microMinRows or k == 0). The last m mod 8 rows of A
// are copied, a block of k at a time, into a buffer of 8 rows, of which the kernels store only
// those rows.
func microGemm(transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, acc bool, c []float32, ldc int) bool {
	if !microGemmOK() || m < microMinRows || n < 1 || k < 1 {
		return false
	}
	// The kernels read A's rows (or columns) 0..m-1 over k, B's rows 0..k-1 over n columns and
	// write C's m×n block: check the slices reach.
	if transA {
		_ = a[(k-1)*lda+m-1]
	} else {
		_ = a[(m-1)*lda+k-1]
	}
	_, _ = b[(k-1)*ldb+n-1], c[(m-1)*ldc+n-1]
	m8 := m &^ 7
	var tail []float32 // A's rows m8..m-1 over one block of k, by rows
	if m8 < m {
		tail = getScratch[float32](8 * microKC)
		defer putScratch(tail)
		clear(tail)
	}
	for k0 := 0; k0 < k; k0 += microKC {
		kb := min(microKC, k-k0)
		add := acc || k0 > 0
		for r := 0; r < m-m8; r++ {
			t := tail[r*kb : (r+1)*kb]
			if transA {
				for p := range t {
					t[p] = a[(k0+p)*lda+m8+r]
				}
			} else {
				copy(t, a[(m8+r)*lda+k0:])
			}
		}
		for i0 := 0; i0 < m; i0 += microMC {
			i1 := min(i0+microMC, m)
			for j0 := 0; j0 < n; j0 += microNR {
				cols := min(microNR, n-j0)
				bp := &b[k0*ldb+j0]
				for i := i0; i < i1; i += 8 {
					switch {
					case i >= m8:
						microKernelRows(kb, &tail[0], kb, bp, ldb, &c[i*ldc+j0], ldc, cols, add, microPrefetch, m-m8)
					case transA:
						microKernelCols(kb, &a[k0*lda+i], lda, bp, ldb, &c[i*ldc+j0], ldc, cols, add, microPrefetch, 8)
					default:
						microKernelRows(kb, &a[i*lda+k0], lda, bp, ldb, &c[i*ldc+j0], ldc, cols, add, microPrefetch, 8)
					}
				}
			}
		}
	}
	return true
}
