// Package exporter writes a tlkit model back to ONNX, so a network fine-tuned by tlkit (its new
// head and trained weights, BatchNorm statistics included) runs in ONNX Runtime or anything else
// that reads ONNX. It is the importer's inverse: tensors become initializers under their names,
// nodes keep their operators and attributes, and the batch axis is symbolic.
package exporter

import (
	"fmt"
	"io"

	"tlkit/atomicfile"
	"tlkit/engine"
	"tlkit/nn"
	"tlkit/onnxfile"
)

// IRVersion is the ONNX IR version written (ONNX 1.10+ readers, ONNX Runtime 1.10+).
const IRVersion = 8

// Convert builds the ONNX form of m.
func Convert(m *nn.Model) (*onnxfile.Model, error) {
	if len(m.Inputs) != 1 {
		return nil, fmt.Errorf("export: the model has %d inputs, want 1", len(m.Inputs))
	}
	opset := m.Opset
	if opset < 13 {
		opset = 13
	}
	om := &onnxfile.Model{IRVersion: IRVersion, ProducerName: "tlkit", ProducerVersion: "1",
		OpsetImports: []onnxfile.OpsetID{{Domain: "", Version: int64(opset)}}}
	for k, v := range m.Meta {
		om.MetadataProps = append(om.MetadataProps, onnxfile.StringPair{Key: k, Value: v})
	}
	g := &om.Graph
	g.Name = m.Name
	in := m.Inputs[0]
	vi := onnxfile.ValueInfo{Name: in.Name, ElemType: onnxfile.Float, HasShape: true}
	for i, d := range in.Shape {
		if i == 0 || d < 0 {
			vi.Shape = append(vi.Shape, onnxfile.Dim{Value: -1, Param: "batch"})
		} else {
			vi.Shape = append(vi.Shape, onnxfile.Dim{Value: int64(d)})
		}
	}
	g.Inputs = []onnxfile.ValueInfo{vi}
	// Output shapes from a build at batch 1, with the batch axis symbolic.
	p, err := engine.Compile(m, engine.Options{Batch: 1})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	for _, o := range m.Outputs {
		ov := onnxfile.ValueInfo{Name: o.Name, ElemType: onnxfile.Float}
		if s, ok := p.ValueShape(o.Name); ok {
			ov.HasShape = true
			for i, d := range s {
				if i == 0 {
					ov.Shape = append(ov.Shape, onnxfile.Dim{Value: -1, Param: "batch"})
				} else {
					ov.Shape = append(ov.Shape, onnxfile.Dim{Value: int64(d)})
				}
			}
		}
		g.Outputs = append(g.Outputs, ov)
	}
	for _, t := range m.Tensors() {
		g.Initializers = append(g.Initializers, tensor(t, t.Name))
	}
	for _, n := range m.Nodes {
		on := onnxfile.Node{Name: n.Name, OpType: n.Op, Inputs: append([]string{}, n.Inputs...), Outputs: append([]string{}, n.Outputs...)}
		for _, name := range sortedKeys(n.Attrs) {
			a, err := attr(name, n.Attrs[name])
			if err != nil {
				return nil, fmt.Errorf("export: node %q: %w", n.Name, err)
			}
			on.Attributes = append(on.Attributes, a)
		}
		g.Nodes = append(g.Nodes, on)
	}
	return om, nil
}

// Encode returns the ONNX file bytes of m.
func Encode(m *nn.Model) ([]byte, error) {
	om, err := Convert(m)
	if err != nil {
		return nil, err
	}
	return onnxfile.Encode(om)
}

// WriteFile writes m as an ONNX file at path, atomically (atomicfile.Write).
func WriteFile(path string, m *nn.Model) error {
	b, err := Encode(m)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

func tensor(t *nn.Tensor, name string) onnxfile.Tensor {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	if t.Data != nil {
		return onnxfile.Tensor{Name: name, Dims: dims, DataType: onnxfile.Float, Float: append([]float32{}, t.Data...)}
	}
	return onnxfile.Tensor{Name: name, Dims: dims, DataType: onnxfile.Int64, Int64: append([]int64{}, t.Ints...)}
}

func attr(name string, a nn.Attr) (onnxfile.Attribute, error) {
	o := onnxfile.Attribute{Name: name}
	switch a.Kind {
	case nn.AttrInt:
		o.Type, o.I = onnxfile.AttrInt, a.Int
	case nn.AttrFloat:
		o.Type, o.F = onnxfile.AttrFloat, a.Float
	case nn.AttrString:
		o.Type, o.S = onnxfile.AttrString, []byte(a.String)
	case nn.AttrInts:
		o.Type, o.Ints = onnxfile.AttrInts, append([]int64{}, a.Ints...)
	case nn.AttrFloats:
		o.Type, o.Floats = onnxfile.AttrFloats, append([]float32{}, a.Floats...)
	case nn.AttrStrings:
		o.Type = onnxfile.AttrStrings
		for _, s := range a.Strings {
			o.Strings = append(o.Strings, []byte(s))
		}
	case nn.AttrTensor:
		t := tensor(a.Tensor, a.Tensor.Name)
		o.Type, o.T = onnxfile.AttrTensor, &t
	default:
		return o, fmt.Errorf("attribute %s has unknown kind %d", name, a.Kind)
	}
	return o, nil
}

func sortedKeys(m map[string]nn.Attr) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}
