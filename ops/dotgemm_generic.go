//go:build !amd64

package ops

func dotKernel(k int, a *float32, lda int, b *float32, ldb int, out *[24]float32) {
	panic("dotKernel without AVX-512")
}
