package importer

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"

	"tlkit/engine"
	"tlkit/nn"
	"tlkit/onnxfile"
)

// golden reads a fixture written by testdata/onnx/make_models.py.
type golden struct{ r *npz.Reader }

func openGolden(t *testing.T, name string) golden {
	r, err := npz.Open("../testdata/onnx/" + name + ".npz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return golden{r}
}

func (g golden) f32(t *testing.T, key string) []float32 {
	t.Helper()
	var v []float32
	if err := g.r.Read(key+".npy", &v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return v
}

func (g golden) scalar(t *testing.T, key string) float64 {
	t.Helper()
	var v float32
	if err := g.r.Read(key+".npy", &v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return float64(v)
}

func (g golden) labels(t *testing.T) []int {
	var v []int64
	if err := g.r.Read("y.npy", &v); err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func (g golden) has(key string) bool {
	for _, k := range g.r.Keys() {
		if strings.TrimSuffix(k, ".npy") == key {
			return true
		}
	}
	return false
}

// close32 compares float32 results with PyTorch's within a relative tolerance of the largest
// reference value.
func close32(t *testing.T, what string, got, want []float32, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 1e-12
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst, at := 0.0, 0
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > worst {
			worst, at = d, i
		}
	}
	if worst > rtol*scale {
		t.Errorf("%s: max |diff| %.3g at %d (%g vs %g), scale %.3g, tolerance %.3g", what, worst, at, got[at], want[at], scale, rtol*scale)
	}
}

func forward(t *testing.T, m *nn.Model, x []float32, batch int) []float32 {
	t.Helper()
	return forwardWith(t, m, x, engine.Options{Batch: batch})
}

func forwardWith(t *testing.T, m *nn.Model, x []float32, o engine.Options) []float32 {
	t.Helper()
	p, err := engine.Compile(m, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetInput(x); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), p.Output(0).Data().([]float32)...)
}

// checkTraining compares one training step's loss and every parameter gradient with PyTorch's.
func checkTraining(t *testing.T, m *nn.Model, g golden, batch int) {
	t.Helper()
	p, err := engine.Compile(m, engine.Options{Batch: batch, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	p.SetInput(g.f32(t, "x"))
	p.SetLabels(g.labels(t))
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if want := g.scalar(t, "loss"); math.Abs(p.Loss()-want) > 1e-5*math.Max(1, want) {
		t.Errorf("loss %.7g, PyTorch %.7g", p.Loss(), want)
	}
	n := 0
	for _, gr := range p.Grads() {
		key := "grad/" + gr.Param.Name
		if !g.has(key) {
			t.Errorf("PyTorch has no parameter %q", gr.Param.Name)
			continue
		}
		close32(t, key, gr.Value.Data().([]float32), g.f32(t, key), 1e-4)
		n++
	}
	if n == 0 {
		t.Error("no gradients compared")
	}
}

// TestPyTorchExports imports the seed's three models, and forms PyTorch's exporter emits: equal
// tensors of a freshly initialised network stored once and read through Identity nodes, with
// BatchNormalization kept (resnet_init) or folded (resnet_init_folded: its zero biases), where
// each reader must get its own parameter, with its own gradient, as in PyTorch; and the pads of
// nn.ZeroPad2d and F.pad computed by a Slice of step -1 (pad); PReLU, reflect and edge padding,
// ELU, Softplus, SELU, Softsign and a spatial mean (actnet).
func TestPyTorchExports(t *testing.T) {
	for name, batch := range map[string]int{"mlp": 5, "cnn": 5, "lenet5": 5, "resnet_init": 4, "resnet_init_folded": 4, "pad": 2, "actnet": 3} {
		t.Run(name, func(t *testing.T) {
			m, err := ReadFile("../testdata/onnx/" + name + ".onnx")
			if err != nil {
				t.Fatal(err)
			}
			g := openGolden(t, name)
			x := g.f32(t, "x")
			close32(t, "logits", forward(t, m, x, batch), g.f32(t, "logits"), 1e-5)
			if g.has("loss") {
				checkTraining(t, m, g, batch)
			}
			if g.has("params") {
				var want int64
				if err := g.r.Read("params.npy", &want); err != nil {
					t.Fatal(err)
				}
				if total, _ := m.Count(); total != want {
					t.Errorf("%d parameters, PyTorch %d", total, want)
				}
			}
		})
	}
}

func TestResNetExportsMatchPyTorch(t *testing.T) {
	g := openGolden(t, "resnet")
	x, want := g.f32(t, "x"), g.f32(t, "logits")
	for _, name := range []string{"resnet_bn", "resnet_folded"} {
		t.Run(name, func(t *testing.T) {
			m, err := ReadFile("../testdata/onnx/" + name + ".onnx")
			if err != nil {
				t.Fatal(err)
			}
			close32(t, "logits", forward(t, m, x, 4), want, 1e-5)
			// Any batch size: the first sample alone, and three of them.
			close32(t, "logits[0:1]", forward(t, m, x[:3*32*32], 1), want[:10], 1e-5)
			close32(t, "logits[0:3]", forward(t, m, x[:3*3*32*32], 3), want[:30], 1e-5)
			// As a frozen backbone runs: BatchNorm folded into the convolutions (resnet_bn).
			close32(t, "logits (constant weights)", forwardWith(t, m, x, engine.Options{Batch: 4, ConstantWeights: true}), want, 1e-5)
		})
	}
	t.Run("resnet_bn/train", func(t *testing.T) {
		m, err := ReadFile("../testdata/onnx/resnet_bn.onnx")
		if err != nil {
			t.Fatal(err)
		}
		var buffers int
		for _, tn := range m.Tensors() {
			if tn.Role == nn.Buffer {
				buffers++
			}
		}
		if buffers != 2*12 { // BatchNorm layers: stem 1, blocks 4×2, downsample 3
			t.Errorf("%d buffers, want 24 running statistics", buffers)
		}
		checkTraining(t, m, g, 4)
		// One training forward moved the running statistics as PyTorch's did.
		for _, tn := range m.Tensors() {
			if tn.Role == nn.Buffer {
				close32(t, "running stat "+tn.Name, tn.Data, g.f32(t, "after/"+tn.Name), 1e-5)
			}
		}
	})
}

// TestOpenImageSize: an export whose height and width are dynamic imports with them open, and
// runs once they are fixed (as a job's --image-size does), matching PyTorch's logits at 32×32.
func TestOpenImageSize(t *testing.T) {
	om, err := onnxfile.ReadFile("../testdata/onnx/resnet_bn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	in := &om.Graph.Inputs[0]
	in.Shape[2], in.Shape[3] = onnxfile.Dim{Param: "height"}, onnxfile.Dim{Param: "width"}
	m, err := Import(om, "resnet_bn")
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Inputs[0].Shape; s[0] != -1 || s[2] != -1 || s[3] != -1 {
		t.Fatalf("input shape %v: want batch, height and width open", s)
	}
	m.Inputs[0].Shape[2], m.Inputs[0].Shape[3] = 32, 32
	g := openGolden(t, "resnet")
	close32(t, "logits", forward(t, m, g.f32(t, "x"), 4), g.f32(t, "logits"), 1e-5)
}

func lenet(t *testing.T) *onnxfile.Model {
	om, err := onnxfile.ReadFile("../testdata/onnx/lenet5.onnx")
	if err != nil {
		t.Fatal(err)
	}
	return om
}

func TestErrors(t *testing.T) {
	data, err := os.ReadFile("../testdata/onnx/lenet5.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var fe *FormatError
	var ue *UnsupportedError
	if _, err := Decode(data[:len(data)/2], "half"); !errors.As(err, &fe) {
		t.Errorf("truncated file: got %v, want a FormatError", err)
	}
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	if _, err := Decode(png, "png"); !errors.As(err, &fe) {
		t.Errorf("PNG bytes: got %v, want a FormatError", err)
	}

	// Every unsupported operator is listed with its nodes, in one error.
	om := lenet(t)
	var renamed []string
	for i := range om.Graph.Nodes {
		switch om.Graph.Nodes[i].OpType {
		case "Tanh":
			om.Graph.Nodes[i].OpType = "Mish"
			renamed = append(renamed, om.Graph.Nodes[i].Name)
		case "Gemm":
			om.Graph.Nodes[i].OpType = "FusedGemm"
			om.Graph.Nodes[i].Domain = "com.microsoft"
		}
	}
	_, err = Import(om, "bad")
	if !errors.As(err, &ue) {
		t.Fatalf("unsupported ops: got %v", err)
	}
	if len(ue.Ops["Mish"]) != len(renamed) || len(ue.Ops["com.microsoft:FusedGemm"]) != 2 {
		t.Errorf("unsupported ops listed as %v", ue.Ops)
	}
	for _, n := range renamed {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error does not name node %q:\n%v", n, err)
		}
	}

	// A node reading an initializer that is not there.
	om = lenet(t)
	om.Graph.Initializers = om.Graph.Initializers[1:]
	if _, err := Import(om, "missing"); !errors.As(err, &fe) || !strings.Contains(err.Error(), "nothing before it defines") {
		t.Errorf("missing initializer: got %v", err)
	}

	// Inconsistent shapes: a convolution whose weights expect another channel count.
	om = lenet(t)
	for i := range om.Graph.Initializers {
		in := &om.Graph.Initializers[i]
		if len(in.Dims) == 4 && in.Dims[1] == 1 {
			in.Dims[1] = 3
			in.Float = append(in.Float, in.Float...)
			in.Float = append(in.Float, in.Float[:len(in.Float)/2]...)
		}
	}
	if _, err := Import(om, "shapes"); !errors.As(err, &fe) || !strings.Contains(err.Error(), "channels") {
		t.Errorf("inconsistent shapes: got %v", err)
	}

	// An opset outside what tlkit reads.
	om = lenet(t)
	om.OpsetImports = []onnxfile.OpsetID{{Domain: "", Version: 5}}
	if _, err := Import(om, "opset"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "operator set version 5") {
		t.Errorf("old opset: got %v", err)
	}
}
