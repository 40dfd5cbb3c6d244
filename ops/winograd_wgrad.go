package ops

// Winograd F(3×3, 2×2) for the weight gradient of 3×3 stride-1 convolutions (Lavin & Gray,
// section 4): dw[m,c,a,b] = Σ_{n,r,s} dy[n,m,r,s]·x[n,c,r-PT+a,s-PL+b] is, over each 2×2 tile e
// of dy (the forward pass's output tiles, zero past the output's edge) and the 4×4 input patch d
// under it, the 3×3 correlation of d with e. Transposing F(2×2,3×3) (the trilinear form
// Σ e_i g_a d_{i+a} = Σ_ξ (A e)_ξ (G g)_ξ (Bᵀ d)_ξ, differentiated in g) gives
//
//	dw = Gᵀ [ Σ_tiles (A e Aᵀ) ⊙ (Bᵀ d B) ] G
//
// with the forward pass's Bᵀ, A and G. So the input transform is the forward one, dy's tiles
// take A·e·Aᵀ (four points from two: e0, e0+e1, e0-e1, -e1) and the sum over tiles is 16 GEMMs
// dW[ξ] (M×C) = Σ dY[ξ] (M×tiles) · X[ξ]ᵀ (tiles×C), the tiles being the long inner dimension.
// The inverse Gᵀ·dW·G, once per weight, is cheap. The sign of A's last row is moved into G's
// (their product is what counts), which saves dy's transform four negations.
//
// The transforms add and halve only, so the result differs from im2col+GEMM by rounding alone;
// the tiles of the GEMMs' long sums are however grouped differently.

// winogradWeightEligible reports whether g's weight gradient should take the Winograd path:
// winogradSupported, and predicted to be at least winogradMinSpeed times faster than
// im2col+GEMM by a cost model fitted to float32 timings of both (BenchmarkWinogradWeightFit in
// winograd_wgrad_bench_test.go, 29 layers, AVX-512 transforms). Winograd does 16/36 of the
// multiplies on even output sides but its M×C GEMMs run slower with few tiles, and each tile
// costs transforms (memory-bound) on every input and output channel; it wins 1.2–3× from 7×7
// (batch 8) up and loses on 4×4 and smaller sides at batch 8 and 2×2, 1×1 at batch 32.
// Thin layers (fewer than thinChannels outputs, as in the MNIST CNN) keep im2col: their im2col
// runs at memory speed, outside the model's fit, and Winograd's transforms of every tile cost
// more than their few GEMMs save (MNIST CNN's 4→8-channel layer: 0.81–1.14 ms against 0.46).
func winogradWeightEligible(g *ConvGeom) bool {
	if !winogradSupported(g) || g.mg() < thinChannels {
		return false
	}
	c, m := float64(g.C), float64(g.M)
	pixels := float64(g.N * g.OH * g.OW)
	tiles := float64(g.N * ((g.OH + 1) / 2) * ((g.OW + 1) / 2))
	im2col := 9*pixels*c*m*wgIm2colNsPerMAC + 9*pixels*c*wgIm2colNsPerCol + c*m*wgIm2colNsPerWeight
	wino := 16*tiles*c*m*wgNsPerMAC*(1+wgFewTiles/tiles) + tiles*(c+m)*wgNsPerTileCh
	return im2col >= winogradMinSpeed*wino
}

// Cost model for winogradWeightEligible, in nanoseconds of one core (2-core Sapphire Rapids
// Xeon, OpenBLAS), fitted by least relative squares; it predicts the measured times within 16%
// on average and every decision right.
const (
	wgIm2colNsPerMAC    = 0.0130 // im2col path's GEMM, per multiply-add
	wgIm2colNsPerCol    = 0.85   // building one im2col element
	wgIm2colNsPerWeight = 5.5    // per-worker partial sums, per weight
	wgNsPerMAC          = 0.0134 // the 16 GEMMs, per multiply-add, with many tiles
	wgFewTiles          = 96     // the GEMMs slow down by a factor 1 + wgFewTiles/tiles
	wgNsPerTileCh       = 9.6    // input or dy transform, per tile and channel
)

// winogradBackwardWeight computes dw (M×C×3×3) from x and dy, exactly what convBackwardWeight
// computes (to rounding), for a geometry winogradSupported accepts. It is deterministic: the
// same inputs and worker count give bitwise the same dw on every run.
func winogradBackwardWeight[T Float](g *ConvGeom, x, dy, dw []T) {
	wg := newWinoGeom(g.N, g.C, g.H, g.W, g.M, g.OH, g.OW, g.PT, g.PL)
	c, m := g.C, g.M
	dw = dw[:m*c*9]
	if wg.tiles == 0 { // an empty batch
		zero(dw)
		return
	}
	cs := wgRowStride(c)
	bt := wg.blockTiles()
	blocks := (wg.tiles + bt - 1) / bt
	w := workers()
	// mul adds the block's products into acc: plane ξ's M×C matrix has row o at
	// acc[o·16·cs + ξ·cs:], so that the 16 planes of one weight lie close together for
	// wgInverse. The GEMMs scale by ¼, the inverse transform's halvings (exact).
	mul := func(xi, k int, e, v []T, beta T, acc []T) {
		gemm(false, true, m, c, k, 0.25, e[xi*winoKB:], winoLD, v[xi*winoKB:], winoLD, beta, acc[xi*cs:], 16*cs)
	}
	inverse := func(parts [][]T) {
		parallelFor(m, max(1, 1024/max(c, 1)), func(lo, hi int) { wgInverse(parts, cs, lo, hi, c, dw) })
	}

	if wgForce == wgForcePhases || (wgForce != wgForceBlocks && !wgWholeBlocks(&wg)) {
		// Few tiles: one block at a time, each phase split over the workers; each ξ plane's
		// sum is one chain of GEMMs, so no partial sums are needed.
		acc := getScratch[T](16 * cs * m)
		defer putScratch(acc)
		s := getScratch[T]((c + m) * winoLD)
		defer putScratch(s)
		v, e := s[:c*winoLD], s[c*winoLD:]
		for b := 0; b < blocks; b++ {
			p0, p1 := b*wg.tiles/blocks, (b+1)*wg.tiles/blocks
			parallelFor(c+m, 1, func(lo, hi int) {
				if lo < c {
					buf := getScratch[T](winoPadLen(&wg))
					winoInput(&wg, x, p0, p1, lo, min(hi, c), v, buf)
					putScratch(buf)
				}
				if hi > c {
					wgDy(&wg, dy, p0, p1, max(lo, c)-c, hi-c, e)
				}
			})
			beta := T(1)
			if b == 0 {
				beta = 0
			}
			parallelTasks(16, func(xi, _ int) { mul(xi, p1-p0, e, v, beta, acc) })
		}
		inverse([][]T{acc})
		return
	}

	// Many tiles: each worker takes whole blocks (both transforms and the 16 GEMMs) and sums
	// into its own 16 planes; the partial sums are added in worker order by the inverse
	// transform. parallelTasks hands worker k the blocks k, k+W, ... in order, so every sum is
	// grouped the same way on every run.
	blocks = max(w, (blocks+w-1)/w*w)
	nw := min(w, blocks)
	if blocks > wg.tiles { // fewer tiles than workers (forced schedule on a tiny geometry)
		blocks, nw = wg.tiles, wg.tiles
	}
	partial := make([][]T, nw)
	for i := range partial {
		partial[i] = getScratch[T](16 * cs * m)
	}
	fresh := make([]bool, nw)
	for i := range fresh {
		fresh[i] = true
	}
	parallelTasks(blocks, func(t, worker int) {
		p0, p1 := t*wg.tiles/blocks, (t+1)*wg.tiles/blocks
		s := getScratch[T]((c+m)*winoLD + winoPadLen(&wg))
		defer putScratch(s)
		v, e, buf := s[:c*winoLD], s[c*winoLD:(c+m)*winoLD], s[(c+m)*winoLD:]
		winoInput(&wg, x, p0, p1, 0, c, v, buf)
		wgDy(&wg, dy, p0, p1, 0, m, e)
		beta := T(1)
		if fresh[worker] {
			beta = 0
		}
		for xi := 0; xi < 16; xi++ {
			mul(xi, p1-p0, e, v, beta, partial[worker])
		}
		fresh[worker] = false
	})
	inverse(partial)
	for _, p := range partial {
		putScratch(p)
	}
}

// Schedules winogradBackwardWeight can be forced to take, for tests and benchmarks.
const (
	wgForceNone = iota
	wgForceBlocks
	wgForcePhases
)

var wgForce = wgForceNone

// wgRowStride is the distance between the rows of consecutive planes of the transformed
// gradient for c input channels: c rounded up to a cache line, plus one, so that the 16 rows
// wgInverse reads fall into different cache sets.
func wgRowStride(c int) int { return (c+15)/16*16 + 16 }

// wgWholeBlocks reports whether the weight gradient should give each worker whole blocks, each
// summing into its own copy of the transformed gradient, rather than split each block's phases.
// The copies cost 16·M·C per worker to write and to add up, which only enough tiles repay
// (BenchmarkWinogradWeightSchedule: 8×14×14×256, 3 tiles·channels per weight, gains 7% from
// whole blocks; 32×4×4×128, 2 per weight, loses 12%).
func wgWholeBlocks(g *winoGeom) bool {
	return g.tiles >= winoMinBlock*workers() && g.tiles*(g.cin+g.cout) >= 3*g.cin*g.cout
}

// wgDy writes the transformed dy of tiles [p0,p1) and output channels [o0,o1) into the block e:
// element ξ of A'·t·A'ᵀ, for the 2×2 tile t of dy (zero past the output's edge) and
// A' = [1 0; 1 1; 1 -1; 0 1], goes to e[o·winoLD + ξ·winoKB + p-p0].
func wgDy[T Float](g *winoGeom, dy []T, p0, p1, o0, o1 int, e []T) {
	ohw := g.oh * g.ow
	full := g.ow / 2 // tile columns with both dy columns inside
	var zeros [2]T
	for o := o0; o < o1; o++ {
		g.tileRuns(p0, p1, func(img, ti, tj0, tj1, off int) {
			src := dy[(img*g.cout+o)*ohw : (img*g.cout+o+1)*ohw]
			out := e[o*winoLD+off:]
			r := 2 * ti
			row0 := src[r*g.ow : (r+1)*g.ow]
			row1 := zeros[:]
			if r+1 < g.oh {
				row1 = src[(r+1)*g.ow : (r+2)*g.ow]
			}
			if nf := min(tj1, full) - tj0; nf > 0 {
				if r+1 < g.oh {
					wgDyRows(row0[2*tj0:], row1[2*tj0:], nf, out)
				} else {
					for j := 0; j < nf; j++ {
						wgDyRows(row0[2*(tj0+j):], zeros[:], 1, out[j:])
					}
				}
			}
			if tj1 > full { // the last tile column has one dy column
				t0 := [2]T{row0[g.ow-1], 0}
				var t1 [2]T
				if r+1 < g.oh {
					t1[0] = row1[g.ow-1]
				}
				wgDyRows(t0[:], t1[:], 1, out[tj1-1-tj0:])
			}
		})
	}
}

// wgDyRows transforms n dy tiles, columns 2j and 2j+1 of row0 and row1, into out[ξ·winoKB + j].
// float32 takes the vector path where there is one.
func wgDyRows[T Float](row0, row1 []T, n int, out []T) {
	if r0, ok := any(row0).([]float32); ok {
		d := wgDyRowsF32(r0, any(row1).([]float32), n, any(out).([]float32))
		if d >= n {
			return
		}
		row0, row1, out, n = row0[2*d:], row1[2*d:], out[d:], n-d
	}
	wgDyRowsGo(row0, row1, n, out)
}

// wgDyRowsGo is wgDyRows in Go.
func wgDyRowsGo[T Float](row0, row1 []T, n int, out []T) {
	for j := 0; j < n; j++ {
		a, b := (*[2]T)(row0[2*j:]), (*[2]T)(row1[2*j:])
		// Vertical: A'·t, column by column.
		p0, p1, p2, p3 := a[0], a[0]+b[0], a[0]-b[0], b[0]
		q0, q1, q2, q3 := a[1], a[1]+b[1], a[1]-b[1], b[1]
		o := (*[15*winoKB + 1]T)(out[j:])
		o[0], o[winoKB], o[2*winoKB], o[3*winoKB] = p0, p0+q0, p0-q0, q0
		o[4*winoKB], o[5*winoKB], o[6*winoKB], o[7*winoKB] = p1, p1+q1, p1-q1, q1
		o[8*winoKB], o[9*winoKB], o[10*winoKB], o[11*winoKB] = p2, p2+q2, p2-q2, q2
		o[12*winoKB], o[13*winoKB], o[14*winoKB], o[15*winoKB] = p3, p3+q3, p3-q3, q3
	}
}

// wgInverse adds the transformed weight gradients of parts (in order; plane ξ's row o at
// o·16·cs + ξ·cs, already scaled by ¼) and writes H·W·Hᵀ for output channels [o0,o1) to dw,
// with H = 2·G'ᵀ = [2 1 1 0; 0 1 -1 0; 0 1 1 -2]. Scaling by powers of two is exact, so this
// is G'ᵀ·(4W)·G' to the last bit.
func wgInverse[T Float](parts [][]T, cs, o0, o1, c int, dw []T) {
	var sum [][]T
	if len(parts) > 1 {
		sum = [][]T{make([]T, 16*cs)}
	}
	for o := o0; o < o1; o++ {
		row := parts[0][o*16*cs : (o+1)*16*cs]
		if sum != nil {
			s := sum[0]
			copy(s, row)
			for _, p := range parts[1:] {
				for i, v := range p[o*16*cs : (o+1)*16*cs] {
					s[i] += v
				}
			}
			row = s
		}
		wgInverseRow(row, cs, c, dw[o*c*9:(o+1)*c*9])
	}
}

// wgInverseRow writes H·W·Hᵀ to the c 3×3 kernels k, W's 16 planes being rows cs apart in row.
// float32 takes the vector path where there is one.
func wgInverseRow[T Float](row []T, cs, c int, k []T) {
	if r32, ok := any(row).([]float32); ok && wgInverseRowF32(r32, cs, c, any(k).([]float32)) {
		return
	}
	wgInverseRowGo(row, cs, c, k)
}

// wgInverseRowGo is wgInverseRow in Go.
func wgInverseRowGo[T Float](row []T, cs, c int, k []T) {
	w0, w1, w2, w3 := row[0:c], row[cs:cs+c], row[2*cs:2*cs+c], row[3*cs:3*cs+c]
	w4, w5, w6, w7 := row[4*cs:4*cs+c], row[5*cs:5*cs+c], row[6*cs:6*cs+c], row[7*cs:7*cs+c]
	w8, w9, w10, w11 := row[8*cs:8*cs+c], row[9*cs:9*cs+c], row[10*cs:10*cs+c], row[11*cs:11*cs+c]
	w12, w13, w14, w15 := row[12*cs:12*cs+c], row[13*cs:13*cs+c], row[14*cs:14*cs+c], row[15*cs:15*cs+c]
	k = k[:9*c]
	for i := 0; i < c; i++ {
		// Rows: t_a = Σ_r H[a][r]·W[r][·], for each of the 4 columns.
		h0, h1, h2, h3 := w4[i]+w8[i], w5[i]+w9[i], w6[i]+w10[i], w7[i]+w11[i]
		t00, t01, t02, t03 := (w0[i]+w0[i])+h0, (w1[i]+w1[i])+h1, (w2[i]+w2[i])+h2, (w3[i]+w3[i])+h3
		t10, t11, t12, t13 := w4[i]-w8[i], w5[i]-w9[i], w6[i]-w10[i], w7[i]-w11[i]
		t20, t21, t22, t23 := h0-(w12[i]+w12[i]), h1-(w13[i]+w13[i]), h2-(w14[i]+w14[i]), h3-(w15[i]+w15[i])
		// Columns.
		d := (*[9]T)(k[9*i:])
		h := t01 + t02
		d[0], d[1], d[2] = (t00+t00)+h, t01-t02, h-(t03+t03)
		h = t11 + t12
		d[3], d[4], d[5] = (t10+t10)+h, t11-t12, h-(t13+t13)
		h = t21 + t22
		d[6], d[7], d[8] = (t20+t20)+h, t21-t22, h-(t23+t23)
	}
}
