package onnxfile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gorgonia.org/tensor"
)

// recorder is an onnx-go backend that records what onnx-go's decoder hands it: the operations in
// order, and the tensors of named nodes (the initializers).
type recorder struct {
	*simple.WeightedDirectedGraph
	ops     []onnxgo.Operation
	tensors map[string]tensor.Tensor
	names   map[int64]string
}

func newRecorder() *recorder {
	return &recorder{WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, 0),
		tensors: map[string]tensor.Tensor{}, names: map[int64]string{}}
}

// recNode is a graph node that accepts a name and a tensor, as onnx-go's Namer and DataCarrier.
type recNode struct {
	id int64
	r  *recorder
	t  tensor.Tensor
}

func (n *recNode) ID() int64                { return n.id }
func (n *recNode) SetName(s string)         { n.r.names[n.id] = s }
func (n *recNode) GetName() string          { return n.r.names[n.id] }
func (n *recNode) GetTensor() tensor.Tensor { return n.t }
func (n *recNode) SetTensor(t tensor.Tensor) error {
	n.t = t
	n.r.tensors[n.r.names[n.id]] = t
	return nil
}

func (r *recorder) NewNode() graph.Node {
	return &recNode{id: r.WeightedDirectedGraph.NewNode().ID(), r: r}
}

func (r *recorder) ApplyOperation(op onnxgo.Operation, _ ...graph.Node) error {
	r.ops = append(r.ops, op)
	return nil
}

// TestAgreesWithOnnxGo decodes models with onnx-go's independent (gogo-protobuf generated)
// decoder and checks that op types, attributes and initializer values agree with ours.
func TestAgreesWithOnnxGo(t *testing.T) {
	requireConformanceData(t)
	paths := []string{testdata("cnn.onnx")}
	for _, name := range []string{"test_Conv2d", "test_BatchNorm2d_eval", "test_Linear", "test_PReLU_2d_multiparam"} {
		paths = append(paths, filepath.Join(conformanceDir, "pytorch-converted", name, "model.onnx"))
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		rec := newRecorder()
		if err := onnxgo.NewModel(rec).UnmarshalBinary(data); err != nil {
			t.Fatalf("%s: onnx-go: %v", p, err)
		}
		if len(rec.ops) != len(ours.Graph.Nodes) {
			t.Fatalf("%s: onnx-go sees %d operations, we see %d nodes", p, len(rec.ops), len(ours.Graph.Nodes))
		}
		for i, op := range rec.ops {
			n := ours.Graph.Nodes[i]
			if op.Name != n.OpType {
				t.Errorf("%s: node %d is %s to onnx-go, %s to us", p, i, op.Name, n.OpType)
			}
			if len(op.Attributes) != len(n.Attributes) {
				t.Errorf("%s: node %d: onnx-go sees %d attributes, we see %d", p, i, len(op.Attributes), len(n.Attributes))
			}
			for _, a := range n.Attributes {
				if got, want := fmt.Sprint(op.Attributes[a.Name]), attrString(a); got != want {
					t.Errorf("%s: node %d attribute %s: onnx-go %s, ours %s", p, i, a.Name, got, want)
				}
			}
		}
		if len(ours.Graph.Initializers) == 0 {
			t.Fatalf("%s has no initializers", p)
		}
		for _, w := range ours.Graph.Initializers {
			tt, ok := rec.tensors[w.Name]
			if !ok {
				t.Errorf("%s: onnx-go has no tensor %q", p, w.Name)
				continue
			}
			shape := make([]int, len(w.Dims))
			for i, d := range w.Dims {
				shape[i] = int(d)
			}
			if !tt.Shape().Eq(tensor.Shape(shape)) {
				t.Errorf("%s: %s has shape %v to onnx-go, %v to us", p, w.Name, tt.Shape(), shape)
			}
			got, ok := tt.Data().([]float32)
			if !ok || w.DataType != Float {
				t.Errorf("%s: %s: onnx-go data %T, ours %s", p, w.Name, tt.Data(), w.DataType)
				continue
			}
			if d := diff(got, w.Float); d != "" {
				t.Errorf("%s: %s values differ: %s", p, w.Name, d)
			}
		}
		t.Logf("%s: %d nodes and %d initializers agree", p, len(rec.ops), len(ours.Graph.Initializers))
	}
}

// attrString formats an attribute's value as fmt formats the value onnx-go gives it.
func attrString(a Attribute) string {
	switch a.Type {
	case AttrFloat:
		return fmt.Sprint(a.F)
	case AttrInt:
		return fmt.Sprint(a.I)
	case AttrString:
		return string(a.S)
	case AttrFloats:
		return fmt.Sprint(a.Floats)
	case AttrInts:
		return fmt.Sprint(a.Ints)
	}
	return fmt.Sprintf("<%s>", a.Type)
}

// TestTensorFilesAgreeWithOnnxGo decodes conformance test data with onnx-go's NewTensor.
func TestTensorFilesAgreeWithOnnxGo(t *testing.T) {
	requireConformanceData(t)
	files, err := filepath.Glob(filepath.Join(conformanceDir, "pytorch-converted", "test_Conv2d*", "test_data_set_0", "*.pb"))
	if err != nil || len(files) < 20 {
		t.Fatalf("%d files (%v)", len(files), err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := DecodeTensor(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		theirs, err := onnxgo.NewTensor(data)
		if err != nil {
			t.Fatalf("%s: onnx-go: %v", f, err)
		}
		got, ok := theirs.Data().([]float32)
		if !ok || ours.DataType != Float {
			t.Fatalf("%s: onnx-go data %T, ours %s", f, theirs.Data(), ours.DataType)
		}
		if d := diff(got, ours.Float); d != "" {
			t.Errorf("%s: %s", f, d)
		}
	}
}
