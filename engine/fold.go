package engine

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"tlkit/nn"
	"tlkit/ops"
)

// Exporters surround Flatten and Reshape with small computations on shapes (Shape, Gather,
// Unsqueeze, Concat, Cast, ConstantOfShape, Slice). They are evaluated here, while the graph is
// built for a batch size, into compile-time constants: they never run as ops, and the batch
// they see is the program's own.

func init() {
	register(lowerConstant, "Constant")
	register(lowerShape, "Shape")
	register(lowerGather, "Gather")
	register(lowerCast, "Cast")
	register(lowerConstantOfShape, "ConstantOfShape")
	register(lowerSlice, "Slice")
	register(lowerConcat, "Concat")
	register(lowerTranspose, "Transpose")
	register(lowerPad, "Pad")
	register(lowerMatMul, "MatMul")
}

// constOf returns the compile-time value of a value name: a Const tensor of the model or a
// folded result; nil when the value is computed at run time.
func (c *lowering) constOf(name string) *nn.Tensor {
	if name == "" {
		return nil
	}
	if t, ok := c.consts[name]; ok {
		return t
	}
	if _, computed := c.vals[name]; computed {
		return nil
	}
	if t := c.p.Model.Tensor(name); t != nil && (t.Role == nn.Const || t.Ints != nil) {
		return t
	}
	return nil
}

func (c *lowering) setConst(n *nn.Node, t *nn.Tensor) error {
	if len(n.Outputs) == 0 {
		return fmt.Errorf("has no output")
	}
	t.Name = n.Outputs[0]
	t.Role = nn.Const
	c.consts[t.Name] = t
	return nil
}

// allConst reports whether every present input of n is a compile-time constant.
func (c *lowering) allConst(n *nn.Node) bool {
	for _, in := range n.Inputs {
		if in != "" && c.constOf(in) == nil {
			return false
		}
	}
	return true
}

// values returns a constant's elements as float64s.
func values(t *nn.Tensor) []float64 {
	if t.Ints != nil {
		v := make([]float64, len(t.Ints))
		for i, x := range t.Ints {
			v[i] = float64(x)
		}
		return v
	}
	v := make([]float64, len(t.Data))
	for i, x := range t.Data {
		v[i] = float64(x)
	}
	return v
}

// fromValues builds a constant of the given kind (ints or floats) and shape.
func fromValues(v []float64, shape []int, isInt bool) *nn.Tensor {
	t := &nn.Tensor{Shape: append([]int{}, shape...)}
	if isInt {
		t.Ints = make([]int64, len(v))
		for i, x := range v {
			t.Ints[i] = int64(x)
		}
	} else {
		t.Data = make([]float32, len(v))
		for i, x := range v {
			t.Data[i] = float32(x)
		}
	}
	return t
}

func lowerConstant(c *lowering, n *nn.Node) error {
	for name, a := range n.Attrs {
		switch name {
		case "value":
			if a.Tensor == nil {
				return fmt.Errorf("value is not a tensor")
			}
			t := *a.Tensor
			return c.setConst(n, &t)
		case "value_float":
			return c.setConst(n, &nn.Tensor{Data: []float32{a.Float}})
		case "value_floats":
			return c.setConst(n, &nn.Tensor{Shape: []int{len(a.Floats)}, Data: append([]float32{}, a.Floats...)})
		case "value_int":
			return c.setConst(n, &nn.Tensor{Ints: []int64{a.Int}})
		case "value_ints":
			return c.setConst(n, &nn.Tensor{Shape: []int{len(a.Ints)}, Ints: append([]int64{}, a.Ints...)})
		}
	}
	return fmt.Errorf("no value attribute this version supports (value, value_float(s), value_int(s))")
}

func lowerShape(c *lowering, n *nn.Node) error {
	var s []int
	if t := c.constOf(n.Inputs[0]); t != nil {
		s = t.Shape
	} else {
		x, err := c.in(n, 0)
		if err != nil {
			return err
		}
		s = x.Shape()
	}
	r := int64(len(s))
	start, err := n.IntAttr("start", 0)
	if err != nil {
		return err
	}
	end, err := n.IntAttr("end", r)
	if err != nil {
		return err
	}
	start, end = clampAxis(start, r), clampAxis(end, r)
	var v []int64
	for i := start; i < end; i++ {
		v = append(v, int64(s[i]))
	}
	return c.setConst(n, &nn.Tensor{Shape: []int{len(v)}, Ints: v})
}

func clampAxis(a, r int64) int64 {
	if a < 0 {
		a += r
	}
	return min(max(a, 0), r)
}

func lowerGather(c *lowering, n *nn.Node) error {
	data, idx := c.constOf(n.Inputs[0]), c.constOf(at(n.Inputs, 1))
	if data == nil || idx == nil {
		return notSupported("Gather is supported on constant shape tensors only (here the %s is computed at run time)", which(data == nil, "data", "indices"))
	}
	r := len(data.Shape)
	if r == 0 {
		return fmt.Errorf("cannot gather from a scalar")
	}
	axis, err := axisAttr(n, 0, r)
	if err != nil {
		return err
	}
	dv, iv := values(data), values(idx)
	outer, dim, inner := 1, data.Shape[axis], 1
	for i, d := range data.Shape {
		if i < int(axis) {
			outer *= d
		} else if i > int(axis) {
			inner *= d
		}
	}
	var out []float64
	for o := 0; o < outer; o++ {
		for _, fi := range iv {
			i := int(fi)
			if i < 0 {
				i += dim
			}
			if i < 0 || i >= dim {
				return fmt.Errorf("index %v out of range [0,%d)", fi, dim)
			}
			out = append(out, dv[(o*dim+i)*inner:(o*dim+i+1)*inner]...)
		}
	}
	shape := append(append(append([]int{}, data.Shape[:axis]...), idx.Shape...), data.Shape[axis+1:]...)
	return c.setConst(n, fromValues(out, shape, data.Ints != nil))
}

func which(first bool, a, b string) string {
	if first {
		return a
	}
	return b
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// ONNX TensorProto data types that Cast may target.
const (
	onnxFloat   = 1
	onnxInt32   = 6
	onnxInt64   = 7
	onnxDouble  = 11
	onnxFloat16 = 10
	onnxBool    = 9
)

func lowerCast(c *lowering, n *nn.Node) error {
	to, err := n.IntAttr("to", 0)
	if err != nil {
		return err
	}
	if t := c.constOf(n.Inputs[0]); t != nil {
		switch to {
		case onnxInt64, onnxInt32, onnxBool:
			return c.setConst(n, fromValues(values(t), t.Shape, true))
		case onnxFloat, onnxDouble, onnxFloat16:
			return c.setConst(n, fromValues(values(t), t.Shape, false))
		}
		return notSupported("cast to data type %d is not supported", to)
	}
	if to != onnxFloat && to != onnxDouble {
		return notSupported("cast of a computed tensor to data type %d is not supported (float only)", to)
	}
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	return c.out(n, x)
}

func lowerConstantOfShape(c *lowering, n *nn.Node) error {
	st := c.constOf(n.Inputs[0])
	if st == nil || st.Ints == nil {
		return fmt.Errorf("the shape input must be constant")
	}
	shape := ints(st.Ints)
	v, isInt := 0.0, false
	if a, ok := n.Attrs["value"]; ok && a.Tensor != nil {
		vals := values(a.Tensor)
		if len(vals) != 1 {
			return fmt.Errorf("value must hold one element")
		}
		v, isInt = vals[0], a.Tensor.Ints != nil
	}
	out := make([]float64, nn.Numel(shape))
	for i := range out {
		out[i] = v
	}
	return c.setConst(n, fromValues(out, shape, isInt))
}

// sliceParams resolves ONNX Slice's starts/ends/axes/steps (inputs from opset 10, attributes
// before) for a tensor of shape s into per-axis start, size and step.
func (c *lowering) sliceParams(n *nn.Node, s []int) (start, size, step []int, err error) {
	var starts, ends, axes, steps []int64
	if c.p.Model.Opset > 0 && c.p.Model.Opset < 10 {
		if starts, err = n.IntsAttr("starts", nil); err != nil {
			return
		}
		if ends, err = n.IntsAttr("ends", nil); err != nil {
			return
		}
		if axes, err = n.IntsAttr("axes", nil); err != nil {
			return
		}
	} else {
		get := func(i int) ([]int64, error) {
			name := at(n.Inputs, i)
			if name == "" {
				return nil, nil
			}
			t := c.constOf(name)
			if t == nil || t.Ints == nil {
				return nil, fmt.Errorf("input %d (%s) must be a constant integer tensor", i, name)
			}
			return t.Ints, nil
		}
		if starts, err = get(1); err != nil {
			return
		}
		if ends, err = get(2); err != nil {
			return
		}
		if axes, err = get(3); err != nil {
			return
		}
		if steps, err = get(4); err != nil {
			return
		}
	}
	r := len(s)
	start, size, step = make([]int, r), append([]int{}, s...), make([]int, r)
	for i := range step {
		step[i] = 1
	}
	if len(ends) != len(starts) {
		return nil, nil, nil, fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
	}
	for i := range starts {
		ax := int64(i)
		if axes != nil {
			ax = axes[i]
		}
		if ax < 0 {
			ax += int64(r)
		}
		if ax < 0 || int(ax) >= r {
			return nil, nil, nil, fmt.Errorf("axis %d out of range", ax)
		}
		st := int64(1)
		if steps != nil {
			st = steps[i]
		}
		if st == 0 {
			return nil, nil, nil, fmt.Errorf("step 0 on axis %d", ax)
		}
		d := int64(s[ax])
		b, e := starts[i], ends[i]
		if b < 0 {
			b += d
		}
		if e < 0 {
			e += d
		}
		start[ax], step[ax], size[ax] = 0, int(st), 0
		if st > 0 {
			b, e = min(max(b, 0), d), min(max(e, 0), d)
			if e > b {
				size[ax] = int((e - b + st - 1) / st)
			}
		} else {
			// backwards (PyTorch's exporter reverses its pad lists so): start clamped to
			// [0, d-1], end to [-1, d-1]
			b, e = min(max(b, 0), d-1), min(max(e, -1), d-1)
			if b > e {
				size[ax] = int((b - e - st - 1) / -st)
			}
		}
		start[ax] = int(b)
	}
	return start, size, step, nil
}

// strided reads v at base + Σ idx[ax]·steps[ax] for every index idx of size, in row-major
// order: a constant tensor sliced or transposed.
func strided(v []float64, size []int, base int, steps []int) []float64 {
	out := make([]float64, 0, nn.Numel(size))
	idx := make([]int, len(size))
	for k := 0; k < cap(out); k++ {
		off := base
		for ax := range idx {
			off += idx[ax] * steps[ax]
		}
		out = append(out, v[off])
		for ax := len(idx) - 1; ax >= 0; ax-- {
			idx[ax]++
			if idx[ax] < size[ax] {
				break
			}
			idx[ax] = 0
		}
	}
	return out
}

func lowerSlice(c *lowering, n *nn.Node) error {
	if t := c.constOf(n.Inputs[0]); t != nil {
		start, size, step, err := c.sliceParams(n, t.Shape)
		if err != nil {
			return err
		}
		st := ops.RowStrides(t.Shape)
		base, steps := 0, make([]int, len(st))
		for ax := range st {
			base += start[ax] * st[ax]
			steps[ax] = step[ax] * st[ax]
		}
		return c.setConst(n, fromValues(strided(values(t), size, base, steps), size, t.Ints != nil))
	}
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	start, size, step, err := c.sliceParams(n, x.Shape())
	if err != nil {
		return err
	}
	for _, s := range step {
		if s != 1 {
			return notSupported("slicing a computed tensor with step %d is not supported (step 1 only)", s)
		}
	}
	for _, d := range size {
		if d == 0 {
			return notSupported("the slice is empty (size %v); empty tensors are not supported", size)
		}
	}
	y, err := ops.NewSlice(x, start, tensor.Shape(size))
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerConcat(c *lowering, n *nn.Node) error {
	axis, err := n.IntAttr("axis", 0)
	if err != nil {
		return err
	}
	if c.allConst(n) {
		var ts []*nn.Tensor
		for _, in := range n.Inputs {
			if in != "" {
				ts = append(ts, c.constOf(in))
			}
		}
		r := len(ts[0].Shape)
		if axis < 0 {
			axis += int64(r)
		}
		if r == 0 || axis < 0 || int(axis) >= r {
			return fmt.Errorf("axis %d out of range", axis)
		}
		outer := 1
		for _, d := range ts[0].Shape[:axis] {
			outer *= d
		}
		shape := append([]int{}, ts[0].Shape...)
		shape[axis] = 0
		for _, t := range ts {
			if len(t.Shape) != r {
				return fmt.Errorf("inputs differ in rank")
			}
			shape[axis] += t.Shape[axis]
		}
		var out []float64
		for o := 0; o < outer; o++ {
			for _, t := range ts {
				v := values(t)
				chunk := len(v) / outer
				out = append(out, v[o*chunk:(o+1)*chunk]...)
			}
		}
		return c.setConst(n, fromValues(out, shape, ts[0].Ints != nil))
	}
	var xs []*G.Node
	for i, in := range n.Inputs {
		if in == "" {
			continue
		}
		x, err := c.in(n, i)
		if err != nil {
			return err
		}
		xs = append(xs, x)
	}
	y, err := ops.NewConcat(int(axis), xs...)
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerTranspose(c *lowering, n *nn.Node) error {
	perm, err := n.IntsAttr("perm", nil)
	if err != nil {
		return err
	}
	var p []int
	if perm != nil {
		p = ints(perm)
	}
	if t := c.constOf(at(n.Inputs, 0)); t != nil {
		// a constant (PyTorch's exporter transposes its pad lists): folded
		size, p, err := ops.TransposeShape(t.Shape, p)
		if err != nil {
			return err
		}
		st := ops.RowStrides(t.Shape)
		steps := make([]int, len(p))
		for i, a := range p {
			steps[i] = st[a]
		}
		return c.setConst(n, fromValues(strided(values(t), size, 0, steps), size, t.Ints != nil))
	}
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	y, err := ops.NewTranspose(x, p)
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerPad(c *lowering, n *nn.Node) error {
	x, err := c.in(n, 0)
	if err != nil {
		return err
	}
	mode, err := n.StringAttr("mode", "constant")
	if err != nil {
		return err
	}
	modes := map[string]ops.PadMode{"constant": ops.PadConstant, "reflect": ops.PadReflect, "edge": ops.PadEdge}
	pm, ok := modes[mode]
	if !ok {
		return notSupported("mode %q is not supported (constant, reflect and edge are)", mode)
	}
	var pads []int64
	value := 0.0
	if c.p.Model.Opset > 0 && c.p.Model.Opset < 11 {
		if pads, err = n.IntsAttr("pads", nil); err != nil {
			return err
		}
		v, err := n.FloatAttr("value", 0)
		if err != nil {
			return err
		}
		value = float64(v)
	} else {
		if pads, err = c.ints(n, 1); err != nil {
			return err
		}
		if t := c.constOf(at(n.Inputs, 2)); t != nil {
			v := values(t)
			if len(v) != 1 {
				return fmt.Errorf("constant_value must be a scalar")
			}
			value = v[0]
		} else if at(n.Inputs, 2) != "" {
			return fmt.Errorf("constant_value must be a constant")
		}
		if at(n.Inputs, 3) != "" {
			return notSupported("the axes input is not supported")
		}
	}
	r := len(x.Shape())
	if len(pads) != 2*r {
		return fmt.Errorf("pads %v: want %d values for a %d-D input", pads, 2*r, r)
	}
	y, err := ops.NewPadMode(x, ints(pads[:r]), ints(pads[r:]), pm, value)
	if err != nil {
		return err
	}
	return c.out(n, y)
}

func lowerMatMul(c *lowering, n *nn.Node) error {
	a, err := c.in(n, 0)
	if err != nil {
		return err
	}
	b, err := c.in(n, 1)
	if err != nil {
		return err
	}
	y, err := ops.NewMatMul(a, b)
	if err != nil {
		return err
	}
	return c.out(n, y)
}
