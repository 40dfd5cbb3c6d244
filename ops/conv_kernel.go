package ops

// ConvGeom is the geometry of a 2-D convolution over NCHW tensors: input N×C×H×W, weights
// M×(C/Groups)×KH×KW, output N×M×OH×OW.
type ConvGeom struct {
	N, C, H, W     int
	M, Groups      int
	KH, KW         int
	SH, SW         int // strides
	DH, DW         int // dilations
	PT, PL, PB, PR int // pads: top, left, bottom, right
	OH, OW         int
}

// NewConvGeom fills in the output size; it returns ok=false when the window does not fit.
func NewConvGeom(n, c, h, w, m, groups, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int) (ConvGeom, bool) {
	g := ConvGeom{N: n, C: c, H: h, W: w, M: m, Groups: groups, KH: kh, KW: kw, SH: sh, SW: sw, DH: dh, DW: dw, PT: pt, PL: pl, PB: pb, PR: pr}
	g.OH = (h+pt+pb-dh*(kh-1)-1)/sh + 1
	g.OW = (w+pl+pr-dw*(kw-1)-1)/sw + 1
	ok := groups > 0 && c%groups == 0 && m%groups == 0 && g.OH > 0 && g.OW > 0 && sh > 0 && sw > 0 && dh > 0 && dw > 0
	return g, ok
}

func (g *ConvGeom) cg() int  { return g.C / g.Groups }
func (g *ConvGeom) mg() int  { return g.M / g.Groups }
func (g *ConvGeom) k() int   { return g.cg() * g.KH * g.KW }
func (g *ConvGeom) ohw() int { return g.OH * g.OW }

// wide reports a thin (fewer than thinChannels outputs), stride-1, undilated, unpadded,
// ungrouped layer, whose im2col rows take W columns per output row instead of OW: each row of
// an image's matrix is then one contiguous run of the input plane, copied (and for the input
// gradient added back) in one piece rather than OH short ones, which cost more than the copying
// in the MNIST models. The products also compute the KW-1 columns per row past the output's
// edge; the output drops them and the gradients see zeros there, so layers whose rows would
// grow by more than half keep the plain layout. (LeNet-5's 5×5 kernels on 12×12 maps grow them
// by half: with the AVX-512 products the wide layout made its steps 7–14% faster.)
func (g *ConvGeom) wide() bool {
	return g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 && g.PT == 0 && g.PL == 0 && g.PB == 0 && g.PR == 0 &&
		g.Groups == 1 && g.KW > 1 && g.mg() < thinChannels && 2*g.W <= 3*g.OW
}

// dense reports a kernel that covers the whole unpadded input (LeNet-5's conv3: 16×4×4 maps,
// 4×4 kernels, 1×1 output): the layer is a fully connected one, N×K input by K×M weights, and
// its im2col matrix would just be the input transposed, copied one element at a time.
func (g *ConvGeom) dense() bool {
	return g.OH == 1 && g.OW == 1 && g.KH == g.H && g.KW == g.W && g.DH == 1 && g.DW == 1 &&
		g.PT == 0 && g.PL == 0 && g.PB == 0 && g.PR == 0 && g.Groups == 1
}

// colw is how many im2col columns one image has: OH·W for wide layers, OH·OW otherwise.
func (g *ConvGeom) colw() int {
	if g.wide() {
		return g.OH * g.W
	}
	return g.ohw()
}

// pointwise reports a 1×1, stride-1, unpadded convolution, whose im2col is the input itself.
func (g *ConvGeom) pointwise() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT == 0 && g.PL == 0 && g.PB == 0 && g.PR == 0
}

// colTarget is roughly how many elements one worker's im2col buffer may hold: large enough for
// efficient GEMMs, small enough to stay in cache.
const colTarget = 1 << 20

// thinColTarget replaces colTarget for layers with few output channels (fewer than
// thinChannels per group, as in the MNIST models): their products do so little work per im2col
// element that they run at memory speed, so the buffer must stay in a core's L2 (a 4 MiB chunk
// made the CNN's steps 25% slower), while wide layers (ResNet) need large chunks for efficient
// GEMMs (256 KiB chunks made their steps 10-20% slower).
const (
	thinColTarget = 1 << 16
	thinChannels  = 32
)

// minChunkCols is the fewest GEMM columns a chunk should have: thinner products run far below
// the machine's peak, so tiny feature maps (ResNet's last stages at 32×32 input) are batched.
const minChunkCols = 128

// stripTarget is roughly how many elements a strip's im2col matrix and output may hold
// together (1 MiB of float32: both stay in a core's L2 from the im2col to the product's epilogue).
const stripTarget = 1 << 18

// rowStrips is how many strips of output rows each image is cut into when a single image's
// im2col matrix outgrows colTarget (ResNet's 7×7 stem at 224×224: 147 × 12,544): the products
// then read a matrix that im2col has just written to L2 instead of one streamed from memory, and
// the bias and activation find the output rows in cache (2× faster there). 1 otherwise.
func (g *ConvGeom) rowStrips() int {
	if g.wide() || g.Groups != 1 || g.dense() || g.pointwise() || g.k()*g.ohw() <= colTarget {
		return 1
	}
	rows := max(1, stripTarget/((g.k()+g.M)*g.OW))
	return (g.OH + rows - 1) / rows
}

// stripRows returns the output rows [oh0,oh1) of strip i of s.
func (g *ConvGeom) stripRows(i, s int) (oh0, oh1 int) {
	rows := (g.OH + s - 1) / s
	return min(i*rows, g.OH), min((i+1)*rows, g.OH)
}

// stripIm2col writes the im2col matrix of strip t of st (image b = t/st, output pixels
// [p0, p0+n) of its plane) into scratch that the caller puts back; n is 0 for an empty strip.
func stripIm2col[T Float](g *ConvGeom, x []T, t, st int) (b, p0, n int, col []T) {
	b = t / st
	oh0, oh1 := g.stripRows(t%st, st)
	if oh0 == oh1 {
		return b, 0, 0, nil
	}
	n = (oh1 - oh0) * g.OW
	col = getScratch[T](g.k() * n)
	im2colRows(g, x, b, b+1, 0, 0, g.C, oh0, oh1, col)
	return b, oh0 * g.OW, n, col
}

// imagesPerChunk chooses how many images one im2col chunk covers: enough for efficient GEMMs,
// few enough to stay in cache and to give every worker a chunk when the batch allows. When that
// leaves fewer chunks than workers, the GEMMs themselves are split across the workers.
func (g *ConvGeom) imagesPerChunk() int {
	per := g.k() * g.colw()
	target := colTarget
	if g.mg() < thinChannels {
		target = thinColTarget
	}
	nb := target / max(per, 1)
	if nb < 1 {
		nb = 1
	}
	minNb := (minChunkCols + g.colw() - 1) / g.colw()
	if w := workers(); g.N >= w && nb > g.N/w {
		nb = max(g.N/w, minNb)
	}
	return max(1, min(nb, g.N))
}

// im2col writes the receptive fields of images [b0,b1), channel group grp, as the columns of a
// K×((b1-b0)·OH·OW) matrix: row (c·KH+i)·KW+j, column (b-b0)·OH·OW + oh·OW + ow.
func im2col[T Float](g *ConvGeom, x []T, b0, b1, grp int, col []T) {
	im2colChannels(g, x, b0, b1, grp, 0, g.cg(), col)
}

// pim2col is im2col with the channels split over the workers, for chunks that are not already
// processed in parallel.
func pim2col[T Float](g *ConvGeom, x []T, b0, b1, grp int, col []T) {
	parallelFor(g.cg(), 1, func(lo, hi int) { im2colChannels(g, x, b0, b1, grp, lo, hi, col) })
}

// im2colChannels writes the rows of channels [c0,c1) of the group's im2col matrix.
func im2colChannels[T Float](g *ConvGeom, x []T, b0, b1, grp, c0, c1 int, col []T) {
	switch {
	case g.wide():
		im2colWide(g, x, b0, b1, c0, c1, col)
	case g.smallMap():
		smallMapCopy(g, x, b0, b1, grp, c0, c1, col, 0, false)
	default:
		im2colRows(g, x, b0, b1, grp, c0, c1, 0, g.OH, col)
	}
}

// smallMap reports output planes so small (narrower than 8, at most smallMapTable/(KH·KW)
// pixels: ResNet's last stages at 32×32) that im2col and col2im copy each pixel through a table
// of input offsets: row by row, their few elements a row cost 5× more in bounds and padding
// arithmetic than in copying (2×2×256 at batch 32: 2.35 ms forward where Winograd's whole pass
// took 1.5).
func (g *ConvGeom) smallMap() bool {
	return g.OW < 8 && g.KH*g.KW*g.ohw() <= smallMapTable && !g.wide()
}

// smallMapTable is the most entries of a smallMap layer's offset table.
const smallMapTable = 1024

// smallMapTable fills t[(ki·KW+kj)·OH·OW + oh·OW + ow] with the offset in an input plane that
// kernel position (ki, kj) reads for output pixel (oh, ow), or -1 where it reads padding.
func (g *ConvGeom) smallMapTable(t []int32) {
	i := 0
	for ki := 0; ki < g.KH; ki++ {
		for kj := 0; kj < g.KW; kj++ {
			for oh := 0; oh < g.OH; oh++ {
				ih := oh*g.SH - g.PT + ki*g.DH
				for ow := 0; ow < g.OW; ow++ {
					iw := ow*g.SW - g.PL + kj*g.DW
					t[i] = -1
					if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
						t[i] = int32(ih*g.W + iw)
					}
					i++
				}
			}
		}
	}
}

// im2colRows writes the rows of channels [c0,c1) of the im2col matrix of output rows [oh0,oh1)
// only: column (b-b0)·(oh1-oh0)·OW + (oh-oh0)·OW + ow.
func im2colRows[T Float](g *ConvGeom, x []T, b0, b1, grp, c0, c1, oh0, oh1 int, col []T) {
	cg, ohw := g.cg(), (oh1-oh0)*g.OW
	ncols := (b1 - b0) * ohw
	hw := g.H * g.W
	for c := c0; c < c1; c++ {
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				row := (c*g.KH+ki)*g.KW + kj
				dst := col[row*ncols : (row+1)*ncols]
				iw0 := kj*g.DW - g.PL
				owLo, owHi := validRange(iw0, g.SW, g.W, g.OW)
				for b := b0; b < b1; b++ {
					src := x[(b*g.C+grp*cg+c)*hw : (b*g.C+grp*cg+c+1)*hw]
					d := dst[(b-b0)*ohw : (b-b0+1)*ohw]
					for oh := oh0; oh < oh1; oh++ {
						drow := d[(oh-oh0)*g.OW : (oh-oh0+1)*g.OW]
						ih := oh*g.SH - g.PT + ki*g.DH
						if ih < 0 || ih >= g.H {
							zero(drow)
							continue
						}
						srow := src[ih*g.W : (ih+1)*g.W]
						zero(drow[:owLo])
						if owLo == owHi {
							// the whole kernel column reads padding
						} else if g.SW == 1 {
							if n := owHi - owLo; n > 16 {
								copy(drow[owLo:owHi], srow[iw0+owLo:iw0+owHi])
							} else {
								// short rows (small images): a loop beats memmove's call
								d, s := drow[owLo:owHi], srow[iw0+owLo:iw0+owHi]
								for i := range d {
									d[i] = s[i]
								}
							}
						} else if g.SW == 2 {
							d, s := drow[owLo:owHi], srow[iw0+2*owLo:]
							k := 0
							if d32, ok := any(d).([]float32); ok {
								k = evenVec(d32, any(s).([]float32))
							}
							for ; k < len(d); k++ {
								d[k] = s[2*k]
							}
						} else {
							for ow := owLo; ow < owHi; ow++ {
								drow[ow] = srow[iw0+ow*g.SW]
							}
						}
						zero(drow[owHi:])
					}
				}
			}
		}
	}
}

// smallMapCopy is im2colChannels for smallMap layers, each pixel through the offset table, and
// with back set col2imChannels (col added back into x, which is dx then). col's first rows are
// those of channel first (0 for the whole matrix; smallMapProduct passes a slice of it).
func smallMapCopy[T Float](g *ConvGeom, x []T, b0, b1, grp, c0, c1 int, col []T, first int, back bool) {
	var tbl, dst [smallMapTable]int32
	g.smallMapTable(tbl[:])
	cg, ohw, hw, kk := g.cg(), g.ohw(), g.H*g.W, g.KH*g.KW
	ncols := (b1 - b0) * ohw
	// One flat loop over an image's kk·ohw entries of a channel: entry q goes to row q/ohw,
	// column q%ohw of the image's block (the rows of a few pixels each would each cost a loop).
	n := kk * ohw
	for q := 0; q < n; q++ {
		dst[q] = int32(q/ohw*ncols + q%ohw)
	}
	t, d := tbl[:n], dst[:n]
	for c := c0; c < c1; c++ {
		for b := b0; b < b1; b++ {
			plane := x[(b*g.C+grp*cg+c)*hw : (b*g.C+grp*cg+c+1)*hw]
			out := col[(c-first)*kk*ncols+(b-b0)*ohw:]
			if back {
				for q, o := range t {
					if o >= 0 {
						plane[o] += out[d[q]]
					}
				}
				continue
			}
			for q, o := range t {
				if o < 0 {
					out[d[q]] = 0
				} else {
					out[d[q]] = plane[o]
				}
			}
		}
	}
}

// smallMapProduct computes dst (M×ncols, rows ldd apart) = w · im2col(x) for images [b0,b1) of
// an ungrouped smallMap layer without its whole im2col matrix: each slice of smallMapSlice rows
// (whole channels) is built just before the product reads it, so it is still in L1; built whole,
// the matrix had left cache by then (2.3 ns an element against 0.9). With parallel set the
// workers take disjoint channels, and their partial products are added at the end.
func smallMapProduct[T Float](g *ConvGeom, x, w []T, b0, b1 int, dst []T, ldd int, parallel bool) {
	K, kk, m := g.k(), g.KH*g.KW, g.M
	ncols := (b1 - b0) * g.ohw()
	cs := max(1, smallMapSlice/kk) // channels per slice
	nw := 1
	if parallel {
		nw = min(workers(), (g.C+cs-1)/cs)
	}
	parts := make([][]T, nw) // worker t's partial product (worker 0's is dst)
	parallelTasks(nw, func(t, _ int) {
		c0, c1 := t*g.C/nw, (t+1)*g.C/nw
		acc, ld := dst, ldd
		if t > 0 {
			acc, ld = getScratch[T](m*ncols), ncols
			parts[t] = acc
		}
		buf := getScratch[T](cs * kk * ncols)
		defer putScratch(buf)
		for c := c0; c < c1; c += cs {
			e := min(c+cs, c1)
			smallMapCopy(g, x, b0, b1, 0, c, e, buf, c, false)
			var beta T
			if c > c0 {
				beta = 1
			}
			gemm(false, false, m, ncols, (e-c)*kk, 1, w[c*kk:], K, buf, ncols, beta, acc, ld)
		}
	})
	for _, p := range parts[1:] {
		for i := 0; i < m; i++ {
			row := dst[i*ldd : i*ldd+ncols]
			for j, v := range p[i*ncols : (i+1)*ncols] {
				row[j] += v
			}
		}
		putScratch(p)
	}
}

// smallMapSlice is how many im2col rows smallMapProduct builds at a time (at ncols columns:
// 32 KiB for 8 images of 2×2 maps).
const smallMapSlice = 256

// col2im is im2col's adjoint: it adds each column entry back into the input position it came
// from. dx for images [b0,b1) and group grp must be zeroed by the caller.
func col2im[T Float](g *ConvGeom, col []T, b0, b1, grp int, dx []T) {
	col2imChannels(g, col, b0, b1, grp, 0, g.cg(), dx)
}

// pcol2im is col2im with the channels (disjoint planes of dx) split over the workers.
func pcol2im[T Float](g *ConvGeom, col []T, b0, b1, grp int, dx []T) {
	parallelFor(g.cg(), 1, func(lo, hi int) { col2imChannels(g, col, b0, b1, grp, lo, hi, dx) })
}

func col2imChannels[T Float](g *ConvGeom, col []T, b0, b1, grp, c0, c1 int, dx []T) {
	if g.wide() {
		col2imWide(g, col, b0, b1, c0, c1, dx)
		return
	}
	if g.smallMap() {
		smallMapCopy(g, dx, b0, b1, grp, c0, c1, col, 0, true)
		return
	}
	col2imRows(g, col, b0, b1, grp, c0, c1, dx)
}

// col2imRows is col2imChannels row by row.
func col2imRows[T Float](g *ConvGeom, col []T, b0, b1, grp, c0, c1 int, dx []T) {
	cg, ohw := g.cg(), g.ohw()
	ncols := (b1 - b0) * ohw
	hw := g.H * g.W
	for c := c0; c < c1; c++ {
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				row := (c*g.KH+ki)*g.KW + kj
				src := col[row*ncols : (row+1)*ncols]
				iw0 := kj*g.DW - g.PL
				owLo, owHi := validRange(iw0, g.SW, g.W, g.OW)
				for b := b0; b < b1; b++ {
					dst := dx[(b*g.C+grp*cg+c)*hw : (b*g.C+grp*cg+c+1)*hw]
					s := src[(b-b0)*ohw : (b-b0+1)*ohw]
					for oh := 0; oh < g.OH; oh++ {
						ih := oh*g.SH - g.PT + ki*g.DH
						if ih < 0 || ih >= g.H {
							continue
						}
						srow := s[oh*g.OW : (oh+1)*g.OW]
						drow := dst[ih*g.W : (ih+1)*g.W]
						if owLo == owHi {
							continue // the whole kernel column reads padding
						}
						if g.SW == 1 {
							d := drow[iw0+owLo : iw0+owHi]
							for i, v := range srow[owLo:owHi] {
								d[i] += v
							}
						} else {
							for ow := owLo; ow < owHi; ow++ {
								drow[iw0+ow*g.SW] += srow[ow]
							}
						}
					}
				}
			}
		}
	}
}

// wideRuns calls f for each run of a wide layer's im2col matrix, images [b0,b1), channels
// [c0,c1): row (c, ki, kj)'s OH·W columns of image b, and the input plane c of image b from
// (ki, kj) on, which is shorter when it reaches the plane's end (only dropped columns lie past it).
func wideRuns[T Float](g *ConvGeom, b0, b1, c0, c1 int, col, x []T, f func(colRun, planeRun []T)) {
	pw, hw := g.colw(), g.H*g.W
	ncols := (b1 - b0) * pw
	for c := c0; c < c1; c++ {
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				row := (c*g.KH+ki)*g.KW + kj
				start := ki*g.W + kj
				n := min(pw, hw-start)
				for b := b0; b < b1; b++ {
					f(col[row*ncols+(b-b0)*pw:row*ncols+(b-b0+1)*pw], x[(b*g.C+c)*hw+start:(b*g.C+c)*hw+start+n])
				}
			}
		}
	}
}

// im2colWide is im2colChannels for wide layers (the columns past the plane's end are zeroed).
func im2colWide[T Float](g *ConvGeom, x []T, b0, b1, c0, c1 int, col []T) {
	wideRuns(g, b0, b1, c0, c1, col, x, func(d, s []T) {
		copy(d, s)
		zero(d[len(s):])
	})
}

// col2imWide is col2imChannels for wide layers: im2colWide's adjoint. The columns past the
// output's edge hold zeros (the gradients were gathered with gatherWide), so whole runs are added.
func col2imWide[T Float](g *ConvGeom, col []T, b0, b1, c0, c1 int, dx []T) {
	wideRuns(g, b0, b1, c0, c1, col, dx, func(s, d []T) {
		s = s[:len(d)]
		for i, v := range s {
			d[i] += v
		}
	})
}

// gatherWide is gatherRows for wide layers: output rows of OW values become rows of W, the
// columns past the output's edge zero.
func gatherWide[T Float](g *ConvGeom, dy []T, b0, b1 int, dst []T) {
	pw, ohw, mg := g.colw(), g.ohw(), g.mg()
	ncols := (b1 - b0) * pw
	for m := 0; m < mg; m++ {
		for b := b0; b < b1; b++ {
			d := dst[m*ncols+(b-b0)*pw : m*ncols+(b-b0+1)*pw]
			s := dy[(b*g.M+m)*ohw : (b*g.M+m+1)*ohw]
			for oh := 0; oh < g.OH; oh++ {
				copy(d[oh*g.W:oh*g.W+g.OW], s[oh*g.OW:(oh+1)*g.OW])
				zero(d[oh*g.W+g.OW : (oh+1)*g.W])
			}
		}
	}
}

// scatterWide is gatherWide's inverse for the forward pass: it drops the columns past the
// output's edge.
func scatterWide[T Float](g *ConvGeom, src []T, b0, b1 int, y []T) {
	pw, ohw, mg := g.colw(), g.ohw(), g.mg()
	ncols := (b1 - b0) * pw
	for m := 0; m < mg; m++ {
		for b := b0; b < b1; b++ {
			s := src[m*ncols+(b-b0)*pw : m*ncols+(b-b0+1)*pw]
			d := y[(b*g.M+m)*ohw : (b*g.M+m+1)*ohw]
			for oh := 0; oh < g.OH; oh++ {
				copy(d[oh*g.OW:(oh+1)*g.OW], s[oh*g.W:oh*g.W+g.OW])
			}
		}
	}
}

// validRange returns the output columns [lo,hi) whose input column iw0+ow·s lies inside [0,w).
func validRange(iw0, s, w, ow int) (lo, hi int) {
	lo = 0
	if iw0 < 0 {
		lo = (-iw0 + s - 1) / s
	}
	hi = ow
	// largest ow with iw0 + ow*s <= w-1
	if last := w - 1 - iw0; last < 0 {
		hi = 0
	} else if h := last/s + 1; h < hi {
		hi = h
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// gatherRows copies the channel block [m0, m0+mg) of images [b0,b1) of an N×M×P tensor into an
// mg×((b1-b0)·P) matrix, the layout GEMMs over im2col chunks use.
func gatherRows[T Float](src []T, mtot, p, m0, mg, b0, b1 int, dst []T) {
	ncols := (b1 - b0) * p
	for m := 0; m < mg; m++ {
		for b := b0; b < b1; b++ {
			copy(dst[m*ncols+(b-b0)*p:m*ncols+(b-b0+1)*p], src[(b*mtot+m0+m)*p:(b*mtot+m0+m+1)*p])
		}
	}
}

// scatterRows is gatherRows' inverse.
func scatterRows[T Float](src []T, mtot, p, m0, mg, b0, b1 int, dst []T) {
	ncols := (b1 - b0) * p
	for m := 0; m < mg; m++ {
		for b := b0; b < b1; b++ {
			copy(dst[(b*mtot+m0+m)*p:(b*mtot+m0+m+1)*p], src[m*ncols+(b-b0)*p:m*ncols+(b-b0+1)*p])
		}
	}
}

// convForward computes y = conv(x, w) + bias (bias may be nil).
func convForward[T Float](g *ConvGeom, x, w, bias, y []T) {
	convForwardCached(g, x, w, bias, y, nil, nil)
}

// cachedCols is the size of a convolution's whole im2col matrix (all groups, all images) when it
// is small enough to keep from the forward pass for the weight gradient of the same step, 0
// otherwise. Recomputing it costs as much as a small layer's products (LeNet, ResNet at 32×32);
// large layers recompute it to keep memory in bounds, and so do those over 8 MiB, whose cache
// would be written to and read back from memory (the MNIST CNN's second layer, 11 MiB, is 10%
// faster per step without it; LeNet-5's layers, 7 and 5 MiB, 10% faster with it).
func (g *ConvGeom) cachedCols() int {
	n := g.Groups * g.k() * g.N * g.colw()
	if g.pointwise() || g.dense() || n > 2<<20 {
		return 0
	}
	return n
}

// colsOffset is where the im2col matrix of images [b0,b1), group grp, starts in a cache of all
// of them: chunk after chunk, and within a chunk group after group, each [K, (b1-b0)·OH·OW].
func (g *ConvGeom) colsOffset(b0, b1, grp int) int {
	return g.Groups*g.k()*b0*g.colw() + grp*g.k()*(b1-b0)*g.colw()
}

// convForwardCached is convForward that, given cols (len cachedCols()), leaves every chunk's
// im2col matrices there (see colsOffset) for convBackwardWeight, and applies act (when not nil)
// to each chunk of the output.
func convForwardCached[T Float](g *ConvGeom, x, w, bias, y, cols []T, act *Unary) {
	K, mg, ohw := g.k(), g.mg(), g.ohw()
	if g.dense() {
		// y (N×M) = x (N×K) · wᵀ, then the bias and the activation
		pgemm(false, true, g.N, g.M, K, 1, x, K, w, K, 0, y, g.M)
		if bias != nil {
			for b := 0; b < g.N; b++ {
				row := y[b*g.M : (b+1)*g.M]
				for m, bv := range bias {
					row[m] += bv
				}
			}
		}
		if act != nil {
			unaryForward(act, y, y)
		}
		return
	}
	if st := g.rowStrips(); st > 1 && cols == nil {
		parallelTasks(g.N*st, func(t, _ int) {
			b, p0, n, col := stripIm2col(g, x, t, st)
			if n == 0 {
				return
			}
			defer putScratch(col)
			gemm(false, false, g.M, n, K, 1, w, K, col, n, 0, y[b*g.M*ohw+p0:], ohw)
			convEpilogue(g, y, bias, act, b, b+1, p0, p0+n, false)
		})
		return
	}
	wide := g.wide()
	nb := g.imagesPerChunk()
	chunks := (g.N + nb - 1) / nb
	inner := chunks < workers() // too few chunks to share: parallelise inside the GEMM instead
	task := func(t, _ int) {
		b0 := t * nb
		b1 := min(b0+nb, g.N)
		ncols := (b1 - b0) * g.colw()
		var col, out []T
		sliced := cols == nil && g.Groups == 1 && g.smallMap() && !g.pointwise() // smallMapProduct
		if cols == nil && !sliced && !(g.pointwise() && b1-b0 == 1) {
			col = getScratch[T](K * ncols)
			defer putScratch(col)
		}
		if b1-b0 > 1 || wide {
			out = getScratch[T](mg * ncols)
			defer putScratch(out)
		}
		if sliced {
			if out == nil {
				smallMapProduct(g, x, w, b0, b1, y[b0*g.M*ohw:], ohw, inner)
			} else {
				smallMapProduct(g, x, w, b0, b1, out, ncols, inner)
				scatterRows(out, g.M, ohw, 0, mg, b0, b1, y)
			}
			convEpilogue(g, y, bias, act, b0, b1, 0, ohw, inner)
			return
		}
		for grp := 0; grp < g.Groups; grp++ {
			c := col
			if cols != nil {
				o := g.colsOffset(b0, b1, grp)
				c = cols[o : o+K*ncols]
				if inner {
					pim2col(g, x, b0, b1, grp, c)
				} else {
					im2col(g, x, b0, b1, grp, c)
				}
			} else if c == nil {
				c = x[(b0*g.C+grp*g.cg())*ohw:]
			} else if inner {
				pim2col(g, x, b0, b1, grp, c)
			} else {
				im2col(g, x, b0, b1, grp, c)
			}
			wg := w[grp*mg*K:]
			mm := gemm[T]
			if inner {
				mm = pgemm[T]
			}
			if out == nil {
				mm(false, false, mg, ncols, K, 1, wg, K, c, ncols, 0, y[(b0*g.M+grp*mg)*ohw:], ohw)
			} else {
				mm(false, false, mg, ncols, K, 1, wg, K, c, ncols, 0, out, ncols)
				if wide {
					scatterWide(g, out, b0, b1, y)
				} else {
					scatterRows(out, g.M, ohw, grp*mg, mg, b0, b1, y)
				}
			}
		}
		convEpilogue(g, y, bias, act, b0, b1, 0, ohw, inner) // the only chunk (inner): split over the workers
	}
	if inner {
		for t := 0; t < chunks; t++ {
			task(t, 0)
		}
	} else {
		parallelTasks(chunks, task)
	}
}

// convEpilogue adds the bias (nil: none) and applies the fused activation (nil: none) to the
// output channels of images [b0,b1) of y, pixels [p0,p1) of each plane, both in one pass over
// each channel's plane while it is in cache: with BatchNorm folded into the convolution
// (inference), this pass is all that is left of BatchNorm and ReLU. parallel splits the planes
// over the workers.
func convEpilogue[T Float](g *ConvGeom, y, bias []T, act *Unary, b0, b1, p0, p1 int, parallel bool) {
	if bias == nil && act == nil {
		return
	}
	ohw := g.ohw()
	planes := func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := y[(b0*g.M+r)*ohw+p0 : (b0*g.M+r)*ohw+p1]
			switch {
			case bias == nil:
				applyUnary(act, row, row)
			case act != nil && act.Kind == Relu:
				bv := bias[r%g.M]
				i := 0
				if r32, ok := any(row).([]float32); ok {
					i = biasReluVec(r32, r32, float32(bv))
				}
				for ; i < len(row); i++ {
					row[i] = max(row[i]+bv, 0)
				}
			default:
				bv := bias[r%g.M]
				for i := range row {
					row[i] += bv
				}
				if act != nil {
					applyUnary(act, row, row)
				}
			}
		}
	}
	n := (b1 - b0) * g.M
	if parallel {
		parallelFor(n, max(1, (1<<14)/(p1-p0)), planes)
	} else {
		planes(0, n)
	}
}

// convBackwardData computes dx from dy and the weights.
func convBackwardData[T Float](g *ConvGeom, w, dy, dx []T) {
	K, mg, ohw := g.k(), g.mg(), g.ohw()
	if g.dense() {
		pgemm(false, false, g.N, K, g.M, 1, dy, g.M, w, K, 0, dx, K) // dx (N×K) = dy (N×M) · w
		return
	}
	nb := g.imagesPerChunk()
	chunks := (g.N + nb - 1) / nb
	inner := chunks < workers()
	direct := g.pointwise()
	wide := g.wide()
	hw := g.H * g.W
	task := func(t, _ int) {
		b0 := t * nb
		b1 := min(b0+nb, g.N)
		ncols := (b1 - b0) * g.colw()
		one := b1-b0 == 1 && !wide // one image's dy is already an mg×ohw matrix
		var dcol, dy2 []T
		if !(direct && one) {
			dcol = getScratch[T](K * ncols)
			defer putScratch(dcol)
		}
		if !one {
			dy2 = getScratch[T](mg * ncols)
			defer putScratch(dy2)
		}
		zero(dx[b0*g.C*hw : b1*g.C*hw])
		mm := gemm[T]
		if inner {
			mm = pgemm[T]
		}
		for grp := 0; grp < g.Groups; grp++ {
			src, ld := dy[(b0*g.M+grp*mg)*ohw:], ohw
			switch {
			case wide:
				gatherWide(g, dy, b0, b1, dy2)
				src, ld = dy2, ncols
			case !one:
				gatherRows(dy, g.M, ohw, grp*mg, mg, b0, b1, dy2)
				src, ld = dy2, ncols
			}
			wg := w[grp*mg*K:]
			if dcol == nil {
				// 1×1 stride 1: dx block = Wᵀ·dy, written in place.
				mm(true, false, K, ncols, mg, 1, wg, K, src, ld, 0, dx[(b0*g.C+grp*g.cg())*hw:], hw)
				continue
			}
			mm(true, false, K, ncols, mg, 1, wg, K, src, ld, 0, dcol, ncols)
			if inner {
				pcol2im(g, dcol, b0, b1, grp, dx)
			} else {
				col2im(g, dcol, b0, b1, grp, dx)
			}
		}
	}
	if inner {
		for t := 0; t < chunks; t++ {
			task(t, 0)
		}
	} else {
		parallelTasks(chunks, task)
	}
}

// convBackwardWeight computes dw from x and dy.
func convBackwardWeight[T Float](g *ConvGeom, x, dy, dw []T) {
	convBackwardWeightCached(g, x, dy, dw, nil)
}

// convBackwardWeightCached is convBackwardWeight reading the im2col matrices from cols (left
// there by convForwardCached for the same x) when it is not nil.
func convBackwardWeightCached[T Float](g *ConvGeom, x, dy, dw, cols []T) {
	K, mg, ohw := g.k(), g.mg(), g.ohw()
	if g.dense() {
		pgemm(true, false, g.M, K, g.N, 1, dy, g.M, x, K, 0, dw, K) // dw (M×K) = dyᵀ · x
		return
	}
	nb := g.imagesPerChunk()
	st := 1 // strips of output rows per chunk (rowStrips); then nb is 1
	if cols == nil {
		st = g.rowStrips()
	}
	chunks := (g.N + nb - 1) / nb * st
	nw := min(workers(), chunks)
	inner := chunks < workers()
	direct := g.pointwise()
	// Each worker sums into its own copy of dw; the copies are added at the end.
	partial := make([][]T, nw)
	partial[0] = dw
	for i := 1; i < nw; i++ {
		partial[i] = getScratch[T](len(dw))
	}
	// fresh[w] is true until worker w's first chunk; groups write disjoint blocks, so one flag
	// per worker suffices when every chunk covers all groups (it does).
	fresh := make([]bool, nw)
	for i := range fresh {
		fresh[i] = true
	}
	wide := g.wide()
	task := func(t, worker int) {
		beta := T(1)
		if fresh[worker] {
			beta = 0 // the first product of this worker's sum overwrites it: no zeroing pass
		}
		if st > 1 { // one strip of one image: dw += dy[:, rows] · colᵀ
			b, p0, n, col := stripIm2col(g, x, t, st)
			if n == 0 {
				return
			}
			defer putScratch(col)
			gemm(false, true, g.M, K, n, 1, dy[b*g.M*ohw+p0:], ohw, col, n, beta, partial[worker], K)
			fresh[worker] = false
			return
		}
		b0 := t * nb
		b1 := min(b0+nb, g.N)
		ncols := (b1 - b0) * g.colw()
		one := b1-b0 == 1 && !wide // one image's dy is already an mg×ohw matrix
		var col, dy2 []T
		if cols == nil && !(direct && one) {
			col = getScratch[T](K * ncols)
			defer putScratch(col)
		}
		if !one {
			dy2 = getScratch[T](mg * ncols)
			defer putScratch(dy2)
		}
		acc := partial[worker]
		mm := gemm[T]
		if inner {
			mm = pgemm[T]
		}
		for grp := 0; grp < g.Groups; grp++ {
			c := col
			switch {
			case cols != nil:
				c = cols[g.colsOffset(b0, b1, grp):]
			case c == nil:
				c = x[(b0*g.C+grp*g.cg())*ohw:]
			case inner:
				pim2col(g, x, b0, b1, grp, c)
			default:
				im2col(g, x, b0, b1, grp, c)
			}
			src, ld := dy[(b0*g.M+grp*mg)*ohw:], ohw
			switch {
			case wide:
				gatherWide(g, dy, b0, b1, dy2)
				src, ld = dy2, ncols
			case !one:
				gatherRows(dy, g.M, ohw, grp*mg, mg, b0, b1, dy2)
				src, ld = dy2, ncols
			}
			mm(false, true, mg, K, ncols, 1, src, ld, c, ncols, beta, acc[grp*mg*K:], K)
		}
		fresh[worker] = false
	}
	if inner {
		for t := 0; t < chunks; t++ {
			task(t, 0)
		}
	} else {
		parallelTasks(chunks, task)
	}
	for i := 1; i < nw; i++ {
		p := partial[i]
		parallelFor(len(dw), 1<<14, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				dw[j] += p[j]
			}
		})
		putScratch(p)
	}
}

// channelSum computes out[c] = Σ over n and positions of x, for an N×C×P tensor. The work is
// split over the batch (a layer's channels can be fewer than the cores), each worker summing its
// images into its own row of partial sums, which are added in worker order.
func channelSum[T Float](x []T, n, c, p int, out []T) {
	w := max(1, min(workers(), n))
	partial := make([]float64, w*c)
	per := (n + w - 1) / w
	parallelTasks(w, func(task, _ int) {
		acc := partial[task*c : (task+1)*c]
		for b := task * per; b < min((task+1)*per, n); b++ {
			for ch := 0; ch < c; ch++ {
				plane := x[(b*c+ch)*p : (b*c+ch+1)*p]
				// four running sums: independent additions pipeline, and float32 rounding stays
				// bounded by the plane's length
				var s0, s1, s2, s3 T
				i := 0
				for ; i+4 <= len(plane); i += 4 {
					s0 += plane[i]
					s1 += plane[i+1]
					s2 += plane[i+2]
					s3 += plane[i+3]
				}
				for ; i < len(plane); i++ {
					s0 += plane[i]
				}
				acc[ch] += float64(s0) + float64(s1) + float64(s2) + float64(s3)
			}
		}
	})
	for ch := 0; ch < c; ch++ {
		var s float64
		for t := 0; t < w; t++ {
			s += partial[t*c+ch]
		}
		out[ch] = T(s)
	}
}
