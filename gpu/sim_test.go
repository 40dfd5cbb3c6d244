package gpu

import (
	"encoding/binary"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"tlkit/ops"
)

// sim runs a plan on the host: every device step is executed by a Go transliteration of its
// CUDA kernel (or, for cuDNN's convolutions, by the CPU op, and for cuDNN's batch normalisation
// by cuDNN's documented formulas) over one []float32 arena laid out exactly as planned. Values
// are poisoned with NaN once their last reader has run, so a plan that frees memory too early,
// or lets two live values share it, produces wrong results. Tests compare it with the CPU engine.
type sim struct {
	t      *testing.T
	pl     *plan
	arena  []float32
	consts []byte
	store  map[*float32][]float32 // "device" copies of shared host tensors
	bnAux  map[*ops.BatchNorm][4][]float32
	ws     []float32
	moment map[*float32][2][]float32
}

func newSim(t *testing.T, pl *plan) *sim {
	s := &sim{t: t, pl: pl, arena: make([]float32, pl.arenaBytes/4), consts: pl.consts, store: map[*float32][]float32{},
		bnAux: map[*ops.BatchNorm][4][]float32{}, moment: map[*float32][2][]float32{}}
	for i := range s.arena {
		s.arena[i] = float32(math.NaN())
	}
	upload := func(h []float32) {
		if _, ok := s.store[&h[0]]; !ok {
			s.store[&h[0]] = append([]float32(nil), h...)
		}
	}
	for _, v := range pl.vals {
		if v.st == stParam {
			upload(v.host)
		}
	}
	for _, st := range pl.steps {
		if st.bn != nil {
			if st.bn.Mean != nil {
				upload(st.bn.Mean)
				upload(st.bn.Var)
			}
			c := st.bn.InShapes()[1].TotalSize()
			off, stride := pl.aux[st.bn]/4, auxStride(c)/4
			blk := func(j int64) []float32 { return s.arena[off+j*stride : off+j*stride+int64(c)] }
			s.bnAux[st.bn] = [4][]float32{blk(0), blk(1), blk(2), blk(3)}
		}
		if st.scratch > 0 && int(st.scratch/4) > len(s.ws) {
			s.ws = make([]float32, st.scratch/4)
		}
	}
	return s
}

// val is the memory of scheduled value i.
func (s *sim) val(i int) []float32 {
	v := s.pl.vals[i]
	r := s.pl.vals[v.root]
	switch r.st {
	case stArena, stInput, stLabels:
		return s.arena[r.off/4 : r.off/4+int64(v.elems)]
	case stParam:
		return s.store[&r.host[0]][:v.elems]
	case stConst:
		out := make([]float32, v.elems)
		for j := range out {
			out[j] = math.Float32frombits(binary.LittleEndian.Uint32(s.consts[r.off+int64(4*j):]))
		}
		return out
	}
	s.t.Fatalf("value %d has no memory (storage %d)", i, r.st)
	return nil
}

func (s *sim) meta(st dstep) []int {
	m := make([]int, len(st.meta))
	for j := range m {
		m[j] = int(int32(binary.LittleEndian.Uint32(s.consts[st.metaOff+int64(4*j):])))
	}
	return m
}

func dense(x []float32, shape tensor.Shape) *tensor.Dense {
	if len(shape) == 0 {
		shape = tensor.Shape{1}
	}
	return tensor.New(tensor.WithBacking(x), tensor.WithShape(shape...))
}

func (s *sim) shape(i int) tensor.Shape {
	sh := s.pl.sched[i].Node.Shape()
	if s.pl.sched[i].Node.IsScalar() || len(sh) == 0 {
		return tensor.Shape{1}
	}
	return sh
}

func (s *sim) run() {
	for k, st := range s.pl.steps {
		s.step(st)
		// Poison what dies here.
		for i, v := range s.pl.vals {
			if v.root == i && v.last == k && v.st == stArena {
				for j := range s.val(i) {
					s.val(i)[j] = float32(math.NaN())
				}
			}
		}
	}
}

func (s *sim) step(st dstep) {
	sched := s.pl.sched
	node := sched[st.node].Node
	out := s.val(st.node)
	in := make([][]float32, len(st.in))
	for j, i := range st.in {
		in[j] = s.val(i)
	}
	exec := func(k ops.Kernel) {
		ins := make([]*tensor.Dense, len(st.in))
		for j, i := range st.in {
			ins[j] = dense(in[j], s.shape(i))
		}
		if err := k.Exec(dense(out, s.shape(st.node)), ins); err != nil {
			s.t.Fatal(err)
		}
	}
	switch st.op {
	case opConv, opConvGradData, opConvGradWeight:
		// cuDNN's job: the CPU op computes the same function.
		g := map[opKind]ops.ConvGeom{}
		switch op := node.Op().(type) {
		case *ops.Conv2D:
			g[opConv] = op.Geom
		case *ops.ConvGradData:
			g[opConvGradData] = op.Geom
		case *ops.ConvGradWeight:
			g[opConvGradWeight] = op.Geom
		}
		cp, err := convParamsOf(g[st.op])
		if err != nil {
			s.t.Fatal(err)
		}
		if oh, ow := cp.cudnnOut(); oh != cp.OH || ow != cp.OW {
			s.t.Fatalf("cuDNN output size %dx%d, tlkit %dx%d", oh, ow, cp.OH, cp.OW)
		}
		if c, ok := node.Op().(*ops.Conv2D); ok && c.Act != nil {
			// as on the device: the convolution, then the element-wise kernel in place
			plain := *c
			plain.Act = nil
			exec(&plain)
			for i := range out {
				out[i] = simUnary(int(c.Act.Kind), out[i], 0, 0, 0, 0)
			}
			break
		}
		exec(node.Op().(ops.Kernel))
	case opBNTrainFwd, opBNInferFwd, opBNTrainBwd, opBNFrozenDx, opBNDscale:
		s.bn(st, in, out)
	case opUnary:
		u := node.Op().(*ops.Unary)
		for i := range out {
			out[i] = simUnary(int(u.Kind), in[0][i], float32(u.P.Alpha), float32(u.P.Beta), float32(u.P.Min), float32(u.P.Max))
		}
	case opUnaryGrad:
		u := node.Op().(*ops.UnaryGrad).Fwd
		for i := range out {
			out[i] = simUnaryGrad(int(u.Kind), in[0][i], in[1][i], in[2][i], float32(u.P.Alpha), float32(u.P.Beta), float32(u.P.Min), float32(u.P.Max))
		}
	case opMaxPool:
		simMaxPool(node.Op().(*ops.MaxPool).Geom, in[0], out)
	case opMaxPoolGrad:
		simMaxPoolGrad(node.Op().(*ops.MaxPoolGrad).Geom, in[0], in[1], out)
	case opAvgPool:
		simAvgPool(node.Op().(*ops.AvgPool).Geom, in[0], out)
	case opAvgPoolGrad:
		simAvgPoolGrad(node.Op().(*ops.AvgPoolGrad).Geom, in[0], out)
	case opGAP:
		planes, p := planesOf(node.Op().(*ops.GlobalAvgPool).InShapes()[0])
		for q := 0; q < planes; q++ {
			var acc float64
			for j := 0; j < p; j++ {
				acc += float64(in[0][q*p+j])
			}
			out[q] = float32(acc / float64(p))
		}
	case opGAPGrad:
		planes, p := planesOf(node.Op().(*ops.GlobalAvgPoolGrad).Fwd.InShapes()[0])
		for i := 0; i < planes*p; i++ {
			out[i] = in[0][i/p] / float32(p)
		}
	case opGemm:
		op := node.Op().(*ops.Gemm)
		gc := gemmCallOf(op)
		m, n, _, _ := op.Dims()
		if gc.beta == 1 {
			for i := 0; i < m*n; i++ {
				out[i] = float32(op.Beta) * in[2][(i/n)*gc.cS0+(i%n)*gc.cS1]
			}
		}
		colMajorSgemm(gc.transFirst, gc.transSecond, gc.m, gc.n, gc.k, float32(op.Alpha), in[1], gc.ldFirst, in[0], gc.ldSecond, gc.beta, out, gc.ldc)
	case opBinary:
		op := node.Op().(*ops.Binary)
		if len(st.meta) == 0 {
			for i := range out {
				out[i] = simApply2(int(op.Kind), in[0][i], in[1][i])
			}
		} else {
			m := s.meta(st)
			rank := len(op.OutShape())
			for i := range out {
				ia, ib := bcastIndex(i, rank, m)
				out[i] = simApply2(int(op.Kind), in[0][ia], in[1][ib])
			}
		}
		if op.Act != nil { // as on the device: the element-wise kernel in place
			for i := range out {
				out[i] = simUnary(int(op.Act.Kind), out[i], 0, 0, 0, 0)
			}
		}
	case opBinaryGrad:
		op := node.Op().(*ops.BinaryGrad)
		mode := binaryGradMode(op)
		full := op.Fwd.OutShape()
		nf, rank := full.TotalSize(), len(full)
		m := s.meta(st)
		t := out
		if st.scratch > 0 {
			t = s.ws[:nf]
		}
		for i := 0; i < nf; i++ {
			ia, ib := bcastIndex(i, rank, m)
			g, av, bv := in[2][i], in[0][ia], in[1][ib]
			var v float32
			switch mode {
			case 0:
				v = g * bv
			case 1:
				v = g * av
			case 2:
				v = g / bv
			default:
				q := av / bv
				q = q / bv
				v = -q * g
			}
			t[i] = v
		}
		if st.scratch > 0 {
			simReduce(t, out, 1, rank, m[3*rank:])
		}
	case opReduce:
		scale := float32(1)
		if r, ok := node.Op().(*ops.ReduceToOp); ok {
			scale = float32(r.Scale())
		}
		simReduce(in[0], out, scale, len(st.meta)/3, s.meta(st))
	case opScale:
		sc := float32(node.Op().(*ops.ReduceToOp).Scale())
		for i := range out {
			out[i] = sc * in[0][i]
		}
	case opXent:
		ce := node.Op().(*ops.CrossEntropy)
		zs := ce.InShapes()[0]
		var acc float64
		for i := 0; i < zs[0]; i++ {
			row := in[0][i*zs[1] : (i+1)*zs[1]]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v) - mx)
			}
			c := int(in[1][i])
			acc += mx + math.Log(sum) - float64(row[c])
		}
		if !ce.Sum {
			acc /= float64(zs[0])
		}
		out[0] = float32(acc)
	case opXentGrad:
		ce := node.Op().(*ops.CrossEntropyGrad).Fwd
		zs := ce.InShapes()[0]
		scale := float64(in[2][0])
		if !ce.Sum {
			scale /= float64(zs[0])
		}
		for i := 0; i < zs[0]; i++ {
			row := in[0][i*zs[1] : (i+1)*zs[1]]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v) - mx)
			}
			c := int(in[1][i])
			for k, v := range row {
				p := math.Exp(float64(v)-mx) / sum
				if k == c {
					p--
				}
				out[i*zs[1]+k] = float32(p * scale)
			}
		}
	case opSoftmax, opSoftmaxGrad:
		var sm *ops.Softmax
		if st.op == opSoftmax {
			sm = node.Op().(*ops.Softmax)
		} else {
			sm = node.Op().(*ops.SoftmaxGrad).Fwd
		}
		outer, n, inner := ops.AxisSplit(sm.OutShape(), sm.Axis)
		for r := 0; r < outer*inner; r++ {
			base := (r/inner)*n*inner + r%inner
			if st.op == opSoftmax {
				x := in[0]
				mx := math.Inf(-1)
				for k := 0; k < n; k++ {
					mx = math.Max(mx, float64(x[base+k*inner]))
				}
				var sum float64
				for k := 0; k < n; k++ {
					sum += math.Exp(float64(x[base+k*inner]) - mx)
				}
				ls := math.Log(sum)
				for k := 0; k < n; k++ {
					v := float64(x[base+k*inner]) - mx - ls
					if sm.Log {
						out[base+k*inner] = float32(v)
					} else {
						out[base+k*inner] = float32(math.Exp(v))
					}
				}
				continue
			}
			y, dy := in[0], in[1]
			var sum float64
			for k := 0; k < n; k++ {
				o := base + k*inner
				if sm.Log {
					sum += float64(dy[o])
				} else {
					sum += float64(dy[o]) * float64(y[o])
				}
			}
			for k := 0; k < n; k++ {
				o := base + k*inner
				if sm.Log {
					out[o] = float32(float64(dy[o]) - math.Exp(float64(y[o]))*sum)
				} else {
					out[o] = float32(float64(y[o]) * (float64(dy[o]) - sum))
				}
			}
		}
	case opAdd:
		for i := range out {
			out[i] = in[0][i] + in[1][i]
		}
	default:
		s.t.Fatalf("sim: no implementation of %v", st.op)
	}
}

// bn follows cuDNN's documented batch normalisation (spatial mode) and tlkit's own kernels.
func (s *sim) bn(st dstep, in [][]float32, out []float32) {
	bn := st.bn
	dims := bnDims(bn.InShapes()[0])
	n, c, p := dims[0], dims[1], dims[2]
	aux := s.bnAux[bn]
	smean, sinv := aux[0], aux[1]
	var rmean, rvar []float32
	if bn.Mean != nil {
		rmean, rvar = s.store[&bn.Mean[0]], s.store[&bn.Var[0]]
	}
	at := func(b, ch, j int) int { return (b*c+ch)*p + j }
	switch st.op {
	case opBNTrainFwd, opBNInferFwd:
		x, scale, bias := in[0], in[1], in[2]
		factor := 1 - bn.Momentum
		cnt := float64(n * p)
		for ch := 0; ch < c; ch++ {
			var mean, invstd float64
			if st.op == opBNTrainFwd {
				var sum float64
				for b := 0; b < n; b++ {
					for j := 0; j < p; j++ {
						sum += float64(x[at(b, ch, j)])
					}
				}
				mean = sum / cnt
				var q float64
				for b := 0; b < n; b++ {
					for j := 0; j < p; j++ {
						d := float64(x[at(b, ch, j)]) - mean
						q += d * d
					}
				}
				invstd = 1 / math.Sqrt(q/cnt+bn.Epsilon)
				smean[ch], sinv[ch] = float32(mean), float32(invstd)
				if rmean != nil {
					rmean[ch] = float32((1-factor)*float64(rmean[ch]) + factor*mean)
					rvar[ch] = float32((1-factor)*float64(rvar[ch]) + factor*q/(cnt-1))
				}
			} else {
				mean, invstd = float64(rmean[ch]), 1/math.Sqrt(float64(rvar[ch])+bn.Epsilon)
			}
			for b := 0; b < n; b++ {
				for j := 0; j < p; j++ {
					i := at(b, ch, j)
					out[i] = float32(float64(scale[ch])*(float64(x[i])-mean)*invstd + float64(bias[ch]))
					if bn.Relu {
						out[i] = simUnary(kRelu, out[i], 0, 0, 0, 0)
					}
				}
			}
		}
	case opBNTrainBwd:
		x, scale, dy := in[0], in[1], in[2]
		dscale, dbias := aux[2], aux[3]
		if st.dscale >= 0 {
			dscale = s.val(st.dscale)
		}
		if st.dbias >= 0 {
			dbias = s.val(st.dbias)
		}
		cnt := float64(n * p)
		for ch := 0; ch < c; ch++ {
			m, is := float64(smean[ch]), float64(sinv[ch])
			var sdy, sdyx float64
			for b := 0; b < n; b++ {
				for j := 0; j < p; j++ {
					i := at(b, ch, j)
					sdy += float64(dy[i])
					sdyx += float64(dy[i]) * (float64(x[i]) - m) * is
				}
			}
			dscale[ch], dbias[ch] = float32(sdyx), float32(sdy)
			k := float64(scale[ch]) * is
			for b := 0; b < n; b++ {
				for j := 0; j < p; j++ {
					i := at(b, ch, j)
					xh := (float64(x[i]) - m) * is
					out[i] = float32(k * (float64(dy[i]) - sdy/cnt - xh*sdyx/cnt))
				}
			}
		}
	case opBNFrozenDx:
		scale, dy := in[1], in[2]
		for ch := 0; ch < c; ch++ {
			sinv[ch] = float32(1 / math.Sqrt(float64(rvar[ch])+float64(float32(bn.Epsilon))))
		}
		for i := range out {
			ch := (i / p) % c
			out[i] = dy[i] * (scale[ch] * sinv[ch])
		}
	case opBNDscale:
		x, dy := in[0], in[1]
		mean := smean
		if !bn.Training {
			mean = rmean
			for ch := 0; ch < c; ch++ {
				sinv[ch] = float32(1 / math.Sqrt(float64(rvar[ch])+float64(float32(bn.Epsilon))))
			}
		}
		for ch := 0; ch < c; ch++ {
			var acc float64
			for b := 0; b < n; b++ {
				for j := 0; j < p; j++ {
					i := at(b, ch, j)
					acc += float64(dy[i]) * ((float64(x[i]) - float64(mean[ch])) * float64(sinv[ch]))
				}
			}
			out[ch] = float32(acc)
		}
	}
}

// ---- Go transliterations of the CUDA kernels ----

func simUnary(kind int, v, alpha, beta, lo, hi float32) float32 {
	switch kind {
	case kRelu:
		if v > 0 {
			return v
		}
		return 0
	case kLeakyRelu:
		if v < 0 {
			return alpha * v
		}
		return v
	case kSigmoid:
		if v >= 0 {
			return 1 / (1 + float32(math.Exp(float64(-v))))
		}
		e := float32(math.Exp(float64(v)))
		return e / (1 + e)
	case kTanh:
		return float32(math.Tanh(float64(v)))
	case kClip:
		return float32(math.Min(math.Max(float64(v), float64(lo)), float64(hi)))
	case kHardSigmoid:
		return float32(math.Max(0, math.Min(1, float64(alpha*v+beta))))
	case kHardSwish:
		return v * float32(math.Max(0, math.Min(1, float64(v/6+0.5))))
	}
	return float32(math.NaN())
}

func simUnaryGrad(kind int, v, y, g, alpha, beta, lo, hi float32) float32 {
	switch kind {
	case kRelu:
		if v > 0 {
			return g
		}
		return 0
	case kLeakyRelu:
		if v > 0 {
			return g
		}
		return g * alpha
	case kSigmoid:
		return g * y * (1 - y)
	case kTanh:
		return g * (1 - y*y)
	case kClip:
		if v > lo && v < hi {
			return g
		}
		return 0
	case kHardSigmoid:
		if t := alpha*v + beta; t > 0 && t < 1 {
			return g * alpha
		}
		return 0
	case kHardSwish:
		switch {
		case v < -3:
			return 0
		case v > 3:
			return g
		}
		return g * (v/3 + 0.5)
	}
	return float32(math.NaN())
}

func simApply2(k int, a, b float32) float32 {
	switch k {
	case 0:
		return a + b
	case 1:
		return a - b
	case 2:
		return a * b
	}
	return a / b
}

func bcastIndex(i, rank int, m []int) (ia, ib int) {
	r := i
	for d := rank - 1; d >= 0; d-- {
		dim := m[d]
		c := r % dim
		r /= dim
		ia += c * m[rank+d]
		ib += c * m[2*rank+d]
	}
	return
}

func simReduce(x, y []float32, scale float32, rank int, m []int) {
	for j := range y {
		r, base, rn := j, 0, 1
		for d := rank - 1; d >= 0; d-- {
			if m[2*rank+d] != 0 {
				rn *= m[d]
				continue
			}
			dim := m[d]
			c := r % dim
			r /= dim
			base += c * m[rank+d]
		}
		var acc float64
		for t := 0; t < rn; t++ {
			q, off := t, base
			for d := rank - 1; d >= 0; d-- {
				if m[2*rank+d] == 0 {
					continue
				}
				dim := m[d]
				c := q % dim
				q /= dim
				off += c * m[rank+d]
			}
			acc += float64(x[off])
		}
		y[j] = scale * float32(acc)
	}
}

// colMajorSgemm is BLAS sgemm on column-major matrices (what cuBLAS computes).
func colMajorSgemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	at := func(i, l int) float32 {
		if ta {
			return a[l+i*lda]
		}
		return a[i+l*lda]
	}
	bt := func(l, j int) float32 {
		if tb {
			return b[j+l*ldb]
		}
		return b[l+j*ldb]
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < k; l++ {
				s += float64(at(i, l)) * float64(bt(l, j))
			}
			v := alpha * float32(s)
			if beta != 0 {
				v += beta * c[i+j*ldc]
			}
			c[i+j*ldc] = v
		}
	}
}

func simArgmax(g ops.PoolGeom, xp []float32, oh, ow int) int {
	best, at := float32(math.Inf(-1)), -1
	for i := 0; i < g.KH; i++ {
		ih := oh*g.SH - g.PT + i*g.DH
		if ih < 0 || ih >= g.H {
			continue
		}
		for j := 0; j < g.KW; j++ {
			iw := ow*g.SW - g.PL + j*g.DW
			if iw < 0 || iw >= g.W {
				continue
			}
			if v := xp[ih*g.W+iw]; v > best || at < 0 {
				best, at = v, ih*g.W+iw
			}
		}
	}
	return at
}

func simMaxPool(g ops.PoolGeom, x, y []float32) {
	for p := 0; p < g.N*g.C; p++ {
		xp := x[p*g.H*g.W : (p+1)*g.H*g.W]
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow++ {
				v := float32(math.Inf(-1))
				if at := simArgmax(g, xp, oh, ow); at >= 0 {
					v = xp[at]
				}
				y[(p*g.OH+oh)*g.OW+ow] = v
			}
		}
	}
}

func simMaxPoolGrad(g ops.PoolGeom, x, dy, dx []float32) {
	for p := 0; p < g.N*g.C; p++ {
		xp := x[p*g.H*g.W : (p+1)*g.H*g.W]
		for ih := 0; ih < g.H; ih++ {
			for iw := 0; iw < g.W; iw++ {
				var acc float32
				for i := g.KH - 1; i >= 0; i-- {
					th := ih + g.PT - i*g.DH
					if th < 0 || th%g.SH != 0 {
						continue
					}
					oh := th / g.SH
					if oh >= g.OH {
						continue
					}
					for j := g.KW - 1; j >= 0; j-- {
						tw := iw + g.PL - j*g.DW
						if tw < 0 || tw%g.SW != 0 {
							continue
						}
						ow := tw / g.SW
						if ow >= g.OW {
							continue
						}
						if simArgmax(g, xp, oh, ow) == ih*g.W+iw {
							acc += dy[(p*g.OH+oh)*g.OW+ow]
						}
					}
				}
				dx[(p*g.H+ih)*g.W+iw] = acc
			}
		}
	}
}

func simAvgWindow(g ops.PoolGeom, oh, ow int) (h0, h1, w0, w1, div int) {
	a0, b0 := oh*g.SH-g.PT, ow*g.SW-g.PL
	a1, b1 := min(a0+g.KH, g.H+g.PB), min(b0+g.KW, g.W+g.PR)
	padded := (a1 - a0) * (b1 - b0)
	a0, b0 = max(a0, 0), max(b0, 0)
	a1, b1 = min(a1, g.H), min(b1, g.W)
	if g.CountIncludePad {
		return a0, a1, b0, b1, padded
	}
	return a0, a1, b0, b1, (a1 - a0) * (b1 - b0)
}

func simAvgPool(g ops.PoolGeom, x, y []float32) {
	for p := 0; p < g.N*g.C; p++ {
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow++ {
				h0, h1, w0, w1, div := simAvgWindow(g, oh, ow)
				o := (p*g.OH+oh)*g.OW + ow
				if div == 0 {
					y[o] = 0
					continue
				}
				var s float64
				for i := h0; i < h1; i++ {
					for j := w0; j < w1; j++ {
						s += float64(x[(p*g.H+i)*g.W+j])
					}
				}
				y[o] = float32(s / float64(div))
			}
		}
	}
}

func simAvgPoolGrad(g ops.PoolGeom, dy, dx []float32) {
	for p := 0; p < g.N*g.C; p++ {
		for ih := 0; ih < g.H; ih++ {
			for iw := 0; iw < g.W; iw++ {
				lo := ih + g.PT - g.KH + 1
				ohLo := 0
				if lo > 0 {
					ohLo = (lo + g.SH - 1) / g.SH
				}
				ohHi := min((ih+g.PT)/g.SH, g.OH-1)
				lw := iw + g.PL - g.KW + 1
				owLo := 0
				if lw > 0 {
					owLo = (lw + g.SW - 1) / g.SW
				}
				owHi := min((iw+g.PL)/g.SW, g.OW-1)
				var acc float32
				for oh := ohLo; oh <= ohHi; oh++ {
					for ow := owLo; ow <= owHi; ow++ {
						h0, h1, w0, w1, div := simAvgWindow(g, oh, ow)
						if div == 0 || ih < h0 || ih >= h1 || iw < w0 || iw >= w1 {
							continue
						}
						acc += dy[(p*g.OH+oh)*g.OW+ow] / float32(div)
					}
				}
				dx[(p*g.H+ih)*g.W+iw] = acc
			}
		}
	}
}

// simAdam mirrors tl_adam.
func simAdam(w, g, m, v []float32, stepSize, b1, b2, eps, inv, wd, decay float32, decoupled bool) {
	for i := range w {
		gi, wi := g[i], w[i]
		if wd != 0 {
			if decoupled {
				wi *= decay
			} else {
				gi += wd * wi
			}
		}
		var g2 float32
		if gi > 1e-15 || gi < -1e-15 {
			g2 = gi * gi
		}
		mi := b1*m[i] + (1-b1)*gi
		if mi < 1e-30 && mi > -1e-30 {
			mi = 0
		}
		vi := b2*v[i] + (1-b2)*g2
		if vi < 1e-30 {
			vi = 0
		}
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))*inv + eps
		w[i] = wi - stepSize*mi/denom
	}
}

// diffNorm is ‖a−b‖.
func diffNorm(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

func norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}
