package onnxfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// pb builds protobuf wire data by hand, following onnx.proto's field numbers.
type pb []byte

func (b pb) varint(num protowire.Number, v uint64) pb {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

func (b pb) bytes(num protowire.Number, s []byte) pb {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func (b pb) str(num protowire.Number, s string) pb { return b.bytes(num, []byte(s)) }

func (b pb) fixed32(num protowire.Number, v uint32) pb {
	return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), v)
}

// model wraps a graph in a ModelProto with ir_version 8 and opset 13.
func model(graph pb) pb {
	return pb{}.varint(1, 8).bytes(7, graph).bytes(8, pb{}.varint(2, 13))
}

// graphWith is a graph holding one initializer.
func graphWith(tensor pb) pb { return pb{}.str(2, "g").bytes(5, tensor) }

// graphWithNode is a graph holding one node.
func graphWithNode(node pb) pb { return pb{}.bytes(1, node).str(2, "g") }

func floatRaw(vals ...float32) []byte {
	var b []byte
	for _, v := range vals {
		b = protowire.AppendFixed32(b, math.Float32bits(v))
	}
	return b
}

// FLOAT tensor [2 2] "w" with raw data; the base of many malformed variants.
func goodTensor() pb {
	return pb{}.varint(1, 2).varint(1, 2).varint(2, uint64(Float)).str(8, "w").bytes(9, floatRaw(1, 2, 3, 4))
}

func TestDecodeHandBuilt(t *testing.T) {
	m, err := Decode(model(graphWith(goodTensor())))
	if err != nil {
		t.Fatal(err)
	}
	w := m.Graph.Initializers[0]
	if diff(w, Tensor{Name: "w", Dims: []int64{2, 2}, DataType: Float, Float: []float32{1, 2, 3, 4}}) != "" {
		t.Errorf("got %+v", w)
	}
	// The same tensor with packed dims and unpacked float_data, as old writers produce.
	var packedDims []byte
	packedDims = protowire.AppendVarint(protowire.AppendVarint(packedDims, 2), 2)
	alt := pb{}.bytes(1, packedDims).varint(2, uint64(Float)).str(8, "w").
		fixed32(4, math.Float32bits(1)).fixed32(4, math.Float32bits(2)).bytes(4, floatRaw(3, 4))
	m2, err := Decode(model(graphWith(alt)))
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(m.Graph.Initializers, m2.Graph.Initializers); d != "" {
		t.Errorf("packed/unpacked forms differ: %s", d)
	}
}

// TestUnknownFieldsSkipped adds fields from a future onnx.proto to every message level; the
// decoded model must not change.
func TestUnknownFieldsSkipped(t *testing.T) {
	node := pb{}.str(1, "x").str(2, "y").str(4, "Relu")
	plain, err := Decode(model(pb{}.bytes(1, node).bytes(5, goodTensor())))
	if err != nil {
		t.Fatal(err)
	}
	group := protowire.AppendTag(nil, 102, protowire.StartGroupType)
	group = protowire.AppendTag(protowire.AppendVarint(protowire.AppendTag(group, 1, protowire.VarintType), 5), 102,
		protowire.EndGroupType)
	extra := func(b pb) pb { return append(b.varint(100, 7).str(101, "future").fixed32(103, 1), group...) }
	future := extra(pb{}.varint(1, 8).bytes(7, extra(pb{}.bytes(1, extra(node)).bytes(5, extra(goodTensor())))).
		bytes(8, extra(pb{}.varint(2, 13))))
	got, err := Decode(future)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(plain, got); d != "" {
		t.Errorf("unknown fields changed the model: %s", d)
	}
}

func TestNotONNX(t *testing.T) {
	var pngData bytes.Buffer
	if err := png.Encode(&pngData, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	var zipData bytes.Buffer
	zw := zip.NewWriter(&zipData)
	w, _ := zw.Create("archive/data.pkl")
	w.Write([]byte("not really a pickle"))
	zw.Close()
	tensorPB, err := os.ReadFile(conformanceDir + "/node/test_relu/test_data_set_0/input_0.pb")
	if err != nil {
		tensorPB = goodTensor() // the conformance test reports the missing data
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"png", pngData.Bytes(), "a PNG image"},
		{"text", []byte("name,value\nlearning_rate,0.01\n"), "text (\"name,value\\nlearning_rate,0.01\\n\")"},
		{"pytorch checkpoint", zipData.Bytes(), "PyTorch .pt checkpoint"},
		{"empty", nil, "neither an ir_version nor a graph (an ONNX model is a protobuf ModelProto with ir_version in field 1 and the graph in field 7); the data is empty"},
		{"graph only", pb{}.bytes(7, graphWith(goodTensor())), "no ir_version"},
		{"ir_version only", pb{}.varint(1, 8), "no graph"},
		{"tensor file", tensorPB, "a TensorProto, such as a test's input_0.pb, not a ModelProto"},
	} {
		_, err := Decode(c.data)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a FormatError", c.name, err)
			continue
		}
		if c.want != "" && (!fe.NotONNX || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %q does not say it is not an ONNX model and %q", c.name, err, c.want)
		}
		t.Logf("%s: %v", c.name, err)
	}
	// ReadFile names the file.
	path := t.TempDir() + "/photo.onnx"
	if err := os.WriteFile(path, pngData.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), "onnxfile: "+path+": not an ONNX model: the data is a PNG image") {
		t.Errorf("ReadFile: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	tensorWith := func(extra pb) []byte { return model(graphWith(append(goodTensor(), extra...))) }
	withDims := func(dims ...int64) pb {
		b := pb{}
		for _, d := range dims {
			b = b.varint(1, uint64(d))
		}
		return b
	}
	typed := func(dt DataType, dims []int64, data pb) []byte {
		return model(graphWith(append(withDims(dims...).varint(2, uint64(dt)).str(8, "t"), data...)))
	}
	attrNode := func(attr pb) []byte {
		return model(graphWithNode(pb{}.str(1, "x").str(2, "y").str(4, "Op").bytes(5, attr)))
	}
	cnn, err := os.ReadFile(testdata("cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var graphOff int // where cnn.onnx's graph field starts
	for p := 0; ; {
		num, typ, n := protowire.ConsumeTag(cnn[p:])
		if num == 7 {
			graphOff = p
			break
		}
		p += n + protowire.ConsumeFieldValue(num, typ, cnn[p+n:])
	}
	bigLen := protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.BytesType), 1<<40)

	for _, c := range []struct {
		name        string
		data        []byte
		unsupported bool
		want        string
	}{
		{"truncated varint", []byte{0x08, 0x80}, false, "truncated or corrupt varint value"},
		{"truncated graph", cnn[:len(cnn)/2], false, "truncated or corrupt length-delimited value"},
		{"ir_version as bytes", pb{}.str(1, "8").bytes(7, nil), false, "ir_version: has wire type length-delimited, want varint"},
		{"graph as varint", pb{}.varint(1, 8).varint(7, 1), false, "graph: has wire type varint, want length-delimited"},
		{"node input as varint", model(graphWithNode(pb{}.varint(1, 3))), false, "graph.node[0].input: has wire type varint"},
		{"two graphs", append(model(nil), pb{}.bytes(7, nil)...), false, "a second graph field"},
		{"field number 0", []byte{0x00, 0x01}, false, "bad field tag"},
		{"raw_data length beyond the data", tensorWith(pb(bigLen)), false, "truncated or corrupt length-delimited"},
		{"raw_data too short", tensorWith(pb{}.bytes(9, floatRaw(1, 2, 3))), false,
			`tensor "w" has 12 bytes of raw_data, but dims [2 2] need 4 FLOAT elements of 4 bytes`},
		{"raw_data odd length", typed(Int16, []int64{1}, pb{}.bytes(9, []byte{1, 2, 3})), false, "3 bytes of raw_data"},
		{"float_data too long", typed(Float, []int64{2}, pb{}.bytes(4, floatRaw(1, 2, 3))), false,
			`tensor "t" has 3 values in float_data, but dims [2] need 2`},
		{"no data", typed(Float, []int64{3}, nil), false, `tensor "t" has no data, but dims [3] need 3 FLOAT elements`},
		{"packed floats of 7 bytes", typed(Float, []int64{2}, pb{}.bytes(4, make([]byte, 7))), false, "not a multiple of 4"},
		{"dims overflow", typed(Float, []int64{1 << 40, 1 << 40}, pb{}.bytes(9, floatRaw(1))), false, "too many elements"},
		{"negative dim", typed(Float, []int64{-2}, pb{}.bytes(9, floatRaw(1))), false, "dims [-2]: negative"},
		{"float values in int64_data", typed(Float, []int64{1}, pb{}.varint(7, 1)), false,
			`tensor "t" of type FLOAT has 1 values in int64_data; they belong in float_data or raw_data`},
		{"raw_data and float_data", tensorWith(pb{}.fixed32(4, 0)), false, `tensor "w" has both raw_data and float_data`},
		{"raw strings", typed(String, []int64{1}, pb{}.bytes(9, []byte("a"))), false, "strings belong in string_data"},
		{"INT8 out of range", typed(Int8, []int64{2}, pb{}.varint(5, 1).varint(5, 200)), false,
			"has value 200 at index 1, outside [-128, 127]"},
		{"UINT32 out of range", typed(Uint32, []int64{1}, pb{}.varint(11, 1<<33)), false, "outside [0, 4294967295]"},
		{"FLOAT16 bits out of range", typed(Float16, []int64{1}, pb{}.varint(5, 70000)), false, "outside [0, 65535]"},
		{"no data_type", model(graphWith(withDims(1).bytes(9, floatRaw(1)))), false, "has no data_type"},
		{"attribute without type or value", attrNode(pb{}.str(1, "a")), false, `attribute "a" has no type and 0 kinds of value`},
		{"TENSOR attribute without tensor", attrNode(pb{}.str(1, "a").varint(20, uint64(AttrTensor))), false, "has no tensor"},
		{"attribute floats of wrong wire type", attrNode(pb{}.str(1, "a").varint(7, 1)), false, "want fixed32 or packed fixed32"},

		{"complex tensor", typed(Complex64, []int64{1}, pb{}.fixed32(4, 0).fixed32(4, 0)), true, "element type COMPLEX64"},
		{"unknown data type", typed(DataType(99), []int64{1}, pb{}.bytes(9, []byte{0})), true, "unknown element type 99"},
		{"segmented tensor", tensorWith(pb{}.bytes(3, pb{}.varint(1, 0).varint(2, 2))), true, "segments"},
		{"external data", tensorWith(pb{}.bytes(13, pb{}.str(1, "location").str(2, "w.bin")).varint(14, 1)), true,
			"external file"},
		{"graph attribute", attrNode(pb{}.str(1, "body").bytes(6, nil).varint(20, uint64(AttrGraph))), true, "subgraph (GRAPH)"},
		{"graph attribute without type", attrNode(pb{}.str(1, "body").bytes(6, nil)), true, "subgraph (GRAPH)"},
		{"type proto attribute", attrNode(pb{}.str(1, "type").bytes(14, nil).varint(20, uint64(AttrTypeProto))), true, "TYPE_PROTO"},
		{"unknown attribute type", attrNode(pb{}.str(1, "a").varint(20, 99)), true, "unknown type 99"},
		{"function attribute reference", attrNode(pb{}.str(1, "a").str(21, "alpha").varint(20, 1)), true, `refers to attribute "alpha"`},
		{"model-local functions", append(model(nil), pb{}.bytes(25, nil)...), true, "FunctionProto"},
		{"training info", append(model(nil), pb{}.bytes(20, nil)...), true, "TrainingInfoProto"},
		{"sparse initializer", model(pb{}.bytes(15, nil)), true, "SparseTensorProto"},
	} {
		_, err := Decode(c.data)
		var fe *FormatError
		var ue *UnsupportedError
		switch {
		case c.unsupported && !errors.As(err, &ue), !c.unsupported && !errors.As(err, &fe):
			t.Errorf("%s: got %v (%T), want unsupported=%v", c.name, err, err, c.unsupported)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %q does not contain %q", c.name, err, c.want)
		}
	}

	// The offset of an error points into the data: here, at the tag of the graph in cnn.onnx
	// after its type was changed from length-delimited (2) to fixed64 (1).
	bad := bytes.Clone(cnn)
	bad[graphOff] = byte(7<<3 | 1)
	_, err = Decode(bad)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Offset != graphOff || fe.Field != "graph" {
		t.Errorf("wire type change at byte %d: %#v", graphOff, err)
	}
}

func TestAttributeWithoutType(t *testing.T) {
	// IR version 1 attributes had no type field; the value present decides.
	m, err := Decode(model(graphWithNode(pb{}.str(4, "Op").bytes(5, pb{}.str(1, "k").varint(8, 3).varint(8, 4)))))
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Graph.Nodes[0].Attributes[0]; a.Type != AttrInts || diff(a.Ints, []int64{3, 4}) != "" {
		t.Errorf("got %+v", a)
	}
}

func TestDimensions(t *testing.T) {
	dim := func(b pb) pb { return pb{}.bytes(1, b) }
	shape := append(append(append(dim(pb{}.varint(1, 3)), dim(pb{}.str(2, "N"))...), dim(nil)...),
		dim(pb{}.varint(1, math.MaxUint64))...) // 3, N, unknown, -1
	vi := pb{}.str(1, "x").bytes(2, pb{}.bytes(1, pb{}.varint(1, uint64(Float)).bytes(2, shape)))
	m, err := Decode(model(pb{}.bytes(11, vi)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Dim{{3, ""}, {-1, "N"}, {-1, ""}, {-1, ""}}
	if d := diff(want, m.Graph.Inputs[0].Shape); d != "" {
		t.Errorf("dims %v, want %v", m.Graph.Inputs[0].Shape, want)
	}
}

func TestTruncations(t *testing.T) {
	for _, name := range supportedTestModels {
		data, err := os.ReadFile(testdata(name))
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for n := range len(data) {
			_, err := Decode(data[:n])
			var fe *FormatError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("%s cut to %d bytes: %v, want a FormatError", name, n, err)
			}
			if err != nil {
				failed++
			}
		}
		// Cuts at field boundaries before the graph is complete lose it; others break a field.
		if failed < len(data)*9/10 {
			t.Errorf("%s: only %d of %d truncations rejected", name, failed, len(data))
		}
	}
}

// TestNoHugeAllocations checks that lengths and dims in the data do not make the decoder allocate
// more than the data could hold.
func TestNoHugeAllocations(t *testing.T) {
	inputs := [][]byte{
		model(graphWith(pb{}.varint(1, 1<<34).varint(2, uint64(Float)).bytes(9, floatRaw(1)))),
		model(graphWith(pb{}.varint(1, 1<<34).varint(2, uint64(Float)))),
		model(graphWith(append(pb{}.varint(1, 4).varint(2, uint64(Double)),
			protowire.AppendVarint(protowire.AppendTag(nil, 10, protowire.BytesType), 1<<33)...))),
		append(protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.BytesType), 1<<62), 0, 0),
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, in := range inputs {
		if _, err := Decode(in); err == nil {
			t.Errorf("decoded %x", in)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("decoding %d tiny malformed models allocated %d bytes", len(inputs), n)
	}
}
