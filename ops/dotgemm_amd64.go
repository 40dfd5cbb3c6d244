//go:build amd64

package ops

// dotKernel writes to out the 8×3 dot products of A's rows 0–7 (at a, lda elements apart) with
// B's rows 0–2 (at b, ldb apart) over k elements, row by row: out[3r+j] = Σ A[r][p]·B[j][p].
//
//go:noescape
func dotKernel(k int, a *float32, lda int, b *float32, ldb int, out *[24]float32)
