package ops

// Kernel taps that only ever read padding. On small feature maps a 3×3 padded kernel reaches
// past the input: on ResNet's 1×1 maps (its last stage at 32×32) eight of the nine taps
// multiply zeros, and on the stride-2 entry to that stage five of them. Such a layer is the
// same convolution with the live taps alone and the padding reduced by the dead rows and
// columns, at a fraction of the work: a 1×1 map becomes a fully connected layer. Inference
// over constant weights uses it (Conv2D.ConstWeights).

// trimmed returns g without its dead kernel rows and columns, and the first live row and
// column, or ok false when every tap is live (or for dilated kernels, left as they are).
func (g *ConvGeom) trimmed() (t ConvGeom, ki0, kj0 int, ok bool) {
	if g.DH != 1 || g.DW != 1 {
		return *g, 0, 0, false
	}
	// Tap ki reads input rows oh·SH − PT + ki for oh in [0, OH): live when one is in [0, H).
	live := func(k, s, p, o, n int) bool {
		lo, hi := k-p, (o-1)*s+k-p
		return hi >= 0 && lo < n
	}
	ki0, ki1 := 0, g.KH
	for ki0 < ki1 && !live(ki0, g.SH, g.PT, g.OH, g.H) {
		ki0++
	}
	for ki1 > ki0 && !live(ki1-1, g.SH, g.PT, g.OH, g.H) {
		ki1--
	}
	kj0, kj1 := 0, g.KW
	for kj0 < kj1 && !live(kj0, g.SW, g.PL, g.OW, g.W) {
		kj0++
	}
	for kj1 > kj0 && !live(kj1-1, g.SW, g.PL, g.OW, g.W) {
		kj1--
	}
	if ki0 == ki1 || kj0 == kj1 || (ki0 == 0 && ki1 == g.KH && kj0 == 0 && kj1 == g.KW) {
		return *g, 0, 0, false
	}
	t = *g
	t.KH, t.KW = ki1-ki0, kj1-kj0
	t.PT, t.PB = g.PT-ki0, g.PB-(g.KH-ki1)
	t.PL, t.PR = g.PL-kj0, g.PR-(g.KW-kj1)
	if t.PT < 0 || t.PB < 0 || t.PL < 0 || t.PR < 0 {
		return *g, 0, 0, false
	}
	return t, ki0, kj0, true
}

// trimWeights copies the live taps of w (g's M×C/Groups×KH×KW weights) into tw, laid out for t.
// (Element by element: a row of live taps is often a single one, too short for copy.)
func trimWeights[T Float](g, t *ConvGeom, ki0, kj0 int, w, tw []T) {
	planes, gk, tk := g.M*g.cg(), g.KH*g.KW, t.KH*t.KW
	parallelFor(planes, 256, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src, dst := w[p*gk:(p+1)*gk], tw[p*tk:(p+1)*tk]
			for i := 0; i < t.KH; i++ {
				for j := 0; j < t.KW; j++ {
					dst[i*t.KW+j] = src[(ki0+i)*g.KW+kj0+j]
				}
			}
		}
	})
}
