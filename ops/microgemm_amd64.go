//go:build amd64

package ops

// microKernelRows sets (acc false) or adds to (acc true) the 8×cols block of C at c (rows ldc
// elements apart) the product of the 8×k block of A at a, stored by rows (A[r][p] at
// a[r·lda+p]), and the k×cols block of B at b (rows ldb apart); cols is 1 to 32. Only the
// first rows (1–8) rows of C are written. It prefetches B's rows pf rows ahead.
//
//go:noescape
func microKernelRows(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, cols int, acc bool, pf int, rows int)

// microKernelCols is microKernelRows for A stored by columns: A[r][p] at a[p·lda+r].
//
//go:noescape
func microKernelCols(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, cols int, acc bool, pf int, rows int)
