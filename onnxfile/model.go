// Package onnxfile reads and writes ONNX model files as plain Go structs.
//
// It speaks the protobuf wire format of onnx.proto directly (through protowire), so that
// everything tlkit needs survives a read and a write: node names, opset imports, symbolic
// dimensions, every attribute and tensor type a CNN uses. Malformed input gives a *FormatError,
// valid ONNX that this package does not model (subgraphs, external data, sparse tensors,
// model-local functions) an *UnsupportedError; no input makes it panic, and no length or dims
// in the input make it allocate more than the input's size warrants.
//
// Tensor elements are decoded from raw_data or the typed fields into one Go slice per element
// type (see Tensor); BOOL elements become 0 or 1 in Uint8, and FLOAT16 and BFLOAT16 elements are
// widened to float32 in Float. Fields that onnx.proto does not define are skipped, and so are a
// few annotations of no use to tlkit: attribute doc strings, type and dimension denotations, and
// quantization annotations. A model written back by Encode therefore lacks those, and holds its
// numeric tensor data in raw_data.
package onnxfile

import "fmt"

// Model is an ONNX ModelProto: a graph and the metadata around it.
type Model struct {
	IRVersion       int64
	OpsetImports    []OpsetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Graph           Graph
	MetadataProps   []StringPair
}

// OpsetID names the version of an operator set the model uses; Domain "" and "ai.onnx" are both
// the default ONNX domain.
type OpsetID struct {
	Domain  string
	Version int64
}

// StringPair is one key/value entry of a model's metadata.
type StringPair struct {
	Key, Value string
}

// Graph is an ONNX GraphProto. Nodes are in the file's order, which ONNX requires to be
// topological.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
	ValueInfo    []ValueInfo
	DocString    string
}

// Node is one operator application.
type Node struct {
	Name       string
	OpType     string
	Domain     string
	Inputs     []string // an empty name marks an omitted optional input
	Outputs    []string
	Attributes []Attribute
	DocString  string
}

// AttrType says which field of an Attribute holds its value; the numbers are onnx.proto's.
type AttrType int32

// The attribute types of onnx.proto. Graph, sparse-tensor and type-proto attributes are decoded
// as an *UnsupportedError.
const (
	AttrUndefined     AttrType = 0
	AttrFloat         AttrType = 1
	AttrInt           AttrType = 2
	AttrString        AttrType = 3
	AttrTensor        AttrType = 4
	AttrGraph         AttrType = 5
	AttrFloats        AttrType = 6
	AttrInts          AttrType = 7
	AttrStrings       AttrType = 8
	AttrTensors       AttrType = 9
	AttrGraphs        AttrType = 10
	AttrSparseTensor  AttrType = 11
	AttrSparseTensors AttrType = 12
	AttrTypeProto     AttrType = 13
	AttrTypeProtos    AttrType = 14
)

var attrTypeNames = map[AttrType]string{
	AttrUndefined: "UNDEFINED", AttrFloat: "FLOAT", AttrInt: "INT", AttrString: "STRING",
	AttrTensor: "TENSOR", AttrGraph: "GRAPH", AttrFloats: "FLOATS", AttrInts: "INTS",
	AttrStrings: "STRINGS", AttrTensors: "TENSORS", AttrGraphs: "GRAPHS",
	AttrSparseTensor: "SPARSE_TENSOR", AttrSparseTensors: "SPARSE_TENSORS",
	AttrTypeProto: "TYPE_PROTO", AttrTypeProtos: "TYPE_PROTOS",
}

// String gives the onnx.proto name of the type, such as "INTS".
func (t AttrType) String() string {
	if s, ok := attrTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("AttrType(%d)", int32(t))
}

// Attribute is a named operator attribute. Only the field that Type names is meaningful:
// F, I, S, T, Floats, Ints, Strings or Tensors.
type Attribute struct {
	Name    string
	Type    AttrType
	F       float32
	I       int64
	S       []byte
	T       *Tensor
	Floats  []float32
	Ints    []int64
	Strings [][]byte
	Tensors []Tensor
}

// Attr returns the node's attribute called name.
func (n *Node) Attr(name string) (*Attribute, bool) {
	for i := range n.Attributes {
		if n.Attributes[i].Name == name {
			return &n.Attributes[i], true
		}
	}
	return nil, false
}

// DataType is a tensor element type; the numbers are onnx.proto's TensorProto.DataType.
type DataType int32

// The element types of onnx.proto. Complex types are decoded as an *UnsupportedError.
const (
	Undefined  DataType = 0
	Float      DataType = 1
	Uint8      DataType = 2
	Int8       DataType = 3
	Uint16     DataType = 4
	Int16      DataType = 5
	Int32      DataType = 6
	Int64      DataType = 7
	String     DataType = 8
	Bool       DataType = 9
	Float16    DataType = 10
	Double     DataType = 11
	Uint32     DataType = 12
	Uint64     DataType = 13
	Complex64  DataType = 14
	Complex128 DataType = 15
	BFloat16   DataType = 16
)

var dataTypeNames = map[DataType]string{
	Undefined: "UNDEFINED", Float: "FLOAT", Uint8: "UINT8", Int8: "INT8", Uint16: "UINT16",
	Int16: "INT16", Int32: "INT32", Int64: "INT64", String: "STRING", Bool: "BOOL",
	Float16: "FLOAT16", Double: "DOUBLE", Uint32: "UINT32", Uint64: "UINT64",
	Complex64: "COMPLEX64", Complex128: "COMPLEX128", BFloat16: "BFLOAT16",
}

// String gives the onnx.proto name of the type, such as "FLOAT".
func (t DataType) String() string {
	if s, ok := dataTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("DataType(%d)", int32(t))
}

// Tensor is an ONNX TensorProto with its elements decoded, in row-major order, into the slice
// for its DataType:
//
//	FLOAT, FLOAT16, BFLOAT16  Float (half-precision values are widened exactly to float32)
//	DOUBLE                    Double
//	INT64, INT32, INT16, INT8 Int64, Int32, Int16, Int8
//	UINT8, BOOL               Uint8 (booleans as 0 or 1)
//	UINT16, UINT32, UINT64    Uint16, Uint32, Uint64
//	STRING                    Strings
//
// That slice has exactly product(Dims) elements (one for a scalar, whose Dims is empty); every
// other slice is empty.
type Tensor struct {
	Name      string
	Dims      []int64
	DataType  DataType
	Float     []float32
	Double    []float64
	Int64     []int64
	Int32     []int32
	Int16     []int16
	Int8      []int8
	Uint8     []uint8
	Uint16    []uint16
	Uint32    []uint32
	Uint64    []uint64
	Strings   [][]byte
	DocString string
}

// NumElements is the number of elements of a tensor with dimensions dims (1 for a scalar). It
// reports false if a dimension is negative or the product overflows an int64.
func NumElements(dims []int64) (int64, bool) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > (1<<63-1)/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// dataLen is the length of the slice that holds elements of type dt, and whether this package
// supports dt.
func (t *Tensor) dataLen(dt DataType) (int, bool) {
	switch dt {
	case Float, Float16, BFloat16:
		return len(t.Float), true
	case Double:
		return len(t.Double), true
	case Int64:
		return len(t.Int64), true
	case Int32:
		return len(t.Int32), true
	case Int16:
		return len(t.Int16), true
	case Int8:
		return len(t.Int8), true
	case Uint8, Bool:
		return len(t.Uint8), true
	case Uint16:
		return len(t.Uint16), true
	case Uint32:
		return len(t.Uint32), true
	case Uint64:
		return len(t.Uint64), true
	case String:
		return len(t.Strings), true
	}
	return 0, false
}

// Len is the number of elements held in the slice for the tensor's DataType.
func (t *Tensor) Len() int {
	n, _ := t.dataLen(t.DataType)
	return n
}

// Initializer returns the graph's initializer called name.
func (g *Graph) Initializer(name string) (*Tensor, bool) {
	for i := range g.Initializers {
		if g.Initializers[i].Name == name {
			return &g.Initializers[i], true
		}
	}
	return nil, false
}

// TypeKind says what kind of value a ValueInfo describes; the zero value is a tensor.
type TypeKind uint8

// The kinds of value in onnx.proto's TypeProto.
const (
	TensorType TypeKind = iota
	SparseTensorType
	SequenceType
	MapType
	OptionalType
)

// String names the kind as onnx.proto does, such as "tensor_type".
func (k TypeKind) String() string {
	switch k {
	case TensorType:
		return "tensor_type"
	case SparseTensorType:
		return "sparse_tensor_type"
	case SequenceType:
		return "sequence_type"
	case MapType:
		return "map_type"
	case OptionalType:
		return "optional_type"
	}
	return fmt.Sprintf("TypeKind(%d)", uint8(k))
}

// ValueInfo describes a graph input, output or intermediate value. For tensors (and sparse
// tensors) ElemType and Shape give the type; HasShape is false when the rank is unknown. A
// tensor ValueInfo with neither ElemType nor shape has no type at all in the file.
type ValueInfo struct {
	Name      string
	Kind      TypeKind
	ElemType  DataType
	Shape     []Dim
	HasShape  bool
	DocString string
	// OtherType is, for sequence, map and optional values, the encoded TypeProto, which this
	// package keeps uninterpreted so that Encode writes it back unchanged.
	OtherType []byte
}

// Dim is one dimension of a tensor shape: a fixed size (Value >= 0), a symbolic size named by
// Param (Value is -1), or unknown (Value -1, Param empty). A negative dim_value in a file, which
// some exporters write for a dynamic size, reads as unknown.
type Dim struct {
	Value int64
	Param string
}

// Opset returns the version of the operator set domain that the model imports, or 0 if it
// imports none; "" and "ai.onnx" both name the default domain.
func (m *Model) Opset(domain string) int64 {
	if domain == "ai.onnx" {
		domain = ""
	}
	for _, o := range m.OpsetImports {
		d := o.Domain
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain {
			return o.Version
		}
	}
	return 0
}
