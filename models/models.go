// Package models holds tlkit's built-in networks: the seed tutorial's MNIST models and the small
// backbone of the offline transfer demo.
package models

import (
	"fmt"
	"sort"
	"strings"

	"tlkit/nn"
	"tlkit/torchrand"
)

// builders maps a built-in name to its constructor. classes is the size of the output layer;
// sample is the per-sample input shape (C, H, W).
var builders = map[string]struct {
	doc   string
	build func(g *torchrand.Generator, classes int, sample []int) (*nn.Model, error)
}{
	"mlp":     {"Flatten → Linear(784,256) → Sigmoid → Linear(256,10); 203,530 parameters on MNIST", MLP},
	"cnn":     {"Conv(1→4,3) → ReLU → Conv(4→8,3) → ReLU → Flatten → Linear(4608,48) → ReLU → Linear(48,10); 222,058 parameters", CNN},
	"demonet": {"the offline demo's backbone: 3×(Conv3×3-BatchNorm-ReLU) with 32/64/128 channels, max pooling, global average pooling, Linear; 94,186 parameters for 10 classes", DemoNet},
	"lenet5":  {"LeNet-5: Conv(1→6,5) → Tanh → AvgPool(2) → Conv(6→16,5) → Tanh → AvgPool(2) → Conv(16→120,4) → Tanh → Linear(120,84) → Tanh → Linear(84,10); 44,426 parameters", LeNet5},
}

// Names lists the built-in models.
func Names() []string {
	var n []string
	for k := range builders {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Doc describes a built-in model in one line.
func Doc(name string) string { return builders[name].doc }

// Build constructs the named model for samples of shape sample (C,H,W) and classes outputs,
// initialised as PyTorch initialises the same layers after torch.manual_seed(seed).
func Build(name string, seed int64, classes int, sample []int) (*nn.Model, error) {
	return BuildFrom(name, torchrand.New(uint64(seed)), classes, sample)
}

// BuildFrom is Build drawing the initial values from g, as PyTorch draws them from its global
// generator when the same torch.nn.Module is constructed; g is left where PyTorch's would be, so
// a DataLoader's shuffling can continue from it (g.Shuffles).
func BuildFrom(name string, g *torchrand.Generator, classes int, sample []int) (*nn.Model, error) {
	b, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q (built-in models: %s)", name, strings.Join(Names(), ", "))
	}
	if len(sample) != 3 {
		return nil, fmt.Errorf("model %s: want a C×H×W sample shape, got %v", name, sample)
	}
	return b.build(g, classes, sample)
}

// MLP is the seed's multi-layer perceptron.
func MLP(g *torchrand.Generator, classes int, s []int) (*nn.Model, error) {
	b := nn.NewBuilderFrom("mlp", g, s...)
	x := b.Flatten(b.Input())
	x = b.Linear(x, "fc1", s[0]*s[1]*s[2], 256)
	x = b.Act(x, "Sigmoid")
	x = b.Linear(x, "fc2", 256, classes)
	return b.Finish(x)
}

// CNN is the seed's small convolutional network (no pooling).
func CNN(g *torchrand.Generator, classes int, s []int) (*nn.Model, error) {
	b := nn.NewBuilderFrom("cnn", g, s...)
	x := b.Conv(b.Input(), "conv1", s[0], 4, 3, nn.ConvOpts{Bias: true})
	x = b.Act(x, "Relu")
	x = b.Conv(x, "conv2", 4, 8, 3, nn.ConvOpts{Bias: true})
	x = b.Act(x, "Relu")
	x = b.Flatten(x)
	x = b.Linear(x, "fc1", 8*(s[1]-4)*(s[2]-4), 48)
	x = b.Act(x, "Relu")
	x = b.Linear(x, "fc2", 48, classes)
	return b.Finish(x)
}

// LeNet5 is the seed's LeNet-5 with average pooling and tanh.
func LeNet5(g *torchrand.Generator, classes int, s []int) (*nn.Model, error) {
	if s[1] != 28 || s[2] != 28 {
		return nil, fmt.Errorf("lenet5 expects 28×28 inputs, got %d×%d", s[1], s[2])
	}
	b := nn.NewBuilderFrom("lenet5", g, s...)
	x := b.Conv(b.Input(), "conv1", s[0], 6, 5, nn.ConvOpts{Bias: true})
	x = b.Act(x, "Tanh")
	x = b.AvgPool(x, 2, 2)
	x = b.Conv(x, "conv2", 6, 16, 5, nn.ConvOpts{Bias: true})
	x = b.Act(x, "Tanh")
	x = b.AvgPool(x, 2, 2)
	x = b.Conv(x, "conv3", 16, 120, 4, nn.ConvOpts{Bias: true})
	x = b.Act(x, "Tanh")
	x = b.Flatten(x)
	x = b.Linear(x, "fc1", 120, 84)
	x = b.Act(x, "Tanh")
	x = b.Linear(x, "fc2", 84, classes)
	return b.Finish(x)
}

// IsBuiltin reports whether name is a built-in model.
func IsBuiltin(name string) bool { _, ok := builders[name]; return ok }

// DemoNet is the small convolutional backbone of the offline transfer demo: three
// Conv-BatchNorm-ReLU stages (32, 64, 128 channels, max-pooled between), global average pooling
// and a Linear head. It is sized to pretrain in minutes on two cores.
func DemoNet(g *torchrand.Generator, classes int, s []int) (*nn.Model, error) {
	b := nn.NewBuilderFrom("demonet", g, s...)
	x := b.Input()
	in := s[0]
	for i, c := range []int{32, 64, 128} {
		p := fmt.Sprintf("block%d", i+1)
		x = b.Conv(x, p+".conv", in, c, 3, nn.ConvOpts{Pad: 1})
		x = b.BatchNorm(x, p+".bn", c)
		x = b.Act(x, "Relu")
		if i < 2 {
			x = b.MaxPool(x, 2, 2, 0)
		}
		in = c
	}
	x = b.GlobalAvgPool(x)
	x = b.Flatten(x)
	x = b.Linear(x, "fc", in, classes)
	return b.Finish(x)
}

// OpZoo is a small network (3×12×12 input, 5 classes) that uses every kernel of the GPU backend
// beyond ResNet's: broadcast Mul/Div/Sub/Add and their gradients, every activation, max and
// average pools with asymmetric pads, ceil mode, dilation and count_include_pad, 2-D BatchNorm,
// softmax and log-softmax. The GPU backend's tests simulate it and cmd/gpucheck runs it on a device.
func OpZoo(seed int64) (*nn.Model, error) {
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
