package ort

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// reference is testdata/reference.json, written by testdata/make_models.py: each model's declared inputs
// and outputs, and cases of inputs with the outputs PyTorch/numpy computed for them.
type reference struct {
	Models map[string]struct {
		Inputs  []refInfo `json:"inputs"`
		Outputs []refInfo `json:"outputs"`
		Cases   []struct {
			Batch   int                  `json:"batch"`
			Inputs  map[string]refTensor `json:"inputs"`
			Outputs map[string]refTensor `json:"outputs"`
		} `json:"cases"`
	} `json:"models"`
}

type refInfo struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Shape []int64 `json:"shape"`
}

type refTensor struct {
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

func loadReference(t *testing.T) reference {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("testdata/reference.json: %v", err)
	}
	if len(ref.Models) != 3 {
		t.Fatalf("testdata/reference.json has %d models; want 3 (rerun testdata/make_models.py)", len(ref.Models))
	}
	return ref
}

// tensorFor builds the Tensor for a reference input of the given element type.
func tensorFor(name string, typ ElementType, r refTensor) Tensor {
	t := Tensor{Name: name, Shape: r.Shape}
	if typ == TypeInt64 {
		t.Ints = make([]int64, len(r.Data))
		for i, v := range r.Data {
			t.Ints[i] = int64(v)
		}
	} else {
		t.Data = make([]float32, len(r.Data))
		for i, v := range r.Data {
			t.Data[i] = float32(v)
		}
	}
	return t
}

// compareToReference checks one output against the PyTorch/numpy result: int64 exactly, float within
// 1e-5 relative (absolute near zero), the float32 rounding gap between two implementations.
func compareToReference(t *testing.T, what string, got Tensor, want refTensor, typ ElementType) {
	t.Helper()
	if !slices.Equal(got.Shape, want.Shape) {
		t.Errorf("%s: shape %v; want %v", what, got.Shape, want.Shape)
		return
	}
	if got.Type() != typ {
		t.Errorf("%s: element type %s; want %s", what, got.Type(), typ)
		return
	}
	n := max(len(got.Data), len(got.Ints))
	if n != len(want.Data) {
		t.Errorf("%s: %d elements; want %d", what, n, len(want.Data))
		return
	}
	bad := 0
	for i, w := range want.Data {
		var g float64
		if typ == TypeInt64 {
			g = float64(got.Ints[i])
			if g != w && bad < 5 {
				t.Errorf("%s[%d] = %v; want %v", what, i, g, w)
				bad++
			}
			continue
		}
		g = float64(got.Data[i])
		if math.Abs(g-w) > 1e-5*math.Max(1, math.Abs(w)) && bad < 5 {
			t.Errorf("%s[%d] = %.8g; want %.8g", what, i, g, w)
			bad++
		}
	}
}

func typeByName(t *testing.T, name string) ElementType {
	t.Helper()
	for i, n := range elementTypeNames {
		if n == name {
			return ElementType(i)
		}
	}
	t.Fatalf("unknown element type %q in reference.json", name)
	return 0
}

// TestMatchesReference runs every reference model at batch 1 and then batch 5 on one session, from the file
// and from its bytes, and compares the declared signature and every output with the reference.
func TestMatchesReference(t *testing.T) {
	loadRuntime(t)
	ref := loadReference(t)
	for file, m := range ref.Models {
		path := filepath.Join("testdata", file)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fromFile, err := NewSessionFromFile(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fromBytes, err := NewSession(raw, Options{Name: file, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*Session{fromFile, fromBytes} {
			checkSignature(t, s.Name()+" inputs", s.Inputs(), m.Inputs)
			checkSignature(t, s.Name()+" outputs", s.Outputs(), m.Outputs)
			inTypes := map[string]ElementType{}
			for _, info := range s.Inputs() {
				inTypes[info.Name] = info.Type
			}
			for _, c := range m.Cases {
				var inputs []Tensor
				for name, r := range c.Inputs {
					inputs = append(inputs, tensorFor(name, inTypes[name], r))
				}
				// Give the inputs in reverse name order: Run matches them by name, not position.
				slices.SortFunc(inputs, func(a, b Tensor) int { return strings.Compare(b.Name, a.Name) })
				outputs, err := s.Run(inputs)
				if err != nil {
					t.Fatalf("%s at batch %d: %v", s.Name(), c.Batch, err)
				}
				if len(outputs) != len(m.Outputs) {
					t.Fatalf("%s: %d outputs; want %d", s.Name(), len(outputs), len(m.Outputs))
				}
				for i, want := range m.Outputs {
					if outputs[i].Name != want.Name {
						t.Errorf("%s: output %d is %q; want %q", s.Name(), i, outputs[i].Name, want.Name)
					}
					what := s.Name() + " " + want.Name + " at batch " + strconv.Itoa(c.Batch)
					compareToReference(t, what, outputs[i], c.Outputs[want.Name], typeByName(t, want.Type))
				}
			}
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}
	}
}

func checkSignature(t *testing.T, what string, got []IOInfo, want []refInfo) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v; want %v", what, got, want)
		return
	}
	for i, w := range want {
		if got[i].Name != w.Name || got[i].Type.String() != w.Type || !slices.Equal(got[i].Shape, w.Shape) {
			t.Errorf("%s[%d] = %s %v; want %s %s%v", what, i, got[i], got[i].Shape, w.Name, w.Type, w.Shape)
		}
	}
}

func openConvModel(t *testing.T, o Options) *Session {
	t.Helper()
	loadRuntime(t)
	s, err := NewSessionFromFile(filepath.Join("testdata", "conv_relu_gemm.onnx"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestIOInfoString(t *testing.T) {
	s := openConvModel(t, Options{})
	if got, want := s.Inputs()[0].String(), "image float[? 3 8 8]"; got != want {
		t.Errorf("Inputs()[0].String() = %q; want %q", got, want)
	}
	// The returned descriptions are copies: changing them leaves the session's alone.
	s.Inputs()[0].Shape[1] = 99
	if got := s.Inputs()[0].Shape[1]; got != 3 {
		t.Errorf("Inputs() shares its shape with the session (dim 1 became %d)", got)
	}
}

func TestRunRejectsBadInputs(t *testing.T) {
	s := openConvModel(t, Options{Name: "conv.onnx"})
	image := func(shape ...int64) Tensor {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		return Tensor{Name: "image", Shape: shape, Data: make([]float32, max(n, 0))}
	}
	withData := func(t Tensor, n int) Tensor { t.Data = make([]float32, n); return t }
	cases := []struct {
		what   string
		inputs []Tensor
		want   []string
	}{
		{"unknown name", []Tensor{{Name: "input", Shape: []int64{1, 3, 8, 8}, Data: make([]float32, 192)}},
			[]string{"conv.onnx", `no input "input"`, "image float[? 3 8 8]"}},
		{"no inputs", nil, []string{"conv.onnx", `missing input "image"`}},
		{"given twice", []Tensor{image(1, 3, 8, 8), image(1, 3, 8, 8)}, []string{`"image" is given twice`}},
		{"wrong rank", []Tensor{image(3, 8, 8)}, []string{"shape [3 8 8] does not fit the model's [? 3 8 8]"}},
		{"wrong fixed dim", []Tensor{image(2, 3, 7, 8)}, []string{"shape [2 3 7 8] does not fit the model's [? 3 8 8]"}},
		{"empty batch", []Tensor{image(0, 3, 8, 8)}, []string{"dimension 0 of size 0", "must be positive"}},
		{"no shape", []Tensor{{Name: "image", Data: make([]float32, 192)}}, []string{"no shape"}},
		{"too little data", []Tensor{withData(image(2, 3, 8, 8), 383)}, []string{"needs 384 elements but the tensor has 383"}},
		{"int64 for float", []Tensor{{Name: "image", Shape: []int64{1, 3, 8, 8}, Ints: make([]int64, 192)}},
			[]string{"wants float elements but the tensor holds int64", "Data"}},
		{"both kinds", []Tensor{{Name: "image", Shape: []int64{1, 3, 8, 8}, Data: make([]float32, 192), Ints: make([]int64, 192)}},
			[]string{"both Data (float) and Ints (int64)"}},
	}
	for _, c := range cases {
		_, err := s.Run(c.inputs)
		if err == nil {
			t.Errorf("%s: Run succeeded; want an error", c.what)
			continue
		}
		for _, part := range c.want {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: error %q does not contain %q", c.what, err, part)
			}
		}
	}

	emb, err := NewSessionFromFile(filepath.Join("testdata", "embedding.onnx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	_, err = emb.Run([]Tensor{{Name: "ids", Shape: []int64{1, 2}, Data: []float32{1, 2}}})
	wantErrorContaining(t, err, "wants int64 elements but the tensor holds float", "Ints")
	// ONNX Runtime's own checks still apply beyond the shapes: an index out of the table's range.
	_, err = emb.Run([]Tensor{{Name: "ids", Shape: []int64{1, 2}, Ints: []int64{1, 10}}})
	wantErrorContaining(t, err, "embedding.onnx", "ONNX Runtime failed to run the model")
}

// TestRunLeavesInputsAlone checks that Run neither changes the caller's tensors nor keeps them.
func TestRunLeavesInputsAlone(t *testing.T) {
	s := openConvModel(t, Options{})
	shape := []int64{2, 3, 8, 8}
	data := make([]float32, 384)
	for i := range data {
		data[i] = float32(i%17) - 8
	}
	before := slices.Clone(data)
	first, err := s.Run([]Tensor{{Name: "image", Shape: shape, Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shape, []int64{2, 3, 8, 8}) || !slices.Equal(data, before) {
		t.Fatalf("Run changed its input: shape %v", shape)
	}
	first[0].Data[0] = 12345 // outputs are the caller's own
	second, err := s.Run([]Tensor{{Name: "image", Shape: shape, Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	if second[0].Data[0] == 12345 || !slices.Equal(second[0].Data[1:], first[0].Data[1:]) {
		t.Errorf("a second Run on the same input gave %v; the first gave %v", second[0].Data, first[0].Data)
	}
}

func TestConcurrentRunAndClose(t *testing.T) {
	s := openConvModel(t, Options{Threads: 1})
	input := Tensor{Name: "image", Shape: []int64{5, 3, 8, 8}, Data: make([]float32, 5*192)}
	for i := range input.Data {
		input.Data[i] = float32(math.Sin(float64(i)))
	}
	want, err := s.Run([]Tensor{input})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([][]Tensor, 4)
	errs := make([]error, 4)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[g], errs[g] = s.Run([]Tensor{input})
		}()
	}
	wg.Wait()
	for g := range results {
		if errs[g] != nil || !reflect.DeepEqual(results[g], want) {
			t.Errorf("goroutine %d: %v, equal to the serial result: %v", g, errs[g], reflect.DeepEqual(results[g], want))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err = s.Run([]Tensor{input})
	wantErrorContaining(t, err, "conv_relu_gemm.onnx", "session is closed")
}

func TestBadModels(t *testing.T) {
	loadRuntime(t)
	dir := t.TempDir()

	missing := filepath.Join(dir, "missing.onnx")
	_, err := NewSessionFromFile(missing, Options{})
	wantErrorContaining(t, err, missing, "cannot read the ONNX model")

	_, err = NewSessionFromFile(dir, Options{})
	wantErrorContaining(t, err, dir, "is not a file")

	notONNX := writeFile(t, filepath.Join(dir, "notes.onnx"), "these are notes, not a protobuf")
	_, err = NewSessionFromFile(notONNX, Options{})
	wantErrorContaining(t, err, notONNX, "ONNX Runtime cannot load the model")

	good, err := os.ReadFile(filepath.Join("testdata", "conv_relu_gemm.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := writeFile(t, filepath.Join(dir, "truncated.onnx"), string(good[:len(good)/2]))
	_, err = NewSessionFromFile(truncated, Options{})
	wantErrorContaining(t, err, truncated, "ONNX Runtime cannot load the model")

	_, err = NewSession(good[:len(good)/2], Options{Name: "half.onnx"})
	wantErrorContaining(t, err, "half.onnx", "ONNX Runtime cannot load the model")
	_, err = NewSession(nil, Options{})
	wantErrorContaining(t, err, "no model bytes")

	_, err = NewSession(good, Options{Threads: -1, Name: "conv.onnx"})
	wantErrorContaining(t, err, "conv.onnx", "Threads is -1")
}

func TestModelWithoutInputsIsRefused(t *testing.T) {
	loadRuntime(t)
	path := filepath.Join("testdata", "no_inputs.onnx")
	_, err := NewSessionFromFile(path, Options{})
	wantErrorContaining(t, err, path, "0 inputs and 1 outputs", "at least one of each")
}
