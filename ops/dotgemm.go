package ops

// Our own float32 GEMM for products with B transposed and a long inner dimension: C = A·Bᵀ or
// C += A·Bᵀ, A m×k and B n×k both stored by rows. These are the weight gradients of
// convolutions (dy·colᵀ, the inner dimension running over pixels) and the forward passes of
// fully connected layers (x·Wᵀ). OpenBLAS packs both operands on every call, which for few
// rows and columns over a long k (8×36 over 73,728 pixels in the MNIST CNN's second
// convolution) costs more than the arithmetic: it ran at 5 GFLOP/s there. Both operands are
// read in place here as rows of dot products.
//
// The kernel computes an 8×3 block of dot products sixteen k at a time; each is summed in 16
// lanes, which are added at the end of a block of k, so the results differ from OpenBLAS's by
// rounding only.

// Blocking of dotGemm: 8 rows of A over dotKC k (32 KiB) stay in L1 while a panel of B's rows
// (dotNC rows over dotKC k, 384 KiB) stays in L2.
const (
	dotKC = 1024
	dotNC = 96
	// dotMinK is the shortest k dotGemm takes: each block of 24 dot products ends with summing
	// lanes, which over fewer k costs more than OpenBLAS's packing.
	dotMinK = 64
)

// dotGemm computes C = alpha·A·Bᵀ (acc false) or C += alpha·A·Bᵀ (acc true), A m×k, B n×k,
// C m×n, all row-major with the given leading dimensions, and reports whether it did (false
// without AVX-512, with k < dotMinK, or with neither m ≥ 8, n ≥ 3 nor m ≥ 3, n ≥ 8). With
// fewer than 8 rows (the weight gradients of layers with 4 or 6 outputs) it computes Cᵀ = B·Aᵀ.
func dotGemm(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, acc bool, c []float32, ldc int) bool {
	if !microGemmOK() || k < dotMinK || !(m >= 8 && n >= 3 || m >= 3 && n >= 8) {
		return false
	}
	_, _, _ = a[(m-1)*lda+k-1], b[(n-1)*ldb+k-1], c[(m-1)*ldc+n-1]
	if m < 8 {
		t := getScratch[float32](n * m)
		defer putScratch(t)
		dotGemm(n, m, k, alpha, b, ldb, a, lda, false, t, m)
		for i := 0; i < m; i++ {
			ci := c[i*ldc : i*ldc+n]
			for j := range ci {
				if acc {
					ci[j] += t[j*m+i]
				} else {
					ci[j] = t[j*m+i]
				}
			}
		}
		return true
	}
	// Each block of k adds alpha times its sums: alpha·(s1+s2) up to rounding (exactly, for
	// Winograd's alpha of ¼).
	var out [24]float32
	for k0 := 0; k0 < k; k0 += dotKC {
		kb := min(dotKC, k-k0)
		add := acc || k0 > 0
		for j0 := 0; j0 < n; j0 += dotNC {
			j1 := min(j0+dotNC, n)
			for i := 0; i < m; i += 8 {
				// The last block of rows (and of columns) overlaps the one before it when m
				// (n) is not a multiple of 8 (3): its first r0 (c0) rows (columns) are done.
				i8, r0 := i, 0
				if i+8 > m {
					i8, r0 = m-8, i+8-m
				}
				for j := j0; j < j1; j += 3 {
					j3, c0 := j, 0
					if j+3 > n {
						j3, c0 = n-3, j+3-n
					}
					dotKernel(kb, &a[i8*lda+k0], lda, &b[j3*ldb+k0], ldb, &out)
					for r := r0; r < 8; r++ {
						cr := c[(i8+r)*ldc+j3 : (i8+r)*ldc+j3+3]
						for q := c0; q < 3; q++ {
							if add {
								cr[q] += alpha * out[3*r+q]
							} else {
								cr[q] = alpha * out[3*r+q]
							}
						}
					}
				}
			}
		}
	}
	return true
}

// transGemm computes C = alpha·A·Bᵀ (acc false) or C += alpha·A·Bᵀ (acc true) like dotGemm, by
// copying alpha·Bᵀ, transNC columns at a time, into a buffer that microGemm reads as its B. For
// a short k next to m (k ≤ m, m ≥ transMinRows: 1×1 and 2×2 maps' weight gradients, Winograd's
// 256- and 512-channel ones) the copy costs k/m of the product and microGemm beats dot products
// (160–180 GFLOP/s against 95–140, whose lane sums each block of k pays), so gemm prefers it
// there. It reports whether it did (false where microGemm declines).
func transGemm(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, acc bool, c []float32, ldc int) bool {
	if !microGemmOK() || m < microMinRows || n < 1 || k < 1 {
		return false
	}
	_ = b[(n-1)*ldb+k-1]
	bt := getScratch[float32](k * min(n, transNC))
	defer putScratch(bt)
	for j0 := 0; j0 < n; j0 += transNC {
		nb := min(transNC, n-j0)
		// 16×16 blocks: both the rows read and the rows written stay in L1.
		for q0 := 0; q0 < nb; q0 += 16 {
			for p0 := 0; p0 < k; p0 += 16 {
				p1 := min(p0+16, k)
				for q := q0; q < min(q0+16, nb); q++ {
					for p, v := range b[(j0+q)*ldb+p0 : (j0+q)*ldb+p1] {
						bt[(p0+p)*nb+q] = alpha * v
					}
				}
			}
		}
		microGemm(false, m, nb, k, a, lda, bt, nb, acc, c[j0:], ldc)
	}
	return true
}

const (
	// transNC is how many columns of C transGemm computes per copy of Bᵀ.
	transNC = 512
	// transMinRows is the fewest rows of A for which gemm prefers transGemm.
	transMinRows = 128
)
