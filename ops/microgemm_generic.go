//go:build !amd64

package ops

func microKernelRows(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, cols int, acc bool, pf int, rows int) {
	panic("microKernelRows without AVX-512")
}

func microKernelCols(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, cols int, acc bool, pf int, rows int) {
	panic("microKernelCols without AVX-512")
}
