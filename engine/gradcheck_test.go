package engine

import (
	"math"
	"math/rand"
	"testing"

	"tlkit/models"
	"tlkit/nn"
)

// gradCheck compares the program's analytic gradients (parameters and input) with central
// finite differences of the loss, in float64, on a sample of coordinates.
func gradCheck(t *testing.T, m *nn.Model, batch int, sample []int, classes int, opts Options) {
	t.Helper()
	opts.Batch, opts.Train, opts.Float64, opts.InputGrad = batch, true, true, true
	p, err := Compile(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	x := p.Input().Data().([]float64)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := p.Target().Data().([]float64)
	for i := range y {
		y[i] = float64(rng.Intn(classes))
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		return p.Loss()
	}
	check := func(what string, v []float64, g []float64) {
		n := len(v)
		idx := rng.Perm(n)
		if len(idx) > 12 {
			idx = idx[:12]
		}
		for _, i := range idx {
			orig := v[i]
			const h = 1e-6
			v[i] = orig + h
			lp := loss()
			v[i] = orig - h
			lm := loss()
			v[i] = orig
			num := (lp - lm) / (2 * h)
			if d := math.Abs(num - g[i]); d > 1e-6+1e-5*math.Abs(num) {
				t.Errorf("%s[%d]: analytic %.10g, numeric %.10g", what, i, g[i], num)
			}
		}
	}
	loss()
	grads := p.Grads()
	an := make([][]float64, len(grads))
	for i, g := range grads {
		an[i] = append([]float64(nil), g.Value.Data().([]float64)...)
	}
	ig := append([]float64(nil), p.InputGrad().Data().([]float64)...)
	// A vacuous check (all gradients ~0) would pass any implementation; insist on signal.
	for i, g := range grads {
		mx := 0.0
		for _, v := range an[i] {
			mx = math.Max(mx, math.Abs(v))
		}
		if mx < 1e-4 {
			t.Errorf("%s: largest gradient %.3g is too small for a meaningful check", g.Param.Name, mx)
		}
	}
	for i, g := range grads {
		check(g.Param.Name, p.Param(g.Param.Name).Data().([]float64), an[i])
	}
	check("input", x, ig)
}

func TestGradSeedModels(t *testing.T) {
	for _, name := range models.Names() {
		t.Run(name, func(t *testing.T) {
			m, err := models.Build(name, 1, 10, []int{1, 28, 28})
			if err != nil {
				t.Fatal(err)
			}
			gradCheck(t, m, 3, []int{1, 28, 28}, 10, Options{})
		})
	}
}

// miniResNet uses every op a ResNet needs, plus the other activations, in one small graph.
func miniResNet(t *testing.T, act string) *nn.Model {
	b := nn.NewBuilder("mini", 3, 3, 9, 9)
	x := b.Conv(b.Input(), "conv1", 3, 4, 3, nn.ConvOpts{Stride: 2, Pad: 1})
	x = b.BatchNorm(x, "bn1", 4)
	x = b.Act(x, act)
	x = b.MaxPool(x, 3, 2, 1)
	skip := x
	y := b.Conv(x, "l1.conv1", 4, 4, 3, nn.ConvOpts{Pad: 1})
	y = b.BatchNorm(y, "l1.bn1", 4)
	y = b.Act(y, "Relu")
	y = b.Conv(y, "l1.conv2", 4, 4, 3, nn.ConvOpts{Pad: 1})
	y = b.BatchNorm(y, "l1.bn2", 4)
	x = b.Act(b.Add(y, skip), "Relu")
	d := b.Conv(x, "down.conv", 4, 6, 1, nn.ConvOpts{Stride: 2})
	d = b.BatchNorm(d, "down.bn", 6)
	x = b.GlobalAvgPool(d)
	x = b.Flatten(x)
	x = b.Linear(x, "fc", 6, 5)
	m, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	// Non-trivial BatchNorm parameters and statistics, so inference mode is tested for real.
	rng := rand.New(rand.NewSource(3))
	for _, tn := range m.Tensors() {
		switch {
		case len(tn.Name) > 7 && tn.Name[len(tn.Name)-7:] == ".weight" && len(tn.Shape) == 1:
			for i := range tn.Data {
				tn.Data[i] = float32(0.5 + rng.Float64())
			}
		case len(tn.Name) > 4 && tn.Name[len(tn.Name)-4:] == "_var":
			for i := range tn.Data {
				tn.Data[i] = float32(0.5 + rng.Float64())
			}
		case len(tn.Name) > 5 && tn.Name[len(tn.Name)-5:] == "_mean", tn.Role == nn.Param && len(tn.Shape) == 1:
			for i := range tn.Data {
				tn.Data[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
	}
	return m
}

func TestGradMiniResNet(t *testing.T) {
	for _, act := range []string{"Relu", "Tanh", "Sigmoid", "HardSwish", "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign", "Abs"} {
		t.Run(act+"/train-bn", func(t *testing.T) { gradCheck(t, miniResNet(t, act), 3, []int{3, 9, 9}, 5, Options{}) })
		t.Run(act+"/frozen-bn", func(t *testing.T) { gradCheck(t, miniResNet(t, act), 3, []int{3, 9, 9}, 5, Options{FreezeBN: true}) })
	}
}

// layoutModel exercises the data-movement and arithmetic ops between two convolutions.
func layoutModel(t *testing.T) *nn.Model {
	b := nn.NewBuilder("layout", 5, 2, 6, 6)
	x := b.Conv(b.Input(), "conv", 2, 4, 3, nn.ConvOpts{Pad: 1, Bias: true})    // N,4,6,6
	tr := b.Op("Transpose", map[string]nn.Attr{"perm": nn.Ints(0, 1, 3, 2)}, x) // N,4,6,6
	pads := b.Const("pads", []int{8}, []int64{0, 0, 1, 0, 0, 0, 0, 2}, nil)     // N,4,7,8
	p := b.Op("Pad", map[string]nn.Attr{"mode": nn.String("constant")}, tr, pads)
	starts := b.Const("starts", []int{2}, []int64{1, 1}, nil)
	ends := b.Const("ends", []int{2}, []int64{7, 7}, nil)
	axes := b.Const("axes", []int{2}, []int64{2, 3}, nil)
	sl := b.Op("Slice", nil, p, starts, ends, axes)                     // N,4,6,6
	cat := b.Op("Concat", map[string]nn.Attr{"axis": nn.Int(1)}, sl, x) // N,8,6,6
	scale := b.Const("scale", []int{8, 1, 1}, nil, []float32{1, 2, 3, 0.5, -1, 1.5, 2, 0.25})
	mul := b.Op("Mul", nil, cat, scale)
	div := b.Op("Div", nil, mul, b.Const("den", []int{1, 8, 1, 1}, nil, []float32{2, 3, 4, 5, 6, 7, 8, 9}))
	sub := b.Op("Sub", nil, div, cat)
	sm := b.Op("Softmax", map[string]nn.Attr{"axis": nn.Int(1)}, sub)
	ls := b.Op("LogSoftmax", map[string]nn.Attr{"axis": nn.Int(-1)}, sub)
	gap := b.GlobalAvgPool(b.Add(b.Op("Mul", nil, sm, b.Const("ten", nil, nil, []float32{10})), ls))
	shp := b.Op("Shape", nil, gap)
	zero := b.Const("zero", nil, []int64{0}, nil)
	bdim := b.Op("Gather", map[string]nn.Attr{"axis": nn.Int(0)}, shp, zero)
	bvec := b.Op("Unsqueeze", map[string]nn.Attr{"axes": nn.Ints(0)}, bdim)
	target := b.Op("Concat", map[string]nn.Attr{"axis": nn.Int(0)}, bvec, b.Const("minus1", []int{1}, []int64{-1}, nil))
	flat := b.Op("Reshape", nil, gap, target) // N,8
	w := b.Const("w", []int{8, 3}, nil, []float32{0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8, 0.9, -1, 1.1, 1.2, 0.1, 0.2, -0.3, 0.4, 0.5, 0.6, -0.7, 0.8, 0.9, 1, -1.1, 1.2})
	mm := b.Op("MatMul", nil, flat, w)
	out := b.Linear(mm, "fc", 3, 4)
	m, err := b.Finish(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range m.Tensors() {
		if tn.Role == nn.Const && tn.Data != nil {
			tn.Role = nn.Param // train the float constants too, so their gradients are checked
		}
	}
	return m
}

func TestGradLayoutOps(t *testing.T) {
	gradCheck(t, layoutModel(t), 3, []int{2, 6, 6}, 4, Options{})
}

// No gorgonia operator runs in a tlkit model: every computing step is one of tlkit's ops, except
// the element-wise additions gorgonia's autodiff inserts to sum gradients (run by the executor's
// own loop). This keeps gorgonia's known-wrong ops (AveragePool, 4-D reductions, BatchNorm's
// inference gradient, Dropout's gradient) out of every model.
func TestOnlyTlkitOpsRun(t *testing.T) {
	ms := map[string]*nn.Model{"resnet34": nil}
	var err error
	if ms["resnet34"], err = models.ResNet(34, 8, 0, 10, []int{3, 32, 32}); err != nil {
		t.Fatal(err)
	}
	for _, name := range models.Names() {
		if ms[name], err = models.Build(name, 0, 10, []int{1, 28, 28}); err != nil {
			t.Fatal(err)
		}
	}
	ms["layout"] = layoutModel(t)
	for name, m := range ms {
		for _, o := range []Options{{Batch: 2}, {Batch: 2, Train: true}, {Batch: 2, Train: true, FreezeBN: true}} {
			if name == "layout" {
				o.Batch = 3
			}
			p, err := Compile(m, o)
			if err != nil {
				t.Fatal(name, err)
			}
			for _, s := range p.Schedule() {
				if s.Kind == StepGeneric {
					t.Errorf("%s %+v: gorgonia op %v runs", name, o, s.Node.Op())
				}
			}
		}
	}
}

// TestGradReduce: PRelu with a per-channel slope, ReduceMean over the spatial axes without
// keepdims (a ShuffleNetV2-style head) and ReduceSum over channels with keepdims, checked
// against finite differences (the slope's gradient included).
func TestGradReduce(t *testing.T) {
	b := nn.NewBuilder("reduce", 5, 2, 5, 5)
	x := b.Conv(b.Input(), "conv", 2, 4, 3, nn.ConvOpts{Pad: 1, Bias: true}) // N,4,5,5
	x = b.Op("PRelu", nil, x, b.Const("slope", []int{4, 1, 1}, nil, []float32{0.1, -0.2, 0.3, 0.5}))
	s := b.Op("ReduceSum", map[string]nn.Attr{"keepdims": nn.Int(1)}, x, b.Const("axes", []int{1}, []int64{1}, nil))
	x = b.Op("Mul", nil, x, b.Op("Tanh", nil, s)) // N,4,5,5
	m := b.Op("ReduceMean", map[string]nn.Attr{"axes": nn.Ints(2, -1), "keepdims": nn.Int(0)}, x)
	out := b.Linear(m, "fc", 4, 3)
	model, err := b.Finish(out)
	if err != nil {
		t.Fatal(err)
	}
	model.Tensor("slope").Role = nn.Param
	gradCheck(t, model, 3, []int{2, 5, 5}, 3, Options{})
}

// TestGradSplit: a ShuffleNetV2-style unit (Split of the channels, one branch transformed, the
// halves concatenated), checked against finite differences.
func TestGradSplit(t *testing.T) {
	b := nn.NewBuilder("split", 5, 2, 5, 5)
	x := b.Conv(b.Input(), "conv", 2, 4, 3, nn.ConvOpts{Pad: 1, Bias: true}) // N,4,5,5
	parts := b.OpN("Split", map[string]nn.Attr{"axis": nn.Int(1)}, 2, x, b.Const("split", []int{2}, []int64{1, 3}, nil))
	y := b.Op("Concat", map[string]nn.Attr{"axis": nn.Int(1)}, b.Op("Tanh", nil, parts[1]), b.Op("Mul", nil, parts[0], parts[0]))
	out := b.Linear(b.Flatten(b.GlobalAvgPool(y)), "fc", 4, 3)
	model, err := b.Finish(out)
	if err != nil {
		t.Fatal(err)
	}
	gradCheck(t, model, 3, []int{2, 5, 5}, 3, Options{})
}
