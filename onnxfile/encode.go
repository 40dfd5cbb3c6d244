package onnxfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// Encode serializes m as an ONNX ModelProto, with fields in field-number order as onnx's own
// serializer writes them. Numeric tensor data goes into raw_data; FLOAT16 and BFLOAT16 tensors are
// rounded (to nearest, ties to even) from their float32 values. Empty strings and zero numbers
// of optional fields are left out. It checks each tensor's element count against its dims.
func Encode(m *Model) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("onnxfile: encode: nil model")
	}
	e := encoder{b: make([]byte, 0, 4096+modelDataSize(m))}
	e.varint(1, uint64(m.IRVersion))
	e.str(2, m.ProducerName)
	e.str(3, m.ProducerVersion)
	e.str(4, m.Domain)
	if m.ModelVersion != 0 {
		e.varint(5, uint64(m.ModelVersion))
	}
	e.str(6, m.DocString)
	start := e.begin(7)
	if err := e.graph(&m.Graph); err != nil {
		return nil, err
	}
	if err := e.end(start, "graph"); err != nil {
		return nil, err
	}
	for _, o := range m.OpsetImports {
		start := e.begin(8)
		e.str(1, o.Domain)
		e.varint(2, uint64(o.Version))
		e.mustEnd(start)
	}
	for _, p := range m.MetadataProps {
		start := e.begin(14)
		e.str(1, p.Key)
		e.str(2, p.Value)
		e.mustEnd(start)
	}
	return e.b, nil
}

// EncodeTensor serializes t as a bare TensorProto, the format of the ONNX test suite's .pb files.
func EncodeTensor(t *Tensor) ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("onnxfile: encode: nil tensor")
	}
	e := encoder{b: make([]byte, 0, 64+t.Len()*8)}
	if err := e.tensor(t, "tensor"); err != nil {
		return nil, err
	}
	return e.b, nil
}

// WriteFile encodes m and writes it to the file path.
func WriteFile(path string, m *Model) error {
	data, err := Encode(m)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("onnxfile: %w", err)
	}
	return nil
}

// modelDataSize estimates the bytes of tensor data in the model's initializers, to size the
// output buffer once.
func modelDataSize(m *Model) int {
	n := 0
	for i := range m.Graph.Initializers {
		t := &m.Graph.Initializers[i]
		if t.DataType != String {
			n += t.Len() * elemSize(t.DataType)
		}
	}
	return n
}

type encoder struct{ b []byte }

func (e *encoder) varint(num protowire.Number, v uint64) {
	e.b = protowire.AppendTag(e.b, num, protowire.VarintType)
	e.b = protowire.AppendVarint(e.b, v)
}

// str writes a string field unless it is empty.
func (e *encoder) str(num protowire.Number, s string) {
	if s != "" {
		e.b = protowire.AppendTag(e.b, num, protowire.BytesType)
		e.b = protowire.AppendString(e.b, s)
	}
}

func (e *encoder) bytes(num protowire.Number, s []byte) {
	e.b = protowire.AppendTag(e.b, num, protowire.BytesType)
	e.b = protowire.AppendBytes(e.b, s)
}

// lenRoom is the room begin leaves for a sub-message's length: a varint of up to 2^35-1.
const lenRoom = 5

// begin starts a sub-message in field num; end closes it.
func (e *encoder) begin(num protowire.Number) int {
	e.b = protowire.AppendTag(e.b, num, protowire.BytesType)
	e.b = append(e.b, make([]byte, lenRoom)...)
	return len(e.b)
}

// end writes the length of the sub-message that began at start, moving its bytes down over the
// unused room.
func (e *encoder) end(start int, what string) error {
	n := len(e.b) - start
	if n > math.MaxInt32 {
		return fmt.Errorf("onnxfile: encode %s: %d bytes exceed protobuf's 2 GiB limit on a message", what, n)
	}
	var l [lenRoom]byte
	ln := protowire.AppendVarint(l[:0], uint64(n))
	at := start - lenRoom
	copy(e.b[at:], ln)
	copy(e.b[at+len(ln):], e.b[start:])
	e.b = e.b[:at+len(ln)+n]
	return nil
}

// mustEnd closes a sub-message too small to exceed the size limit.
func (e *encoder) mustEnd(start int) { _ = e.end(start, "") }

func (e *encoder) graph(g *Graph) error {
	for i := range g.Nodes {
		start := e.begin(1)
		where := fmt.Sprintf("graph.node[%d] (%q)", i, g.Nodes[i].Name)
		if err := e.node(&g.Nodes[i], where); err != nil {
			return err
		}
		e.mustEnd(start)
	}
	e.str(2, g.Name)
	for i := range g.Initializers {
		start := e.begin(5)
		where := fmt.Sprintf("graph.initializer[%d] (%q)", i, g.Initializers[i].Name)
		if err := e.tensor(&g.Initializers[i], where); err != nil {
			return err
		}
		if err := e.end(start, where); err != nil {
			return err
		}
	}
	e.str(10, g.DocString)
	for _, list := range []struct {
		num  protowire.Number
		name string
		vals []ValueInfo
	}{{11, "input", g.Inputs}, {12, "output", g.Outputs}, {13, "value_info", g.ValueInfo}} {
		for i := range list.vals {
			start := e.begin(list.num)
			where := fmt.Sprintf("graph.%s[%d] (%q)", list.name, i, list.vals[i].Name)
			if err := e.valueInfo(&list.vals[i], where); err != nil {
				return err
			}
			e.mustEnd(start)
		}
	}
	return nil
}

func (e *encoder) node(n *Node, where string) error {
	for _, s := range n.Inputs {
		e.bytes(1, []byte(s))
	}
	for _, s := range n.Outputs {
		e.bytes(2, []byte(s))
	}
	e.str(3, n.Name)
	if n.OpType == "" {
		return fmt.Errorf("onnxfile: encode %s: node has no OpType", where)
	}
	e.str(4, n.OpType)
	for i := range n.Attributes {
		start := e.begin(5)
		a := &n.Attributes[i]
		if err := e.attribute(a, fmt.Sprintf("%s.attribute[%d] (%q)", where, i, a.Name)); err != nil {
			return err
		}
		e.mustEnd(start)
	}
	e.str(6, n.DocString)
	e.str(7, n.Domain)
	return nil
}

func (e *encoder) attribute(a *Attribute, where string) error {
	e.bytes(1, []byte(a.Name))
	switch a.Type {
	case AttrFloat:
		e.b = protowire.AppendTag(e.b, 2, protowire.Fixed32Type)
		e.b = protowire.AppendFixed32(e.b, math.Float32bits(a.F))
	case AttrInt:
		e.varint(3, uint64(a.I))
	case AttrString:
		e.bytes(4, a.S)
	case AttrTensor:
		if a.T == nil {
			return fmt.Errorf("onnxfile: encode %s: TENSOR attribute with a nil T", where)
		}
		start := e.begin(5)
		if err := e.tensor(a.T, where+".t"); err != nil {
			return err
		}
		if err := e.end(start, where); err != nil {
			return err
		}
	case AttrFloats:
		for _, f := range a.Floats {
			e.b = protowire.AppendTag(e.b, 7, protowire.Fixed32Type)
			e.b = protowire.AppendFixed32(e.b, math.Float32bits(f))
		}
	case AttrInts:
		for _, v := range a.Ints {
			e.varint(8, uint64(v))
		}
	case AttrStrings:
		for _, s := range a.Strings {
			e.bytes(9, s)
		}
	case AttrTensors:
		for i := range a.Tensors {
			start := e.begin(10)
			if err := e.tensor(&a.Tensors[i], fmt.Sprintf("%s.tensors[%d]", where, i)); err != nil {
				return err
			}
			if err := e.end(start, where); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("onnxfile: encode %s: attribute type %s is not supported", where, a.Type)
	}
	e.varint(20, uint64(a.Type))
	return nil
}

func (e *encoder) valueInfo(v *ValueInfo, where string) error {
	e.bytes(1, []byte(v.Name))
	switch v.Kind {
	case TensorType, SparseTensorType:
		if v.Kind == TensorType && v.ElemType == Undefined && !v.HasShape {
			break // no type at all
		}
		start := e.begin(2)
		inner := e.begin(map[TypeKind]protowire.Number{TensorType: 1, SparseTensorType: 8}[v.Kind])
		e.varint(1, uint64(v.ElemType))
		if v.HasShape {
			shape := e.begin(2)
			for _, d := range v.Shape {
				dim := e.begin(1)
				switch {
				case d.Param != "":
					e.str(2, d.Param)
				case d.Value >= 0:
					e.varint(1, uint64(d.Value))
				}
				e.mustEnd(dim)
			}
			e.mustEnd(shape)
		}
		e.mustEnd(inner)
		e.mustEnd(start)
	case SequenceType, MapType, OptionalType:
		if len(v.OtherType) == 0 {
			return fmt.Errorf("onnxfile: encode %s: a %s value needs its encoded TypeProto in OtherType", where, v.Kind)
		}
		e.bytes(2, v.OtherType)
	default:
		return fmt.Errorf("onnxfile: encode %s: unknown value kind %d", where, v.Kind)
	}
	e.str(3, v.DocString)
	return nil
}

// tensor writes the fields of a TensorProto; where names it in errors.
func (e *encoder) tensor(t *Tensor, where string) error {
	count, ok := NumElements(t.Dims)
	if !ok {
		return fmt.Errorf("onnxfile: encode %s: invalid dims %v", where, t.Dims)
	}
	n, ok := t.dataLen(t.DataType)
	if !ok {
		return fmt.Errorf("onnxfile: encode %s: element type %s is not supported", where, t.DataType)
	}
	if int64(n) != count {
		return fmt.Errorf("onnxfile: encode %s: %d elements for dims %v, which need %d", where, n, t.Dims, count)
	}
	for _, s := range t.dataSlices() {
		if s.n > 0 && s.name != storageSlice(t.DataType) {
			return fmt.Errorf("onnxfile: encode %s: a %s tensor with data in its %s slice", where, t.DataType, s.name)
		}
	}
	for _, d := range t.Dims {
		e.varint(1, uint64(d))
	}
	e.varint(2, uint64(t.DataType))
	if t.DataType == String {
		for _, s := range t.Strings {
			e.bytes(6, s)
		}
	}
	e.str(8, t.Name)
	if t.DataType != String {
		e.raw(t)
	}
	e.str(12, t.DocString)
	return nil
}

// dataSlices lists the tensor's data slices by name, with their lengths.
func (t *Tensor) dataSlices() []struct {
	name string
	n    int
} {
	return []struct {
		name string
		n    int
	}{{"Float", len(t.Float)}, {"Double", len(t.Double)}, {"Int64", len(t.Int64)}, {"Int32", len(t.Int32)},
		{"Int16", len(t.Int16)}, {"Int8", len(t.Int8)}, {"Uint8", len(t.Uint8)}, {"Uint16", len(t.Uint16)},
		{"Uint32", len(t.Uint32)}, {"Uint64", len(t.Uint64)}, {"Strings", len(t.Strings)}}
}

// storageSlice names the Tensor field that holds elements of dt.
func storageSlice(dt DataType) string {
	switch dt {
	case Float, Float16, BFloat16:
		return "Float"
	case Uint8, Bool:
		return "Uint8"
	case String:
		return "Strings"
	case Double:
		return "Double"
	case Int64:
		return "Int64"
	case Int32:
		return "Int32"
	case Int16:
		return "Int16"
	case Int8:
		return "Int8"
	case Uint16:
		return "Uint16"
	case Uint32:
		return "Uint32"
	case Uint64:
		return "Uint64"
	}
	return ""
}

// raw writes the tensor's elements as raw_data, little-endian.
func (e *encoder) raw(t *Tensor) {
	le := binary.LittleEndian
	e.b = protowire.AppendTag(e.b, 9, protowire.BytesType)
	e.b = protowire.AppendVarint(e.b, uint64(t.Len()*elemSize(t.DataType)))
	b := e.b
	switch t.DataType {
	case Float:
		for _, v := range t.Float {
			b = le.AppendUint32(b, math.Float32bits(v))
		}
	case Float16:
		for _, v := range t.Float {
			b = le.AppendUint16(b, Float32ToHalf(v))
		}
	case BFloat16:
		for _, v := range t.Float {
			b = le.AppendUint16(b, Float32ToBFloat16(v))
		}
	case Double:
		for _, v := range t.Double {
			b = le.AppendUint64(b, math.Float64bits(v))
		}
	case Int64:
		for _, v := range t.Int64 {
			b = le.AppendUint64(b, uint64(v))
		}
	case Int32:
		for _, v := range t.Int32 {
			b = le.AppendUint32(b, uint32(v))
		}
	case Int16:
		for _, v := range t.Int16 {
			b = le.AppendUint16(b, uint16(v))
		}
	case Int8:
		for _, v := range t.Int8 {
			b = append(b, uint8(v))
		}
	case Uint8:
		b = append(b, t.Uint8...)
	case Bool:
		for _, v := range t.Uint8 {
			b = append(b, min(v, 1))
		}
	case Uint16:
		for _, v := range t.Uint16 {
			b = le.AppendUint16(b, v)
		}
	case Uint32:
		for _, v := range t.Uint32 {
			b = le.AppendUint32(b, v)
		}
	case Uint64:
		for _, v := range t.Uint64 {
			b = le.AppendUint64(b, v)
		}
	}
	e.b = b
}
