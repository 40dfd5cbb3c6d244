package engine

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"tlkit/nn"
)

// The fixtures in testdata/torch were computed by PyTorch in float64 from the ONNX semantics of
// each operator (testdata/torch/make_op_fixtures.py): outputs for given inputs, and input
// gradients for a given upstream gradient.

type fixTensor struct {
	Name   string    `json:"name"`
	Shape  []int     `json:"shape"`
	Data   []float64 `json:"data"`
	DType  string    `json:"dtype"`
	Absent bool      `json:"absent"`
}

type fixCase struct {
	Name        string                     `json:"name"`
	Op          string                     `json:"op"`
	Attrs       map[string]json.RawMessage `json:"attrs"`
	Inputs      []fixTensor                `json:"inputs"`
	Outputs     []fixTensor                `json:"outputs"`
	GradOutputs []*fixTensor               `json:"grad_outputs"`
	Grads       []*fixTensor               `json:"grads"`
	Note        string                     `json:"note"`
}

func loadFixtures(t *testing.T) map[string][]fixCase {
	files, err := filepath.Glob("../testdata/torch/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no PyTorch fixtures in testdata/torch (%v)", err)
	}
	out := map[string][]fixCase{}
	for _, f := range files {
		if filepath.Base(f) == "adam.json" { // the optimizer's, checked in package optim
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Cases []fixCase `json:"cases"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = doc.Cases
	}
	return out
}

// attr converts a JSON attribute value to an nn.Attr.
func attr(t *testing.T, raw json.RawMessage) nn.Attr {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	isInt := func(s string) bool { return !strings.ContainsAny(s, ".eE") }
	switch x := v.(type) {
	case string:
		return nn.String(x)
	case float64:
		if isInt(string(raw)) {
			return nn.Int(int64(x))
		}
		return nn.Float(float32(x))
	case []any:
		var raws []json.RawMessage
		_ = json.Unmarshal(raw, &raws)
		allInt := true
		for _, r := range raws {
			allInt = allInt && isInt(string(r))
		}
		if allInt {
			var is []int64
			for _, e := range x {
				is = append(is, int64(e.(float64)))
			}
			return nn.Ints(is...)
		}
		var fs []float32
		for _, e := range x {
			fs = append(fs, float32(e.(float64)))
		}
		return nn.Floats(fs...)
	}
	t.Fatalf("attribute %s: unsupported JSON", raw)
	return nn.Attr{}
}

func f32s(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

// unsupportedCases are fixture cases of features the engine refuses with ErrNotSupported, each
// with its reason; they must keep failing that way (not compute something else).
var unsupportedCases = map[string]string{
	"sce_none":                      "SoftmaxCrossEntropyLoss: reduction none (the trainer needs a scalar loss)",
	"sce_none_spatial_3d":           "SoftmaxCrossEntropyLoss: per-position scores (segmentation)",
	"sce_mean_weights":              "SoftmaxCrossEntropyLoss: class weights",
	"sce_mean_ignore_index-1":       "SoftmaxCrossEntropyLoss: ignore_index",
	"sce_sum_weights_ignore_index2": "SoftmaxCrossEntropyLoss: class weights and ignore_index",
	"sce_mean_spatial_4d":           "SoftmaxCrossEntropyLoss: per-position scores (segmentation)",
}

func TestTorchOpFixtures(t *testing.T) {
	all := loadFixtures(t)
	var files []string
	for f := range all {
		files = append(files, f)
	}
	sort.Strings(files)
	n := 0
	for _, f := range files {
		for _, c := range all[f] {
			if c.Op == "Adam" {
				continue
			}
			n++
			c := c
			t.Run(strings.TrimSuffix(f, ".json")+"/"+c.Name, func(t *testing.T) { runFixture(t, c) })
		}
	}
	if n < 50 {
		t.Errorf("only %d operator cases found", n)
	}
}

func runFixture(t *testing.T, c fixCase) {
	m := &nn.Model{Name: c.Name, Opset: 17}
	node := &nn.Node{Name: c.Name, Op: c.Op, Attrs: map[string]nn.Attr{}}
	for k, v := range c.Attrs {
		node.Attrs[k] = attr(t, v)
	}
	trainingBN := false
	if a, ok := node.Attrs["training_mode"]; ok {
		trainingBN = a.Int == 1
		delete(node.Attrs, "training_mode")
	}
	graphInput := -1
	for i, in := range c.Inputs {
		name := in.Name
		if in.Absent {
			node.Inputs = append(node.Inputs, "")
			continue
		}
		if name == "" {
			name = "in" + string(rune('0'+i))
		}
		name = "x_" + name
		node.Inputs = append(node.Inputs, name)
		isInt := in.DType == "int64" || in.DType == "int32"
		differentiable := i < len(c.Grads) && c.Grads[i] != nil
		if graphInput < 0 && !isInt && differentiable {
			graphInput = i
			m.Inputs = []nn.Value{{Name: name, Shape: in.Shape}}
			continue
		}
		tn := &nn.Tensor{Name: name, Shape: in.Shape, Role: nn.Const}
		if isInt {
			for _, v := range in.Data {
				tn.Ints = append(tn.Ints, int64(v))
			}
		} else {
			tn.Data = f32s(in.Data)
			if differentiable {
				tn.Role = nn.Param
			}
		}
		if c.Op == "BatchNormalization" && (i == 3 || i == 4) {
			tn.Role = nn.Buffer
		}
		if err := m.AddTensor(tn); err != nil {
			t.Fatal(err)
		}
	}
	if graphInput < 0 {
		t.Fatalf("case has no differentiable float input")
	}
	for i := range c.Outputs {
		if i == 0 {
			node.Outputs = append(node.Outputs, "y")
		} else {
			node.Outputs = append(node.Outputs, "") // BatchNorm's running statistics are checked in place
		}
	}
	m.Nodes = []*nn.Node{node}
	m.Outputs = []nn.Value{{Name: "y"}}
	batch := c.Inputs[graphInput].Shape[0]
	p, err := Compile(m, Options{Batch: batch, Train: true, Float64: true, InputGrad: true, Loss: Probe, FreezeBN: !trainingBN})
	if why, ok := unsupportedCases[c.Name]; ok {
		if !errors.Is(err, ErrNotSupported) {
			t.Fatalf("known unsupported case (%s) gave %v, want an ErrNotSupported error", why, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	// Exact float64 values: the float32 model tensors were only the shapes' carriers.
	for i, in := range c.Inputs {
		if in.Absent || i == graphInput {
			continue
		}
		if d := p.Param(node.Inputs[i]); d != nil {
			copy(d.Data().([]float64), in.Data)
		}
	}
	copy(p.Input().Data().([]float64), c.Inputs[graphInput].Data)
	if len(c.GradOutputs) == 0 || c.GradOutputs[0] == nil {
		t.Fatal("case has no grad_outputs")
	}
	copy(p.Target().Data().([]float64), c.GradOutputs[0].Data)
	var before [2][]float32
	if c.Op == "BatchNormalization" {
		for k := 0; k < 2; k++ {
			before[k] = append([]float32(nil), m.Tensor(node.Inputs[3+k]).Data...)
		}
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	// BatchNorm's statistics pass through float32 model buffers (as in training); other ops
	// are float64 end to end.
	tol := 1e-9
	if c.Op == "BatchNormalization" {
		tol = 2e-6
	}
	compare(t, "output", p.Output(0).Data().([]float64), c.Outputs[0].Data, tol)
	for i, g := range c.Grads {
		if g == nil || c.Inputs[i].Absent {
			continue
		}
		var got []float64
		if i == graphInput {
			got = p.InputGrad().Data().([]float64)
		} else {
			for _, pg := range p.Grads() {
				if pg.Param.Name == node.Inputs[i] {
					got = pg.Value.Data().([]float64)
				}
			}
		}
		if got == nil {
			t.Errorf("no gradient computed for input %d", i)
			continue
		}
		compare(t, "grad of input "+c.Inputs[i].Name, got, g.Data, tol)
	}
	if c.Op == "BatchNormalization" && trainingBN && len(c.Outputs) == 3 {
		// Run executed the forward once: the statistics moved once, from before.
		for k := 0; k < 2; k++ {
			got := m.Tensor(node.Inputs[3+k]).Data
			compare(t, []string{"running_mean", "running_var"}[k], f64s(got), c.Outputs[1+k].Data, 2e-6)
			_ = before
		}
	}
}

func f64s(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func compare(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); d > tol*math.Max(1, scale) {
			t.Errorf("%s[%d] = %.12g, want %.12g (|diff| %.3g)", what, i, got[i], want[i], d)
			return
		}
	}
}
