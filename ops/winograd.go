package ops

// Winograd F(2×2, 3×3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for 3×3, stride-1, undilated, ungrouped convolutions, the bulk of a ResNet's
// work. Each 2×2 block of outputs (a tile) is computed from the 4×4 input patch d under it as
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// so the 36 multiplies per tile and channel pair of the direct method become 16, done as 16
// GEMMs over channels, one per element ξ of the 4×4 transformed tile: M[ξ] = U[ξ]·V[ξ] with
// U[ξ] the Cout×Cin transformed weights and V[ξ] the Cin×tiles transformed input. The transforms
// need only additions and halvings (exact in binary floating point), so the result differs from
// im2col+GEMM only by rounding.
//
// Tiles are processed in blocks of a few hundred, enough columns for efficient GEMMs while a
// block's V and M stay near the core; each worker transforms, multiplies and transforms back
// whole blocks.
//
// Backward data is the same computation: dx is dy correlated with the weights rotated by 180°,
// with input and output channels swapped and the padding mirrored (PT → 2-PT, PL → 2-PL). Since
// G·J = P·G (J reverses 3 entries, P swaps entries 0 and 3 of 4), the rotated kernel's transform
// is the forward one with ξ's rows and columns permuted 0↔3, so both directions share one weight
// transform and backward data multiplies by U[P(ξ)]ᵀ.
//
// The weight gradient (winograd_wgrad.go) uses F(3×3, 2×2) on the same tiles. In float32 the
// transforms take AVX-512 or AVX2 code where the CPU has it (winograd_amd64.s), bitwise equal
// to the Go code.

// winogradSupported reports whether g is a convolution the Winograd functions can compute: 3×3
// kernel, stride 1, dilation 1, one group; any padding and size.
func winogradSupported(g *ConvGeom) bool {
	return g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 && g.Groups == 1
}

// Cost model for winogradEligible, in nanoseconds of one core (2-core AVX-512 Xeon, OpenBLAS),
// fitted to ResNet-like layers: see winograd_bench_test.go.
const (
	im2colNsPerMAC   = 0.0133 // im2col path's GEMM, per multiply-add
	im2colNsPerCol   = 0.4    // building (or scattering) one im2col element
	winoNsPerMAC     = 0.0143 // the 16 GEMMs, per multiply-add, with many tiles
	winoFewTiles     = 32     // the GEMMs slow down by a factor 1 + winoFewTiles/tiles
	winoNsPerKernel  = 2      // transforming one 3×3 kernel (vectorised; cheap next to the GEMMs)
	winoNsPerTileCh  = 8      // input or output transform, per tile and channel
	winogradMinSpeed = 1.05   // predicted speedup required to leave im2col
)

// winogradEligible reports whether g should take the Winograd path: winogradSupported, and
// predicted to be at least 5% faster than im2col+GEMM. Winograd does 16/(9·4) of the multiplies
// when the output's sides are even (fewer gains for odd sides, whose last tiles are half
// wasted), but pays for transforming the weights (∝ Cout·Cin) and each tile's input and output
// (∝ tiles·(Cin+Cout)), and its GEMMs are less efficient with few tiles. So it loses on tiny
// outputs (1×1 and 2×2 at ResNet batch sizes); it wins 1.3× on 7×7×512 at batch 8 and up to
// 2.5× on 56×56×64 and 8×8×64 layers (refitted 2026-11-27, see winograd_bench_test.go).
func winogradEligible(g *ConvGeom) bool {
	if !winogradSupported(g) {
		return false
	}
	c, m := float64(g.C), float64(g.M)
	pixels := float64(g.N * g.OH * g.OW)
	tiles := float64(g.N * ((g.OH + 1) / 2) * ((g.OW + 1) / 2))
	im2col := 9*pixels*c*m*im2colNsPerMAC + 9*pixels*c*im2colNsPerCol
	wino := 16*tiles*c*m*winoNsPerMAC*(1+winoFewTiles/tiles) + c*m*winoNsPerKernel +
		tiles*(c+m)*winoNsPerTileCh
	return im2col >= winogradMinSpeed*wino
}

// winogradForward computes y = act(conv(x, w) + bias) (bias and act may be nil), exactly what
// convForward computes, for a geometry winogradSupported accepts.
func winogradForward[T Float](g *ConvGeom, x, w, bias []T, act *Unary, y []T) {
	u := getScratch[T](winogradKernelLen(g))
	defer putScratch(u)
	winogradTransformKernel(g, w, u)
	winogradForwardU(g, x, u, bias, act, y)
}

// winogradBackwardData computes dx from w and dy, exactly what convBackwardData computes, for a
// geometry winogradSupported accepts.
func winogradBackwardData[T Float](g *ConvGeom, w, dy, dx []T) {
	u := getScratch[T](winogradKernelLen(g))
	defer putScratch(u)
	winogradTransformKernel(g, w, u)
	winogradBackwardDataU(g, u, dy, dx)
}

// winogradKernelLen is the length of the transformed weights of g's kernel.
func winogradKernelLen(g *ConvGeom) int { return 16 * winoPlaneStride(g.M*g.C) }

// winogradTransformKernel writes the transformed weights of g's kernel w into u
// (winogradKernelLen(g) long), which winogradForwardU and winogradBackwardDataU take in place of
// w. Forward and backward data of one training step can share it: it costs about as much as
// either's input transform, and the most (up to a fifth of the time) on deep layers with few
// tiles.
func winogradTransformKernel[T Float](g *ConvGeom, w, u []T) {
	winoKernel(w, g.M, g.C, u)
}

// winogradForwardU is winogradForward with the weights already transformed into u.
func winogradForwardU[T Float](g *ConvGeom, x, u, bias []T, act *Unary, y []T) {
	wg := newWinoGeom(g.N, g.C, g.H, g.W, g.M, g.OH, g.OW, g.PT, g.PL)
	winoRun(&wg, x, u, false, bias, act, y)
}

// winogradBackwardDataU is winogradBackwardData with the weights already transformed into u.
func winogradBackwardDataU[T Float](g *ConvGeom, u, dy, dx []T) {
	// dx[n,c,i,j] = Σ_{m,a,b} dy[n,m,i+PT-a,j+PL-b]·w[m,c,a,b]; with a' = 2-a that is a
	// correlation of dy, padded by 2-PT on top and 2-PL on the left, with the rotated kernel.
	wg := newWinoGeom(g.N, g.M, g.OH, g.OW, g.C, g.H, g.W, 2-g.PT, 2-g.PL)
	winoRun(&wg, dy, u, true, nil, nil, dx)
}

// winoGeom is a stride-1 3×3 correlation y[n,o,r,s] = Σ_{i,a,b} x[n,i,r-pt+a,s-pl+b]·k[o,i,a,b]
// (x is zero outside h×w), tiled into 2×2 output tiles.
type winoGeom struct {
	n, cin, h, w int // input
	cout, oh, ow int // output
	pt, pl       int // top and left padding; negative crops, larger than 2 reads only zeros
	tr, tc       int // tile rows and columns per image
	tpi, tiles   int // tiles per image, tiles in all
}

func newWinoGeom(n, cin, h, w, cout, oh, ow, pt, pl int) winoGeom {
	g := winoGeom{n: n, cin: cin, h: h, w: w, cout: cout, oh: oh, ow: ow, pt: pt, pl: pl}
	g.tr, g.tc = (oh+1)/2, (ow+1)/2
	g.tpi = g.tr * g.tc
	g.tiles = n * g.tpi
	return g
}

// winoKB is the most tiles a block holds. A block's transformed input V and products M are
// stored row by row (a row per channel), each row the 16 planes ξ of winoKB tiles side by side:
// element (ξ, row, j) at row·winoLD + ξ·winoKB + j. The planes' constant distance lets the
// transforms address all 16 with one pointer.
const winoKB = 256

// blockTiles is how many tiles a block should hold: enough columns for the GEMMs to amortise
// packing their Cout×Cin operand, which takes more tiles with more channels (measured: 128
// tiles for 64 channels, 256 from 128 channels on).
func (g *winoGeom) blockTiles() int {
	return min(winoKB, max(64, g.cin+g.cout))
}

// winoLD is the distance between a block's rows: 16 planes and a cache line of padding, so that
// consecutive rows do not fall into the same cache sets.
const winoLD = 16*winoKB + 16

// winoPlaneStride is the distance between the 16 planes of the transformed weights when a plane
// holds n elements: at least n, and 16 elements past a multiple of 1024, so that the planes'
// elements of equal index fall in different cache sets. With a power-of-two distance the 16
// streams winoKernel writes would all map to one set and evict each other.
func winoPlaneStride(n int) int {
	return (n+1023-16)/1024*1024 + 16
}

// winoKernel writes the transformed weights of an m×c×3×3 kernel w: element ξ of G·w[o,i]·Gᵀ,
// with G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], goes to u[ξ·winoPlaneStride(m·c) + o·c + i].
func winoKernel[T Float](w []T, m, c int, u []T) {
	us := winoPlaneStride(m * c)
	u = u[:16*us]
	w = w[:m*c*9]
	parallelFor(m, max(1, 2048/max(c, 1)), func(lo, hi int) {
		if w32, ok := any(w).([]float32); ok && winoKernelF32(w32, lo*c, hi*c, any(u).([]float32), us) {
			return
		}
		for o := lo; o < hi; o++ {
			for i := 0; i < c; i++ {
				k := (*[9]T)(w[(o*c+i)*9:])
				// q = G·k (4×3) without its halvings, which are applied with those of Gᵀ at
				// the end.
				e0, e1, e2 := k[0]+k[6], k[1]+k[7], k[2]+k[8]
				q10, q11, q12 := e0+k[3], e1+k[4], e2+k[5]
				q20, q21, q22 := e0-k[3], e1-k[4], e2-k[5]
				// Row r of U = q·Gᵀ is (q0, (q0+q1+q2)/2, (q0-q1+q2)/2, q2), q = row r of G·k.
				at := o*c + i
				f := k[0] + k[2]
				u[at] = k[0]
				u[us+at] = (f + k[1]) * 0.5
				u[2*us+at] = (f - k[1]) * 0.5
				u[3*us+at] = k[2]
				f = q10 + q12
				u[4*us+at] = q10 * 0.5
				u[5*us+at] = (f + q11) * 0.25
				u[6*us+at] = (f - q11) * 0.25
				u[7*us+at] = q12 * 0.5
				f = q20 + q22
				u[8*us+at] = q20 * 0.5
				u[9*us+at] = (f + q21) * 0.25
				u[10*us+at] = (f - q21) * 0.25
				u[11*us+at] = q22 * 0.5
				f = k[6] + k[8]
				u[12*us+at] = k[6]
				u[13*us+at] = (f + k[7]) * 0.5
				u[14*us+at] = (f - k[7]) * 0.5
				u[15*us+at] = k[8]
			}
		}
	})
}

// winoPerm maps ξ = 4r+c to 4P(r)+P(c), P swapping 0 and 3: the transform of the 180°-rotated
// kernel at ξ is the transform of the kernel at winoPerm[ξ].
var winoPerm = [16]int{15, 13, 14, 12, 7, 5, 6, 4, 11, 9, 10, 8, 3, 1, 2, 0}

// winoRun computes the correlation g describes of x with the kernel whose transform is u
// (winoKernel's layout: u[ξ] is cout×cin, or with back set cin×cout and for the rotated kernel),
// adds bias and applies act (either may be nil) and writes y.
//
// With enough tiles each worker takes whole blocks (transforms and GEMMs), which needs no
// synchronisation; with few tiles (deep layers of small images) the blocks are done one after
// another, each phase split over the workers: the input transform by channels, the 16 GEMMs by ξ
// and the output transform by output channels.
func winoRun[T Float](g *winoGeom, x, u []T, back bool, bias []T, act *Unary, y []T) {
	cin, cout := g.cin, g.cout
	us := winoPlaneStride(cin * cout)
	mul := func(xi, k int, v, m []T) {
		vx, mx := v[xi*winoKB:], m[xi*winoKB:]
		if back {
			gemm(true, false, cout, k, cin, 1, u[winoPerm[xi]*us:], cout, vx, winoLD, 0, mx, winoLD)
		} else {
			gemm(false, false, cout, k, cin, 1, u[xi*us:], cin, vx, winoLD, 0, mx, winoLD)
		}
	}
	blocks := (g.tiles + g.blockTiles() - 1) / g.blockTiles()
	w := workers()
	// Large weights (512×512: ResNet's last stage) with under two blocks' worth of tiles a worker
	// also take the split phases: one product of all the tiles per ξ beats each worker's product of
	// half of them (1.15–1.2× on 7×7×512 at batch 8, where 4×4×128 at batch 32 loses 1.2×).
	if g.tiles >= winoMinBlock*w && !(g.tiles < 2*winoMinBlock*w && cin*cout >= 1<<17) {
		blocks = (blocks + w - 1) / w * w // a multiple of the workers
		nb := (g.tiles + blocks - 1) / blocks
		parallelTasks(blocks, func(t, _ int) {
			p0 := t * nb
			p1 := min(p0+nb, g.tiles)
			if p0 >= p1 {
				return
			}
			s := getScratch[T]((cin+cout)*winoLD + winoPadLen(g))
			defer putScratch(s)
			v, m, buf := s[:cin*winoLD], s[cin*winoLD:(cin+cout)*winoLD], s[(cin+cout)*winoLD:]
			winoInput(g, x, p0, p1, 0, cin, v, buf)
			for xi := 0; xi < 16; xi++ {
				mul(xi, p1-p0, v, m)
			}
			winoOutput(g, m, bias, act, p0, p1, 0, cout, y)
		})
		return
	}
	nb := (g.tiles + blocks - 1) / blocks
	s := getScratch[T]((cin + cout) * winoLD)
	defer putScratch(s)
	v, m := s[:cin*winoLD], s[cin*winoLD:]
	for p0 := 0; p0 < g.tiles; p0 += nb {
		p1 := min(p0+nb, g.tiles)
		parallelFor(cin, 1, func(c0, c1 int) {
			buf := getScratch[T](winoPadLen(g))
			winoInput(g, x, p0, p1, c0, c1, v, buf)
			putScratch(buf)
		})
		parallelTasks(16, func(xi, _ int) { mul(xi, p1-p0, v, m) })
		parallelFor(cout, 1, func(o0, o1 int) { winoOutput(g, m, bias, act, p0, p1, o0, o1, y) })
	}
}

// winoMinBlock is the fewest tiles per block for which the workers take whole blocks; with
// fewer tiles than that per worker, winoRun splits each block's phases instead.
const winoMinBlock = 64

// tileRuns calls fn for each run of tiles [p0,p1) that lie in one tile row: image img, tile row
// ti, tile columns [tj0,tj1), whose first tile is tile off of the block.
func (g *winoGeom) tileRuns(p0, p1 int, fn func(img, ti, tj0, tj1, off int)) {
	for p := p0; p < p1; {
		img, rem := p/g.tpi, p%g.tpi
		ti, tj0 := rem/g.tc, rem%g.tc
		tj1 := min(g.tc, tj0+p1-p)
		fn(img, ti, tj0, tj1, p-p0)
		p += tj1 - tj0
	}
}

// winoInput writes the transformed input of tiles [p0,p1) into the block v: element ξ of
// Bᵀ·d·B, for the 4×4 patch d of channel c ∈ [c0,c1) under tile p, goes to
// v[c·winoLD + ξ·winoKB + p-p0], with Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. buf holds
// winoPadLen(g) elements.
func winoInput[T Float](g *winoGeom, x []T, p0, p1, c0, c1 int, v []T, buf []T) {
	hw := g.h * g.w
	if g.narrow() {
		// Copy each image's rows under the block's tiles, zero-padded, then transform.
		l := 2*g.tc + 2
		for c := c0; c < c1; c++ {
			for p := p0; p < p1; {
				img, q0 := p/g.tpi, p%g.tpi
				q1 := min(g.tpi, q0+p1-p)
				ti0, ti1 := q0/g.tc, (q1-1)/g.tc+1
				winoPadRows(g, x[(img*g.cin+c)*hw:(img*g.cin+c+1)*hw], 2*ti0-g.pt, 2*(ti1-ti0)+2, buf)
				out := v[c*winoLD+p-p0:] // tile q of the image at out[q-q0]
				for ti := ti0; ti < ti1; ti++ {
					tj0, tj1 := 0, g.tc
					if ti == ti0 {
						tj0 = q0 % g.tc
					}
					if ti == ti1-1 {
						tj1 = (q1-1)%g.tc + 1
					}
					b := 2*(ti-ti0)*l + 2*tj0
					winoInputRows(buf[b:], buf[b+l:], buf[b+2*l:], buf[b+3*l:], tj1-tj0, out[ti*g.tc+tj0-q0:])
				}
				p += q1 - q0
			}
		}
		return
	}
	// Tile columns [lo,hi) have patches (input columns 2tj-pl .. 2tj-pl+3) inside the image.
	lo := max(0, winoCeilHalf(g.pl))
	hi := 0
	if e := g.w - 4 + g.pl; e >= 0 {
		hi = min(g.tc, e/2+1)
	}
	for c := c0; c < c1; c++ {
		g.tileRuns(p0, p1, func(img, ti, tj0, tj1, off int) {
			src := x[(img*g.cin+c)*hw : (img*g.cin+c+1)*hw]
			out := v[c*winoLD+off:]
			r0 := 2*ti - g.pt
			if r0 < 0 || r0+4 > g.h || tj0 < lo || tj1 > hi {
				// A copy of the run's rows, zero-padded, costs less than transforming its
				// border tiles separately.
				winoInputPadded(g, src, r0, tj0, tj1, out, buf)
				return
			}
			w, cc := g.w, 2*tj0-g.pl
			winoInputRows(src[r0*w+cc:], src[(r0+1)*w+cc:], src[(r0+2)*w+cc:], src[(r0+3)*w+cc:], tj1-tj0, out)
		})
	}
}

// narrow reports images narrow enough (a tile row of under 16 tiles) that winoInput copies the
// rows under a block into a zero-padded buffer at once rather than run by run.
func (g *winoGeom) narrow() bool { return g.tc < 16 }

// winoPadLen is the length of the buffer winoInput needs for zero-padded copies of input rows.
func winoPadLen(g *winoGeom) int {
	if g.narrow() {
		return (2*g.tr + 2) * (2*g.tc + 2)
	}
	return 4 * (2*g.tc + 2)
}

// winoPadRows copies input rows [ir0, ir0+rows) of the image plane src into buf, zero-padded to
// the tiles' reach: buf row r, column j holds src row ir0+r, column j-pl (zero outside).
func winoPadRows[T Float](g *winoGeom, src []T, ir0, rows int, buf []T) {
	l := 2*g.tc + 2
	lo, hi := max(0, g.pl), min(l, g.w+g.pl) // columns inside the image
	for r := 0; r < rows; r++ {
		row := buf[r*l : (r+1)*l]
		ir := ir0 + r
		if ir < 0 || ir >= g.h || lo >= hi {
			for i := range row {
				row[i] = 0
			}
			continue
		}
		for i := range row[:lo] {
			row[i] = 0
		}
		d := row[lo:hi]
		for i, v := range src[ir*g.w+lo-g.pl : ir*g.w+hi-g.pl] {
			d[i] = v
		}
		for i := hi; i < l; i++ {
			row[i] = 0
		}
	}
}

// winoCeilHalf is ⌈a/2⌉ for any sign of a.
func winoCeilHalf(a int) int {
	if a >= 0 {
		return (a + 1) / 2
	}
	return -(-a / 2)
}

// winoInputPadded transforms tiles [tj0,tj1) of the tile row whose patches start at input row
// r0 (they may reach outside the image) by copying their four rows, zero-padded, into buf.
func winoInputPadded[T Float](g *winoGeom, src []T, r0, tj0, tj1 int, out []T, buf []T) {
	n := tj1 - tj0
	if n <= 0 {
		return
	}
	l := 2*n + 2
	c0 := 2*tj0 - g.pl
	lo, hi := max(0, -c0), min(l, g.w-c0) // row positions inside the image
	for r := 0; r < 4; r++ {
		row := buf[r*l : (r+1)*l]
		ir := r0 + r
		if ir < 0 || ir >= g.h || lo >= hi {
			for i := range row {
				row[i] = 0
			}
			continue
		}
		// Runs are short at the image borders: loops beat calls to copy and clear.
		s := src[ir*g.w+c0+lo : ir*g.w+c0+hi]
		for i := range row[:lo] {
			row[i] = 0
		}
		if len(s) <= 32 {
			d := row[lo:hi]
			for i, v := range s {
				d[i] = v
			}
		} else {
			copy(row[lo:hi], s)
		}
		for i := hi; i < l; i++ {
			row[i] = 0
		}
	}
	winoInputRows(buf[:l], buf[l:2*l], buf[2*l:3*l], buf[3*l:4*l], n, out)
}

// winoInputRows transforms n tiles whose patches are columns 2j..2j+3 of the four rows into
// out[ξ·winoKB + j]. float32 takes the vector path where there is one (winograd_amd64.go).
func winoInputRows[T Float](row0, row1, row2, row3 []T, n int, out []T) {
	if r0, ok := any(row0).([]float32); ok {
		d := winoInputRowsF32(r0, any(row1).([]float32), any(row2).([]float32), any(row3).([]float32), n, any(out).([]float32))
		if d >= n {
			return
		}
		row0, row1, row2, row3, out, n = row0[2*d:], row1[2*d:], row2[2*d:], row3[2*d:], out[d:], n-d
	}
	winoInputRowsGo(row0, row1, row2, row3, n, out)
}

// winoInputRowsGo is winoInputRows in Go. Neighbouring patches share two columns, so each
// column's vertical transform Bᵀ·d is computed once.
func winoInputRowsGo[T Float](row0, row1, row2, row3 []T, n int, out []T) {
	if n <= 0 {
		return
	}
	// Vertical transforms of the first patch's first two columns.
	a0, a1, a2, a3 := row0[0]-row2[0], row1[0]+row2[0], row2[0]-row1[0], row1[0]-row3[0]
	b0, b1, b2, b3 := row0[1]-row2[1], row1[1]+row2[1], row2[1]-row1[1], row1[1]-row3[1]
	for j := 0; j < n; j++ {
		i := 2*j + 2
		r0, r1, r2, r3 := (*[2]T)(row0[i:]), (*[2]T)(row1[i:]), (*[2]T)(row2[i:]), (*[2]T)(row3[i:])
		c0, c1, c2, c3 := r0[0]-r2[0], r1[0]+r2[0], r2[0]-r1[0], r1[0]-r3[0]
		d0, d1, d2, d3 := r0[1]-r2[1], r1[1]+r2[1], r2[1]-r1[1], r1[1]-r3[1]
		o := (*[15*winoKB + 1]T)(out[j:])
		o[0] = a0 - c0
		o[winoKB] = b0 + c0
		o[2*winoKB] = c0 - b0
		o[3*winoKB] = b0 - d0
		o[4*winoKB] = a1 - c1
		o[5*winoKB] = b1 + c1
		o[6*winoKB] = c1 - b1
		o[7*winoKB] = b1 - d1
		o[8*winoKB] = a2 - c2
		o[9*winoKB] = b2 + c2
		o[10*winoKB] = c2 - b2
		o[11*winoKB] = b2 - d2
		o[12*winoKB] = a3 - c3
		o[13*winoKB] = b3 + c3
		o[14*winoKB] = c3 - b3
		o[15*winoKB] = b3 - d3
		a0, a1, a2, a3 = c0, c1, c2, c3
		b0, b1, b2, b3 = d0, d1, d2, d3
	}
}

// winoOutput turns the products of tiles [p0,p1) and output channels [o0,o1), stored at
// m[o·winoLD + ξ·winoKB + p-p0], into output tiles act(Aᵀ·M·A + bias), with
// Aᵀ = [1 1 1 0; 0 1 -1 -1], dropping the parts of tiles that fall outside the output. The
// activation (nil: none) is applied to each run of tiles just written, while it is in cache.
func winoOutput[T Float](g *winoGeom, m, bias []T, act *Unary, p0, p1, o0, o1 int, y []T) {
	ohw := g.oh * g.ow
	full := g.ow / 2 // tile columns with both output columns inside
	for o := o0; o < o1; o++ {
		var bv T
		if bias != nil {
			bv = bias[o]
		}
		g.tileRuns(p0, p1, func(img, ti, tj0, tj1, off int) {
			dst := y[(img*g.cout+o)*ohw : (img*g.cout+o+1)*ohw]
			in := m[o*winoLD+off:]
			r := 2 * ti
			row0 := dst[r*g.ow : (r+1)*g.ow]
			var row1 []T
			if r+1 < g.oh {
				row1 = dst[(r+1)*g.ow : (r+2)*g.ow]
			}
			if nf := min(tj1, full) - tj0; nf > 0 {
				if row1 != nil {
					winoOutputRows2(in, nf, bv, row0[2*tj0:], row1[2*tj0:])
				} else {
					var t [2]T
					for j := 0; j < nf; j++ {
						winoOutputRows2(in[j:], 1, bv, row0[2*(tj0+j):], t[:])
					}
				}
			}
			if tj1 > full { // the last tile column has one output column
				var t0, t1 [2]T
				winoOutputRows2(in[tj1-1-tj0:], 1, bv, t0[:], t1[:])
				row0[g.ow-1] = t0[0]
				if row1 != nil {
					row1[g.ow-1] = t1[0]
				}
			}
			if act != nil {
				c0, c1 := 2*tj0, min(2*tj1, g.ow)
				applyUnary(act, row0[c0:c1], row0[c0:c1])
				if row1 != nil {
					applyUnary(act, row1[c0:c1], row1[c0:c1])
				}
			}
		})
	}
}

// winoOutputRows2 writes n output tiles from in[ξ·winoKB + j], plus bv, to columns 2j, 2j+1
// of row0 and row1. float32 takes the vector path where there is one.
func winoOutputRows2[T Float](in []T, n int, bv T, row0, row1 []T) {
	if i32, ok := any(in).([]float32); ok {
		d := winoOutputRows2F32(i32, n, float32(bv), any(row0).([]float32), any(row1).([]float32))
		if d >= n {
			return
		}
		in, n, row0, row1 = in[d:], n-d, row0[2*d:], row1[2*d:]
	}
	winoOutputRows2Go(in, n, bv, row0, row1)
}

// winoOutputRows2Go is winoOutputRows2 in Go.
func winoOutputRows2Go[T Float](in []T, n int, bv T, row0, row1 []T) {
	for j := 0; j < n; j++ {
		m := (*[15*winoKB + 1]T)(in[j:])
		// s = Aᵀ·M (rows 0 and 1), then Y = s·A.
		s0 := m[0] + m[4*winoKB] + m[8*winoKB]
		s1 := m[1*winoKB] + m[5*winoKB] + m[9*winoKB]
		s2 := m[2*winoKB] + m[6*winoKB] + m[10*winoKB]
		s3 := m[3*winoKB] + m[7*winoKB] + m[11*winoKB]
		t0 := m[4*winoKB] - m[8*winoKB] - m[12*winoKB]
		t1 := m[5*winoKB] - m[9*winoKB] - m[13*winoKB]
		t2 := m[6*winoKB] - m[10*winoKB] - m[14*winoKB]
		t3 := m[7*winoKB] - m[11*winoKB] - m[15*winoKB]
		y0, y1 := (*[2]T)(row0[2*j:]), (*[2]T)(row1[2*j:])
		y0[0], y0[1] = s0+s1+s2+bv, s1-s2-s3+bv
		y1[0], y1[1] = t0+t1+t2+bv, t1-t2-t3+bv
	}
}
