package checkpoint

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// pythonPath is the interpreter the project's set-up provides (Debian's, with numpy and torch).
const pythonPath = "/usr/bin/python3"

// refContent is the JSON that testdata/safetensors_ref.py prints for a file.
type refContent struct {
	Meta    map[string]string `json:"meta"`
	Tensors map[string]struct {
		Dtype  string            `json:"dtype"`
		Shape  []int             `json:"shape"`
		Values []json.RawMessage `json:"values"`
	} `json:"tensors"`
}

func parseRef(t *testing.T, what string, data []byte) refContent {
	t.Helper()
	var c refContent
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return c
}

func loadRef(t *testing.T, path string) refContent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseRef(t, path, data)
}

// refFloat parses a value as the reference script writes it (repr, or "nan"/"inf"/"-inf").
func refFloat(t *testing.T, raw json.RawMessage) float64 {
	t.Helper()
	s := string(raw)
	switch s {
	case `"nan"`:
		return math.NaN()
	case `"inf"`:
		return math.Inf(1)
	case `"-inf"`:
		return math.Inf(-1)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("reference value %s: %v", s, err)
	}
	return v
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b) // tells -0 from 0
}

// checkAgainstRef compares decoded tensors and metadata with the reference reader's view,
// value by value and bit for bit.
func checkAgainstRef(t *testing.T, f *File, ref refContent) {
	t.Helper()
	if len(ref.Meta) == 0 && len(f.Meta) == 0 {
		// equal
	} else if !reflect.DeepEqual(f.Meta, ref.Meta) {
		t.Errorf("metadata %q, reference reader %q", f.Meta, ref.Meta)
	}
	if len(f.Tensors) != len(ref.Tensors) {
		t.Errorf("%d tensors, reference reader %d", len(f.Tensors), len(ref.Tensors))
	}
	for name, want := range ref.Tensors {
		got := f.Get(name)
		if got == nil {
			t.Errorf("tensor %q missing", name)
			continue
		}
		if len(got.Shape) != len(want.Shape) || (len(want.Shape) > 0 && !reflect.DeepEqual(got.Shape, want.Shape)) {
			t.Errorf("%s: shape %v, want %v", name, got.Shape, want.Shape)
		}
		var n int
		switch want.Dtype {
		case "F32", "F16", "BF16":
			n = len(got.F32)
			for i := 0; i < n && i < len(want.Values); i++ {
				w := refFloat(t, want.Values[i])
				if float64(float32(w)) != w && !math.IsNaN(w) {
					t.Fatalf("%s[%d]: reference %v is not a float32", name, i, w)
				}
				if !sameFloat(float64(got.F32[i]), w) {
					t.Errorf("%s[%d] = %v, want %v", name, i, got.F32[i], w)
				}
			}
		case "F64":
			n = len(got.F64)
			for i := 0; i < n && i < len(want.Values); i++ {
				if w := refFloat(t, want.Values[i]); !sameFloat(got.F64[i], w) {
					t.Errorf("%s[%d] = %v, want %v", name, i, got.F64[i], w)
				}
			}
		default:
			n = len(got.I64)
			for i := 0; i < n && i < len(want.Values); i++ {
				w, err := strconv.ParseInt(string(want.Values[i]), 10, 64)
				if err != nil {
					t.Fatalf("%s[%d]: reference %s: %v", name, i, want.Values[i], err)
				}
				if got.I64[i] != w {
					t.Errorf("%s[%d] = %d, want %d", name, i, got.I64[i], w)
				}
			}
		}
		if n != len(want.Values) {
			t.Errorf("%s (%s): %d values in the slice for its type, want %d", name, want.Dtype, n, len(want.Values))
		}
	}
}

// TestReadPythonFixture reads a file written by the independent Python writer and compares it
// with what the Python reader decoded from the same bytes.
func TestReadPythonFixture(t *testing.T) {
	f, err := Read("testdata/python.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRef(t, f, loadRef(t, "testdata/python.json"))
	// A few values spelled out, independent of the JSON.
	if v := f.Get("bn.num_batches_tracked"); v == nil || len(v.Shape) != 0 || !reflect.DeepEqual(v.I64, []int64{12345678901}) {
		t.Errorf("bn.num_batches_tracked = %+v", v)
	}
	if v := f.Get("conv1.weight"); v == nil || !reflect.DeepEqual(v.Shape, []int{2, 1, 3, 3}) || v.F32[0] != float32(-9.0/7) {
		t.Errorf("conv1.weight = %+v", v)
	}
	if v := f.Get("empty"); v == nil || v.F32 == nil || len(v.F32) != 0 || v.F64 != nil || v.I64 != nil {
		t.Errorf("empty tensor = %+v, want a non-nil empty F32", v)
	}
	if f.Meta["note"] != "ünïcode \"quoted\" <tag>\n" {
		t.Errorf("note metadata = %q", f.Meta["note"])
	}
}

// TestReadPythonDtypes checks the widening of F16, BF16, BOOL and the integer types.
func TestReadPythonDtypes(t *testing.T) {
	f, err := Read("testdata/python_dtypes.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRef(t, f, loadRef(t, "testdata/python_dtypes.json"))
	if h := f.Get("half"); h == nil || h.F32[3] != 1.0/(1<<24) || !math.IsInf(float64(h.F32[4]), 1) {
		t.Errorf("half = %+v, want the subnormal 2^-24 and +Inf at the end", h)
	}
}

// tensorsFromRef rebuilds the F32/F64/I64 tensors of a reference file.
func tensorsFromRef(t *testing.T, ref refContent) []Tensor {
	var ts []Tensor
	for name, r := range ref.Tensors {
		x := Tensor{Name: name, Shape: r.Shape}
		switch r.Dtype {
		case "F32":
			x.F32 = []float32{}
			for _, v := range r.Values {
				x.F32 = append(x.F32, float32(refFloat(t, v)))
			}
		case "F64":
			x.F64 = []float64{}
			for _, v := range r.Values {
				x.F64 = append(x.F64, refFloat(t, v))
			}
		case "I64":
			x.I64 = []int64{}
			for _, v := range r.Values {
				n, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				x.I64 = append(x.I64, n)
			}
		default:
			t.Fatalf("%s: dtype %s", name, r.Dtype)
		}
		ts = append(ts, x)
	}
	return ts
}

// TestWriteMatchesPythonBytes: Write, given the Python fixture's tensors in map order, produces
// exactly the bytes of the Python writer (which follows the same conventions: sorted JSON keys,
// 8-byte types first, space padding).
func TestWriteMatchesPythonBytes(t *testing.T) {
	ref := loadRef(t, "testdata/python.json")
	want, err := os.ReadFile("testdata/python.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "go.safetensors")
	for i := 0; i < 3; i++ { // map order differs between tries; the bytes may not
		if err := Write(path, tensorsFromRef(t, ref), ref.Meta); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Write gave %d bytes differing from the Python writer's %d:\n%q\n%q", len(got), len(want), got, want)
		}
	}
}

func python(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := os.Stat(pythonPath); err != nil {
		t.Fatalf("%s is needed for the interoperability tests (the project's set-up installs it): %v", pythonPath, err)
	}
	cmd := exec.Command(pythonPath, append([]string{"testdata/safetensors_ref.py"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s safetensors_ref.py %s: %v\n%s", pythonPath, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestPythonReadsWrite has the Python reader decode a file written by Write.
func TestPythonReadsWrite(t *testing.T) {
	w := make([]float32, 2*3*5)
	for i := range w {
		w[i] = float32(math.Sin(float64(i))) * 1e3
	}
	ts := []Tensor{
		{Name: "layer.0.weight", Shape: []int{2, 3, 5}, F32: w},
		{Name: "layer.0.bias", Shape: []int{2}, F32: []float32{float32(math.NaN()), float32(math.Copysign(0, -1))}},
		{Name: "adam.m/layer.0.bias", Shape: []int{2}, F32: []float32{float32(math.Inf(-1)), math.SmallestNonzeroFloat32}},
		{Name: "stats", Shape: []int{3}, F64: []float64{1.0 / 3, -math.MaxFloat64, math.SmallestNonzeroFloat64}},
		{Name: "steps", Shape: []int{}, I64: []int64{-7}},
		{Name: "zero", Shape: []int{4, 0}, I64: []int64{}},
	}
	meta := map[string]string{"tlkit.model": `{"name":"lenet5"}`, "unicode": "αβγ ∑ \t tab"}
	path := filepath.Join(t.TempDir(), "go.safetensors")
	if err := Write(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRef(t, f, parseRef(t, "python reader output", python(t, "read", path)))
}

// TestFixturesUpToDate regenerates the Python fixtures and checks the committed ones match, so
// the script in testdata is what made them.
func TestFixturesUpToDate(t *testing.T) {
	dir := t.TempDir()
	python(t, "fixtures", dir)
	for _, name := range []string{"python.safetensors", "python.json", "python_dtypes.safetensors", "python_dtypes.json"} {
		got, err1 := os.ReadFile(filepath.Join(dir, name))
		want, err2 := os.ReadFile(filepath.Join("testdata", name))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/%s differs from what testdata/safetensors_ref.py writes now", name)
		}
	}
}

func TestRoundTripAndDeterminism(t *testing.T) {
	ts := []Tensor{
		{Name: "b", Shape: []int{2}, F32: []float32{1, 2}},
		{Name: "a", Shape: []int{1, 1}, F64: []float64{3}},
		{Name: "c", Shape: nil, I64: []int64{4}}, // nil shape: a scalar
	}
	meta := map[string]string{"z": "1", "a": "2"}
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	if err := Write(p1, ts, meta); err != nil {
		t.Fatal(err)
	}
	if err := Write(p2, []Tensor{ts[2], ts[0], ts[1]}, meta); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("the order of the tensors changed the bytes")
	}
	n := int(uint64(b1[0]) | uint64(b1[1])<<8)
	if (8+n)%8 != 0 || b1[8] != '{' || b1[8+n-1] != ' ' && b1[8+n-1] != '}' {
		t.Errorf("header of %d bytes is not padded to a multiple of 8 with spaces: %q", n, b1[8:8+n])
	}
	var buf bytes.Buffer
	if err := Encode(&buf, ts, meta); err != nil || !bytes.Equal(buf.Bytes(), b1) {
		t.Errorf("Encode differs from the written file (err %v)", err)
	}
	f, err := Read(p1)
	if err != nil {
		t.Fatal(err)
	}
	want := &File{Meta: meta, Tensors: []Tensor{
		{Name: "a", Shape: []int{1, 1}, F64: []float64{3}},
		{Name: "b", Shape: []int{2}, F32: []float32{1, 2}},
		{Name: "c", Shape: []int{}, I64: []int64{4}},
	}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("read back %+v, want %+v", f, want)
	}
	if f.Get("missing") != nil || f.Get("b").F32[1] != 2 {
		t.Errorf("Get misbehaves")
	}
	if st, err := os.Stat(p1); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode of a new checkpoint: %v %v, want 0644", st.Mode(), err)
	}
}

func TestWriteRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		ts   []Tensor
		want string
	}{
		{"two slices", []Tensor{{Name: "x", Shape: []int{1}, F32: []float32{1}, I64: []int64{1}}}, `"x" has 2 of F32, F64 and I64 set`},
		{"no slice", []Tensor{{Name: "x", Shape: []int{0}}}, `"x" has 0 of F32, F64 and I64 set`},
		{"shape", []Tensor{{Name: "x", Shape: []int{2, 2}, F32: []float32{1, 2, 3}}}, `"x" has shape [2 2] (4 elements) but 3 values`},
		{"negative", []Tensor{{Name: "x", Shape: []int{-1, -1}, F32: []float32{1}}}, "negative dimension"},
		{"duplicate", []Tensor{{Name: "x", F32: []float32{1}}, {Name: "x", F32: []float32{2}}}, `"x" appears twice`},
		{"reserved", []Tensor{{Name: "__metadata__", F32: []float32{1}}}, `name "__metadata__" is not allowed`},
		{"empty name", []Tensor{{Name: "", F32: []float32{1}}}, `name "" is not allowed`},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		err := Write(path, c.ts, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", c.name, err, path, c.want)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: a file was written", c.name)
		}
	}
	missing := filepath.Join(dir, "no", "such", "dir", "ckpt.safetensors")
	if err := Write(missing, nil, nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("writing into a missing directory: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left files: %v", entries)
	}
}
