// Package importer turns an ONNX file into a tlkit model (nn.Model) that the engine builds into a
// trainable gorgonia graph. Every initializer, and every float Constant node, becomes a named
// tensor under its ONNX name: float initializers are parameters unless only settings read them,
// Constant nodes are constants, BatchNormalization statistics are buffers.
//
// Like Go's image/png it has two kinds of error: a *FormatError for input that is not a valid
// ONNX model (truncated or corrupt bytes, a node reading a value nothing defines, shapes that do
// not fit together) and an *UnsupportedError for a valid model that uses what tlkit does not
// implement. The latter lists every unsupported operator with the names of its nodes, found
// before anything is computed.
//
// Decoding is done by tlkit's onnxfile package rather than onnx-go, whose decoder drops node
// names, opsets and symbolic dimensions (github.com/owulveryck/onnx-go is used only to
// cross-check onnxfile in its tests).
package importer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tlkit/engine"
	"tlkit/nn"
	"tlkit/onnxfile"
)

// Opsets supported for the default ONNX domain.
const (
	MinOpset = 7
	MaxOpset = 22
)

// FormatError reports an invalid ONNX model.
type FormatError struct {
	File string
	Msg  string
	Err  error
}

func (e *FormatError) Error() string {
	s := "invalid ONNX model"
	if e.File != "" {
		s += " " + e.File
	}
	return s + ": " + e.Msg
}
func (e *FormatError) Unwrap() error { return e.Err }

// UnsupportedError reports a valid model that uses features tlkit does not implement.
type UnsupportedError struct {
	File string
	Msg  string
	Ops  map[string][]string // unsupported operator -> node names, when that is the problem
	Err  error
}

func (e *UnsupportedError) Error() string {
	s := "unsupported ONNX model"
	if e.File != "" {
		s += " " + e.File
	}
	return s + ": " + e.Msg
}
func (e *UnsupportedError) Unwrap() error { return e.Err }

// ReadFile imports the ONNX model at path.
func ReadFile(path string) (*nn.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	m, err := Decode(data, name)
	var fe *FormatError
	var ue *UnsupportedError
	switch {
	case errors.As(err, &fe):
		fe.File = path
	case errors.As(err, &ue):
		ue.File = path
	}
	return m, err
}

// Decode imports an ONNX model from its bytes; name names the resulting model.
func Decode(data []byte, name string) (*nn.Model, error) {
	om, err := onnxfile.Decode(data)
	if err != nil {
		var ue *onnxfile.UnsupportedError
		if errors.As(err, &ue) {
			return nil, &UnsupportedError{Msg: err.Error(), Err: err}
		}
		return nil, &FormatError{Msg: err.Error(), Err: err}
	}
	return Import(om, name)
}

// Import converts a decoded ONNX model. The result has passed a trial build at batch size 1, so
// its shapes are consistent.
func Import(om *onnxfile.Model, name string) (*nn.Model, error) {
	opset := om.Opset("")
	if opset == 0 {
		if len(om.OpsetImports) > 0 {
			var ds []string
			for _, o := range om.OpsetImports {
				ds = append(ds, fmt.Sprintf("%s v%d", o.Domain, o.Version))
			}
			ops := map[string][]string{}
			for i, n := range om.Graph.Nodes {
				name := n.Name
				if name == "" {
					name = fmt.Sprintf("%s_%d", n.OpType, i)
				}
				key := n.OpType
				if n.Domain != "" {
					key = n.Domain + ":" + n.OpType
				}
				ops[key] = append(ops[key], name)
			}
			return nil, &UnsupportedError{Msg: fmt.Sprintf("the model uses only other operator sets (%s): %s", strings.Join(ds, ", "), OpList(ops)), Ops: ops}
		}
		return nil, &FormatError{Msg: "the model imports no version of the default ONNX operator set"}
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, &UnsupportedError{Msg: fmt.Sprintf("operator set version %d (tlkit reads %d to %d; re-export with opset_version in that range)", opset, MinOpset, MaxOpset)}
	}
	g := &om.Graph
	if g.Name != "" && name == "" {
		name = g.Name
	}
	m := &nn.Model{Name: name, Opset: int(opset), Meta: map[string]string{}}

	// Tensors: initializers first.
	isInit := map[string]bool{}
	for i := range g.Initializers {
		t, err := tensorOf(&g.Initializers[i], g.Initializers[i].Name)
		if err != nil {
			return nil, err
		}
		if t.Name == "" {
			return nil, &FormatError{Msg: fmt.Sprintf("initializer %d has no name", i)}
		}
		if err := m.AddTensor(t); err != nil {
			return nil, &FormatError{Msg: err.Error()}
		}
		isInit[t.Name] = true
	}

	// The data input: graph inputs that are not initializers.
	var data []onnxfile.ValueInfo
	for _, in := range g.Inputs {
		if !isInit[in.Name] {
			data = append(data, in)
		}
	}
	switch {
	case len(data) == 0:
		return nil, &UnsupportedError{Msg: "the graph has no data input (it computes constants only); tlkit models take one image batch"}
	case len(data) > 1:
		var names []string
		for _, d := range data {
			names = append(names, d.Name)
		}
		return nil, &UnsupportedError{Msg: fmt.Sprintf("the graph has %d data inputs (%s); tlkit models take one image batch", len(data), strings.Join(names, ", "))}
	}
	in := data[0]
	if in.ElemType != onnxfile.Float && in.ElemType != onnxfile.Undefined {
		return nil, &UnsupportedError{Msg: fmt.Sprintf("input %q has element type %v (float expected)", in.Name, in.ElemType)}
	}
	if !in.HasShape || len(in.Shape) == 0 {
		return nil, &UnsupportedError{Msg: fmt.Sprintf("input %q has no shape; tlkit needs the sample shape (e.g. N×3×224×224)", in.Name)}
	}
	shape := make([]int, len(in.Shape))
	for i, d := range in.Shape {
		if d.Value == 0 && d.Param == "" {
			return nil, &UnsupportedError{Msg: fmt.Sprintf("input %q has a dimension of size 0; empty tensors are not supported", in.Name)}
		}
		shape[i] = int(d.Value)
		if d.Param != "" || d.Value < 0 {
			shape[i] = -1
		}
	}
	if shape[0] > 0 {
		m.Meta["onnx.fixed_batch"] = fmt.Sprint(shape[0])
	}
	m.Inputs = []nn.Value{{Name: in.Name, Shape: shape}}
	for _, o := range g.Outputs {
		m.Outputs = append(m.Outputs, nn.Value{Name: o.Name})
	}
	if len(m.Outputs) == 0 {
		return nil, &FormatError{Msg: "the graph has no outputs"}
	}

	// Nodes, with unique names; Constant nodes, and Identity nodes of tensors, become tensors.
	isOutput := map[string]bool{}
	for _, o := range m.Outputs {
		isOutput[o.Name] = true
	}
	copied := map[string]bool{} // tensors that Identity nodes copied
	used := map[string]int{}
	bad := map[string][]string{}
	for i := range g.Nodes {
		on := &g.Nodes[i]
		nodeName := on.Name
		if nodeName == "" {
			nodeName = fmt.Sprintf("%s_%d", on.OpType, i)
		}
		if k := used[nodeName]; k > 0 {
			nodeName = fmt.Sprintf("%s_%d", nodeName, k)
		}
		used[nodeName]++
		op := on.OpType
		if on.Domain != "" && on.Domain != "ai.onnx" {
			op = on.Domain + ":" + on.OpType
			bad[op] = append(bad[op], nodeName)
			continue
		}
		if op == "Constant" && len(on.Outputs) == 1 {
			t, err := constantTensor(on, nodeName)
			if err != nil {
				return nil, err
			}
			if t != nil {
				// A Constant node is a literal of the exported code (Softsign's 1 in 1+|x|), not
				// a weight: exporters store weights as initializers. It is not trained.
				t.Name, t.Role = on.Outputs[0], nn.Const
				if err := m.AddTensor(t); err != nil {
					return nil, &FormatError{Msg: fmt.Sprintf("node %q: %v", nodeName, err)}
				}
				continue
			}
		}
		if op == "Identity" && len(on.Inputs) == 1 && len(on.Outputs) == 1 && m.Tensor(on.Inputs[0]) != nil && !isOutput[on.Outputs[0]] {
			src := m.Tensor(on.Inputs[0])
			// PyTorch's exporter stores equal tensors once (the zero running means and unit
			// scales of a freshly initialised network) and gives each user an Identity of it:
			// each user gets its own copy, as in the original model, so none are tied in training.
			if err := m.AddTensor(src.Copy(on.Outputs[0])); err != nil {
				return nil, &FormatError{Msg: fmt.Sprintf("node %q: %v", nodeName, err)}
			}
			copied[src.Name] = true
			continue
		}
		n := &nn.Node{Name: nodeName, Op: op, Inputs: append([]string{}, on.Inputs...), Outputs: append([]string{}, on.Outputs...)}
		if len(on.Attributes) > 0 {
			n.Attrs = map[string]nn.Attr{}
		}
		for _, a := range on.Attributes {
			v, err := attrOf(&a)
			if err != nil {
				return nil, &UnsupportedError{Msg: fmt.Sprintf("node %q (%s): attribute %s: %v", nodeName, op, a.Name, err)}
			}
			n.Attrs[a.Name] = v
		}
		if !engine.Supported(op) {
			bad[op] = append(bad[op], nodeName)
		}
		m.Nodes = append(m.Nodes, n)
	}
	// A tensor read only through Identity copies is gone from the original model.
	readers := m.Consumers()
	for name := range copied {
		if len(readers[name]) == 0 && !isOutput[name] {
			m.RemoveTensor(name)
		}
	}
	if len(bad) > 0 {
		ue := &engine.UnsupportedError{Ops: bad}
		return nil, &UnsupportedError{Msg: ue.Error(), Ops: bad, Err: ue}
	}
	assignRoles(m)
	if err := m.Check(); err != nil {
		return nil, &FormatError{Msg: strings.TrimPrefix(err.Error(), "nn: "), Err: err}
	}
	// A trial build finds shape mismatches and unsupported attribute values now, before a user's
	// run computes anything. Other dimensions than the batch that the file leaves open (an
	// export with dynamic image sizes) are tried at 224; the model keeps them open until a job
	// fixes them (--image-size).
	trial := 1
	if shape[0] > 0 {
		trial = shape[0] // a batch the file fixes is the one its constants assume
	}
	tm := m
	for i, d := range shape[1:] {
		if d < 0 {
			if tm == m {
				c := *m
				c.Inputs = []nn.Value{{Name: in.Name, Shape: append([]int(nil), shape...)}}
				tm = &c
			}
			tm.Inputs[0].Shape[i+1] = 224
		}
	}
	if _, err := engine.Compile(tm, engine.Options{Batch: trial}); err != nil {
		if errors.Is(err, engine.ErrNotSupported) {
			return nil, &UnsupportedError{Msg: err.Error(), Err: err}
		}
		return nil, &FormatError{Msg: err.Error(), Err: err}
	}
	return m, nil
}

// weightless lists, per operator, the inputs that carry settings rather than weights; a float
// tensor used only there is a constant, not a parameter.
var weightless = map[string][]int{"Clip": {1, 2}, "Dropout": {1, 2}, "Pad": {2}, "Reshape": {1}, "Slice": {1, 2, 3, 4}, "ConstantOfShape": {0},
	"Squeeze": {1}, "Unsqueeze": {1}, "Gather": {1}}

// assignRoles marks BatchNorm statistics as buffers and float tensors that are only settings as
// constants; every other float tensor stays a parameter.
func assignRoles(m *nn.Model) {
	setting := map[string]bool{}
	weight := map[string]bool{}
	for _, n := range m.Nodes {
		for i, in := range n.Inputs {
			if in == "" {
				continue
			}
			switch {
			case n.Op == "BatchNormalization" && (i == 3 || i == 4):
				if t := m.Tensor(in); t != nil && t.Data != nil {
					t.Role = nn.Buffer
				}
			case contains(weightless[n.Op], i):
				setting[in] = true
			default:
				weight[in] = true
			}
		}
	}
	for _, t := range m.Tensors() {
		if t.Ints != nil || (setting[t.Name] && !weight[t.Name]) {
			t.Role = nn.Const
		}
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// tensorOf converts an ONNX tensor: floating types to float32 data, integer types to int64s.
func tensorOf(t *onnxfile.Tensor, name string) (*nn.Tensor, error) {
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		shape[i] = int(d)
	}
	out := &nn.Tensor{Name: name, Shape: shape}
	switch t.DataType {
	case onnxfile.Float, onnxfile.Float16, onnxfile.BFloat16:
		out.Data = append([]float32{}, t.Float...)
	case onnxfile.Double:
		out.Data = make([]float32, len(t.Double))
		for i, v := range t.Double {
			out.Data[i] = float32(v)
		}
	case onnxfile.Int64:
		out.Ints = append([]int64{}, t.Int64...)
	case onnxfile.Int32:
		out.Ints = widen(t.Int32)
	case onnxfile.Int16:
		out.Ints = widen(t.Int16)
	case onnxfile.Int8:
		out.Ints = widen(t.Int8)
	case onnxfile.Uint8, onnxfile.Bool:
		out.Ints = widen(t.Uint8)
	default:
		return nil, &UnsupportedError{Msg: fmt.Sprintf("tensor %q has element type %v", name, t.DataType)}
	}
	if out.Data == nil && out.Ints == nil {
		if out.Size() != 0 {
			return nil, &FormatError{Msg: fmt.Sprintf("tensor %q has no data", name)}
		}
		out.Data = []float32{}
	}
	out.Role = nn.Param
	return out, nil
}

func widen[T int8 | int16 | int32 | uint8](v []T) []int64 {
	o := make([]int64, len(v))
	for i, x := range v {
		o[i] = int64(x)
	}
	return o
}

// constantTensor turns a Constant node into a tensor; nil for forms that stay nodes.
func constantTensor(on *onnxfile.Node, nodeName string) (*nn.Tensor, error) {
	for _, a := range on.Attributes {
		switch a.Name {
		case "value":
			if a.T == nil {
				return nil, &FormatError{Msg: fmt.Sprintf("Constant node %q: value is not a tensor", nodeName)}
			}
			return tensorOf(a.T, on.Outputs[0])
		case "value_float":
			return &nn.Tensor{Data: []float32{a.F}, Role: nn.Param}, nil
		case "value_floats":
			return &nn.Tensor{Shape: []int{len(a.Floats)}, Data: append([]float32{}, a.Floats...), Role: nn.Param}, nil
		case "value_int":
			return &nn.Tensor{Ints: []int64{a.I}}, nil
		case "value_ints":
			return &nn.Tensor{Shape: []int{len(a.Ints)}, Ints: append([]int64{}, a.Ints...)}, nil
		}
	}
	return nil, &UnsupportedError{Msg: fmt.Sprintf("Constant node %q has no value attribute tlkit reads (value, value_float(s), value_int(s))", nodeName)}
}

// attrOf converts an ONNX attribute.
func attrOf(a *onnxfile.Attribute) (nn.Attr, error) {
	switch a.Type {
	case onnxfile.AttrFloat:
		return nn.Float(a.F), nil
	case onnxfile.AttrInt:
		return nn.Int(a.I), nil
	case onnxfile.AttrString:
		return nn.String(string(a.S)), nil
	case onnxfile.AttrFloats:
		return nn.Floats(append([]float32{}, a.Floats...)...), nil
	case onnxfile.AttrInts:
		return nn.Ints(append([]int64{}, a.Ints...)...), nil
	case onnxfile.AttrStrings:
		var ss []string
		for _, s := range a.Strings {
			ss = append(ss, string(s))
		}
		return nn.Attr{Kind: nn.AttrStrings, Strings: ss}, nil
	case onnxfile.AttrTensor:
		if a.T == nil {
			return nn.Attr{}, fmt.Errorf("tensor attribute without a tensor")
		}
		t, err := tensorOf(a.T, a.T.Name)
		if err != nil {
			return nn.Attr{}, err
		}
		return nn.TensorAttr(t), nil
	}
	return nn.Attr{}, fmt.Errorf("attribute type %v is not supported", a.Type)
}

// OpList formats unsupported operators for messages, sorted.
func OpList(ops map[string][]string) string {
	var ts []string
	for t := range ops {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return strings.Join(ts, ", ")
}
