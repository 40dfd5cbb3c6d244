package onnxfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// supportedTestModels are the models of testdata that onnxfile decodes.
var supportedTestModels = []string{"cnn.onnx", "attributes.onnx", "dtypes.onnx", "sequence.onnx"}

// TestEncodeDecode checks that decoding an encoded model gives the model back.
func TestEncodeDecode(t *testing.T) {
	for _, name := range supportedTestModels {
		m, err := ReadFile(testdata(name))
		if err != nil {
			t.Fatal(err)
		}
		data, err := Encode(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: decoding the encoded model: %v", name, err)
		}
		if d := diff(m, back); d != "" {
			t.Errorf("%s: round trip changes %s", name, d)
		}
	}
}

// TestEncodeMatchesTorch checks that re-encoding the model torch.onnx.export wrote reproduces the
// file byte for byte: torch writes raw tensor data and no empty fields, as Encode does.
func TestEncodeMatchesTorch(t *testing.T) {
	orig, err := os.ReadFile(testdata("cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(orig)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, orig) {
		n := 0
		for n < min(len(data), len(orig)) && data[n] == orig[n] {
			n++
		}
		t.Errorf("re-encoded cnn.onnx differs from torch's file from byte %d (lengths %d and %d)", n, len(data), len(orig))
	}
}

// conformanceModels lists the model.onnx files of the ONNX conformance data.
func conformanceModels(t *testing.T) []string {
	t.Helper()
	requireConformanceData(t)
	paths, err := filepath.Glob(filepath.Join(conformanceDir, "*", "*", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 1000 {
		t.Fatalf("%d models in %s; libonnx-testdata has over 1000", len(paths), conformanceDir)
	}
	return paths
}

// TestRoundTripPython re-encodes the test models and every supported model of the ONNX
// conformance data, and has Python's onnx check each rewritten model and compare it with the
// original.
func TestRoundTripPython(t *testing.T) {
	paths := []string{}
	for _, name := range supportedTestModels {
		paths = append(paths, testdata(name))
	}
	for _, p := range conformanceModels(t) {
		if _, err := ReadFile(p); err == nil {
			paths = append(paths, p)
		}
	}
	dir := t.TempDir()
	var pairs strings.Builder
	for i, p := range paths {
		m, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprintf("%d.onnx", i))
		if err := WriteFile(out, m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fmt.Fprintf(&pairs, "%s\t%s\n", p, out)
	}
	var results []struct {
		Model   string `json:"model"`
		Checked bool   `json:"checked"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal(runPython(t, pairs.String(), "roundtrip"), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != len(paths) {
		t.Fatalf("Python judged %d models, want %d", len(results), len(paths))
	}
	checked := 0
	for _, r := range results {
		if r.Error != "" {
			t.Errorf("%s: %s", r.Model, r.Error)
		}
		if r.Checked {
			checked++
		}
	}
	if checked != len(results) {
		t.Errorf("onnx.checker accepted only %d of %d original models", checked, len(results))
	}
	t.Logf("Python's onnx accepts and agrees with %d re-encoded models", len(results))
}

// TestEncodeRejectsInvalidModels checks that Encode reports models that break the invariants
// instead of writing a broken file.
func TestEncodeRejectsInvalidModels(t *testing.T) {
	base := func() *Model {
		return &Model{IRVersion: 8, OpsetImports: []OpsetID{{"", 13}}, Graph: Graph{
			Name:  "g",
			Nodes: []Node{{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}},
			Initializers: []Tensor{{Name: "w", Dims: []int64{2, 2}, DataType: Float,
				Float: []float32{1, 2, 3, 4}}},
		}}
	}
	if _, err := Encode(base()); err != nil {
		t.Fatalf("valid model: %v", err)
	}
	for _, c := range []struct {
		name   string
		break_ func(m *Model)
		want   string
	}{
		{"too few elements", func(m *Model) { m.Graph.Initializers[0].Float = []float32{1} }, "1 elements for dims [2 2]"},
		{"negative dim", func(m *Model) { m.Graph.Initializers[0].Dims = []int64{-1, 4} }, "invalid dims"},
		{"wrong slice", func(m *Model) { m.Graph.Initializers[0].Int64 = []int64{1} }, "data in its Int64 slice"},
		{"complex", func(m *Model) { m.Graph.Initializers[0].DataType = Complex64 }, "COMPLEX64 is not supported"},
		{"no op type", func(m *Model) { m.Graph.Nodes[0].OpType = "" }, "node has no OpType"},
		{"graph attribute", func(m *Model) {
			m.Graph.Nodes[0].Attributes = []Attribute{{Name: "body", Type: AttrGraph}}
		}, "attribute type GRAPH is not supported"},
		{"nil tensor", func(m *Model) {
			m.Graph.Nodes[0].Attributes = []Attribute{{Name: "value", Type: AttrTensor}}
		}, "nil T"},
		{"sequence without type", func(m *Model) {
			m.Graph.Inputs = []ValueInfo{{Name: "s", Kind: SequenceType}}
		}, "needs its encoded TypeProto"},
	} {
		m := base()
		c.break_(m)
		_, err := Encode(m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestTensorRoundTrip encodes a tensor of each type and decodes it.
func TestTensorRoundTrip(t *testing.T) {
	m, err := ReadFile(testdata("dtypes.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Graph.Initializers {
		x := &m.Graph.Initializers[i]
		data, err := EncodeTensor(x)
		if err != nil {
			t.Fatalf("%s: %v", x.Name, err)
		}
		back, err := DecodeTensor(data)
		if err != nil {
			t.Fatalf("%s: %v", x.Name, err)
		}
		if d := diff(x, back); d != "" {
			t.Errorf("%s: %s", x.Name, d)
		}
	}
	// BOOL elements are written as 0 or 1 whatever byte the slice holds.
	data, err := EncodeTensor(&Tensor{Dims: []int64{3}, DataType: Bool, Uint8: []uint8{0, 1, 7}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTensor(data)
	if err != nil || diff(back.Uint8, []uint8{0, 1, 1}) != "" {
		t.Errorf("bool tensor: %v, %v", back, err)
	}
}

func TestWriteFileErrors(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir.onnx"), &Model{})
	if err == nil || !strings.Contains(err.Error(), "dir.onnx") {
		t.Errorf("got %v, want an error naming the file", err)
	}
	_, err = ReadFile(filepath.Join(t.TempDir(), "missing.onnx"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.onnx") {
		t.Errorf("got %v, want a not-exist error naming the file", err)
	}
}
