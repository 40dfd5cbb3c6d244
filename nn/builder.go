package nn

import (
	"fmt"
	"math"

	"tlkit/torchrand"
)

// Builder assembles a Model layer by layer, naming parameters the way PyTorch's state dicts do
// ("conv1.weight", "fc2.bias") and initialising them as PyTorch does, from PyTorch's own random
// stream: layers added in the order of a torch.nn.Module's constructor get the very values
// torch.manual_seed gives that module.
type Builder struct {
	m   *Model
	rng *torchrand.Generator
	seq int
	err error
}

// NewBuilder starts a model with one input "input" of per-sample shape sample (the batch axis is
// added in front and left free); the parameters are initialised as after torch.manual_seed(seed).
func NewBuilder(name string, seed int64, sample ...int) *Builder {
	return NewBuilderFrom(name, torchrand.New(uint64(seed)), sample...)
}

// NewBuilderFrom is NewBuilder drawing the initial values from g, which it advances as PyTorch
// advances its global generator while constructing the same layers.
func NewBuilderFrom(name string, g *torchrand.Generator, sample ...int) *Builder {
	shape := append([]int{-1}, sample...)
	return &Builder{m: &Model{Name: name, Opset: 17, Inputs: []Value{{Name: "input", Shape: shape}}}, rng: g}
}

// Input is the name of the model's input value.
func (b *Builder) Input() string { return "input" }

func (b *Builder) node(op string, attrs map[string]Attr, inputs ...string) string {
	return b.named("", op, attrs, inputs...)
}

// named adds a node called name (or op_N when name is empty; layers with parameters are named
// after them, like PyTorch modules).
func (b *Builder) named(name, op string, attrs map[string]Attr, inputs ...string) string {
	b.seq++
	if name == "" {
		name = fmt.Sprintf("%s_%d", op, b.seq)
	}
	out := fmt.Sprintf("%s_%d_out", op, b.seq)
	b.m.Nodes = append(b.m.Nodes, &Node{Name: name, Op: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *Builder) tensor(t *Tensor) string {
	if err := b.m.AddTensor(t); err != nil && b.err == nil {
		b.err = err
	}
	return t.Name
}

// Uniform draws n values from U(-bound, bound) as torch.nn.init.uniform_ does with g as the
// global generator.
func Uniform(g *torchrand.Generator, n int, bound float64) []float32 {
	v := make([]float32, n)
	g.Uniform(v, -bound, bound)
	return v
}

// WeightBound is the bound of PyTorch's default initialisation of Linear and Conv weights,
// kaiming_uniform_(a=√5): gain √(2/(1+a²)) times √(3/fan_in), which works out to 1/√fan_in;
// it is computed in PyTorch's steps so that it rounds as PyTorch's does.
func WeightBound(fanIn int) float64 {
	a := math.Sqrt(5)
	gain := math.Sqrt(2.0 / (1 + a*a))
	return math.Sqrt(3.0) * (gain / math.Sqrt(float64(fanIn)))
}

// BiasBound is the bound of PyTorch's default initialisation of Linear and Conv biases, 1/√fan_in.
func BiasBound(fanIn int) float64 { return 1 / math.Sqrt(float64(fanIn)) }

// LinearInit draws a torch.nn.Linear(in, out)'s weight (out×in) and bias from g, in PyTorch's
// order: weight ~ U(±WeightBound(in)), then bias ~ U(±BiasBound(in)).
func LinearInit(g *torchrand.Generator, in, out int) (w, bias []float32) {
	return Uniform(g, out*in, WeightBound(in)), Uniform(g, out, BiasBound(in))
}

// Linear adds a fully connected layer (ONNX Gemm with transB=1, weight out×in) named prefix,
// initialised like torch.nn.Linear (LinearInit).
func (b *Builder) Linear(x, prefix string, in, out int) string {
	wd, bd := LinearInit(b.rng, in, out)
	w := b.tensor(&Tensor{Name: prefix + ".weight", Shape: []int{out, in}, Data: wd})
	bias := b.tensor(&Tensor{Name: prefix + ".bias", Shape: []int{out}, Data: bd})
	return b.named(prefix, "Gemm", map[string]Attr{"transB": Int(1)}, x, w, bias)
}

// ConvOpts are a convolution's options; zero values mean stride 1, no padding, no bias.
type ConvOpts struct {
	Stride, Pad int
	Bias        bool
}

// Conv adds a 2-D convolution named prefix with a square kernel k, initialised like
// torch.nn.Conv2d: weight ~ U(±WeightBound(in·k·k)), then bias ~ U(±BiasBound(in·k·k)).
func (b *Builder) Conv(x, prefix string, in, out, k int, o ConvOpts) string {
	s := max(o.Stride, 1)
	fan := in * k * k
	w := b.tensor(&Tensor{Name: prefix + ".weight", Shape: []int{out, in, k, k}, Data: Uniform(b.rng, out*fan, WeightBound(fan))})
	inputs := []string{x, w}
	if o.Bias {
		inputs = append(inputs, b.tensor(&Tensor{Name: prefix + ".bias", Shape: []int{out}, Data: Uniform(b.rng, out, BiasBound(fan))}))
	}
	p := int64(o.Pad)
	return b.named(prefix, "Conv", map[string]Attr{"kernel_shape": Ints(int64(k), int64(k)), "strides": Ints(int64(s), int64(s)), "pads": Ints(p, p, p, p)}, inputs...)
}

// BatchNorm adds spatial batch normalisation named prefix over c channels, initialised like
// torch.nn.BatchNorm2d (weight 1, bias 0, running mean 0, running var 1). Epsilon is 1e-5 and
// momentum ONNX's 0.9, which is PyTorch's default momentum 0.1 (Keras' default is 0.99).
func (b *Builder) BatchNorm(x, prefix string, c int) string {
	ones := func() []float32 {
		v := make([]float32, c)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	w := b.tensor(&Tensor{Name: prefix + ".weight", Shape: []int{c}, Data: ones()})
	bias := b.tensor(&Tensor{Name: prefix + ".bias", Shape: []int{c}, Data: make([]float32, c)})
	mean := b.tensor(&Tensor{Name: prefix + ".running_mean", Shape: []int{c}, Data: make([]float32, c), Role: Buffer})
	v := b.tensor(&Tensor{Name: prefix + ".running_var", Shape: []int{c}, Data: ones(), Role: Buffer})
	return b.named(prefix, "BatchNormalization", map[string]Attr{"epsilon": Float(1e-5), "momentum": Float(0.9)}, x, w, bias, mean, v)
}

// Op adds any operator node and returns its output's name.
func (b *Builder) Op(op string, attrs map[string]Attr, inputs ...string) string {
	return b.node(op, attrs, inputs...)
}

// OpN adds an operator node with n outputs (Split) and returns their names.
func (b *Builder) OpN(op string, attrs map[string]Attr, n int, inputs ...string) []string {
	first := b.node(op, attrs, inputs...)
	nd := b.m.Nodes[len(b.m.Nodes)-1]
	for i := 1; i < n; i++ {
		nd.Outputs = append(nd.Outputs, fmt.Sprintf("%s_%d", first, i))
	}
	return nd.Outputs
}

// Const adds a constant tensor (integer data in ints, float data in floats) and returns its name.
func (b *Builder) Const(name string, shape []int, ints []int64, floats []float32) string {
	return b.tensor(&Tensor{Name: name, Shape: shape, Ints: ints, Data: floats, Role: Const})
}

// Act adds an element-wise activation (Relu, Sigmoid, Tanh, ...).
func (b *Builder) Act(x, op string) string { return b.node(op, nil, x) }

// Flatten keeps the batch axis and flattens the rest.
func (b *Builder) Flatten(x string) string {
	return b.node("Flatten", map[string]Attr{"axis": Int(1)}, x)
}

// MaxPool adds a k×k max pool with the given stride and padding.
func (b *Builder) MaxPool(x string, k, stride, pad int) string {
	p := int64(pad)
	return b.node("MaxPool", map[string]Attr{"kernel_shape": Ints(int64(k), int64(k)), "strides": Ints(int64(stride), int64(stride)), "pads": Ints(p, p, p, p)}, x)
}

// AvgPool adds a k×k average pool with the given stride (no padding), as torch.nn.AvgPool2d(k).
func (b *Builder) AvgPool(x string, k, stride int) string {
	return b.node("AveragePool", map[string]Attr{"kernel_shape": Ints(int64(k), int64(k)), "strides": Ints(int64(stride), int64(stride))}, x)
}

// GlobalAvgPool averages over all spatial positions.
func (b *Builder) GlobalAvgPool(x string) string { return b.node("GlobalAveragePool", nil, x) }

// Add adds two values element-wise.
func (b *Builder) Add(x, y string) string { return b.node("Add", nil, x, y) }

// Finish names out the model's output "logits" and returns the model.
func (b *Builder) Finish(out string) (*Model, error) {
	if b.err != nil {
		return nil, b.err
	}
	last := b.m.Nodes[len(b.m.Nodes)-1]
	if last.Outputs[0] == out {
		last.Outputs[0] = "logits"
		out = "logits"
	}
	b.m.Outputs = []Value{{Name: out}}
	if err := b.m.Check(); err != nil {
		return nil, err
	}
	return b.m, nil
}
