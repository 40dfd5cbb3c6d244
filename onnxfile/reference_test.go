package onnxfile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The reference: testdata/reference.json, written by testdata/make_models.py from what Python's
// onnx package (onnx.load, numpy_helper.to_array) sees in the models it made.

type refTensor struct {
	Name        string   `json:"name"`
	Dims        []int64  `json:"dims"`
	DataType    string   `json:"data_type"`
	Raw         bool     `json:"raw"`
	DocString   string   `json:"doc_string"`
	Float32Bits []uint32 `json:"float32_bits"`
	Float64Bits []string `json:"float64_bits"`
	Ints        []string `json:"ints"`
	StringsHex  []string `json:"strings_hex"`
}

type refAttr struct {
	Name        string      `json:"name"`
	Type        string      `json:"type"`
	Float32Bits []uint32    `json:"float32_bits"`
	Ints        []string    `json:"ints"`
	StringsHex  []string    `json:"strings_hex"`
	Tensors     []refTensor `json:"tensors"`
}

type refValue struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	DocString string `json:"doc_string"`
	ElemType  string `json:"elem_type"`
	HasShape  bool   `json:"has_shape"`
	Dims      []struct {
		Value *int64  `json:"value"`
		Param *string `json:"param"`
	} `json:"dims"`
}

type refModel struct {
	IRVersion   int64 `json:"ir_version"`
	OpsetImport []struct {
		Domain  string
		Version int64
	} `json:"opset_import"`
	ProducerName  string                        `json:"producer_name"`
	ProducerVer   string                        `json:"producer_version"`
	Domain        string                        `json:"domain"`
	ModelVersion  int64                         `json:"model_version"`
	DocString     string                        `json:"doc_string"`
	MetadataProps []struct{ Key, Value string } `json:"metadata_props"`
	Graph         struct {
		Name      string `json:"name"`
		DocString string `json:"doc_string"`
		Nodes     []struct {
			Name       string    `json:"name"`
			OpType     string    `json:"op_type"`
			Domain     string    `json:"domain"`
			Inputs     []string  `json:"inputs"`
			Outputs    []string  `json:"outputs"`
			DocString  string    `json:"doc_string"`
			Attributes []refAttr `json:"attributes"`
		} `json:"nodes"`
		Initializers []refTensor `json:"initializers"`
		Inputs       []refValue  `json:"inputs"`
		Outputs      []refValue  `json:"outputs"`
		ValueInfo    []refValue  `json:"value_info"`
	} `json:"graph"`
}

type reference struct {
	Models      map[string]refModel `json:"models"`
	Unsupported map[string]string   `json:"unsupported"`
	Rounding    struct {
		Checksums struct {
			Float16Widen       string `json:"float16_widen"`
			Float16Round       string `json:"float16_round"`
			BFloat16Round      string `json:"bfloat16_round"`
			BFloat16RoundCount int    `json:"bfloat16_round_count"`
		} `json:"checksums"`
		Float16 struct {
			Float32Bits []uint32 `json:"float32_bits"`
			Float16Bits []uint16 `json:"float16_bits"`
		} `json:"float16"`
		BFloat16 struct {
			Float32Bits  []uint32 `json:"float32_bits"`
			BFloat16Bits []uint16 `json:"bfloat16_bits"`
		} `json:"bfloat16"`
	} `json:"rounding"`
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	data, err := os.ReadFile(testdata("reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("testdata/reference.json: %v", err)
	}
	return &ref
}

func dataTypeByName(t *testing.T, name string) DataType {
	for dt, n := range dataTypeNames {
		if n == name {
			return dt
		}
	}
	t.Fatalf("reference names unknown data type %q", name)
	return 0
}

func attrTypeByName(t *testing.T, name string) AttrType {
	for at, n := range attrTypeNames {
		if n == name {
			return at
		}
	}
	t.Fatalf("reference names unknown attribute type %q", name)
	return 0
}

func parseInts[T int8 | int16 | int32 | int64](t *testing.T, s []string, bits int) []T {
	out := make([]T, len(s))
	for i, v := range s {
		x, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = T(x)
	}
	return out
}

func parseUints[T uint8 | uint16 | uint32 | uint64](t *testing.T, s []string, bits int) []T {
	out := make([]T, len(s))
	for i, v := range s {
		x, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = T(x)
	}
	return out
}

func hexStrings(t *testing.T, s []string) [][]byte {
	out := make([][]byte, len(s))
	for i, h := range s {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func float32s(bits []uint32) []float32 {
	out := make([]float32, len(bits))
	for i, b := range bits {
		out[i] = math.Float32frombits(b)
	}
	return out
}

// expectTensor builds the Tensor that the reference describes.
func expectTensor(t *testing.T, r refTensor) Tensor {
	dt := dataTypeByName(t, r.DataType)
	x := Tensor{Name: r.Name, Dims: r.Dims, DataType: dt, DocString: r.DocString}
	switch dt {
	case Float, Float16, BFloat16:
		x.Float = float32s(r.Float32Bits)
	case Double:
		for _, b := range parseUints[uint64](t, r.Float64Bits, 64) {
			x.Double = append(x.Double, math.Float64frombits(b))
		}
	case Int64:
		x.Int64 = parseInts[int64](t, r.Ints, 64)
	case Int32:
		x.Int32 = parseInts[int32](t, r.Ints, 32)
	case Int16:
		x.Int16 = parseInts[int16](t, r.Ints, 16)
	case Int8:
		x.Int8 = parseInts[int8](t, r.Ints, 8)
	case Uint8, Bool:
		x.Uint8 = parseUints[uint8](t, r.Ints, 8)
	case Uint16:
		x.Uint16 = parseUints[uint16](t, r.Ints, 16)
	case Uint32:
		x.Uint32 = parseUints[uint32](t, r.Ints, 32)
	case Uint64:
		x.Uint64 = parseUints[uint64](t, r.Ints, 64)
	case String:
		x.Strings = hexStrings(t, r.StringsHex)
	default:
		t.Fatalf("reference tensor %q has type %s", r.Name, r.DataType)
	}
	return x
}

func expectValues(t *testing.T, refs []refValue, got []ValueInfo) []ValueInfo {
	var out []ValueInfo
	for i, r := range refs {
		v := ValueInfo{Name: r.Name, DocString: r.DocString}
		switch r.Kind {
		case "tensor_type":
			v.ElemType = dataTypeByName(t, r.ElemType)
			v.HasShape = r.HasShape
			for _, d := range r.Dims {
				switch {
				case d.Value != nil:
					v.Shape = append(v.Shape, Dim{Value: *d.Value})
				case d.Param != nil:
					v.Shape = append(v.Shape, Dim{Value: -1, Param: *d.Param})
				default:
					v.Shape = append(v.Shape, Dim{Value: -1})
				}
			}
		case "sequence_type":
			// Python's view of the element type is not in the reference; onnxfile keeps the
			// TypeProto's bytes, which the round-trip test hands back to Python.
			v.Kind = SequenceType
			if i < len(got) {
				v.OtherType = got[i].OtherType
			}
		default:
			t.Fatalf("value %q has kind %q in the reference", r.Name, r.Kind)
		}
		out = append(out, v)
	}
	return out
}

// expectModel builds the Model that the reference describes.
func expectModel(t *testing.T, r refModel, got *Model) *Model {
	m := &Model{IRVersion: r.IRVersion, ProducerName: r.ProducerName, ProducerVersion: r.ProducerVer,
		Domain: r.Domain, ModelVersion: r.ModelVersion, DocString: r.DocString}
	for _, o := range r.OpsetImport {
		m.OpsetImports = append(m.OpsetImports, OpsetID{o.Domain, o.Version})
	}
	for _, p := range r.MetadataProps {
		m.MetadataProps = append(m.MetadataProps, StringPair{p.Key, p.Value})
	}
	g := &m.Graph
	g.Name, g.DocString = r.Graph.Name, r.Graph.DocString
	for _, rn := range r.Graph.Nodes {
		n := Node{Name: rn.Name, OpType: rn.OpType, Domain: rn.Domain, Inputs: rn.Inputs, Outputs: rn.Outputs,
			DocString: rn.DocString}
		for _, ra := range rn.Attributes {
			a := Attribute{Name: ra.Name, Type: attrTypeByName(t, ra.Type)}
			switch a.Type {
			case AttrFloat:
				a.F = math.Float32frombits(ra.Float32Bits[0])
			case AttrInt:
				a.I = parseInts[int64](t, ra.Ints, 64)[0]
			case AttrString:
				a.S = hexStrings(t, ra.StringsHex)[0]
			case AttrTensor:
				x := expectTensor(t, ra.Tensors[0])
				a.T = &x
			case AttrFloats:
				a.Floats = float32s(ra.Float32Bits)
			case AttrInts:
				a.Ints = parseInts[int64](t, ra.Ints, 64)
			case AttrStrings:
				a.Strings = hexStrings(t, ra.StringsHex)
			case AttrTensors:
				for _, rt := range ra.Tensors {
					a.Tensors = append(a.Tensors, expectTensor(t, rt))
				}
			}
			n.Attributes = append(n.Attributes, a)
		}
		g.Nodes = append(g.Nodes, n)
	}
	for _, rt := range r.Graph.Initializers {
		g.Initializers = append(g.Initializers, expectTensor(t, rt))
	}
	g.Inputs = expectValues(t, r.Graph.Inputs, got.Graph.Inputs)
	g.Outputs = expectValues(t, r.Graph.Outputs, got.Graph.Outputs)
	g.ValueInfo = expectValues(t, r.Graph.ValueInfo, got.Graph.ValueInfo)
	return m
}

// TestDecodeMatchesPython decodes the reference models and compares every field with what
// Python's onnx sees in them.
func TestDecodeMatchesPython(t *testing.T) {
	ref := loadReference(t)
	if len(ref.Models) != 4 {
		t.Fatalf("reference.json has %d models, want 4", len(ref.Models))
	}
	for name, r := range ref.Models {
		t.Run(name, func(t *testing.T) {
			got, err := ReadFile(testdata(name))
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(expectModel(t, r, got), got); d != "" {
				t.Errorf("decoded model differs from Python's view at %s", d)
			}
		})
	}
	// The reference must exercise both storage forms of every element type it has.
	forms := map[string]map[bool]bool{}
	for _, x := range ref.Models["dtypes.onnx"].Graph.Initializers {
		if forms[x.DataType] == nil {
			forms[x.DataType] = map[bool]bool{}
		}
		forms[x.DataType][x.Raw] = true
	}
	for dt, f := range forms {
		if dt != "STRING" && (!f[true] || !f[false]) {
			t.Errorf("dtypes.onnx lacks raw or typed %s data: %v", dt, f)
		}
	}
	if len(forms) != 14 {
		t.Errorf("dtypes.onnx covers %d element types, want 14", len(forms))
	}
}

// TestDecodeSpecifics spells out a few values that matter, beyond agreeing with the reference.
func TestDecodeSpecifics(t *testing.T) {
	m, err := ReadFile(testdata("cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Opset(""); got != 13 {
		t.Errorf("Opset(\"\") = %d, want 13", got)
	}
	if got := m.Opset("ai.onnx"); got != 13 {
		t.Errorf("Opset(\"ai.onnx\") = %d, want 13", got)
	}
	if got := m.Opset("ai.onnx.ml"); got != 0 {
		t.Errorf("Opset(\"ai.onnx.ml\") = %d, want 0", got)
	}
	in := m.Graph.Inputs[0]
	if want := []Dim{{-1, "batch"}, {1, ""}, {8, ""}, {8, ""}}; diff(want, in.Shape) != "" {
		t.Errorf("input shape %v, want %v", in.Shape, want)
	}
	conv := m.Graph.Nodes[0]
	if conv.Name != "/conv1/Conv" || conv.OpType != "Conv" {
		t.Errorf("first node %q %q", conv.Name, conv.OpType)
	}
	if a, ok := conv.Attr("pads"); !ok || diff(a.Ints, []int64{1, 1, 1, 1}) != "" {
		t.Errorf("Conv pads = %v, %v", a, ok)
	}
	if _, ok := conv.Attr("no such"); ok {
		t.Error("Attr found a missing attribute")
	}
	if w, ok := m.Graph.Initializer("conv1.weight"); !ok || diff(w.Dims, []int64{4, 1, 3, 3}) != "" || len(w.Float) != 36 {
		t.Errorf("conv1.weight: %v %v", w, ok)
	}

	attrs, err := ReadFile(testdata("attributes.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs.Opset("tlkit.test"); got != 1 {
		t.Errorf("Opset(tlkit.test) = %d", got)
	}
	// An omitted optional input stays in place as an empty name.
	if len(attrs.Graph.Nodes) != 12 || len(attrs.Graph.ValueInfo) != 2 || len(attrs.Graph.Inputs) != 2 {
		t.Fatalf("attributes.onnx: %d nodes, %d value infos, %d inputs", len(attrs.Graph.Nodes),
			len(attrs.Graph.ValueInfo), len(attrs.Graph.Inputs))
	}
	clip := attrs.Graph.Nodes[9]
	if diff(clip.Inputs, []string{"l", "", "clip_max"}) != "" || clip.Name != "" {
		t.Errorf("Clip node: %q %q", clip.Name, clip.Inputs)
	}
	// An unranked value and a scalar.
	if v := attrs.Graph.ValueInfo[1]; v.Name != "l" || v.HasShape || v.ElemType != Float {
		t.Errorf("unranked value: %+v", v)
	}
	if v := attrs.Graph.Inputs[1]; !v.HasShape || len(v.Shape) != 0 {
		t.Errorf("scalar input: %+v", v)
	}

	dt, err := ReadFile(testdata("dtypes.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	init := func(name string) *Tensor {
		x, ok := dt.Graph.Initializer(name)
		if !ok {
			t.Fatalf("dtypes.onnx has no initializer %q", name)
		}
		return x
	}
	f16 := init("float16_raw")
	if f16.Float[3] != 65504 || f16.Float[4] != -float32(math.Ldexp(1, -24)) || !math.IsNaN(float64(f16.Float[7])) {
		t.Errorf("float16 values %v", f16.Float)
	}
	s := init("scalar_float_typed")
	if len(s.Dims) != 0 || diff(s.Float, []float32{2.5}) != "" {
		t.Errorf("scalar: %+v", s)
	}
	e := init("empty_float_raw")
	if diff(e.Dims, []int64{2, 0, 3}) != "" || len(e.Float) != 0 {
		t.Errorf("empty: %+v", e)
	}

	seq, err := ReadFile(testdata("sequence.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if v := seq.Graph.Inputs[0]; v.Kind != SequenceType || len(v.OtherType) == 0 {
		t.Errorf("sequence input: %+v", v)
	}
}

// TestUnsupportedModels checks that valid models using features outside this package's scope give
// an *UnsupportedError naming the file.
func TestUnsupportedModels(t *testing.T) {
	ref := loadReference(t)
	if len(ref.Unsupported) != 3 {
		t.Fatalf("reference.json lists %d unsupported models, want 3", len(ref.Unsupported))
	}
	for name, why := range ref.Unsupported {
		_, err := ReadFile(testdata(name))
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("%s (%s): got %v, want an UnsupportedError", name, why, err)
			continue
		}
		if !strings.Contains(err.Error(), testdata(name)) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

// TestFloat16Rounding checks the half-precision conversions against NumPy's.
func TestFloat16Rounding(t *testing.T) {
	ref := loadReference(t)
	tab := ref.Rounding.Float16
	if len(tab.Float32Bits) != len(tab.Float16Bits) || len(tab.Float32Bits) < 800 {
		t.Fatalf("float16 table: %d and %d entries", len(tab.Float32Bits), len(tab.Float16Bits))
	}
	for i, b := range tab.Float32Bits {
		f := math.Float32frombits(b)
		if got := Float32ToHalf(f); got != tab.Float16Bits[i] {
			t.Errorf("Float32ToHalf(%g = %#08x) = %#04x, NumPy gives %#04x", f, b, got, tab.Float16Bits[i])
		}
	}

	// Every half value, widened.
	h := sha256.New()
	for x := range 1 << 16 {
		_ = binary.Write(h, binary.LittleEndian, math.Float32bits(HalfToFloat32(uint16(x))))
		if back := Float32ToHalf(HalfToFloat32(uint16(x))); back != uint16(x) {
			t.Fatalf("half %#04x widens and rounds back to %#04x", x, back)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != ref.Rounding.Checksums.Float16Widen {
		t.Errorf("HalfToFloat32 over all halves: checksum %s, NumPy's is %s", got, ref.Rounding.Checksums.Float16Widen)
	}

	// 1M spread-out float32 values, then every rounding tie of the half grid and its neighbours.
	h.Reset()
	buf := make([]byte, 0, 2*(1<<20+5<<19))
	for _, b := range goldenBits(1<<20, 0) {
		buf = binary.LittleEndian.AppendUint16(buf, Float32ToHalf(math.Float32frombits(b)))
	}
	for k := range uint32(1 << 19) {
		for _, d := range []uint32{0, 0xfff, 0x1000, 0x1001, 0x1fff} {
			buf = binary.LittleEndian.AppendUint16(buf, Float32ToHalf(math.Float32frombits(k<<13+d)))
		}
	}
	h.Write(buf)
	if got := hex.EncodeToString(h.Sum(nil)); got != ref.Rounding.Checksums.Float16Round {
		t.Errorf("Float32ToHalf over %d values: checksum %s, NumPy's is %s", len(buf)/2, got,
			ref.Rounding.Checksums.Float16Round)
	}
}

// goldenBits regenerates make_models.py's golden_bits: (i * 0x9E3779B1 + offset) mod 2^32.
func goldenBits(n int, offset uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)*0x9E3779B1 + offset
	}
	return out
}

// TestBFloat16Rounding checks the bfloat16 conversions against onnx.helper.float32_to_bfloat16.
func TestBFloat16Rounding(t *testing.T) {
	ref := loadReference(t)
	tab := ref.Rounding.BFloat16
	if len(tab.Float32Bits) != len(tab.BFloat16Bits) || len(tab.Float32Bits) < 400 {
		t.Fatalf("bfloat16 table: %d and %d entries", len(tab.Float32Bits), len(tab.BFloat16Bits))
	}
	for i, b := range tab.Float32Bits {
		f := math.Float32frombits(b)
		if got := Float32ToBFloat16(f); got != tab.BFloat16Bits[i] {
			t.Errorf("Float32ToBFloat16(%g = %#08x) = %#04x, onnx.helper gives %#04x", f, b, got, tab.BFloat16Bits[i])
		}
	}
	in := goldenBits(1<<14, 12345)
	for k := uint32(0); k < 1<<16; k += 7 {
		in = append(in, k<<16+0x7fff, k<<16+0x8000, k<<16+0x8001)
	}
	var buf []byte
	for _, b := range in {
		if f := math.Float32frombits(b); f == f { // the reference leaves NaNs out
			buf = binary.LittleEndian.AppendUint16(buf, Float32ToBFloat16(f))
		}
	}
	if len(buf)/2 != ref.Rounding.Checksums.BFloat16RoundCount {
		t.Fatalf("%d bfloat16 inputs, the reference has %d", len(buf)/2, ref.Rounding.Checksums.BFloat16RoundCount)
	}
	sum := sha256.Sum256(buf)
	if got := hex.EncodeToString(sum[:]); got != ref.Rounding.Checksums.BFloat16Round {
		t.Errorf("Float32ToBFloat16: checksum %s, onnx.helper's is %s", got, ref.Rounding.Checksums.BFloat16Round)
	}
	// NaNs stay NaNs with their sign, and every bfloat16 value widens and rounds back to itself.
	for x := range 1 << 16 {
		f := BFloat16ToFloat32(uint16(x))
		if back := Float32ToBFloat16(f); back != uint16(x) {
			t.Fatalf("bfloat16 %#04x widens to %g and rounds back to %#04x", x, f, back)
		}
	}
	if got := Float32ToBFloat16(math.Float32frombits(0xff800001)); got&0x8000 == 0 || BFloat16ToFloat32(got) == BFloat16ToFloat32(got) {
		t.Errorf("negative NaN rounds to %#04x", got)
	}
}
