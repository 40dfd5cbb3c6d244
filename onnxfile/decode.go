package onnxfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// ReadFile reads and decodes the ONNX model in the file path. Its errors name the file.
func ReadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnxfile: %w", err)
	}
	m, err := Decode(data)
	return m, withFile(err, path)
}

// withFile records the file name in a decoding error.
func withFile(err error, path string) error {
	var fe *FormatError
	var ue *UnsupportedError
	switch {
	case errors.As(err, &fe):
		fe.File = path
	case errors.As(err, &ue):
		ue.File = path
	}
	return err
}

// Decode decodes a serialized ONNX ModelProto. Malformed data gives a *FormatError, valid ONNX
// that this package does not model an *UnsupportedError.
func Decode(data []byte) (*Model, error) {
	var model Model
	seen, err := decodeModel(msg{b: data}, &model)
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			return nil, err
		}
		if what := whatIsIt(data); what != "" {
			return nil, &FormatError{NotONNX: true, Offset: -1, Msg: fmt.Sprintf(
				"the data is %s (decoding it as a ModelProto failed at byte %d: %s)", what, fe.Offset,
				strings.TrimPrefix(fe.Field+": "+fe.Msg, ": "))}
		}
		return nil, err
	}
	if !seen.irVersion || !seen.graph {
		var missing string
		switch {
		case !seen.irVersion && !seen.graph:
			missing = "neither an ir_version nor a graph"
		case !seen.graph:
			missing = "no graph"
		default:
			missing = "no ir_version"
		}
		msg := fmt.Sprintf("it has %s (an ONNX model is a protobuf ModelProto with ir_version in "+
			"field 1 and the graph in field 7)", missing)
		if what := whatIsIt(data); what != "" {
			msg += "; the data is " + what
		}
		return nil, &FormatError{NotONNX: true, Offset: -1, Msg: msg}
	}
	return &model, nil
}

// whatIsIt says what data that is not an ONNX model is, if it can tell.
func whatIsIt(data []byte) string {
	if what := sniff(data); what != "" {
		return what
	}
	if _, err := DecodeTensor(data); err == nil {
		return "a TensorProto, such as a test's input_0.pb, not a ModelProto"
	}
	return ""
}

// DecodeTensor decodes a serialized TensorProto, such as the input_0.pb files of the ONNX test
// suite.
func DecodeTensor(data []byte) (*Tensor, error) {
	t, err := decodeTensor(msg{b: data})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

type modelFields struct{ irVersion, graph bool }

func decodeModel(m msg, model *Model) (modelFields, error) {
	var seen modelFields
	err := m.fields(func(f *field) (err error) {
		switch f.num {
		case 1:
			model.IRVersion, err = m.int64Field(f, "ir_version")
			seen.irVersion = true
		case 2:
			model.ProducerName, err = m.stringField(f, "producer_name")
		case 3:
			model.ProducerVersion, err = m.stringField(f, "producer_version")
		case 4:
			model.Domain, err = m.stringField(f, "domain")
		case 5:
			model.ModelVersion, err = m.int64Field(f, "model_version")
		case 6:
			model.DocString, err = m.stringField(f, "doc_string")
		case 7:
			if seen.graph {
				return m.formatErr(f.off, "graph", "a second graph field (two models concatenated?)")
			}
			seen.graph = true
			var g msg
			if g, err = m.messageField(f, "graph"); err == nil {
				err = decodeGraph(g, &model.Graph)
			}
		case 8:
			name := fmt.Sprintf("opset_import[%d]", len(model.OpsetImports))
			var sub msg
			if sub, err = m.messageField(f, name); err == nil {
				var o OpsetID
				o, err = decodeOpsetID(sub)
				model.OpsetImports = append(model.OpsetImports, o)
			}
		case 14:
			name := fmt.Sprintf("metadata_props[%d]", len(model.MetadataProps))
			var sub msg
			if sub, err = m.messageField(f, name); err == nil {
				var p StringPair
				p, err = decodeStringPair(sub)
				model.MetadataProps = append(model.MetadataProps, p)
			}
		case 20:
			return m.unsupported(f.off, "training_info", "training information (TrainingInfoProto)")
		case 25:
			return m.unsupported(f.off, "functions", "model-local functions (FunctionProto)")
		}
		return err
	})
	return seen, err
}

func decodeOpsetID(m msg) (o OpsetID, err error) {
	err = m.fields(func(f *field) (err error) {
		switch f.num {
		case 1:
			o.Domain, err = m.stringField(f, "domain")
		case 2:
			o.Version, err = m.int64Field(f, "version")
		}
		return err
	})
	return o, err
}

func decodeStringPair(m msg) (p StringPair, err error) {
	err = m.fields(func(f *field) (err error) {
		switch f.num {
		case 1:
			p.Key, err = m.stringField(f, "key")
		case 2:
			p.Value, err = m.stringField(f, "value")
		}
		return err
	})
	return p, err
}

func decodeGraph(m msg, g *Graph) error {
	return m.fields(func(f *field) (err error) {
		var sub msg
		switch f.num {
		case 1:
			if sub, err = m.messageField(f, fmt.Sprintf("node[%d]", len(g.Nodes))); err == nil {
				var n Node
				n, err = decodeNode(sub)
				g.Nodes = append(g.Nodes, n)
			}
		case 2:
			g.Name, err = m.stringField(f, "name")
		case 5:
			if sub, err = m.messageField(f, fmt.Sprintf("initializer[%d]", len(g.Initializers))); err == nil {
				var t Tensor
				t, err = decodeTensor(sub)
				g.Initializers = append(g.Initializers, t)
			}
		case 10:
			g.DocString, err = m.stringField(f, "doc_string")
		case 11, 12, 13:
			list := map[protowire.Number]*[]ValueInfo{11: &g.Inputs, 12: &g.Outputs, 13: &g.ValueInfo}[f.num]
			kind := map[protowire.Number]string{11: "input", 12: "output", 13: "value_info"}[f.num]
			if sub, err = m.messageField(f, fmt.Sprintf("%s[%d]", kind, len(*list))); err == nil {
				var v ValueInfo
				v, err = decodeValueInfo(sub)
				*list = append(*list, v)
			}
		case 15:
			return m.unsupported(f.off, "sparse_initializer", "sparse tensors (SparseTensorProto)")
		}
		return err
	})
}

func decodeNode(m msg) (n Node, err error) {
	err = m.fields(func(f *field) (err error) {
		var s string
		switch f.num {
		case 1:
			if s, err = m.stringField(f, "input"); err == nil {
				n.Inputs = append(n.Inputs, s)
			}
		case 2:
			if s, err = m.stringField(f, "output"); err == nil {
				n.Outputs = append(n.Outputs, s)
			}
		case 3:
			n.Name, err = m.stringField(f, "name")
		case 4:
			n.OpType, err = m.stringField(f, "op_type")
		case 5:
			var sub msg
			if sub, err = m.messageField(f, fmt.Sprintf("attribute[%d]", len(n.Attributes))); err == nil {
				var a Attribute
				a, err = decodeAttribute(sub)
				n.Attributes = append(n.Attributes, a)
			}
		case 6:
			n.DocString, err = m.stringField(f, "doc_string")
		case 7:
			n.Domain, err = m.stringField(f, "domain")
		}
		return err
	})
	if err == nil && n.OpType == "" {
		err = m.formatErr(m.base, "op_type", "node %q has no op_type", n.Name)
	}
	return n, err
}

func decodeAttribute(m msg) (Attribute, error) {
	var a Attribute
	var refAttr string
	var present []AttrType
	note := func(t AttrType) {
		if len(present) == 0 || present[len(present)-1] != t {
			present = append(present, t)
		}
	}
	err := m.fields(func(f *field) (err error) {
		switch f.num {
		case 1:
			a.Name, err = m.stringField(f, "name")
		case 2:
			if err = m.wantType(f, "f", protowire.Fixed32Type); err == nil {
				a.F = math.Float32frombits(uint32(f.v))
				note(AttrFloat)
			}
		case 3:
			a.I, err = m.int64Field(f, "i")
			note(AttrInt)
		case 4:
			a.S, err = m.bytesField(f, "s")
			note(AttrString)
		case 5:
			var sub msg
			if sub, err = m.messageField(f, "t"); err == nil {
				var t Tensor
				t, err = decodeTensor(sub)
				a.T = &t
				note(AttrTensor)
			}
		case 7:
			a.Floats, err = appendFloats(m, f, "floats", a.Floats)
			note(AttrFloats)
		case 8:
			a.Ints, err = appendVarints(m, f, "ints", a.Ints, func(v uint64) int64 { return int64(v) })
			note(AttrInts)
		case 9:
			var s []byte
			if s, err = m.bytesField(f, "strings"); err == nil {
				a.Strings = append(a.Strings, s)
				note(AttrStrings)
			}
		case 10:
			var sub msg
			if sub, err = m.messageField(f, fmt.Sprintf("tensors[%d]", len(a.Tensors))); err == nil {
				var t Tensor
				t, err = decodeTensor(sub)
				a.Tensors = append(a.Tensors, t)
				note(AttrTensors)
			}
		case 6, 11, 14, 15, 22, 23: // values this package does not decode
			note(map[protowire.Number]AttrType{6: AttrGraph, 11: AttrGraphs, 14: AttrTypeProto,
				15: AttrTypeProtos, 22: AttrSparseTensor, 23: AttrSparseTensors}[f.num])
		case 20:
			var t int32
			t, err = m.int32Field(f, "type")
			a.Type = AttrType(t)
		case 21:
			refAttr, err = m.stringField(f, "ref_attr_name")
		}
		return err
	})
	if err != nil {
		return a, err
	}
	if a.Name == "" {
		return a, m.formatErr(m.base, "name", "attribute has no name")
	}
	if refAttr != "" {
		return a, m.unsupported(m.base, "", "attribute %q refers to attribute %q of an enclosing function",
			a.Name, refAttr)
	}
	if a.Type == AttrUndefined { // IR version 1 had no type field: go by the value present
		if len(present) != 1 {
			return a, m.formatErr(m.base, "", "attribute %q has no type and %d kinds of value", a.Name, len(present))
		}
		a.Type = present[0]
	}
	switch a.Type {
	case AttrGraph, AttrGraphs:
		return a, m.unsupported(m.base, "", "attribute %q holds a subgraph (%s), as the bodies of If, Loop "+
			"and Scan do", a.Name, a.Type)
	case AttrSparseTensor, AttrSparseTensors, AttrTypeProto, AttrTypeProtos:
		return a, m.unsupported(m.base, "", "attribute %q has type %s", a.Name, a.Type)
	case AttrFloat, AttrInt, AttrString, AttrTensor, AttrFloats, AttrInts, AttrStrings, AttrTensors:
	default:
		return a, m.unsupported(m.base, "", "attribute %q has unknown type %d", a.Name, int32(a.Type))
	}
	if a.Type == AttrTensor && a.T == nil {
		return a, m.formatErr(m.base, "", "attribute %q of type TENSOR has no tensor", a.Name)
	}
	return keepValue(a), nil
}

// keepValue clears every value field of a except the one its Type names.
func keepValue(a Attribute) Attribute {
	k := Attribute{Name: a.Name, Type: a.Type}
	switch a.Type {
	case AttrFloat:
		k.F = a.F
	case AttrInt:
		k.I = a.I
	case AttrString:
		k.S = a.S
	case AttrTensor:
		k.T = a.T
	case AttrFloats:
		k.Floats = a.Floats
	case AttrInts:
		k.Ints = a.Ints
	case AttrStrings:
		k.Strings = a.Strings
	case AttrTensors:
		k.Tensors = a.Tensors
	}
	return k
}

func decodeValueInfo(m msg) (v ValueInfo, err error) {
	err = m.fields(func(f *field) (err error) {
		switch f.num {
		case 1:
			v.Name, err = m.stringField(f, "name")
		case 2:
			var sub msg
			if sub, err = m.messageField(f, "type"); err == nil {
				err = decodeType(sub, &v)
			}
		case 3:
			v.DocString, err = m.stringField(f, "doc_string")
		}
		return err
	})
	return v, err
}

// decodeType decodes a TypeProto into v. Its value is a oneof, so the last kind present wins.
func decodeType(m msg, v *ValueInfo) error {
	v.Kind, v.ElemType, v.Shape, v.HasShape, v.OtherType = TensorType, Undefined, nil, false, nil
	kind := TensorType
	err := m.fields(func(f *field) (err error) {
		switch f.num {
		case 1, 8:
			kind = map[protowire.Number]TypeKind{1: TensorType, 8: SparseTensorType}[f.num]
			var sub msg
			if sub, err = m.messageField(f, kind.String()); err == nil {
				err = decodeTensorType(sub, v)
			}
		case 4, 5, 9:
			kind = map[protowire.Number]TypeKind{4: SequenceType, 5: MapType, 9: OptionalType}[f.num]
			err = m.wantType(f, kind.String(), protowire.BytesType)
		}
		return err
	})
	if err != nil {
		return err
	}
	v.Kind = kind
	if kind != TensorType && kind != SparseTensorType {
		v.ElemType, v.Shape, v.HasShape = Undefined, nil, false
		v.OtherType = bytes.Clone(m.b)
	}
	return nil
}

func decodeTensorType(m msg, v *ValueInfo) error {
	v.ElemType, v.Shape, v.HasShape = Undefined, nil, false
	return m.fields(func(f *field) (err error) {
		switch f.num {
		case 1:
			var t int32
			t, err = m.int32Field(f, "elem_type")
			v.ElemType = DataType(t)
		case 2:
			var sub msg
			if sub, err = m.messageField(f, "shape"); err == nil {
				v.HasShape = true
				v.Shape, err = decodeShape(sub, v.Shape)
			}
		}
		return err
	})
}

func decodeShape(m msg, dims []Dim) ([]Dim, error) {
	err := m.fields(func(f *field) error {
		if f.num != 1 {
			return nil
		}
		sub, err := m.messageField(f, fmt.Sprintf("dim[%d]", len(dims)))
		if err != nil {
			return err
		}
		d := Dim{Value: -1}
		err = sub.fields(func(f *field) (err error) {
			switch f.num {
			case 1:
				var x int64
				if x, err = sub.int64Field(f, "dim_value"); err == nil {
					// Some exporters write -1 for a dynamic size; it is as unknown as no value.
					d = Dim{Value: max(x, -1)}
				}
			case 2:
				var s string
				if s, err = sub.stringField(f, "dim_param"); err == nil {
					d = Dim{Value: -1, Param: s}
				}
			}
			return err
		})
		dims = append(dims, d)
		return err
	})
	return dims, err
}

// tensorData collects the data fields of a TensorProto, which may come in any order.
type tensorData struct {
	raw     []byte
	hasRaw  bool
	floats  []float32
	int32s  []int32
	int64s  []int64
	doubles []float64
	uint64s []uint64
	strings [][]byte
}

func decodeTensor(m msg) (Tensor, error) {
	var t Tensor
	var d tensorData
	external := false
	err := m.fields(func(f *field) (err error) {
		switch f.num {
		case 1:
			t.Dims, err = appendVarints(m, f, "dims", t.Dims, func(v uint64) int64 { return int64(v) })
		case 2:
			var dt int32
			dt, err = m.int32Field(f, "data_type")
			t.DataType = DataType(dt)
		case 3:
			return m.unsupported(f.off, "segment", "tensor data split into segments")
		case 4:
			d.floats, err = appendFloats(m, f, "float_data", d.floats)
		case 5:
			d.int32s, err = appendVarints(m, f, "int32_data", d.int32s, func(v uint64) int32 { return int32(v) })
		case 6:
			var s []byte
			if s, err = m.bytesField(f, "string_data"); err == nil {
				d.strings = append(d.strings, s)
			}
		case 7:
			d.int64s, err = appendVarints(m, f, "int64_data", d.int64s, func(v uint64) int64 { return int64(v) })
		case 8:
			t.Name, err = m.stringField(f, "name")
		case 9:
			if err = m.wantType(f, "raw_data", protowire.BytesType); err == nil {
				d.raw, d.hasRaw = f.data, true
			}
		case 10:
			d.doubles, err = appendDoubles(m, f, "double_data", d.doubles)
		case 11:
			d.uint64s, err = appendVarints(m, f, "uint64_data", d.uint64s, func(v uint64) uint64 { return v })
		case 12:
			t.DocString, err = m.stringField(f, "doc_string")
		case 13:
			err = m.wantType(f, "external_data", protowire.BytesType)
			external = true
		case 14:
			var loc int32
			if loc, err = m.int32Field(f, "data_location"); err == nil && loc != 0 {
				external = true
			}
		}
		return err
	})
	if err != nil {
		return t, err
	}
	if external {
		return t, m.unsupported(m.base, "", "tensor %q keeps its data in an external file (data_location "+
			"EXTERNAL); save the model with onnx.save(model, path, save_as_external_data=False)", t.Name)
	}
	return t, fillTensor(m, &t, &d)
}

// storageField names the TensorProto field that holds the typed values of dt.
func storageField(dt DataType) string {
	switch dt {
	case Float:
		return "float_data"
	case Double:
		return "double_data"
	case Int64:
		return "int64_data"
	case Uint32, Uint64:
		return "uint64_data"
	case String:
		return "string_data"
	}
	return "int32_data"
}

// elemSize is the number of bytes an element of dt takes in raw_data.
func elemSize(dt DataType) int {
	switch dt {
	case Int8, Uint8, Bool:
		return 1
	case Int16, Uint16, Float16, BFloat16:
		return 2
	case Float, Int32, Uint32:
		return 4
	}
	return 8
}

// fillTensor checks the collected data against the tensor's type and dims and converts it into
// the tensor's typed slice.
func fillTensor(m msg, t *Tensor, d *tensorData) error {
	count, ok := NumElements(t.Dims)
	if !ok {
		return m.formatErr(m.base, "dims", "tensor %q has dims %v: negative, or too many elements", t.Name, t.Dims)
	}
	dt := t.DataType
	switch dt {
	case Undefined:
		return m.formatErr(m.base, "data_type", "tensor %q has no data_type", t.Name)
	case Complex64, Complex128:
		return m.unsupported(m.base, "data_type", "tensor %q has element type %s", t.Name, dt)
	}
	if _, ok := t.dataLen(dt); !ok {
		return m.unsupported(m.base, "data_type", "tensor %q has unknown element type %d", t.Name, int32(dt))
	}
	want := storageField(dt)
	typed := 0
	for _, s := range []struct {
		name string
		n    int
	}{{"float_data", len(d.floats)}, {"int32_data", len(d.int32s)}, {"int64_data", len(d.int64s)},
		{"double_data", len(d.doubles)}, {"uint64_data", len(d.uint64s)}, {"string_data", len(d.strings)}} {
		switch {
		case s.name == want:
			typed = s.n
		case s.n > 0:
			return m.formatErr(m.base, s.name, "tensor %q of type %s has %d values in %s; they belong in %s or raw_data",
				t.Name, dt, s.n, s.name, want)
		}
	}
	if d.hasRaw {
		if dt == String {
			return m.formatErr(m.base, "raw_data", "STRING tensor %q has raw_data; strings belong in string_data", t.Name)
		}
		if typed > 0 {
			return m.formatErr(m.base, "raw_data", "tensor %q has both raw_data and %s", t.Name, want)
		}
		size := elemSize(dt)
		if len(d.raw)%size != 0 || int64(len(d.raw)/size) != count {
			return m.formatErr(m.base, "raw_data", "tensor %q has %d bytes of raw_data, but dims %v need %d %s "+
				"elements of %d bytes", t.Name, len(d.raw), t.Dims, count, dt, size)
		}
		fillRaw(t, d.raw)
		return nil
	}
	if int64(typed) != count {
		if typed == 0 {
			return m.formatErr(m.base, "", "tensor %q has no data, but dims %v need %d %s elements",
				t.Name, t.Dims, count, dt)
		}
		return m.formatErr(m.base, want, "tensor %q has %d values in %s, but dims %v need %d",
			t.Name, typed, want, t.Dims, count)
	}
	return fillTyped(m, t, d)
}

func fillRaw(t *Tensor, raw []byte) {
	le := binary.LittleEndian
	n := len(raw) / elemSize(t.DataType)
	switch t.DataType {
	case Float:
		t.Float = make([]float32, n)
		for i := range n {
			t.Float[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case Float16:
		t.Float = make([]float32, n)
		for i := range n {
			t.Float[i] = HalfToFloat32(le.Uint16(raw[2*i:]))
		}
	case BFloat16:
		t.Float = make([]float32, n)
		for i := range n {
			t.Float[i] = BFloat16ToFloat32(le.Uint16(raw[2*i:]))
		}
	case Double:
		t.Double = make([]float64, n)
		for i := range n {
			t.Double[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case Int64:
		t.Int64 = make([]int64, n)
		for i := range n {
			t.Int64[i] = int64(le.Uint64(raw[8*i:]))
		}
	case Int32:
		t.Int32 = make([]int32, n)
		for i := range n {
			t.Int32[i] = int32(le.Uint32(raw[4*i:]))
		}
	case Int16:
		t.Int16 = make([]int16, n)
		for i := range n {
			t.Int16[i] = int16(le.Uint16(raw[2*i:]))
		}
	case Int8:
		t.Int8 = make([]int8, n)
		for i := range n {
			t.Int8[i] = int8(raw[i])
		}
	case Uint8:
		t.Uint8 = bytes.Clone(raw)
		if t.Uint8 == nil {
			t.Uint8 = []uint8{}
		}
	case Bool:
		t.Uint8 = make([]uint8, n)
		for i := range n {
			if raw[i] != 0 {
				t.Uint8[i] = 1
			}
		}
	case Uint16:
		t.Uint16 = make([]uint16, n)
		for i := range n {
			t.Uint16[i] = le.Uint16(raw[2*i:])
		}
	case Uint32:
		t.Uint32 = make([]uint32, n)
		for i := range n {
			t.Uint32[i] = le.Uint32(raw[4*i:])
		}
	case Uint64:
		t.Uint64 = make([]uint64, n)
		for i := range n {
			t.Uint64[i] = le.Uint64(raw[8*i:])
		}
	}
}

func fillTyped(m msg, t *Tensor, d *tensorData) error {
	// narrow converts int32_data to a smaller type, checking that each value fits.
	narrow := func(lo, hi int32, set func(i int, v int32)) error {
		for i, v := range d.int32s {
			if v < lo || v > hi {
				return m.formatErr(m.base, "int32_data", "tensor %q of type %s has value %d at index %d, "+
					"outside [%d, %d]", t.Name, t.DataType, v, i, lo, hi)
			}
			set(i, v)
		}
		return nil
	}
	n := len(d.int32s)
	switch t.DataType {
	case Float:
		t.Float = orEmpty(d.floats)
	case Double:
		t.Double = orEmpty(d.doubles)
	case Int64:
		t.Int64 = orEmpty(d.int64s)
	case Int32:
		t.Int32 = orEmpty(d.int32s)
	case String:
		t.Strings = orEmpty(d.strings)
	case Uint64:
		t.Uint64 = orEmpty(d.uint64s)
	case Uint32:
		t.Uint32 = make([]uint32, len(d.uint64s))
		for i, v := range d.uint64s {
			if v > math.MaxUint32 {
				return m.formatErr(m.base, "uint64_data", "tensor %q of type UINT32 has value %d at index %d, "+
					"outside [0, %d]", t.Name, v, i, uint32(math.MaxUint32))
			}
			t.Uint32[i] = uint32(v)
		}
	case Int16:
		t.Int16 = make([]int16, n)
		return narrow(math.MinInt16, math.MaxInt16, func(i int, v int32) { t.Int16[i] = int16(v) })
	case Int8:
		t.Int8 = make([]int8, n)
		return narrow(math.MinInt8, math.MaxInt8, func(i int, v int32) { t.Int8[i] = int8(v) })
	case Uint8:
		t.Uint8 = make([]uint8, n)
		return narrow(0, math.MaxUint8, func(i int, v int32) { t.Uint8[i] = uint8(v) })
	case Uint16:
		t.Uint16 = make([]uint16, n)
		return narrow(0, math.MaxUint16, func(i int, v int32) { t.Uint16[i] = uint16(v) })
	case Float16:
		t.Float = make([]float32, n)
		return narrow(0, math.MaxUint16, func(i int, v int32) { t.Float[i] = HalfToFloat32(uint16(v)) })
	case BFloat16:
		t.Float = make([]float32, n)
		return narrow(0, math.MaxUint16, func(i int, v int32) { t.Float[i] = BFloat16ToFloat32(uint16(v)) })
	case Bool:
		t.Uint8 = make([]uint8, n)
		for i, v := range d.int32s {
			if v != 0 {
				t.Uint8[i] = 1
			}
		}
	}
	return nil
}

// orEmpty makes a nil slice empty, so that a decoded tensor's data slice is never nil.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
