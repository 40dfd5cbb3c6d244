package main

import "tlkit/nn"

// zoo is a small network that uses every kernel of the GPU backend beyond ResNet's: broadcast
// Mul/Div/Sub/Add and their gradients, every activation, max and average pools with asymmetric
// pads, ceil mode, dilation and count_include_pad, 2-D BatchNorm, softmax and log-softmax. (The
// same network as gpu's tests simulate.)
func zoo(seed int64) (*nn.Model, error) {
	b := nn.NewBuilder("zoo", seed, 3, 12, 12)
	ints := nn.Ints
	x := b.Conv(b.Input(), "c1", 3, 4, 3, nn.ConvOpts{Pad: 1, Bias: true})
	x = b.BatchNorm(x, "bn1", 4)
	x = b.Op("LeakyRelu", map[string]nn.Attr{"alpha": nn.Float(0.1)}, x)
	x = b.Op("MaxPool", map[string]nn.Attr{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(0, 0, 1, 1), "ceil_mode": nn.Int(1)}, x)
	x = b.Conv(x, "c2", 4, 6, 3, nn.ConvOpts{Pad: 1})
	h := b.Op("HardSwish", nil, x)
	g := b.GlobalAvgPool(h)
	s := b.Op("HardSigmoid", nil, g)
	m := b.Op("Mul", nil, h, s)
	s2 := b.Op("Add", nil, b.Act(g, "Sigmoid"), b.Const("half", []int{1}, nil, []float32{0.5}))
	d := b.Op("Div", nil, m, s2)
	e := b.Op("Sub", nil, d, g)
	e = b.Op("Clip", nil, e, b.Const("lo", []int{}, nil, []float32{-1}), b.Const("hi", []int{}, nil, []float32{1.5}))
	a := b.Op("AveragePool", map[string]nn.Attr{"kernel_shape": ints(2, 2), "strides": ints(2, 2), "pads": ints(1, 1, 0, 0),
		"ceil_mode": nn.Int(1), "count_include_pad": nn.Int(1)}, e)
	a = b.Op("AveragePool", map[string]nn.Attr{"kernel_shape": ints(3, 3), "strides": ints(1, 1), "pads": ints(1, 1, 1, 1)}, a)
	a = b.Op("MaxPool", map[string]nn.Attr{"kernel_shape": ints(2, 2), "strides": ints(1, 1), "dilations": ints(2, 2)}, a)
	a = b.Act(a, "Tanh")
	f := b.Flatten(a)
	z := b.Linear(f, "fc1", 24, 16)
	z = b.BatchNorm(z, "bn2", 16)
	z = b.Act(z, "Relu")
	z = b.Linear(z, "fc2", 16, 5)
	ls := b.Op("LogSoftmax", map[string]nn.Attr{"axis": nn.Int(1)}, z)
	sm := b.Op("Softmax", map[string]nn.Attr{"axis": nn.Int(1)}, z)
	z = b.Op("Add", nil, z, ls)
	z = b.Op("Sub", nil, z, sm)
	return b.Finish(z)
}
