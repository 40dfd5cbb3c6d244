//go:build amd64

package ops

// Vector paths for the float32 Winograd transforms (winograd_amd64.s), chosen by vecISA (isa.go).

//go:noescape
func winoInputRows512(r0, r1, r2, r3 *float32, n int, out *float32)

//go:noescape
func winoOutputRows512(in *float32, n int, bv float32, row0, row1 *float32)

//go:noescape
func wgDyRows512(row0, row1 *float32, n int, out *float32)

//go:noescape
func winoInputRows256(r0, r1, r2, r3 *float32, n int, out *float32)

//go:noescape
func winoOutputRows256(in *float32, n int, bv float32, row0, row1 *float32)

//go:noescape
func wgDyRows256(row0, row1 *float32, n int, out *float32)

// winoVecTiles is how many of n tiles the vector path takes: all of them with AVX-512 (masked
// loads and stores), whole 8-tile passes with AVX2.
func winoVecTiles(n int) int {
	switch vecISA {
	case isaAVX512:
		return n
	case isaAVX2:
		return n &^ 7
	}
	return 0
}

// winoInputRowsF32 is winoInputRows' vector path: it transforms the first tiles of n and
// returns how many (winoVecTiles).
func winoInputRowsF32(row0, row1, row2, row3 []float32, n int, out []float32) int {
	d := winoVecTiles(n)
	if d <= 0 {
		return 0
	}
	// The kernels read columns [0, 2d+2) of the rows and write tiles [0, d) of 16 planes.
	_, _, _, _, _ = row0[2*d+1], row1[2*d+1], row2[2*d+1], row3[2*d+1], out[15*winoKB+d-1]
	if vecISA == isaAVX512 {
		winoInputRows512(&row0[0], &row1[0], &row2[0], &row3[0], d, &out[0])
	} else {
		winoInputRows256(&row0[0], &row1[0], &row2[0], &row3[0], d, &out[0])
	}
	return d
}

// winoOutputRows2F32 is winoOutputRows2's vector path, returning how many tiles it did.
func winoOutputRows2F32(in []float32, n int, bv float32, row0, row1 []float32) int {
	d := winoVecTiles(n)
	if d <= 0 {
		return 0
	}
	_, _, _ = in[15*winoKB+d-1], row0[2*d-1], row1[2*d-1]
	if vecISA == isaAVX512 {
		winoOutputRows512(&in[0], d, bv, &row0[0], &row1[0])
	} else {
		winoOutputRows256(&in[0], d, bv, &row0[0], &row1[0])
	}
	return d
}

// wgDyRowsF32 is wgDyRows' vector path, returning how many tiles it did.
func wgDyRowsF32(row0, row1 []float32, n int, out []float32) int {
	d := winoVecTiles(n)
	if d <= 0 {
		return 0
	}
	_, _, _ = row0[2*d-1], row1[2*d-1], out[15*winoKB+d-1]
	if vecISA == isaAVX512 {
		wgDyRows512(&row0[0], &row1[0], d, &out[0])
	} else {
		wgDyRows256(&row0[0], &row1[0], d, &out[0])
	}
	return d
}

//go:noescape
func winoKernel512(w *float32, n int, u *float32, us int)

//go:noescape
func wgInverseRow512(row *float32, cs, c int, k *float32)

// winoKernelF32 is winoKernel's vector path for the kernels [lo, hi) (flat o·c+i indices) of w
// into u, whose planes are us apart; it reports whether it did them.
func winoKernelF32(w []float32, lo, hi int, u []float32, us int) bool {
	if vecISA != isaAVX512 || hi <= lo {
		return false
	}
	_, _ = w[9*hi-1], u[15*us+hi-1]
	winoKernel512(&w[9*lo], hi-lo, &u[lo], us)
	return true
}

// wgInverseRowF32 is wgInverseRow's vector path; it reports whether it did the row.
func wgInverseRowF32(row []float32, cs, c int, k []float32) bool {
	if vecISA != isaAVX512 || c <= 0 {
		return false
	}
	_, _ = row[15*cs+c-1], k[9*c-1]
	wgInverseRow512(&row[0], cs, c, &k[0])
	return true
}
