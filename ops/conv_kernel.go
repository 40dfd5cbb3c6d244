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

// pointwise reports a 1×1, stride-1, unpadded convolution, whose im2col is the input itself.
func (g *ConvGeom) pointwise() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT == 0 && g.PL == 0 && g.PB == 0 && g.PR == 0
}

// colTarget is roughly how many elements one worker's im2col buffer may hold: large enough for
// efficient GEMMs, small enough to stay in cache.
const colTarget = 1 << 20

// imagesPerChunk chooses how many images one im2col chunk covers.
func (g *ConvGeom) imagesPerChunk() int {
	per := g.k() * g.ohw()
	nb := colTarget / max(per, 1)
	if nb < 1 {
		nb = 1
	}
	// Leave at least one chunk per worker when the batch allows it.
	if w := workers(); g.N >= w && nb > g.N/w {
		nb = max(1, g.N/w)
	}
	return min(nb, g.N)
}

// im2col writes the receptive fields of images [b0,b1), channel group grp, as the columns of a
// K×((b1-b0)·OH·OW) matrix: row (c·KH+i)·KW+j, column (b-b0)·OH·OW + oh·OW + ow.
func im2col[T Float](g *ConvGeom, x []T, b0, b1, grp int, col []T) {
	cg, ohw := g.cg(), g.ohw()
	ncols := (b1 - b0) * ohw
	hw := g.H * g.W
	for c := 0; c < cg; c++ {
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				row := (c*g.KH+ki)*g.KW + kj
				dst := col[row*ncols : (row+1)*ncols]
				iw0 := kj*g.DW - g.PL
				owLo, owHi := validRange(iw0, g.SW, g.W, g.OW)
				for b := b0; b < b1; b++ {
					src := x[(b*g.C+grp*cg+c)*hw : (b*g.C+grp*cg+c+1)*hw]
					d := dst[(b-b0)*ohw : (b-b0+1)*ohw]
					for oh := 0; oh < g.OH; oh++ {
						drow := d[oh*g.OW : (oh+1)*g.OW]
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

// col2im is im2col's adjoint: it adds each column entry back into the input position it came
// from. dx for images [b0,b1) and group grp must be zeroed by the caller.
func col2im[T Float](g *ConvGeom, col []T, b0, b1, grp int, dx []T) {
	cg, ohw := g.cg(), g.ohw()
	ncols := (b1 - b0) * ohw
	hw := g.H * g.W
	for c := 0; c < cg; c++ {
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
	K, mg, ohw := g.k(), g.mg(), g.ohw()
	nb := g.imagesPerChunk()
	chunks := (g.N + nb - 1) / nb
	inner := chunks < workers() // too few chunks to share: parallelise inside the GEMM instead
	task := func(t, _ int) {
		b0 := t * nb
		b1 := min(b0+nb, g.N)
		ncols := (b1 - b0) * ohw
		var col, out []T
		if !(g.pointwise() && b1-b0 == 1) {
			col = getScratch[T](K * ncols)
			defer putScratch(col)
		}
		if b1-b0 > 1 {
			out = getScratch[T](mg * ncols)
			defer putScratch(out)
		}
		for grp := 0; grp < g.Groups; grp++ {
			c := col
			if c == nil {
				c = x[(b0*g.C+grp*g.cg())*ohw:]
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
				scatterRows(out, g.M, ohw, grp*mg, mg, b0, b1, y)
			}
		}
		if bias != nil {
			for b := b0; b < b1; b++ {
				for m := 0; m < g.M; m++ {
					row := y[(b*g.M+m)*ohw : (b*g.M+m+1)*ohw]
					bv := bias[m]
					for i := range row {
						row[i] += bv
					}
				}
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

// convBackwardData computes dx from dy and the weights.
func convBackwardData[T Float](g *ConvGeom, w, dy, dx []T) {
	K, mg, ohw := g.k(), g.mg(), g.ohw()
	nb := g.imagesPerChunk()
	chunks := (g.N + nb - 1) / nb
	inner := chunks < workers()
	direct := g.pointwise()
	hw := g.H * g.W
	task := func(t, _ int) {
		b0 := t * nb
		b1 := min(b0+nb, g.N)
		ncols := (b1 - b0) * ohw
		one := b1-b0 == 1
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
			if !one {
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
			col2im(g, dcol, b0, b1, grp, dx)
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
	K, mg, ohw := g.k(), g.mg(), g.ohw()
	nb := g.imagesPerChunk()
	chunks := (g.N + nb - 1) / nb
	nw := min(workers(), chunks)
	inner := chunks < workers()
	direct := g.pointwise()
	// Each worker sums into its own copy of dw; the copies are added at the end.
	partial := make([][]T, nw)
	partial[0] = dw
	zero(dw)
	for i := 1; i < nw; i++ {
		partial[i] = getScratch[T](len(dw))
		zero(partial[i])
	}
	task := func(t, worker int) {
		b0 := t * nb
		b1 := min(b0+nb, g.N)
		ncols := (b1 - b0) * ohw
		one := b1-b0 == 1
		var col, dy2 []T
		if !(direct && one) {
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
			if c == nil {
				c = x[(b0*g.C+grp*g.cg())*ohw:]
			} else {
				im2col(g, x, b0, b1, grp, c)
			}
			src, ld := dy[(b0*g.M+grp*mg)*ohw:], ohw
			if !one {
				gatherRows(dy, g.M, ohw, grp*mg, mg, b0, b1, dy2)
				src, ld = dy2, ncols
			}
			mm(false, true, mg, K, ncols, 1, src, ld, c, ncols, 1, acc[grp*mg*K:], K)
		}
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

// channelSum computes out[c] = Σ over n and positions of x, for an N×C×P tensor.
func channelSum[T Float](x []T, n, c, p int, out []T) {
	parallelFor(c, 8, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for b := 0; b < n; b++ {
				for _, v := range x[(b*c+ch)*p : (b*c+ch+1)*p] {
					s += float64(v)
				}
			}
			out[ch] = T(s)
		}
	})
}
