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
// winogradSupported, and predicted by a cost model fitted to measurements (see
// winograd_wgrad_bench_test.go) to be at least winogradMinSpeed times faster than
// im2col+GEMM.
func winogradWeightEligible(g *ConvGeom) bool {
	if !winogradSupported(g) {
		return false
	}
	c, m := float64(g.C), float64(g.M)
	pixels := float64(g.N * g.OH * g.OW)
	tiles := float64(g.N * ((g.OH + 1) / 2) * ((g.OW + 1) / 2))
	im2col := 9*pixels*c*m*im2colNsPerMAC + 9*pixels*c*im2colNsPerCol
	wino := 16*tiles*c*m*wgNsPerMAC*(1+wgFewTiles/tiles) + c*m*wgNsPerWeight +
		tiles*(c*winoNsPerTileCh+m*wgNsPerDyTile)
	return im2col >= winogradMinSpeed*wino
}

// Cost model for winogradWeightEligible, in nanoseconds of one core, on top of winogradEligible's
// im2col constants.
const (
	wgNsPerMAC    = 0.0143 // the 16 GEMMs, per multiply-add, with many tiles
	wgFewTiles    = 64     // the GEMMs slow down by a factor 1 + wgFewTiles/tiles
	wgNsPerWeight = 20     // partial sums and inverse transform, per weight
	wgNsPerDyTile = 4      // dy transform, per tile and output channel
)

// winogradBackwardWeight computes dw (M×C×3×3) from x and dy, exactly what convBackwardWeight
// computes (to rounding), for a geometry winogradSupported accepts. It is deterministic: the
// same inputs and worker count give bitwise the same dw on every run.
func winogradBackwardWeight[T Float](g *ConvGeom, x, dy, dw []T) {
	wg := newWinoGeom(g.N, g.C, g.H, g.W, g.M, g.OH, g.OW, g.PT, g.PL)
	c, m := g.C, g.M
	dw = dw[:m*c*9]
	ps := winoPlaneStride(m * c)
	bt := wg.blockTiles()
	blocks := (wg.tiles + bt - 1) / bt
	w := workers()

	if wg.tiles < winoMinBlock*w || !wgWholeBlocks(&wg) {
		// Few tiles: one block at a time, each phase split over the workers; each ξ plane's
		// sum is one chain of GEMMs, so no partial sums are needed.
		acc := getScratch[T](16 * ps)
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
			parallelTasks(16, func(xi, _ int) {
				gemm(false, true, m, c, p1-p0, 1, e[xi*winoKB:], winoLD, v[xi*winoKB:], winoLD, beta, acc[xi*ps:], c)
			})
		}
		parallelFor(m, max(1, 1024/max(c, 1)), func(lo, hi int) {
			wgInverse([][]T{acc}, ps, lo, hi, c, dw)
		})
		return
	}

	// Many tiles: each worker takes whole blocks (both transforms and the 16 GEMMs) and sums
	// into its own 16 planes; the partial sums are added in worker order during the inverse
	// transform. parallelTasks hands worker k the blocks k, k+W, ... in order, so every sum is
	// grouped the same way on every run.
	blocks = (blocks + w - 1) / w * w
	partial := make([][]T, w)
	for i := range partial {
		partial[i] = getScratch[T](16 * ps)
	}
	fresh := make([]bool, w)
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
		acc := partial[worker]
		for xi := 0; xi < 16; xi++ {
			gemm(false, true, m, c, p1-p0, 1, e[xi*winoKB:], winoLD, v[xi*winoKB:], winoLD, beta, acc[xi*ps:], c)
		}
		fresh[worker] = false
	})
	parallelFor(m, max(1, 1024/max(c, 1)), func(lo, hi int) {
		wgInverse(partial, ps, lo, hi, c, dw)
	})
	for _, p := range partial {
		putScratch(p)
	}
}

// wgWholeBlocks reports whether the weight gradient should give each worker whole blocks, each
// summing into its own copy of the transformed gradient, rather than split each block's phases.
// The copies cost 16·M·C per worker to write and to add up, which only many tiles repay.
func wgWholeBlocks(g *winoGeom) bool {
	return g.tiles >= winoMinBlock*workers() && g.tiles*(g.cin+g.cout) >= 4*g.cin*g.cout
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
func wgDyRows[T Float](row0, row1 []T, n int, out []T) {
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

// wgInverse adds the transformed weight gradients of parts (in order; each 16 planes ps apart,
// each plane M×C) and writes G'ᵀ·W·G' for output channels [o0,o1) to dw, with
// G'ᵀ = [1 ½ ½ 0; 0 ½ -½ 0; 0 ½ ½ -1].
func wgInverse[T Float](parts [][]T, ps, o0, o1, c int, dw []T) {
	var w [16]T
	for at := o0 * c; at < o1*c; at++ {
		for xi := range w {
			s := parts[0][xi*ps+at]
			for _, p := range parts[1:] {
				s += p[xi*ps+at]
			}
			w[xi] = s
		}
		// Rows: t[a][s] = (G'ᵀ W)[a][s].
		var t [3][4]T
		for s := 0; s < 4; s++ {
			h := (w[4+s] + w[8+s]) * 0.5
			t[0][s] = w[s] + h
			t[1][s] = (w[4+s] - w[8+s]) * 0.5
			t[2][s] = h - w[12+s]
		}
		k := (*[9]T)(dw[at*9:])
		for a := 0; a < 3; a++ {
			h := (t[a][1] + t[a][2]) * 0.5
			k[3*a] = t[a][0] + h
			k[3*a+1] = (t[a][1] - t[a][2]) * 0.5
			k[3*a+2] = h - t[a][3]
		}
	}
}
