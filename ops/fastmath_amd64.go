//go:build amd64

package ops

import "math"

// tanhConsts are tanh32's constants for tanhF32x8, rounded to float32 by the compiler as in
// tanh32 itself; the assembly reads them by offset (4 bytes each, in this order).
var tanhConsts = [...]float32{
	math.Float32frombits(0x7fffffff), math.Float32frombits(0x80000000), 0.625, tanhBig, 1, 2,
	log2e, 0.5, ln2Hi, ln2Lo,
	-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
	math.Float32frombits(127),
}

//go:noescape
func tanhF32x8(x, y *float32, n int, c *float32)

// tanhVec computes y = tanh32(x) for the first elements of x with AVX2 (on machines with it,
// vecISA) and returns how many; the caller does the rest.
func tanhVec(x, y []float32) int {
	n := len(x) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0
	}
	_ = y[n-1]
	tanhF32x8(&x[0], &y[0], n, &tanhConsts[0])
	return n
}

//go:noescape
func maxF32x8(dst, src *float32, n int)

// maxVec sets dst = max(dst, src) element-wise for the first elements with AVX2, bitwise as
// Go's max, and returns how many; the caller does the rest.
func maxVec(dst, src []float32) int {
	n := len(dst) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0
	}
	_ = src[n-1]
	maxF32x8(&dst[0], &src[0], n)
	return n
}

//go:noescape
func reluGradF32x8(x, dy, dx *float32, n int)

// reluGradVec is reluGrad for the first elements with AVX2, bitwise the Go loop; it returns how
// many it did.
func reluGradVec(x, dy, dx []float32) int {
	n := len(x) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0
	}
	_, _ = dy[n-1], dx[n-1]
	reluGradF32x8(&x[0], &dy[0], &dx[0], n)
	return n
}

//go:noescape
func evenF32x8(dst, src *float32, n int)

// evenVec sets dst[k] = src[2k] for the first k with AVX2 and returns how many; the caller does
// the rest.
func evenVec(dst, src []float32) int {
	n := min(len(dst), len(src)/2) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0
	}
	evenF32x8(&dst[0], &src[0], n)
	return n
}

//go:noescape
func sumF32x8(x *float32, n int) float64

//go:noescape
func sqDevF32x8(x *float32, n int, m float64) float64

//go:noescape
func dotDevF32x8(dy, x *float32, n int, m float64) float64

//go:noescape
func affineF32x8(x, y *float32, n int, a, b float32, relu bool)

//go:noescape
func bnGradF32x8(dy, x, dx *float32, n int, k, c0, c1 float32)

// The BatchNorm vector paths below do the first elements with AVX2 (a multiple of 8) and return
// how many, with their sums; the callers do the rest.

// sumVec is Σx in float64.
func sumVec(x []float32) (int, float64) {
	n := len(x) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0, 0
	}
	return n, sumF32x8(&x[0], n)
}

// sqDevVec is Σ(x-m)² in float64.
func sqDevVec(x []float32, m float64) (int, float64) {
	n := len(x) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0, 0
	}
	return n, sqDevF32x8(&x[0], n, m)
}

// dotDevVec is Σ g·(x-m) in float64.
func dotDevVec(g, x []float32, m float64) (int, float64) {
	n := len(x) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0, 0
	}
	_ = g[n-1]
	return n, dotDevF32x8(&g[0], &x[0], n, m)
}

// affineVec sets y = x·a + b (then max with 0 when relu), bitwise as the Go loop.
func affineVec(x, y []float32, a, b float32, relu bool) int {
	n := len(x) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0
	}
	_ = y[n-1]
	affineF32x8(&x[0], &y[0], n, a, b, relu)
	return n
}

// bnGradVec sets dx = g·k + c0 + c1·x, bitwise as the Go loop.
func bnGradVec(g, x, dx []float32, k, c0, c1 float32) int {
	n := len(x) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0
	}
	_, _ = g[n-1], dx[n-1]
	bnGradF32x8(&g[0], &x[0], &dx[0], n, k, c0, c1)
	return n
}

//go:noescape
func addF32x8(a, b, y *float32, n int, relu bool)

// addVec sets y = a + b (then max with 0 when relu) for the first elements with AVX2, bitwise as
// the Go loop, and returns how many; the caller does the rest.
func addVec(a, b, y []float32, relu bool) int {
	n := len(y) &^ 7
	if vecISA < isaAVX2 || n == 0 {
		return 0
	}
	_, _ = a[n-1], b[n-1]
	addF32x8(&a[0], &b[0], &y[0], n, relu)
	return n
}
