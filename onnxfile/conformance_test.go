package onnxfile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// conformanceUnsupported are the conformance models that onnxfile rejects with an
// UnsupportedError, all because a node has a subgraph attribute: If branches, Loop, Scan and
// SequenceMap bodies (the _expanded Range tests expand Range into a Loop).
var conformanceUnsupported = []string{
	"node/test_if", "node/test_if_opt", "node/test_if_seq",
	"node/test_loop11", "node/test_loop13_seq", "node/test_loop16_seq_none",
	"node/test_range_float_type_positive_delta_expanded", "node/test_range_int32_type_negative_delta_expanded",
	"node/test_scan9_sum", "node/test_scan_sum",
	"node/test_sequence_map_add_1_sequence_1_tensor", "node/test_sequence_map_add_1_sequence_1_tensor_expanded",
	"node/test_sequence_map_add_2_sequences", "node/test_sequence_map_add_2_sequences_expanded",
	"node/test_sequence_map_extract_shapes", "node/test_sequence_map_extract_shapes_expanded",
	"node/test_sequence_map_identity_1_sequence", "node/test_sequence_map_identity_1_sequence_1_tensor",
	"node/test_sequence_map_identity_1_sequence_1_tensor_expanded", "node/test_sequence_map_identity_1_sequence_expanded",
	"node/test_sequence_map_identity_2_sequences", "node/test_sequence_map_identity_2_sequences_expanded",
}

type pyValue struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	ElemType int32   `json:"elem_type"`
	Dims     []int64 `json:"dims"` // nil for an unknown shape; -1 for a symbolic or unknown size
}

// TestConformanceData decodes every model and every input and output .pb of the ONNX conformance
// data, checking them against what Python's onnx declares: the models' value kinds and element
// types, and the test data's element types and ranks. Sequence and optional values are stored as
// SequenceProto and OptionalProto, not TensorProto: DecodeTensor must reject those.
func TestConformanceData(t *testing.T) {
	paths := conformanceModels(t)
	var kinds map[string]struct{ Inputs, Outputs []pyValue }
	if err := json.Unmarshal(runPython(t, strings.Join(paths, "\n")+"\n", "kinds"), &kinds); err != nil {
		t.Fatal(err)
	}
	var unsupported []string
	tensors, others := 0, 0
	for _, p := range paths {
		test, _ := filepath.Rel(conformanceDir, filepath.Dir(p))
		m, err := ReadFile(p)
		var ue *UnsupportedError
		switch {
		case errors.As(err, &ue):
			if !strings.Contains(ue.Msg, "subgraph") {
				t.Errorf("%s: %v", test, err)
			}
			unsupported = append(unsupported, test)
		case err != nil:
			t.Errorf("%s: %v", test, err)
			continue
		default:
			data, err := Encode(m)
			if err != nil {
				t.Errorf("%s: encode: %v", test, err)
				continue
			}
			back, err := Decode(data)
			if err != nil {
				t.Errorf("%s: decode the encoded model: %v", test, err)
			} else if d := diff(m, back); d != "" {
				t.Errorf("%s: encode and decode change %s", test, d)
			}
		}
		py, ok := kinds[p]
		if !ok {
			t.Fatalf("Python did not describe %s", p)
		}
		if m != nil {
			compareDeclared(t, test, m, py.Inputs, py.Outputs)
		}
		sets, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "test_data_set_*"))
		for _, set := range sets {
			for _, io := range []struct {
				prefix string
				decl   []pyValue
			}{{"input", py.Inputs}, {"output", py.Outputs}} {
				files, _ := filepath.Glob(filepath.Join(set, io.prefix+"_*.pb"))
				if len(files) > len(io.decl) {
					t.Errorf("%s: %d %s files for %d declared values", set, len(files), io.prefix, len(io.decl))
					continue
				}
				for k := range files {
					f := filepath.Join(set, io.prefix+"_"+strconv.Itoa(k)+".pb") // in index order, not glob order
					if io.decl[k].Kind == "tensor_type" {
						checkTensorFile(t, f, io.decl[k])
						tensors++
					} else {
						data, err := os.ReadFile(f)
						if err != nil {
							t.Fatal(err)
						}
						if _, err := DecodeTensor(data); err == nil {
							t.Errorf("%s: a %s decoded as a TensorProto", f, io.decl[k].Kind)
						}
						others++
					}
				}
			}
		}
	}
	if !slices.Equal(unsupported, conformanceUnsupported) {
		t.Errorf("unsupported models:\n%q\nwant\n%q", unsupported, conformanceUnsupported)
	}
	if tensors < 3000 {
		t.Errorf("only %d tensor files decoded", tensors)
	}
	t.Logf("%d models (%d unsupported), %d tensor files, %d sequence or optional files", len(paths),
		len(unsupported), tensors, others)
}

// compareDeclared checks the decoded graph inputs (those not initializers) and outputs against
// Python's view.
func compareDeclared(t *testing.T, test string, m *Model, inputs, outputs []pyValue) {
	inits := map[string]bool{}
	for _, x := range m.Graph.Initializers {
		inits[x.Name] = true
	}
	var ours []ValueInfo
	for _, v := range m.Graph.Inputs {
		if !inits[v.Name] {
			ours = append(ours, v)
		}
	}
	for _, c := range []struct {
		ours []ValueInfo
		py   []pyValue
	}{{ours, inputs}, {m.Graph.Outputs, outputs}} {
		if len(c.ours) != len(c.py) {
			t.Errorf("%s: %d values, Python sees %d", test, len(c.ours), len(c.py))
			continue
		}
		for i, v := range c.ours {
			p := c.py[i]
			if v.Name != p.Name || v.Kind.String() != p.Kind || int32(v.ElemType) != p.ElemType {
				t.Errorf("%s: value %q %s %s; Python sees %q %s %s", test, v.Name, v.Kind, v.ElemType,
					p.Name, p.Kind, DataType(p.ElemType))
			}
		}
	}
}

// checkTensorFile decodes a TensorProto test file and checks it against the value it feeds.
func checkTensorFile(t *testing.T, path string, decl pyValue) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := DecodeTensor(data)
	if err != nil {
		t.Errorf("%v (file %s)", err, path)
		return
	}
	// ONNX's test generator stores bfloat16 data as UINT16 tensors of the bits, NumPy having no
	// bfloat16 type.
	bf16AsUint16 := decl.ElemType == int32(BFloat16) && x.DataType == Uint16
	if int32(x.DataType) != decl.ElemType && !bf16AsUint16 {
		t.Errorf("%s: element type %s, the model declares %s", path, x.DataType, DataType(decl.ElemType))
	}
	if x.Name != "" && x.Name != decl.Name {
		t.Errorf("%s: tensor %q for value %q", path, x.Name, decl.Name)
	}
	// The CastLike BFLOAT16 tests feed their "like" input, which only lends its type, a tensor of
	// one element where the model declares [3 4]; Python's onnx reads the same dims [1].
	likeQuirk := decl.Name == "like" && strings.Contains(path, "/test_castlike_") && strings.Contains(path, "BFLOAT16")
	if decl.Dims != nil && !likeQuirk {
		ok := len(decl.Dims) == len(x.Dims)
		for i := range decl.Dims {
			ok = ok && (decl.Dims[i] < 0 || decl.Dims[i] == x.Dims[i])
		}
		if !ok {
			t.Errorf("%s: dims %v, the model declares %v", path, x.Dims, decl.Dims)
		}
	}
	n, _ := NumElements(x.Dims)
	if int64(x.Len()) != n {
		t.Errorf("%s: %d elements for dims %v", path, x.Len(), x.Dims)
	}
	enc, err := EncodeTensor(x)
	if err != nil {
		t.Errorf("%s: encode: %v", path, err)
		return
	}
	back, err := DecodeTensor(enc)
	if err != nil {
		t.Errorf("%s: decode the encoded tensor: %v", path, err)
	} else if d := diff(x, back); d != "" {
		t.Errorf("%s: encode and decode change %s", path, d)
	}
}
