package engine

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"tlkit/nn"
	"tlkit/ops"
)

func init() {
	register(lowerConv, "Conv")
	register(lowerGemm, "Gemm")
	register(lowerUnary, "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus", "Softsign", "Abs")
	register(lowerPool, "MaxPool", "AveragePool")
	register(lowerGlobalAvgPool, "GlobalAveragePool")
	register(lowerBatchNorm, "BatchNormalization")
	register(lowerBinary, "Add", "Sub", "Mul", "Div", "PRelu")
	register(lowerFlatten, "Flatten")
	register(lowerReshape, "Reshape")
	register(lowerIdentity, "Identity", "Dropout")
	register(lowerSoftmax, "Softmax", "LogSoftmax")
	register(lowerSqueeze, "Squeeze", "Unsqueeze")
	register(lowerGlobalMaxPool, "GlobalMaxPool")
	register(lowerCrossEntropy, "SoftmaxCrossEntropyLoss")
	register(lowerReduce, "ReduceMean", "ReduceSum")
	register(lowerSplit, "Split")
}

func lowerGlobalMaxPool(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	xs := x.Shape()
	if len(xs) != 4 {
		return notSupported("only 2-D global pooling (4-D NCHW input) is supported, input is %v", xs)
	}
	g, err := ops.NewPoolGeom(xs, [2]int{xs[2], xs[3]}, [2]int{1, 1}, [2]int{1, 1}, [2]int{}, [2]int{}, false)
	if err != nil {
		return err
	}
	y, err := ops.NewMaxPool(x, g)
	if err != nil {
		return err
	}
	return c.out(n, y)
}

// lowerCrossEntropy builds ONNX's SoftmaxCrossEntropyLoss for N×C scores and constant labels,
// with reduction mean or sum: the loss tlkit trains with, as an operator.
func lowerCrossEntropy(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	if len(x.Shape()) != 2 {
		return notSupported("SoftmaxCrossEntropyLoss over spatial dimensions (input %v) is not supported; N×C only", x.Shape())
	}
	if at(n.Inputs, 2) != "" {
		return notSupported("class weights are not supported")
	}
	if n.HasAttr("ignore_index") {
		return notSupported("ignore_index is not supported")
	}
	for _, o := range n.Outputs[1:] {
		if o != "" {
			return notSupported("the log_prob output is not supported")
		}
	}
	red, err := n.StringAttr("reduction", "mean")
	if err != nil {
		return err
	}
	if red != "mean" && red != "sum" {
		return notSupported("reduction %q is not supported (mean or sum)", red)
	}
	lt := c.constOf(at(n.Inputs, 1))
	if lt == nil || lt.Ints == nil {
		return notSupported("the labels must be a constant integer tensor")
	}
	labels := &nn.Tensor{Name: n.Inputs[1] + "#float", Shape: lt.Shape, Data: make([]float32, len(lt.Ints)), Role: nn.Const}
	for i, v := range lt.Ints {
		labels.Data[i] = float32(v)
	}
	y, err := ops.NewCrossEntropy(x, c.tensorNode(labels), red == "sum")
	if err != nil {
		return err
	}
	return c.out(n, y)
}

// spatial2 reads a 2-element spatial attribute (kernel_shape, strides, dilations).
func spatial2(n *nn.Node, name string, def int) ([2]int, error) {
	v, err := n.IntsAttr(name, nil)
	if err != nil {
		return [2]int{}, err
	}
	if v == nil {
		return [2]int{def, def}, nil
	}
	if len(v) != 2 {
		return [2]int{}, notSupported("%s = %v: only 2-D (NCHW) is supported", name, v)
	}
	return [2]int{int(v[0]), int(v[1])}, nil
}

// pads2 resolves ONNX padding (pads or auto_pad) for a 2-D window into begin and end pads.
func pads2(n *nn.Node, in, k, s, d [2]int) (begin, end [2]int, err error) {
	auto, err := n.StringAttr("auto_pad", "NOTSET")
	if err != nil {
		return
	}
	switch auto {
	case "NOTSET", "":
		p, e := n.IntsAttr("pads", nil)
		if e != nil {
			return begin, end, e
		}
		if p == nil {
			return
		}
		if len(p) != 4 {
			return begin, end, fmt.Errorf("pads = %v: want 4 values for 2-D", p)
		}
		for _, v := range p {
			if v < 0 {
				return begin, end, notSupported("pads = %v: negative pads are not supported", p)
			}
		}
		return [2]int{int(p[0]), int(p[1])}, [2]int{int(p[2]), int(p[3])}, nil
	case "VALID":
		return
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < 2; i++ {
			out := (in[i] + s[i] - 1) / s[i]
			total := max((out-1)*s[i]+(k[i]-1)*d[i]+1-in[i], 0)
			small := total / 2
			if auto == "SAME_UPPER" {
				begin[i], end[i] = small, total-small
			} else {
				begin[i], end[i] = total-small, small
			}
		}
		return
	}
	return begin, end, fmt.Errorf("auto_pad = %q is not a known mode", auto)
}

func lowerConv(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	w, err := c.in(n, 1)
	if err != nil {
		return err
	}
	b, err := c.optIn(n, 2)
	if err != nil {
		return err
	}
	if len(x.Shape()) != 4 {
		return notSupported("only 2-D convolution (4-D NCHW input) is supported, input is %v", x.Shape())
	}
	ws := w.Shape()
	k := [2]int{ws[2], ws[3]}
	if ks, err := spatial2(n, "kernel_shape", 0); err != nil {
		return err
	} else if n.HasAttr("kernel_shape") && ks != k {
		return fmt.Errorf("kernel_shape %v disagrees with weights %v", ks, ws)
	}
	s, err := spatial2(n, "strides", 1)
	if err != nil {
		return err
	}
	d, err := spatial2(n, "dilations", 1)
	if err != nil {
		return err
	}
	xs := x.Shape()
	pb, pe, err := pads2(n, [2]int{xs[2], xs[3]}, k, s, d)
	if err != nil {
		return err
	}
	group, err := n.IntAttr("group", 1)
	if err != nil {
		return err
	}
	var act *ops.Unary
	if a := c.fusedAct[n.Name]; a != nil {
		act = &ops.Unary{Kind: unaryKinds[a.Op]} // ReLU, sigmoid and tanh have no parameters
	}
	y, err := ops.NewConv2DAct(x, w, b, s, d, pb, pe, int(group), act)
	if err != nil {
		return err
	}
	if c.p.Opts.ConstantWeights && !c.p.Opts.Train {
		y.Op().(*ops.Conv2D).ConstWeights = true
	}
	if act != nil {
		// The activation that reads only this convolution is computed by it; its output is this one.
		c.vals[c.fusedAct[n.Name].Outputs[0]] = y
	}
	return c.out(n, y)
}

func lowerGemm(c *lowering, n *nn.Node) error {
	a, err := c.in(n, 0)
	if err != nil {
		return err
	}
	b, err := c.in(n, 1)
	if err != nil {
		return err
	}
	cc, err := c.optIn(n, 2)
	if err != nil {
		return err
	}
	ta, err := n.IntAttr("transA", 0)
	if err != nil {
		return err
	}
	tb, err := n.IntAttr("transB", 0)
	if err != nil {
		return err
	}
	alpha, err := n.FloatAttr("alpha", 1)
	if err != nil {
		return err
	}
	beta, err := n.FloatAttr("beta", 1)
	if err != nil {
		return err
	}
	y, err := ops.NewGemm(a, b, cc, ta != 0, tb != 0, float64(alpha), float64(beta))
	if err != nil {
		return err
	}
	return c.out(n, y)
}

var unaryKinds = map[string]ops.UnaryKind{"Relu": ops.Relu, "LeakyRelu": ops.LeakyRelu, "Sigmoid": ops.Sigmoid, "Tanh": ops.Tanh,
	"Clip": ops.Clip, "HardSigmoid": ops.HardSigmoid, "HardSwish": ops.HardSwish, "Elu": ops.Elu, "Selu": ops.Selu,
	"Softplus": ops.Softplus, "Softsign": ops.Softsign, "Abs": ops.Abs}

func lowerUnary(c *lowering, n *nn.Node) error {
	if c.fused[n.Name] {
		return nil // computed by the BatchNorm before it
	}
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	kind := unaryKinds[n.Op]
	p := ops.UnaryParams{Min: math.Inf(-1), Max: math.Inf(1)}
	switch kind {
	case ops.LeakyRelu, ops.Elu:
		def := float32(0.01)
		if kind == ops.Elu {
			def = 1
		}
		a, err := n.FloatAttr("alpha", def)
		if err != nil {
			return err
		}
		p.Alpha = float64(a)
	case ops.Selu:
		a, err := n.FloatAttr("alpha", 1.67326319217681884765625)
		if err != nil {
			return err
		}
		g, err := n.FloatAttr("gamma", 1.05070102214813232421875)
		if err != nil {
			return err
		}
		p.Alpha, p.Beta = float64(a), float64(g)
	case ops.HardSigmoid:
		a, err := n.FloatAttr("alpha", 0.2)
		if err != nil {
			return err
		}
		b, err := n.FloatAttr("beta", 0.5)
		if err != nil {
			return err
		}
		p.Alpha, p.Beta = float64(a), float64(b)
	case ops.Clip:
		if c.p.Model.Opset > 0 && c.p.Model.Opset < 11 {
			lo, err := n.FloatAttr("min", float32(math.Inf(-1)))
			if err != nil {
				return err
			}
			hi, err := n.FloatAttr("max", float32(math.Inf(1)))
			if err != nil {
				return err
			}
			p.Min, p.Max = float64(lo), float64(hi)
			break
		}
		if v, ok, err := c.scalarIn(n, 1); err != nil {
			return err
		} else if ok {
			p.Min = v
		}
		if v, ok, err := c.scalarIn(n, 2); err != nil {
			return err
		} else if ok {
			p.Max = v
		}
	}
	y, err := ops.NewUnary(x, kind, p)
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerPool(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return notSupported("the Indices output is not supported")
	}
	xs := x.Shape()
	if len(xs) != 4 {
		return notSupported("only 2-D pooling (4-D NCHW input) is supported, input is %v", xs)
	}
	if !n.HasAttr("kernel_shape") {
		return fmt.Errorf("kernel_shape is required")
	}
	k, err := spatial2(n, "kernel_shape", 0)
	if err != nil {
		return err
	}
	s, err := spatial2(n, "strides", 1)
	if err != nil {
		return err
	}
	d, err := spatial2(n, "dilations", 1)
	if err != nil {
		return err
	}
	pb, pe, err := pads2(n, [2]int{xs[2], xs[3]}, k, s, d)
	if err != nil {
		return err
	}
	ceil, err := n.IntAttr("ceil_mode", 0)
	if err != nil {
		return err
	}
	if so, err := n.IntAttr("storage_order", 0); err != nil || so != 0 {
		return notSupported("storage_order %d is not supported", so)
	}
	g, err := ops.NewPoolGeom(xs, k, s, d, pb, pe, ceil != 0)
	if err != nil {
		return err
	}
	var y *G.Node
	if n.Op == "MaxPool" {
		y, err = ops.NewMaxPool(x, g)
	} else {
		cip, e := n.IntAttr("count_include_pad", 0)
		if e != nil {
			return e
		}
		g.CountIncludePad = cip != 0
		y, err = ops.NewAvgPool(x, g)
	}
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerGlobalAvgPool(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	y, err := ops.NewGlobalAvgPool(x)
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerBatchNorm(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	scale, err := c.in(n, 1)
	if err != nil {
		return err
	}
	bias, err := c.in(n, 2)
	if err != nil {
		return err
	}
	var stats [2][]float32
	for i := 0; i < 2; i++ {
		name := ""
		if 3+i < len(n.Inputs) {
			name = n.Inputs[3+i]
		}
		t := c.p.Model.Tensor(name)
		if t == nil || t.Data == nil {
			return fmt.Errorf("running statistic %q must be a float tensor of the model", name)
		}
		stats[i] = t.Data
	}
	eps, err := n.FloatAttr("epsilon", 1e-5)
	if err != nil {
		return err
	}
	mom, err := n.FloatAttr("momentum", 0.9)
	if err != nil {
		return err
	}
	for _, o := range n.Outputs[1:] {
		if o != "" {
			return notSupported("only the first output (Y) is supported; running statistics are updated in place")
		}
	}
	training := c.p.Opts.Train && !c.p.Opts.FreezeBN
	relu := c.fusedAct[n.Name] != nil
	y, err := ops.NewBatchNorm(x, scale, bias, training, float64(eps), float64(mom), stats[0], stats[1], relu)
	if err != nil {
		return err
	}
	if relu {
		// The ReLU that reads only this BatchNorm is computed by it; its output is this one.
		c.vals[c.fusedAct[n.Name].Outputs[0]] = y
	}
	return c.out(n, y)
}

var binaryKinds = map[string]ops.BinaryKind{"Add": ops.Add, "Sub": ops.Sub, "Mul": ops.Mul, "Div": ops.Div, "PRelu": ops.PRelu}

func lowerBinary(c *lowering, n *nn.Node) error {
	if ta, tb := c.constOf(at(n.Inputs, 0)), c.constOf(at(n.Inputs, 1)); ta != nil && tb != nil && ta.Ints != nil && tb.Ints != nil {
		return foldIntArith(c, n, ta, tb)
	}
	a, err := c.in(n, 0)
	if err != nil {
		return err
	}
	b, err := c.in(n, 1)
	if err != nil {
		return err
	}
	var act *ops.Unary
	if f := c.fusedAct[n.Name]; f != nil {
		act = &ops.Unary{Kind: unaryKinds[f.Op]}
	}
	y, err := ops.NewBinaryAct(binaryKinds[n.Op], a, b, act)
	if err != nil {
		return err
	}
	if act != nil {
		// The activation that reads only this addition is computed by it; its output is this one.
		c.vals[c.fusedAct[n.Name].Outputs[0]] = y
	}
	return c.out(n, y)
}

// reshapeConst gives a constant input a new shape (Unsqueeze, Reshape... of shape vectors).
func reshapeConst(c *lowering, n *nn.Node, t *nn.Tensor, s []int) error {
	if nn.Numel(s) != t.Size() {
		return fmt.Errorf("cannot reshape constant %v to %v", t.Shape, s)
	}
	out := *t
	out.Shape = append([]int{}, s...)
	return c.setConst(n, &out)
}

// inShape is the shape of input i: a constant's or a graph value's.
func (c *lowering) inShape(n *nn.Node, i int) (tensor.Shape, *nn.Tensor, *G.Node, error) {
	if t := c.constOf(at(n.Inputs, i)); t != nil && t.Ints != nil {
		return tensor.Shape(t.Shape), t, nil, nil
	}
	x, err := c.in(n, i)
	if err != nil {
		return nil, nil, nil, err
	}
	return x.Shape(), nil, x, nil
}

func reshapeOrConst(c *lowering, n *nn.Node, ct *nn.Tensor, x *G.Node, s []int) error {
	if ct != nil {
		return reshapeConst(c, n, ct, s)
	}
	return reshape(c, n, x, s)
}

func reshape(c *lowering, n *nn.Node, x *G.Node, s []int) error {
	if tensor.Shape(s).Eq(x.Shape()) {
		return c.out(n, x)
	}
	y, err := ops.NewReshape(x, tensor.Shape(s))
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerFlatten(c *lowering, n *nn.Node) error {
	xs, ct, x, err := c.inShape(n, 0)
	if err != nil {
		return err
	}
	axis, err := n.IntAttr("axis", 1)
	if err != nil {
		return err
	}
	if axis < 0 {
		axis += int64(len(xs))
	}
	if axis < 0 || int(axis) > len(xs) {
		return fmt.Errorf("axis %d out of range for shape %v", axis, xs)
	}
	outer := 1
	for _, d := range xs[:axis] {
		outer *= d
	}
	return reshapeOrConst(c, n, ct, x, []int{outer, xs.TotalSize() / outer})
}

func lowerReshape(c *lowering, n *nn.Node) error {
	xs, ct, x, err := c.inShape(n, 0)
	if err != nil {
		return err
	}
	target, err := c.ints(n, 1)
	if err != nil {
		return err
	}
	allowZero, err := n.IntAttr("allowzero", 0)
	if err != nil {
		return err
	}
	if fb := c.p.Model.Meta["onnx.fixed_batch"]; ct == nil && len(target) > 0 && fb != "" && fmt.Sprint(target[0]) == fb &&
		len(xs) > 0 && xs[0] == c.p.Opts.Batch && fmt.Sprint(c.p.Opts.Batch) != fb {
		// A file exported at a fixed batch size spells that size into its Reshape targets; keep
		// the program's batch instead.
		target = append([]int64{0}, target[1:]...)
	}
	s, err := ReshapeTarget(xs, target, allowZero != 0)
	if err != nil {
		return err
	}
	return reshapeOrConst(c, n, ct, x, s)
}

// ReshapeTarget resolves ONNX Reshape's shape argument against the input shape: 0 copies the
// input's dimension (unless allowzero), one -1 takes what is left.
func ReshapeTarget(in tensor.Shape, target []int64, allowZero bool) ([]int, error) {
	s := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", target)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d of a %d-D input", target, i, len(in))
			}
			s[i] = in[i]
		case d < 0:
			return nil, fmt.Errorf("shape %v has a negative dimension", target)
		default:
			s[i] = int(d)
		}
		known *= s[i]
	}
	total := in.TotalSize()
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, target)
		}
		s[infer] = total / known
	} else if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, target)
	}
	return s, nil
}

func lowerIdentity(c *lowering, n *nn.Node) error {
	if t := c.constOf(n.Inputs[0]); t != nil {
		out := *t
		return c.setConst(n, &out)
	}
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	for _, o := range n.Outputs[1:] {
		if o != "" {
			return notSupported("the mask output is not supported")
		}
	}
	if n.Op == "Dropout" {
		// Dropout computes in inference mode (identity). A training-mode Dropout draws a random
		// mask, which tlkit does not implement; refuse it rather than silently computing identity.
		ratio := 0.5
		if t := c.constOf(at(n.Inputs, 1)); t != nil && len(values(t)) == 1 {
			ratio = values(t)[0]
		}
		if t := c.constOf(at(n.Inputs, 2)); t != nil {
			if v := values(t); len(v) == 1 && v[0] != 0 && ratio != 0 {
				return notSupported("training-mode Dropout (a random mask) is not supported")
			}
		} else if at(n.Inputs, 2) != "" {
			return notSupported("Dropout with a computed training_mode is not supported")
		}
		if r, err := n.IntAttr("is_test", 1); err == nil && r == 0 && c.p.Model.Opset < 7 {
			return notSupported("training-mode Dropout (is_test=0) is not supported")
		}
	}
	return c.out(n, x)
}

func lowerSoftmax(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	xs := x.Shape()
	legacy := c.p.Model.Opset > 0 && c.p.Model.Opset < 13
	def := int64(-1)
	if legacy {
		def = 1
	}
	axis, err := axisAttr(n, def, len(xs))
	if err != nil {
		return err
	}
	log := n.Op == "LogSoftmax"
	if !legacy || int(axis) == len(xs)-1 {
		y, err := ops.NewSoftmax(x, int(axis), log)
		if err != nil {
			return err
		}
		return c.out(n, y)
	}
	// Before opset 13 the input is coerced to 2-D at axis and normalised over the second part.
	outer := 1
	for _, d := range xs[:axis] {
		outer *= d
	}
	x2, err := ops.NewReshape(x, tensor.Shape{outer, xs.TotalSize() / outer})
	if err != nil {
		return err
	}
	y2, err := ops.NewSoftmax(x2, 1, log)
	if err != nil {
		return err
	}
	y, err := ops.NewReshape(y2, xs)
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerSqueeze(c *lowering, n *nn.Node) error {
	xs, ct, x, err := c.inShape(n, 0)
	if err != nil {
		return err
	}
	axes, err := c.intsAttrOrInput(n, "axes")
	if err != nil {
		return err
	}
	var s []int
	if n.Op == "Squeeze" {
		drop := map[int]bool{}
		for _, a := range axes {
			if a < 0 {
				a += int64(len(xs))
			}
			if a < 0 || int(a) >= len(xs) || xs[a] != 1 {
				return fmt.Errorf("cannot squeeze axis %d of shape %v", a, xs)
			}
			drop[int(a)] = true
		}
		for i, d := range xs {
			if (axes == nil && d == 1) || drop[i] {
				continue
			}
			s = append(s, d)
		}
	} else {
		if axes == nil {
			return fmt.Errorf("axes are required")
		}
		r := len(xs) + len(axes)
		ins := map[int]bool{}
		for _, a := range axes {
			if a < 0 {
				a += int64(r)
			}
			if a < 0 || int(a) >= r || ins[int(a)] {
				return fmt.Errorf("bad axis %d for output rank %d", a, r)
			}
			ins[int(a)] = true
		}
		j := 0
		for i := 0; i < r; i++ {
			if ins[i] {
				s = append(s, 1)
			} else {
				s = append(s, xs[j])
				j++
			}
		}
	}
	return reshapeOrConst(c, n, ct, x, s)
}

// foldIntArith evaluates integer arithmetic on shape vectors (same shape or a scalar operand).
func foldIntArith(c *lowering, n *nn.Node, a, b *nn.Tensor) error {
	out := &nn.Tensor{Shape: a.Shape}
	if len(a.Ints) < len(b.Ints) {
		out.Shape = b.Shape
	}
	size := max(len(a.Ints), len(b.Ints))
	pick := func(v []int64, i int) (int64, error) {
		switch len(v) {
		case 1:
			return v[0], nil
		case size:
			return v[i], nil
		}
		return 0, fmt.Errorf("cannot broadcast constant operands of sizes %d and %d", len(a.Ints), len(b.Ints))
	}
	for i := 0; i < size; i++ {
		x, err := pick(a.Ints, i)
		if err != nil {
			return err
		}
		y, err := pick(b.Ints, i)
		if err != nil {
			return err
		}
		var r int64
		switch n.Op {
		case "Add":
			r = x + y
		case "Sub":
			r = x - y
		case "Mul":
			r = x * y
		case "Div":
			if y == 0 {
				return fmt.Errorf("division by zero in a constant expression")
			}
			r = x / y
		}
		out.Ints = append(out.Ints, r)
	}
	return c.setConst(n, out)
}

// lowerReduce lowers ReduceMean and ReduceSum: a sum over the axes (times 1/count for the
// mean), then a reshape that drops them unless keepdims. The axes are an attribute, or from
// opset 13 (ReduceSum) and 18 (ReduceMean) an optional constant input; without axes every axis
// is reduced, or with noop_with_empty_axes none.
func lowerReduce(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	xs := x.Shape()
	axes, err := c.intsAttrOrInput(n, "axes")
	if err != nil {
		return err
	}
	keep, err := n.IntAttr("keepdims", 1)
	if err != nil {
		return err
	}
	noop, err := n.IntAttr("noop_with_empty_axes", 0)
	if err != nil {
		return err
	}
	if len(axes) == 0 {
		if noop != 0 {
			return c.out(n, x)
		}
		for i := range xs {
			axes = append(axes, int64(i))
		}
	}
	reduced := map[int]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(len(xs))
		}
		if a < 0 || int(a) >= len(xs) || reduced[int(a)] {
			return fmt.Errorf("bad axes %v for shape %v", axes, xs)
		}
		reduced[int(a)] = true
	}
	kept := append(tensor.Shape(nil), xs...) // the reduced axes as 1
	var dropped []int                        // the shape without them
	count := 1
	for i, d := range xs {
		if reduced[i] {
			kept[i], count = 1, count*d
		} else {
			dropped = append(dropped, d)
		}
	}
	if keep == 0 && len(dropped) == 0 {
		return notSupported("%s of every axis to a scalar (keepdims=0) is not supported", n.Op)
	}
	scale := 1.0
	if n.Op == "ReduceMean" {
		scale = 1 / float64(count)
	}
	y, err := ops.ReduceTo(x, kept, scale)
	if err != nil {
		return err
	}
	if keep == 0 {
		return reshape(c, n, y, dropped)
	}
	return c.out(n, y)
}

// lowerSplit lowers Split into one Slice per output along the axis: sizes from the split input
// (opset 13 on) or attribute, or equal parts (the last one smaller when the axis does not divide:
// num_outputs, opset 18).
func lowerSplit(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	xs := x.Shape()
	axis, err := axisAttr(n, 0, len(xs))
	if err != nil {
		return err
	}
	split, err := c.intsAttrOrInput(n, "split")
	if err != nil {
		return err
	}
	d, k := xs[axis], len(n.Outputs)
	if split == nil {
		part := (d + k - 1) / k
		for i := 0; i < k; i++ {
			split = append(split, int64(min(part, d-i*part)))
		}
	}
	if len(split) != k {
		return fmt.Errorf("%d split sizes for %d outputs", len(split), k)
	}
	total := 0
	for _, s := range split {
		if s < 0 {
			return fmt.Errorf("negative split size in %v", split)
		}
		total += int(s)
	}
	if total != d {
		return fmt.Errorf("split sizes %v do not add up to axis %d's %d", split, axis, d)
	}
	starts := make([]int, len(xs))
	for i, s := range split {
		if s == 0 {
			return notSupported("an empty output (split size 0) is not supported")
		}
		size := append(tensor.Shape(nil), xs...)
		size[axis] = int(s)
		y, err := ops.NewSlice(x, starts, size)
		if err != nil {
			return err
		}
		c.vals[n.Outputs[i]] = y
		starts[axis] += int(s)
	}
	return nil
}
