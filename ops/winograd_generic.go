//go:build !amd64

package ops

// Without vector paths every transform runs the Go code.

func winoInputRowsF32(row0, row1, row2, row3 []float32, n int, out []float32) int { return 0 }

func winoOutputRows2F32(in []float32, n int, bv float32, row0, row1 []float32) int { return 0 }

func wgDyRowsF32(row0, row1 []float32, n int, out []float32) int { return 0 }

func winoKernelF32(w []float32, lo, hi int, u []float32, us int) bool { return false }

func wgInverseRowF32(row []float32, cs, c int, k []float32) bool { return false }
