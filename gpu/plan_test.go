package gpu

import (
	"errors"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"tlkit/compare"
	"tlkit/engine"
	"tlkit/models"
	"tlkit/nn"
	"tlkit/ops"
	"tlkit/optim"
)

type testModel struct {
	name    string
	build   func() (*nn.Model, error)
	sample  []int
	classes int
	batch   int
}

var testModels = []testModel{
	{"resnet34w4", func() (*nn.Model, error) { return models.ResNet(34, 4, 3, 7, []int{3, 64, 64}) }, []int{3, 64, 64}, 7, 3},
	{"mlp", func() (*nn.Model, error) { return models.Build("mlp", 1, 10, []int{1, 28, 28}) }, []int{1, 28, 28}, 10, 3},
	{"cnn", func() (*nn.Model, error) { return models.Build("cnn", 1, 10, []int{1, 28, 28}) }, []int{1, 28, 28}, 10, 3},
	{"lenet5", func() (*nn.Model, error) { return models.Build("lenet5", 1, 10, []int{1, 28, 28}) }, []int{1, 28, 28}, 10, 3},
	{"zoo", func() (*nn.Model, error) { return models.OpZoo(5) }, []int{3, 12, 12}, 5, 16},
}

var testModes = []engine.Options{{}, {ConstantWeights: true}, {Train: true}, {Train: true, FreezeBN: true}}

func modeName(o engine.Options) string {
	switch {
	case o.ConstantWeights:
		return "infer-constant" // BatchNorm folded into the convolutions
	case o.Train && o.FreezeBN:
		return "train-frozenBN"
	case o.Train:
		return "train"
	}
	return "infer"
}

func mustBuild(t *testing.T, tm testModel) *nn.Model {
	t.Helper()
	m, err := tm.build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSimMatchesCPU runs each model's plan in the host simulation of the device kernels and
// compares outputs, loss, gradients, running statistics and an Adam step with the CPU engine,
// over two runs with different batches.
func TestSimMatchesCPU(t *testing.T) {
	for _, tm := range testModels {
		for _, mode := range testModes {
			t.Run(tm.name+"/"+modeName(mode), func(t *testing.T) {
				batch := tm.batch
				mCPU, mSim := mustBuild(t, tm), mustBuild(t, tm)
				o := mode
				o.Batch = batch
				pCPU, err := engine.Compile(mCPU, o)
				if err != nil {
					t.Fatal(err)
				}
				pSim, err := engine.Compile(mSim, o)
				if err != nil {
					t.Fatal(err)
				}
				pl, err := newPlan(pSim)
				if err != nil {
					t.Fatal(err)
				}
				checkPlan(t, pl)
				s := newSim(t, pl)
				adamCPU, adam := optim.NewAdam(1e-3), optim.NewAdam(1e-3)
				rng := rand.New(rand.NewSource(11))
				for iter := 0; iter < 2; iter++ {
					// Start each iteration from the CPU model's weights and statistics (as
					// SyncFromHost would), so the comparison does not compound rounding differences.
					for _, tn := range mCPU.Tensors() {
						if dev := s.store[&mSim.Tensor(tn.Name).Data[0]]; dev != nil && tn.Data != nil {
							copy(dev, tn.Data)
						}
					}
					x := make([]float32, nn.Numel(tm.sample)*batch)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					y := make([]int, batch)
					for i := range y {
						y[i] = rng.Intn(tm.classes)
					}
					if err := pCPU.SetInput(x); err != nil {
						t.Fatal(err)
					}
					copy(s.val(pl.input), x)
					if mode.Train {
						if err := pCPU.SetLabels(y); err != nil {
							t.Fatal(err)
						}
						for i, c := range y {
							s.val(pl.labels)[i] = float32(c)
						}
					}
					if err := pCPU.Run(); err != nil {
						t.Fatal(err)
					}
					s.run()
					for i, o := range pl.outputs {
						want := pCPU.Output(i).Data().([]float32)
						if e := compare.RelL2(s.val(o), want); !(e < 1e-5) {
							t.Errorf("iter %d output %d: relative error %g", iter, i, e)
						}
					}
					if !mode.Train {
						continue
					}
					if got, want := float64(s.val(pl.loss)[0]), pCPU.Loss(); !(math.Abs(got-want) < 1e-5*math.Max(1, math.Abs(want))) {
						t.Errorf("iter %d loss %g, CPU %g", iter, got, want)
					}
					grads := pCPU.Grads()
					if len(grads) != len(pl.grads) {
						t.Fatalf("%d gradients, CPU %d", len(pl.grads), len(grads))
					}
					var ps []optim.Param
					var total float64 // the norm of all gradients together
					for _, g := range grads {
						total += math.Pow(norm(g.Value.Data().([]float32)), 2)
					}
					total = math.Sqrt(total)
					for k, g := range grads {
						want := g.Value.Data().([]float32)
						// A bias followed by training-mode BatchNorm has a gradient of zero up to
						// rounding: errors are also allowed relative to the whole gradient's norm.
						got := s.val(pl.grads[k])
						if e := diffNorm(got, want); !(e <= 1e-4*norm(want)+1e-5*total) {
							t.Errorf("iter %d gradient of %s: error %g (norm %g, all gradients %g)", iter, g.Param.Name, e, norm(want), total)
						}
						// The CPU optimizer steps with the simulated gradients: the comparison checks
						// which gradient memory the device step reads, and the kernel's arithmetic.
						ps = append(ps, optim.Param{Name: g.Param.Name, W: g.Param.Data, G: append([]float32(nil), s.val(pl.grads[k])...)})
					}
					for _, tn := range mCPU.Tensors() {
						if tn.Role != nn.Buffer {
							continue
						}
						dev := s.store[&mSim.Tensor(tn.Name).Data[0]]
						if dev == nil {
							continue
						}
						if e := compare.RelL2(dev, tn.Data); !(e < 1e-5) {
							t.Errorf("iter %d running statistic %s: relative error %g", iter, tn.Name, e)
						}
					}
					// Adam: the CPU optimizer on the CPU model, the kernel's transliteration on the
					// simulated device copies, from the simulated gradients.
					if err := adamCPU.Update(ps); err != nil {
						t.Fatal(err)
					}
					simStep(s, pSim, adam)
					for _, g := range grads {
						dev := s.store[&mSim.Tensor(g.Param.Name).Data[0]]
						if e := compare.RelL2(dev, g.Param.Data); !(e < 1e-6) {
							t.Errorf("iter %d parameter %s after Adam: relative error %g", iter, g.Param.Name, e)
						}
					}
				}
			})
		}
	}
}

// simStep is Program.Step on the simulation.
func simStep(s *sim, p *engine.Program, adam *optim.Adam) {
	adam.Steps++
	tt := float64(adam.Steps)
	bc1 := 1 - math.Pow(adam.Beta1, tt)
	inv := float32(1 / math.Sqrt(1-math.Pow(adam.Beta2, tt)))
	for k := 0; k < p.NumGrads(); k++ {
		w := s.store[&p.GradParam(k).Data[0]]
		mv, ok := s.moment[&w[0]]
		if !ok {
			mv = [2][]float32{make([]float32, len(w)), make([]float32, len(w))}
			s.moment[&w[0]] = mv
		}
		simAdam(w, s.val(s.pl.grads[k]), mv[0], mv[1], float32(adam.LR/bc1), float32(adam.Beta1), float32(adam.Beta2), float32(adam.Eps),
			inv, float32(adam.WeightDecay), float32(1-adam.LR*adam.WeightDecay), adam.Decoupled)
	}
}

// checkPlan verifies the memory plan: values live in a common step never overlap, every read
// value is written first (or bound), and aux blocks are inside the arena.
func checkPlan(t *testing.T, pl *plan) {
	t.Helper()
	type blk struct {
		i         int
		lo, hi    int64
		def, last int
	}
	var bs []blk
	for i, v := range pl.vals {
		switch v.st {
		case stArena, stInput, stLabels:
			if v.root != i {
				t.Fatalf("value %d: arena value with root %d", i, v.root)
			}
			if v.off%align != 0 || v.off+int64(4*v.elems) > pl.arenaBytes {
				t.Fatalf("value %d at %d (+%d) outside the %d-byte arena", i, v.off, 4*v.elems, pl.arenaBytes)
			}
			bs = append(bs, blk{i, v.off, v.off + int64(4*v.elems), v.def, v.last})
		case stNone:
			t.Fatalf("value %d has no storage", i)
		}
	}
	for _, off := range pl.aux {
		if off < 0 || off%align != 0 || off >= pl.arenaBytes {
			t.Fatalf("aux block at %d outside the %d-byte arena", off, pl.arenaBytes)
		}
	}
	for a := range bs {
		for b := a + 1; b < len(bs); b++ {
			x, y := bs[a], bs[b]
			if x.def <= y.last && y.def <= x.last && x.lo < y.hi && y.lo < x.hi {
				t.Fatalf("values %d [%d,%d] and %d [%d,%d] share memory", x.i, x.def, x.last, y.i, y.def, y.last)
			}
		}
	}
	for k, s := range pl.steps {
		for _, a := range s.in {
			r := pl.vals[a].root
			if v := pl.vals[r]; v.st == stArena && v.def >= k {
				t.Fatalf("step %d (%v) reads value %d defined at step %d", k, s.op, r, v.def)
			}
		}
	}
}

// TestFullSizePlans checks that the schedules the device check runs map entirely to device
// steps: ResNet-34 (224×224, 100 classes) and the MNIST models in every mode.
func TestFullSizePlans(t *testing.T) {
	for _, mode := range testModes {
		m, err := models.ResNet(34, 64, 1, 100, []int{3, 224, 224})
		if err != nil {
			t.Fatal(err)
		}
		o := mode
		o.Batch = 2
		p, err := engine.Compile(m, o)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := newPlan(p)
		if err != nil {
			t.Fatalf("resnet34 %s: %v", modeName(mode), err)
		}
		checkPlan(t, pl)
		counts := map[opKind]int{}
		for _, s := range pl.steps {
			counts[s.op]++
		}
		if mode.Train && !mode.FreezeBN {
			// 36 BatchNorms, each one fused cuDNN backward; no separate scale/bias gradient steps.
			if counts[opBNTrainBwd] != 36 || counts[opBNDscale] != 0 || counts[opReduce] != 1 {
				t.Errorf("resnet34 train: %v", counts)
			}
		}
		if mode.FreezeBN && (counts[opBNFrozenDx] != 36 || counts[opBNDscale] != 36) {
			t.Errorf("resnet34 frozen BN: %v", counts)
		}
		t.Logf("resnet34 %s batch 2: %d steps, arena %.1f MB (CPU engine %.1f MB): %v", modeName(mode), len(pl.steps),
			float64(pl.arenaBytes)/1e6, float64(p.MemoryBytes())/1e6, counts)
	}
}

func TestConvGeometry(t *testing.T) {
	for _, c := range []struct{ h, k, s, d, p int }{{224, 7, 2, 1, 3}, {56, 3, 1, 1, 1}, {56, 3, 2, 1, 1}, {56, 1, 2, 1, 0}, {7, 3, 1, 1, 1},
		{28, 5, 1, 1, 0}, {13, 3, 2, 2, 2}, {9, 4, 3, 1, 1}, {10, 3, 1, 3, 0}} {
		g, ok := ops.NewConvGeom(2, 6, c.h, c.h+1, 8, 2, c.k, c.k, c.s, c.s, c.d, c.d, c.p, c.p, c.p, c.p)
		if !ok {
			t.Fatalf("%+v: no output", c)
		}
		cp, err := convParamsOf(g)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if oh, ow := cp.cudnnOut(); oh != g.OH || ow != g.OW {
			t.Errorf("%+v: cuDNN %dx%d, tlkit %dx%d", c, oh, ow, g.OH, g.OW)
		}
		if cp.Cg != 3 || cp.Groups != 2 || cp.M != 8 {
			t.Errorf("%+v: filter %+v", c, cp)
		}
	}
	g, _ := ops.NewConvGeom(1, 3, 8, 8, 4, 1, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1)
	if _, err := convParamsOf(g); err == nil || !strings.Contains(err.Error(), "asymmetric pads") {
		t.Errorf("asymmetric pads: %v", err)
	}
}

func TestGemmCall(t *testing.T) {
	// Every transpose combination, against a direct row-major product.
	rng := rand.New(rand.NewSource(1))
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			m, n, k := 3, 5, 4
			as, bs := []int{m, k}, []int{k, n}
			if ta {
				as = []int{k, m}
			}
			if tb {
				bs = []int{n, k}
			}

			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			g := gemmCall{transFirst: tb, transSecond: ta, m: n, n: m, k: k, ldFirst: bs[1], ldSecond: as[1], ldc: n}
			y := make([]float32, m*n)
			colMajorSgemm(g.transFirst, g.transSecond, g.m, g.n, g.k, 1, b, g.ldFirst, a, g.ldSecond, 0, y, g.ldc)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for l := 0; l < k; l++ {
						av := a[i*k+l]
						if ta {
							av = a[l*m+i]
						}
						bv := b[l*n+j]
						if tb {
							bv = b[j*k+l]
						}
						s += float64(av) * float64(bv)
					}
					if d := math.Abs(float64(y[i*n+j]) - s); d > 1e-5 {
						t.Fatalf("ta=%v tb=%v: y[%d,%d] = %g, want %g", ta, tb, i, j, y[i*n+j], s)
					}
				}
			}
		}
	}
}

// TestKernelSpecs checks that every kernel the Go side launches is declared in the CUDA source
// with the parameter types launch packs, and that the enums shared with ops agree.
func TestKernelSpecs(t *testing.T) {
	got, err := parseKernels(kernelSource)
	if err != nil {
		t.Fatal(err)
	}
	for name, sig := range kernelSpecs {
		if got[name] != sig {
			t.Errorf("kernel %s: source parameters %q, launch spec %q", name, got[name], sig)
		}
	}
	for name := range got {
		if _, ok := kernelSpecs[name]; !ok {
			t.Errorf("kernel %s is in the source but has no launch spec", name)
		}
	}
	if kRelu != int(ops.Relu) || kLeakyRelu != int(ops.LeakyRelu) || kSigmoid != int(ops.Sigmoid) || kTanh != int(ops.Tanh) ||
		kClip != int(ops.Clip) || kHardSigmoid != int(ops.HardSigmoid) || kHardSwish != int(ops.HardSwish) {
		t.Error("unary kinds differ from ops.UnaryKind")
	}
	if int(ops.Add) != 0 || int(ops.Sub) != 1 || int(ops.Mul) != 2 || int(ops.Div) != 3 {
		t.Error("binary kinds differ from tl_apply2's")
	}
	if strings.Count(kernelSource, "{") != strings.Count(kernelSource, "}") {
		t.Error("unbalanced braces in the kernel source")
	}
	if o := nvrtcOptions(9, 0); o[0] != "--gpu-architecture=sm_90" || o[1] != "--fmad=false" {
		t.Errorf("NVRTC options %v", o)
	}
	for _, name := range kernelNames() {
		if !strings.Contains(kernelSource, `extern "C" __global__ void `+name+"(") {
			t.Errorf("kernel %s is not extern \"C\"", name)
		}
	}
}

func TestKernelArgs(t *testing.T) {
	slots, err := kernelArgs("tl_scale", []any{uint64(0x1000), uint64(0x2000), 7, float32(-2)})
	if err != nil {
		t.Fatal(err)
	}
	if slots[0] != 0x1000 || slots[1] != 0x2000 || slots[2] != 7 || slots[3] != uint64(math.Float32bits(-2)) {
		t.Errorf("slots %x", slots)
	}
	if s, _ := kernelArgs("tl_scale", []any{uint64(1), uint64(2), -1, float32(1)}); s[2] != 0xffffffff {
		t.Errorf("-1 packs as %x", s[2])
	}
	for _, bad := range [][]any{
		{uint64(1), uint64(2), 3},
		{uint64(1), uint64(2), 3, 1.0},
		{1, uint64(2), 3, float32(1)},
		{uint64(1), uint64(2), int64(3), float32(1)},
		{uint64(1), uint64(2), 1 << 40, float32(1)},
	} {
		if _, err := kernelArgs("tl_scale", bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := kernelArgs("tl_nope", nil); err == nil {
		t.Error("unknown kernel accepted")
	}
}

func TestAdamKernelMatchesOptim(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, cfg := range []struct {
		wd  float64
		dec bool
	}{{0, false}, {0.01, false}, {0.01, true}} {
		n := 1000
		w, g := make([]float32, n), make([]float32, n)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
			g[i] = float32(rng.NormFloat64() * math.Pow(10, float64(-rng.Intn(20))))
		}
		g[0], g[1] = 0, 1e-16
		w2 := append([]float32(nil), w...)
		ad := optim.NewAdam(1e-3)
		ad.WeightDecay, ad.Decoupled = cfg.wd, cfg.dec
		m, v := make([]float32, n), make([]float32, n)
		for step := 1; step <= 3; step++ {
			if err := ad.Update([]optim.Param{{Name: "w", W: w, G: g}}); err != nil {
				t.Fatal(err)
			}
			tt := float64(step)
			bc1 := 1 - math.Pow(ad.Beta1, tt)
			inv := float32(1 / math.Sqrt(1-math.Pow(ad.Beta2, tt)))
			simAdam(w2, g, m, v, float32(ad.LR/bc1), float32(ad.Beta1), float32(ad.Beta2), float32(ad.Eps), inv,
				float32(ad.WeightDecay), float32(1-ad.LR*ad.WeightDecay), ad.Decoupled)
		}
		for i := range w {
			if w[i] != w2[i] {
				t.Fatalf("%+v: w[%d] = %g, optim %g", cfg, i, w2[i], w[i])
			}
		}
		st := ad.State("w")
		for i := range m {
			if m[i] != st.M[i] || v[i] != st.V[i] {
				t.Fatalf("%+v: moments differ at %d", cfg, i)
			}
		}
	}
}

func TestUnsupportedOps(t *testing.T) {
	b := nn.NewBuilder("odd", 1, 2, 4, 4)
	x := b.Op("Transpose", map[string]nn.Attr{"perm": nn.Ints(0, 1, 3, 2)}, b.Input())
	x = b.Op("Pad", nil, x, b.Const("pads", []int{8}, []int64{0, 0, 1, 1, 0, 0, 1, 1}, nil))
	x = b.Op("Elu", nil, x)
	x = b.Flatten(x)
	x = b.Linear(x, "fc", 2*6*6, 3)
	m, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(m, engine.Options{Batch: 2, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = newPlan(p)
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v, want an UnsupportedError", err)
	}
	var keys []string
	for k := range ue.Ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msg := err.Error()
	for _, want := range []string{"*ops.Transpose", "*ops.Pad", "Elu (no CUDA kernel yet)", "#"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %s:\n%s", want, msg)
		}
	}
	if _, ok := ue.Ops["*ops.Gemm"]; ok {
		t.Errorf("Gemm reported unsupported: %v", keys)
	}

	p64, err := engine.Compile(m, engine.Options{Batch: 2, Float64: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newPlan(p64); err == nil || !strings.Contains(err.Error(), "float64") {
		t.Errorf("float64 program: %v", err)
	}
}

func TestAsymmetricConvRefused(t *testing.T) {
	b := nn.NewBuilder("asym", 1, 1, 6, 6)
	w := b.Const("w", []int{2, 1, 3, 3}, nil, make([]float32, 18))
	x := b.Op("Conv", map[string]nn.Attr{"kernel_shape": nn.Ints(3, 3), "pads": nn.Ints(0, 0, 1, 1)}, b.Input(), w)
	x = b.Flatten(x)
	m, err := b.Finish(b.Linear(x, "fc", 2*5*5, 2))
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(m, engine.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = newPlan(p)
	if err == nil || !strings.Contains(err.Error(), "asymmetric pads") {
		t.Errorf("got %v", err)
	}
}

func TestPlace(t *testing.T) {
	// Three values: a [0,1] and c [2,3] may share; b [1,2] overlaps both.
	items := []*interval{{val: 0, bytes: 256, def: 0, last: 1}, {val: 1, bytes: 512, def: 1, last: 2}, {val: 2, bytes: 256, def: 2, last: 3}}
	if total := place(items); total != 768 {
		t.Errorf("arena %d bytes, want 768", total)
	}
	if items[0].off != items[2].off {
		t.Errorf("a at %d, c at %d: should share", items[0].off, items[2].off)
	}

}
