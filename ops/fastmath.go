package ops

import "math"

// Float32 transcendental functions for the activations' hot loops. Go's math package works in
// float64 and costs ~20 ns for a tanh; these use the classic Cephes range reductions and
// minimax polynomials for single precision (within 2 ulp of the float32-rounded exact value, the
// accuracy of PyTorch's own vectorised float32 functions). float64 programs keep using math.

const (
	expHi   = 88.72283935546875
	expLo   = -87.33654022216797
	log2e   = 1.44269504088896341
	ln2Hi   = 0.693359375
	ln2Lo   = -2.12194440e-4
	tanhBig = 9.0 // tanh(x) rounds to ±1 in float32 beyond this
)

// exp32 is e^x in float32.
func exp32(x float32) float32 {
	if x > expHi {
		return float32(math.Inf(1))
	}
	if x < expLo {
		return 0
	}
	// x = n·ln2 + z with |z| ≤ ln2/2
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	z := x - n*ln2Hi - n*ln2Lo
	y := ((((1.9875691500e-4*z+1.3981999507e-3)*z+8.3334519073e-3)*z+4.1665795894e-2)*z+1.6666665459e-1)*z + 5.0000001201e-1
	y = y*z*z + z + 1
	return y * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// tanh32 is tanh(x) in float32.
func tanh32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a >= tanhBig {
		if x < 0 {
			return -1
		}
		return 1
	}
	if a >= 0.625 {
		r := 1 - 2/(exp32(2*a)+1)
		if x < 0 {
			return -r
		}
		return r
	}
	z := x * x
	return ((((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z-3.33332819422e-1)*z*x + x
}

// sigmoid32 is 1/(1+e^-x) in float32.
func sigmoid32(x float32) float32 {
	if x >= 0 {
		return 1 / (1 + exp32(-x))
	}
	e := exp32(x)
	return e / (1 + e)
}

// biasReluVec sets y = max(x+b, 0) for the first elements of x with AVX2, bitwise as the Go
// loop (and, with b = 0, as max(x, 0)), and returns how many; the caller does the rest. It is
// affineF32x8 with a = 1: x·1 is x exactly, and x+0 differs from x only for -0, which max turns
// into +0 either way.
func biasReluVec(x, y []float32, b float32) int { return affineVec(x, y, 1, b, true) }
