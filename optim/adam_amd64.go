//go:build amd64

package optim

import "golang.org/x/sys/cpu"

//go:noescape
func adamF32x8(w, grad, m, v *float32, n int, c *adamConsts)

// adamVecOK is whether this machine runs adamF32x8 (tests turn it off to compare with the Go loop).
var adamVecOK = cpu.X86.HasAVX2

// adamVec updates the first elements of w, m and v (all of g's length) with AVX2 and returns
// how many; the Go loop does the rest.
func adamVec(w, g, m, v []float32, c *adamConsts) int {
	n := len(w) &^ 7
	if !adamVecOK || n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamF32x8(&w[0], &g[0], &m[0], &v[0], n, c)
	return n
}
